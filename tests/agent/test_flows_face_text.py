"""The face flow's name and address as text (券面事項入力補助AP EF 0002, checked by EF 0003).

A second VERIFY (the text AP's 照合番号B) only after the card-face AP accepted the same value in
this tap, after reading its counter, never at one try left, never twice; the My Number EF is
never read; whatever goes wrong there, the face result stands and the text is not shown unless
EF 0003 vouches for it."""

from __future__ import annotations

import pytest
from test_flows import AT, make_config

from agent.verification.flows import run_flow
from card.emulator import PERSONAS, VirtualMynaCard
from card.ids import AID, InputHelperEF, SurfaceEF
from card.transports.emulated import EmulatedReader
from tests.support.apdu_log import assert_verifies_are_safe, my_number_reads, verify_targets

PERSONA = PERSONAS["yamada-taro"]
MATCH_B = PERSONA.credentials.match_b
TEXT_AP = AID.INPUT_HELPER.value


@pytest.fixture(scope="module")
def config(trust_dir):
    return make_config(trust_dir)


class _TextApCard(VirtualMynaCard):
    """A card whose text AP answers differently: a different 照合番号B, a altered 基本4情報
    byte, or a card pulled on that AP's VERIFY."""

    def __init__(self, *, other_match_b: bool = False, alter_basic_info: bool = False,
                 pull_on_text_verify: bool = False) -> None:
        super().__init__(PERSONA)
        self.other_match_b = other_match_b
        self.alter_basic_info = alter_basic_info
        self.pull_on_text_verify = pull_on_text_verify
        self._aid = self._ef = b""

    def process(self, capdu: bytes) -> bytes:
        if capdu[:4] == bytes.fromhex("00A4040C"):
            self._aid = capdu[5:]
        elif capdu[:4] == bytes.fromhex("00A4020C"):
            self._ef = capdu[5:7]
        in_text_ap = self._aid == TEXT_AP
        is_verify = capdu[:4] == bytes.fromhex("00200080") and len(capdu) > 5
        if in_text_ap and is_verify and self.pull_on_text_verify:
            self.faults.remove_after_apdus = 0  # this VERIFY never reaches the card
        if in_text_ap and is_verify and self.other_match_b:
            capdu = capdu[:5] + b"0" * (len(capdu) - 5)
        response = super().process(capdu)
        if in_text_ap and self.alter_basic_info and self._ef == b"\x00\x02" and capdu[1] == 0xB0:
            data = bytearray(response[:-2])
            data[20] ^= 0x01  # inside the name: the DF32 digest no longer matches
            response = bytes(data) + response[-2:]
        return response


def _face(card, config, credential=MATCH_B, **kw):
    with EmulatedReader("x", card).connect() as connection:
        return run_flow("face", connection, credential, at=AT, config=config, **kw)


def test_text_read_after_the_face_verify_and_never_the_my_number(config):
    card = VirtualMynaCard(PERSONA)
    v = _face(card, config)
    assert v.ok and v.identity["text"]["status"] == "verified"
    assert [t[:2] for t in verify_targets(card)] == [
        (AID.SURFACE.value, SurfaceEF.MATCH_B), (TEXT_AP, InputHelperEF.MATCH_B)]
    assert my_number_reads(card) == []
    # The text AP's counter was read before its VERIFY, with nothing in between but its SELECT.
    commands = [a.command for a in card.apdu_log]
    text_verify = max(i for i, c in enumerate(commands) if c[:4] == bytes.fromhex("00200080"))
    assert commands[text_verify - 1] == bytes.fromhex("00200080")  # the empty retry query
    assert card.tries_left(AID.INPUT_HELPER, InputHelperEF.MATCH_B) == 10


def test_wrong_match_b_never_reaches_the_text_ap(config):
    card = VirtualMynaCard(PERSONA)
    v = _face(card, config, credential="0" * 14)
    assert v.error["code"] == "PIN_INVALID" and v.identity is None
    assert len(verify_targets(card)) == 1
    assert not any(a.command[5:15] == TEXT_AP for a in card.apdu_log)
    assert card.tries_left(AID.INPUT_HELPER, InputHelperEF.MATCH_B) == 10


@pytest.mark.parametrize(("tries", "reason"), [(1, "last_try"), (0, "blocked")])
def test_low_text_counter_sends_nothing(config, tries, reason):
    card = VirtualMynaCard(PERSONA)
    card.set_tries_left(AID.INPUT_HELPER, InputHelperEF.MATCH_B, tries)
    v = _face(card, config)
    assert v.ok and v.identity["photo_jp2_b64"]
    assert v.identity["text"] == {"status": "unavailable", "reason": reason, "name": None,
                                  "address": None}
    assert len(verify_targets(card)) == 1  # the face AP's only
    assert card.tries_left(AID.INPUT_HELPER, InputHelperEF.MATCH_B) == tries


def test_refused_text_verify_is_not_retried(config):
    card = _TextApCard(other_match_b=True)
    v = _face(card, config)
    assert v.ok and v.assurance == ("record-signature", "possession")
    assert v.identity["text"]["status"] == "unavailable"
    assert v.identity["text"]["reason"] == "refused" and v.identity["text"]["name"] is None
    assert_verifies_are_safe(card, "face")
    assert [t[2] for t in verify_targets(card)] == [0x9000, 0x63C9]  # one refused, no retry
    assert card.tries_left(AID.INPUT_HELPER, InputHelperEF.MATCH_B) == 9


def test_altered_text_is_never_shown(config):
    card = _TextApCard(alter_basic_info=True)
    v = _face(card, config)
    assert v.ok
    assert v.identity["text"] == {"status": "unavailable", "reason": "record_invalid",
                                  "name": None, "address": None}


def test_card_pulled_during_the_text_verify_ends_the_tap(config):
    # The card left: the tap ends as any pulled card does (nothing shown, no verdict on a card
    # that is gone), and the VERIFY whose outcome is unknown is never sent again.
    card = _TextApCard(pull_on_text_verify=True)
    v = _face(card, config)
    assert v.error["code"] == "CARD_REMOVED" and v.identity is None
    assert len(verify_targets(card)) == 1


def test_text_without_issuer_keys_is_read_not_verified(trust_dir):
    card = VirtualMynaCard(PERSONA)
    v = _face(card, make_config(trust_dir, cvc=False))
    assert v.ok and v.assurance == ("not-verified",)
    assert v.identity["text"]["status"] == "not-verified"
    assert v.identity["text"]["name"] == PERSONA.identity.name


def test_steps_name_the_text_part(config):
    seen: list[str] = []
    v = _face(VirtualMynaCard(PERSONA), config, on_step=lambda n, s: seen.append(n))
    assert v.ok
    assert {"read_text_retry_counter", "verify_text_match_b", "read_basic_info",
            "read_integrity", "read_text_cvc", "verify_text_record"} <= set(seen)
