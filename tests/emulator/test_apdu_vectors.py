"""Table-driven APDU vectors straight into ``VirtualMynaCard.process`` (reference §1, §3, §4,
§13): each row is (setup commands, command, expected SW, expected data length or None)."""

from __future__ import annotations

import pytest

from card.emulator import VirtualMynaCard
from tests.emulator.conftest import HELPER, ISD, JPKI, SURFACE, h, sw

SEL_JPKI = f"00 A4 04 0C 0A {JPKI}"
SEL_HELPER = f"00 A4 04 0C 0A {HELPER}"
SEL_SURFACE = f"00 A4 04 0C 0A {SURFACE}"
VERIFY_SIGN = "00 20 00 9B 08 " + b"MYNA2026".hex(" ")
VERIFY_AUTH = "00 20 00 98 04 31 32 33 34"

VECTORS = [
    ("select-mf-after-reset", [], "00 A4 00 00", "6A 86", 0),
    ("select-mf-after-ap", [SEL_JPKI], "00 A4 00 00", "90 00", 0),
    ("select-3f00-by-fid", [SEL_JPKI], "00 A4 02 0C 02 3F 00", "6A 82", 0),
    ("select-jpki", [], SEL_JPKI, "90 00", 0),
    ("select-helper", [], SEL_HELPER, "90 00", 0),
    ("select-surface", [], SEL_SURFACE, "90 00", 0),
    ("select-juki", [], "00 A4 04 0C 0A D3 92 10 00 31 00 01 01 04 01", "90 00", 0),
    ("select-common", [], "00 A4 04 0C 0A D3 92 10 00 31 00 01 01 01 00", "90 00", 0),
    ("select-isd", [], f"00 A4 04 0C 07 {ISD}", "90 00", 0),
    ("select-unknown-aid", [], "00 A4 04 0C 05 A0 00 00 00 03", "6A 82", 0),
    ("select-unknown-fid", [SEL_JPKI], "00 A4 02 0C 02 00 0F", "6A 82", 0),
    ("select-fid-without-ap", [], "00 A4 02 0C 02 00 0A", "6A 82", 0),
    ("select-bad-p1", [], "00 A4 08 0C 02 00 0A", "6A 86", 0),
    ("read-auth-cert-head", [SEL_JPKI, "00 A4 02 0C 02 00 0A"], "00 B0 00 00 04", "90 00", 4),
    ("read-le-00-is-256", [SEL_JPKI, "00 A4 02 0C 02 00 0A"], "00 B0 00 00 00", "90 00", 256),
    ("read-extended-le", [SEL_JPKI, "00 A4 02 0C 02 00 0A"], "00 B0 00 00 00 03 00", "90 00", 768),
    ("read-sfi", [SEL_JPKI], "00 B0 8A 00 04", "90 00", 4),
    ("read-token-info", [SEL_JPKI, "00 A4 02 0C 02 00 06"], "00 B0 00 00 00", "90 00", 160),
    ("read-past-end", [SEL_JPKI, "00 A4 02 0C 02 00 08"], "00 B0 00 03 01", "6B 00", 0),
    ("read-tail", [SEL_JPKI, "00 A4 02 0C 02 00 08"], "00 B0 00 01 00", "90 00", 2),
    ("read-sign-cert-no-pin", [SEL_JPKI, "00 A4 02 0C 02 00 01"], "00 B0 00 00 04", "69 82", 0),
    ("read-pin-ief", [SEL_JPKI, "00 A4 02 0C 02 00 18"], "00 B0 00 00 04", "69 81", 0),
    ("read-key-ef", [SEL_JPKI, "00 A4 02 0C 02 00 17"], "00 B0 00 00 04", "69 81", 0),
    ("read-no-current-ef", [SEL_JPKI], "00 B0 00 00 04", "69 86", 0),
    ("read-case-1", [SEL_JPKI, "00 A4 02 0C 02 00 0A"], "00 B0 00 00", "67 00", 0),
    ("verify-query-auth", [SEL_JPKI, "00 A4 02 0C 02 00 18"], "00 20 00 80", "63 C3", 0),
    ("verify-query-sign-sfi", [SEL_JPKI], "00 20 00 9B", "63 C5", 0),
    ("verify-query-helper", [SEL_HELPER], "00 20 00 91", "63 C3", 0),
    ("verify-blocked-key-0012", [SEL_HELPER], "00 20 00 92", "63 C0", 0),
    ("verify-not-an-ief", [SEL_JPKI, "00 A4 02 0C 02 00 0A"], "00 20 00 80", "69 81", 0),
    ("sign-no-pin", [SEL_JPKI, "00 A4 02 0C 02 00 1A"], "80 2A 00 80 03 01 02 03 00", "69 82", 0),
    ("sign-ok", [SEL_JPKI, VERIFY_SIGN], "80 2A 00 9A 03 01 02 03 00", "90 00", 256),
    ("sign-auth-ok", [SEL_JPKI, VERIFY_AUTH], "80 2A 00 97 03 01 02 03 00", "90 00", 256),
    ("sign-bad-p1", [SEL_JPKI, VERIFY_SIGN], "80 2A 06 9A 03 01 02 03 00", "6A 86", 0),
    ("sign-too-long", [SEL_JPKI, VERIFY_SIGN], "80 2A 00 9A F6 " + "00 " * 246 + "00", "67 00", 0),
    ("sign-p1-02-wrong-len", [SEL_JPKI, VERIFY_SIGN], "80 2A 02 9A 03 01 02 03 00", "67 00", 0),
    ("sign-no-data", [SEL_JPKI, VERIFY_SIGN], "80 2A 00 9A 00", "67 00", 0),
    ("sign-cla-00", [SEL_JPKI, VERIFY_SIGN], "00 2A 00 9A 03 01 02 03 00", "6E 00", 0),
    ("surface-challenge-sig", [SEL_SURFACE], "80 2A 00 00 03 01 02 03 00", "90 00", 256),
    ("helper-challenge-sig", [SEL_HELPER], "80 2A 00 00 03 01 02 03 00", "90 00", 256),
    ("surface-sig-bad-p1", [SEL_SURFACE], "80 2A 01 00 03 01 02 03 00", "6A 86", 0),
    ("get-challenge-8", [], "00 84 00 00 08", "90 00", 8),
    ("get-challenge-256", [SEL_JPKI], "00 84 00 00 00", "90 00", 256),
    ("get-challenge-extended", [], "00 84 00 00 00 00 08", "69 85", 0),
    ("ins-unknown", [], "00 FF 00 00", "6D 00", 0),
    ("cla-unknown", [], "A0 A4 04 0C 0A " + JPKI, "6E 00", 0),
    ("channel-1", [], "01 A4 04 0C 0A " + JPKI, "68 81", 0),
    ("sm-select", [SEL_JPKI], "0C A4 04 0C 0A " + JPKI, "68 82", 0),
    ("sm-read-in-jpki", [SEL_JPKI], "0C B0 00 00 04", "69 FC", 0),
    ("malformed-lc", [], "00 A4 04 0C 0B " + JPKI, "67 00", 0),
    ("malformed-3-bytes", [], "00 A4 04", "67 00", 0),
    ("malformed-extended", [], "00 B0 00 00 00 00", "67 00", 0),
    ("get-response", [], "00 C0 00 00 10", "69 85", 0),
    ("get-data-municipality", [], "00 CA 00 F0 00", "90 00", 5),
    ("get-data-in-ap", [SEL_JPKI], "00 CA 00 F0 00", "6A 88", 0),
    ("get-data-after-isd", [f"00 A4 04 0C 07 {ISD}"], "00 CA 00 F2 08", "90 00", 8),
    ("last-command", [], "80 FC 00 00", "67 00", 0),
    (
        "read-record-common",
        ["00 A4 04 0C 0A D3 92 10 00 31 00 01 01 01 00", "00 A4 02 0C 02 00 01"],
        "00 B2 01 04 00",
        "90 00",
        30,
    ),
    (
        "internal-auth-common",
        ["00 A4 04 0C 0A D3 92 10 00 31 00 01 01 01 00"],
        "00 88 00 99 04 01 02 03 04 00",
        "90 00",
        256,
    ),
    ("internal-auth-surface", [SEL_SURFACE], "00 88 00 9A 04 01 02 03 04 00", "69 85", 0),
    ("set-session-key-surface", [SEL_SURFACE], "80 AE 00 00 02 01 02", "66 F1", 0),
    ("set-session-key-helper-no-pin", [SEL_HELPER], "80 AE 00 00 02 01 02", "69 82", 0),
    (
        "my-number-size",
        [SEL_HELPER, "00 20 00 91 04 31 32 33 34", "00 A4 02 0C 02 00 01"],
        "00 B0 00 00 00",
        "90 00",
        17,
    ),
]


