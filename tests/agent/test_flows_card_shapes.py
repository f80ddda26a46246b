"""The four flows against card shapes the reference leaves open (§13 item 13, §14): JPKI
certificate EFs with filler after the DER, and re-SELECT of the current AP (which may or may not
clear PIN state on a real card). Expected outcomes come from ``Persona.outcome``."""

from __future__ import annotations

import json

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from agent.verification.flows import FLOWS
from card.emulator import PERSONAS
from card.ids import AID, JpkiEF
from tests.agent.test_flows import credential, make_config, pin_verifies, run

SELECT_BY_AID = bytes.fromhex("00A404")
CERT_EFS = (JpkiEF.SIGN_CERT, JpkiEF.SIGN_CA_CERT, JpkiEF.AUTH_CERT, JpkiEF.AUTH_CA_CERT)


@pytest.fixture(scope="module")
def config(trust_dir):
    return make_config(trust_dir)


def outcome(verdict) -> str:
    j = verdict.to_json()
    return "ok" if j["ok"] else j["error"]["code"]


def test_cert_filler_option_puts_filler_after_every_certificate():
    from card.emulator import VirtualMynaCard

    files = VirtualMynaCard(PERSONAS["yamada-taro"], cert_filler=True).image.applications[
        AID.JPKI.value].files
    for fid in CERT_EFS:
        data = files[fid].data
        cert = x509.load_der_x509_certificate(data[: 4 + int.from_bytes(data[2:4], "big")])
        der = cert.public_bytes(Encoding.DER)
        assert data.startswith(der) and len(data) > len(der)


@pytest.mark.emulator_only
@pytest.mark.parametrize("card_reader", ["emulator"], indirect=True)
@pytest.mark.parametrize("flow", FLOWS)
@pytest.mark.parametrize("persona", sorted(PERSONAS))
def test_every_flow_with_filler_after_each_certificate(card_reader, config, persona, flow):
    p = PERSONAS[persona]
    reader, _card = card_reader(persona, cert_filler=True)
    assert outcome(run(reader, flow, credential(p, flow), config)) == p.outcome(flow)


@pytest.mark.emulator_only
@pytest.mark.parametrize("card_reader", ["pcsc"], indirect=True)
@pytest.mark.parametrize("flow", FLOWS)
def test_certificate_filler_through_pcscd(card_reader, config, flow):
    p = PERSONAS["yamada-taro"]
    reader, _card = card_reader(p.name, cert_filler=True)
    assert outcome(run(reader, flow, credential(p, flow), config)) == "ok"


def selected_aid(command: bytes) -> bytes | None:
    if command[:3] != SELECT_BY_AID or len(command) < 5:
        return None
    return command[5 : 5 + command[4]]


@pytest.mark.emulator_only
@pytest.mark.parametrize("card_reader", ["emulator"], indirect=True)
@pytest.mark.parametrize("flow", FLOWS)
def test_every_flow_verifies_after_its_last_select_of_the_ap(card_reader, config, flow):
    """Whether a re-SELECT of the current AP keeps or clears PIN state is uncertain on real
    cards; a flow that never selects the AP again after its VERIFY depends on neither."""
    p = PERSONAS["yamada-taro"]
    reader, card = card_reader(p.name)
    assert outcome(run(reader, flow, credential(p, flow), config)) == "ok"
    verifies = pin_verifies(card)
    verify_indices = [i for i, entry in enumerate(card.apdu_log) if entry in verifies]
    assert len(verify_indices) == (2 if flow == "face" else 1)  # face: + the text AP's
    aids = [selected_aid(entry.command) for entry in card.apdu_log]
    for verify_at in verify_indices:
        verified_ap = next(aid for aid in reversed(aids[:verify_at]) if aid is not None)
        assert verified_ap not in aids[verify_at + 1 :], f"{flow}: SELECT of the AP after VERIFY"


@pytest.mark.emulator_only
@pytest.mark.parametrize("card_reader", ["pcsc"], indirect=True)
@pytest.mark.parametrize("flow", ["number", "face"])
@pytest.mark.parametrize("persona", sorted(PERSONAS))
def test_myna_verify_number_and_face_through_pcscd(card_reader, trust_dir, capsys, monkeypatch,
                                                   persona, flow):
    """``myna verify`` as a user runs it, on every persona behind pcscd + vpcd."""
    from agent.cli.main import main

    p = PERSONAS[persona]
    card_reader(persona)
    monkeypatch.setenv("MYNA_PIN", credential(p, flow))
    rc = main(["verify", "--flow", flow, "--enable-number", "--reader", "pcsc:Virtual PCD 00 00",
               "--trust", "test", "--trust-dir", str(trust_dir), "--json",
               "--at", "2026-11-26T00:00:00Z"])
    verdict = json.loads(capsys.readouterr().out)
    assert ("ok" if verdict["ok"] else verdict["error"]["code"]) == p.outcome(flow)
    assert rc == (0 if p.outcome(flow) == "ok" else 1)


def test_myna_emulator_cert_filler_flag_reaches_the_card():
    from agent.cli import build_parser
    from agent.cli.commands.emulator_cmd import _make_card

    for argv, filler in ((["emulator"], False), (["emulator", "--cert-filler"], True)):
        card = _make_card(build_parser().parse_args(argv))
        auth_cert = card.image.applications[AID.JPKI.value].files[JpkiEF.AUTH_CERT].data
        der_length = 4 + int.from_bytes(auth_cert[2:4], "big")  # 30 82 HH LL
        assert (len(auth_cert) > der_length) is filler
