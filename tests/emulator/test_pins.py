"""PIN counter rules (reference §4 "PIN-state details", §13 item 5)."""

from __future__ import annotations

import pytest

from card.emulator import VirtualMynaCard
from card.ids import AID, InputHelperEF, JpkiEF
from tests.emulator.conftest import HELPER, JPKI, h, select_ap, sw, verify


def test_empty_verify_never_consumes_and_survives_success(card: VirtualMynaCard) -> None:
    select_ap(card, JPKI)
    for _ in range(5):
        assert sw(card.process(h("00 20 00 98"))) == "63 C3"
    assert verify(card, 0x18, "1234") == "90 00"
    assert sw(card.process(h("00 20 00 98"))) == "63 C3"  # no "already verified" signal
    assert card.tries_left(AID.JPKI, JpkiEF.AUTH_PIN) == 3


def test_wrong_decrements_then_blocks_forever(card: VirtualMynaCard) -> None:
    select_ap(card, JPKI)
    assert verify(card, 0x18, "0000") == "63 C2"
    assert verify(card, 0x18, "0000") == "63 C1"
    assert verify(card, 0x18, "0000") == "63 C0"
    assert verify(card, 0x18, "1234") == "69 84"  # even the right PIN
    assert verify(card, 0x18, "0000") == "69 84"
    assert sw(card.process(h("00 20 00 98"))) == "63 C0"
    card.power_off()
    card.power_on()
    select_ap(card, JPKI)
    assert verify(card, 0x18, "1234") == "69 84"


def test_correct_resets_counter(card: VirtualMynaCard) -> None:
    select_ap(card, JPKI)
    assert verify(card, 0x1B, "WRONG1") == "63 C4"
    assert verify(card, 0x1B, "WRONG2") == "63 C3"
    assert verify(card, 0x1B, "MYNA2026") == "90 00"
    assert card.tries_left(AID.JPKI, JpkiEF.SIGN_PIN) == 5


def test_password_compared_as_raw_bytes(card: VirtualMynaCard) -> None:
    select_ap(card, JPKI)
    assert verify(card, 0x1B, "myna2026") == "63 C4"  # no case folding (§7.3)


def test_wrong_verify_drops_verified_state(card: VirtualMynaCard) -> None:
    select_ap(card, JPKI)
    assert verify(card, 0x1B, "MYNA2026") == "90 00"
    assert verify(card, 0x1B, "WRONG1") == "63 C4"
    card.process(h("00 A4 02 0C 02 00 01"))
    assert sw(card.process(h("00 B0 00 00 04"))) == "69 82"


@pytest.mark.parametrize(
    ("persona", "empty_sw", "verify_sw"),
    [("sign-pin-1-left", "63 C1", "90 00"), ("sign-pin-blocked", "63 C0", "69 84")],
)
def test_persona_counters(make_card, persona: str, empty_sw: str, verify_sw: str) -> None:  # type: ignore[no-untyped-def]
    c = make_card(persona)
    select_ap(c, JPKI)
    assert sw(c.process(h("00 20 00 9B"))) == empty_sw
    assert verify(c, 0x1B, "MYNA2026") == verify_sw


def test_change_reference_data_needs_verify_and_format(card: VirtualMynaCard) -> None:
    select_ap(card, JPKI)
    assert sw(card.process(h("00 24 01 98 04 35 36 37 38"))) == "69 82"
    assert verify(card, 0x18, "1234") == "90 00"
    assert sw(card.process(h("00 24 01 98 03 35 36 37"))) == "6A 80"  # 3 digits
    assert sw(card.process(h("00 24 01 98 04 35 36 37 38"))) == "90 00"
    select_ap(card, JPKI)
    assert verify(card, 0x18, "1234") == "63 C2"
    assert verify(card, 0x18, "5678") == "90 00"


def test_change_key_in_common_ap(card: VirtualMynaCard) -> None:
    select_ap(card, "D3 92 10 00 31 00 01 01 01 00")
    assert verify(card, 0x1C, "1234") == "90 00"
    assert sw(card.process(h("00 24 01 9C 04 35 36 37 38"))) == "69 85"  # JICSAP CHANGE KEY only
    assert sw(card.process(h("80 32 00 9C 04 35 36 37 38"))) == "90 00"


def test_helper_pin_and_match_keys(card: VirtualMynaCard) -> None:
    p = card.persona
    select_ap(card, HELPER)
    assert sw(card.process(h("00 20 00 94"))) == "63 CA"  # 照合番号A: 10 tries (ids)
    assert verify(card, 0x14, p.credentials.match_a) == "90 00"
    assert verify(card, 0x15, "0" * 14) == "63 C9"
    assert card.tries_left(AID.INPUT_HELPER, InputHelperEF.MATCH_B) == 9


def test_set_tries_left_is_what_the_retry_query_answers(card: VirtualMynaCard) -> None:
    card.set_tries_left(AID.INPUT_HELPER, InputHelperEF.MATCH_B, 1)
    select_ap(card, HELPER)
    assert sw(card.process(h("00 20 00 95"))) == "63 C1"  # 照合番号B of the text AP, SFI 15
    assert verify(card, 0x15, card.persona.credentials.match_b) == "90 00"
    assert card.tries_left(AID.INPUT_HELPER, InputHelperEF.MATCH_B) == 10  # reset by success