@pytest.mark.parametrize(
    ("setup", "command", "expected_sw", "length"),
    [v[1:] for v in VECTORS],
    ids=[v[0] for v in VECTORS],
)
def test_vector(
    card: VirtualMynaCard, setup: list[str], command: str, expected_sw: str, length: int
) -> None:
    for step in setup:
        assert sw(card.process(h(step))) == "90 00", step
    response = card.process(h(command))
    assert sw(response) == expected_sw
    assert len(response) - 2 == length


def test_reselect_clears_pin_state(card: VirtualMynaCard) -> None:
    for step in (SEL_JPKI, VERIFY_SIGN, "00 A4 02 0C 02 00 01"):
        assert sw(card.process(h(step))) == "90 00"
    assert sw(card.process(h("00 B0 00 00 04"))) == "90 00"
    card.process(h(SEL_JPKI))
    card.process(h("00 A4 02 0C 02 00 01"))
    assert sw(card.process(h("00 B0 00 00 04"))) == "69 82"


@pytest.mark.parametrize("how", ["power_off", "reset"])
def test_power_cycle_clears_state(card: VirtualMynaCard, how: str) -> None:
    for step in (SEL_JPKI, VERIFY_SIGN, "00 A4 02 0C 02 00 01"):
        card.process(h(step))
    getattr(card, how)()
    card.power_on()
    assert sw(card.process(h("00 B0 00 00 04"))) == "6A 82"  # no AP selected any more
    assert sw(card.process(h("00 A4 00 00"))) == "6A 86"


