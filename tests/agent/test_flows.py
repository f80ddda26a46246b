"""The four flows against every persona (emulator and PC/SC backends), plus the PIN rules.

Expected outcomes come from the emulator's persona data (``Persona.outcome``). A fixed time
(2026-11-26T00:00:00Z) and the emulator's exported trust (roots, CRL, CVC issuer keys).
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import pytest

from agent.verification.flows import FLOWS, FlowConfig, Verdict, run_flow
from card.emulator import PERSONAS, VirtualMynaCard
from card.ids import AID, JpkiEF
from tests.support.apdu_log import (
    VERIFY_HEADER,
    assert_verifies_are_safe,
    pin_verifies,
    verify_targets,
)

AT = datetime(2026, 11, 26, tzinfo=UTC)


def make_config(trust_dir, *, cvc=True, crl=True, number=True, allow_last_try=False):
    return FlowConfig.build(
        trust_mode="test", test_dir=trust_dir,
        crl_file=trust_dir / "test.crl" if crl else None,
        cvc_issuer_keys=[trust_dir / "cvc_issuer_surface.pem",
                         trust_dir / "cvc_issuer_input_helper.pem"] if cvc else [],
        enabled=FLOWS if number else ("sign", "auth", "face"),
        allow_last_try=allow_last_try)


@pytest.fixture(scope="module")
def config(trust_dir):
    return make_config(trust_dir)


def credential(persona, flow):
    c = persona.credentials
    return {"sign": c.sign_password, "auth": c.auth_pin, "face": c.match_b,
            "number": c.input_helper_pin}[flow]


def run(reader, flow, cred, config, **kw) -> Verdict:
    with reader.connect() as connection:
        return run_flow(flow, connection, cred, at=AT, config=config, **kw)


@pytest.mark.emulator_only
@pytest.mark.parametrize("flow", FLOWS)
@pytest.mark.parametrize("persona", sorted(PERSONAS))
def test_every_persona_every_flow(card_reader, config, persona, flow):
    p = PERSONAS[persona]
    reader, card = card_reader(persona)
    verdict = run(reader, flow, credential(p, flow), config)
    j = verdict.to_json()
    assert set(j) == {"ok", "flow", "assurance", "test_trust", "identity", "certificate",
                      "error", "timings_ms"}
    expected = p.outcome(flow)
    assert ("ok" if j["ok"] else j["error"]["code"]) == expected
    assert j["test_trust"] is True
    assert_verifies_are_safe(card, flow)  # never a second VERIFY on its own
    if not j["ok"]:
        assert j["identity"] is None and j["assurance"] == []
        return
    ident = j["identity"]
    if flow == "sign":
        assert j["assurance"] == ["chain", "revocation-checked", "possession"]
        assert ident["name"] == p.identity.name
        assert ident["address"] == p.identity.address
        assert ident["birth_date"] == p.identity.birth_date.isoformat()
        assert ident["sex"]["code"] == p.identity.sex
        assert ident["name_substitute"] == p.identity.name_substitute
        assert j["certificate"]["issuer_generation"] == "test"
        assert j["certificate"]["not_after"].endswith("Z")
    elif flow == "auth":
        assert j["assurance"] == ["chain", "possession"]  # the test CRL is the sign CA's
        assert set(ident) == {"card_reference"}
    elif flow == "face":
        assert j["assurance"] == ["record-signature", "possession"]
        assert ident["verified"] is True
        assert ident["birth_date"] == p.identity.birth_date.isoformat()
        assert ident["card_expiry"] == p.card.expiry.isoformat()
        assert ident["photo_jp2_b64"]
        assert ident["text"] == {"status": "verified", "reason": None,
                                 "name": p.identity.name, "address": p.identity.address}
        assert len(verify_targets(card)) == 2
    else:
        assert j["assurance"] == ["record-signature", "possession"]
        assert ident["my_number"] == p.identity.my_number
        assert ident["name"] == p.identity.name


@pytest.mark.emulator_only
def test_wrong_password_shows_tries_and_sends_one_verify(card_reader, config):
    reader, card = card_reader("yamada-taro")
    v = run(reader, "sign", "WRONG999", config)
    assert v.error == {"code": "PIN_INVALID", "message": v.error["message"], "tries_left": 4}
    assert len(pin_verifies(card)) == 1
    assert card.tries_left(AID.JPKI, JpkiEF.SIGN_PIN) == 4
    v = run(reader, "auth", "0000", config)
    assert (v.error["code"], v.error["tries_left"]) == ("PIN_INVALID", 2)
    assert len(pin_verifies(card)) == 2  # one per call, each asked for by the caller


def test_lower_case_password_is_upper_cased(config):
    from card.emulator import VirtualMynaCard
    from card.transports.emulated import EmulatedReader

    reader = EmulatedReader("x", VirtualMynaCard(PERSONAS["yamada-taro"]))
    assert run(reader, "sign", "myna2026", config).ok


@pytest.mark.parametrize(("flow", "cred"), [("sign", "SHORT"), ("sign", "TOO-LONG!"),
                                            ("sign", "x" * 17), ("auth", "12345"),
                                            ("face", "1234"), ("number", "12a4")])
def test_bad_format_sends_nothing(config, flow, cred):
    from card.emulator import VirtualMynaCard
    from card.transports.emulated import EmulatedReader

    card = VirtualMynaCard(PERSONAS["yamada-taro"])
    v = run(EmulatedReader("x", card), flow, cred, config)
    assert v.error["code"] == "PIN_FORMAT"
    assert card.apdu_log == []


def _emulated(persona, faults=None):
    from card.emulator import VirtualMynaCard
    from card.transports.emulated import EmulatedReader

    card = VirtualMynaCard(PERSONAS[persona], faults)
    return EmulatedReader(persona, card), card


def test_number_disabled_by_default(trust_dir):
    reader, card = _emulated("yamada-taro")
    v = run(reader, "number", "1234", make_config(trust_dir, number=False))
    assert v.error["code"] == "FLOW_DISABLED" and card.apdu_log == []


def test_last_try_needs_config_and_confirmation(trust_dir):
    p = PERSONAS["sign-pin-1-left"]
    for allow, confirm in ((False, True), (True, False)):
        reader, card = _emulated("sign-pin-1-left")
        v = run(reader, "sign", p.credentials.sign_password,
                make_config(trust_dir, allow_last_try=allow), confirm_last_try=confirm)
        assert (v.error["code"], v.error["tries_left"]) == ("PIN_LAST_TRY_NEEDS_CONFIRMATION", 1)
        assert pin_verifies(card) == []
    reader, card = _emulated("sign-pin-1-left")
    v = run(reader, "sign", p.credentials.sign_password,
            make_config(trust_dir, allow_last_try=True), confirm_last_try=True)
    assert v.ok and len(pin_verifies(card)) == 1


def test_blocked_sends_no_verify(config):
    reader, card = _emulated("sign-pin-blocked")
    v = run(reader, "sign", "MYNA2026", config)
    assert v.error["code"] == "PIN_BLOCKED" and pin_verifies(card) == []


def test_card_pulled_during_verify_is_not_resent(config):
    # select JPKI, select 0008, read 0008, select 001B, empty VERIFY: the 6th APDU (VERIFY
    # with the password) finds the card gone.
    reader, card = _emulated("yamada-taro")
    with reader.connect() as connection:
        card.faults.remove_after_apdus = 5
        v = run_flow("sign", connection, "MYNA2026", at=AT, config=config)
    assert v.error["code"] == "CARD_REMOVED"
    assert len(card.apdu_log) <= 6 and pin_verifies(card) == card.apdu_log[5:]
    assert card.apdu_log[4].command[:4] == VERIFY_HEADER  # the retry query came first


def test_face_without_issuer_keys_is_not_verified(trust_dir):
    reader, _ = _emulated("yamada-taro")
    p = PERSONAS["yamada-taro"]
    v = run(reader, "face", p.credentials.match_b, make_config(trust_dir, cvc=False))
    assert v.ok and v.assurance == ("not-verified",) and v.identity["verified"] is False
    reader, _ = _emulated("tampered-face")
    v = run(reader, "face", PERSONAS["tampered-face"].credentials.match_b,
            make_config(trust_dir, cvc=False))
    assert v.error["code"] == "RECORD_SIGNATURE_INVALID"


def test_sign_without_crl_is_chain_only(trust_dir):
    reader, _ = _emulated("revoked-cert")
    v = run(reader, "sign", "MYNA2026", make_config(trust_dir, crl=False))
    assert v.ok and v.assurance == ("chain", "possession")


def test_jlis_mode_rejects_test_card(trust_dir):
    reader, _ = _emulated("yamada-taro")
    v = run(reader, "sign", "MYNA2026", FlowConfig.build(trust_mode="jlis"))
    assert v.error["code"] == "CERT_UNTRUSTED" and v.error["reason"] == "unpinned_ca"
    assert v.test_trust is False


def test_steps_reported_and_abort_propagates(config):
    reader, _ = _emulated("yamada-taro")
    seen = []
    v = run(reader, "sign", "MYNA2026", config, on_step=lambda n, s, ms: seen.append((n, s)))
    assert v.ok and ("verify_pin", "done") in seen and ("validate_chain", "running") in seen
    assert set(v.timings_ms) >= {"select", "verify_pin", "read_certificate", "validate_chain"}

    class Abort(Exception):
        pass

    def two_args(name, status):
        if name == "read_certificate":
            raise Abort

    reader, _ = _emulated("yamada-taro")
    with pytest.raises(Abort):
        run(reader, "sign", "MYNA2026", config, on_step=two_args)


def test_no_personal_data_in_logs(config, caplog):
    caplog.set_level(1)
    p = PERSONAS["yamada-taro"]
    for flow in FLOWS:
        reader, _ = _emulated("yamada-taro")
        assert run(reader, flow, credential(p, flow), config).ok
    text = caplog.text + repr(caplog.records)
    for secret in (p.identity.name, p.identity.address, p.identity.my_number, "MYNA2026",
                   p.credentials.match_b, "1980-02-17", "19800217"):
        assert secret not in text
    assert logging.getLogger("agent.verification.flows").name in text


class _CardWithoutEf0008(VirtualMynaCard):
    """A card whose JPKI AP has no EF 0008 (its format is [UNCERTAIN], reference §2.1)."""

    def process(self, capdu: bytes) -> bytes:
        if capdu == bytes.fromhex("00A4020C020008"):
            return bytes.fromhex("6A82")
        return super().process(capdu)


@pytest.mark.emulator_only
@pytest.mark.parametrize(
    ("persona", "expected"),
    [("yamada-taro", None), ("minor-no-sign-cert", "NO_SIGN_CERTIFICATE")],
)
def test_missing_ef_0008_says_nothing_about_the_sign_certificate(config, persona, expected):
    from card.transports.emulated import EmulatedReader

    card = _CardWithoutEf0008(PERSONAS[persona])
    verdict = run(EmulatedReader(persona, card), "sign", "MYNA2026", config)
    if expected is None:
        assert verdict.ok, verdict.to_json()["error"]
    else:
        # No certificate to read: a typed failure, never an identity.
        assert not verdict.ok and verdict.identity is None
        assert verdict.to_json()["error"]["code"] == expected