def test_select_mf_keeps_current_df(card: VirtualMynaCard) -> None:
    card.process(h(SEL_JPKI))
    card.process(h("00 A4 00 00"))
    assert sw(card.process(h("00 A4 02 0C 02 00 0A"))) == "90 00"


def test_read_min_of_le_and_remaining(card: VirtualMynaCard) -> None:
    card.process(h(SEL_JPKI))
    card.process(h("00 A4 02 0C 02 00 0A"))
    size = int.from_bytes(card.process(h("00 B0 00 02 02"))[:2], "big") + 4
    last = size - 5
    r = card.process(h(f"00 B0 {last >> 8:02X} {last & 0xFF:02X} 00"))
    assert sw(r) == "90 00" and len(r) == 7


def test_read_with_15_bit_offset_boundary(card: VirtualMynaCard) -> None:
    card.process(h(SEL_JPKI))
    card.process(h("00 A4 02 0C 02 00 0A"))
    assert sw(card.process(h("00 B0 7F FF 01"))) == "6B 00"


def test_challenges_are_fresh(card: VirtualMynaCard) -> None:
    a = card.process(h("00 84 00 00 10"))
    b = card.process(h("00 84 00 00 10"))
    assert a[:-2] != b[:-2]


def test_unknown_card_answers_6a82_to_every_my_number_aid(make_card) -> None:  # type: ignore[no-untyped-def]
    c = make_card("unknown-card")
    from tests.emulator.conftest import COMMON, JUKI

    for aid in (JPKI, HELPER, SURFACE, JUKI, COMMON):
        assert sw(c.process(h(f"00 A4 04 0C 0A {aid}"))) == "6A 82"
