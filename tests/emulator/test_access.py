"""Access matrix per credential (reference §2, §13 item 8): which EF each credential opens."""

from __future__ import annotations

import pytest

from card.emulator import VirtualMynaCard
from tests.emulator.conftest import HELPER, JPKI, SURFACE, h, select_ap, sw, verify

FREE = None

# (AP, credential IEF or FREE, {EF: readable?})
MATRIX = [
    (JPKI, FREE, {0x01: False, 0x02: True, 0x06: True, 0x08: True, 0x0A: True, 0x0B: True}),
    (JPKI, 0x1B, {0x01: True}),
    (JPKI, 0x18, {0x01: False}),
    (HELPER, FREE, {1: False, 2: False, 3: False, 4: True, 5: True, 6: False, 7: False}),
    (HELPER, 0x11, {1: True, 2: True, 3: True, 4: True, 5: True, 6: True, 7: True}),
    (HELPER, 0x14, {1: True, 2: False, 3: True, 6: True, 7: True}),
    (HELPER, 0x15, {1: False, 2: True, 3: True, 6: True, 7: True}),
    (SURFACE, FREE, {1: False, 2: False, 3: True, 4: True, 5: False, 6: False}),
    (SURFACE, 0x11, {1: True, 2: False, 5: False}),
    (SURFACE, 0x13, {1: False, 2: True, 3: True, 4: True, 5: True, 6: True}),
    (SURFACE, 0x12, {1: False, 2: True, 3: True, 4: True, 5: False, 6: True}),
]


def _secret(card: VirtualMynaCard, ap: str, ief: int) -> str:
    c = card.persona.credentials
    table = {
        (JPKI, 0x1B): c.sign_password,
        (JPKI, 0x18): c.auth_pin,
        (HELPER, 0x11): c.input_helper_pin,
        (HELPER, 0x14): c.match_a,
        (HELPER, 0x15): c.match_b,
        (SURFACE, 0x11): c.birth_key,
        (SURFACE, 0x12): c.match_b,
        (SURFACE, 0x13): c.match_a,
    }
    return table[(ap, ief)]


@pytest.mark.parametrize(
    ("ap", "ief", "readable"),
    MATRIX,
    ids=[
        f"{['jpki', 'helper', 'surface'][[JPKI, HELPER, SURFACE].index(a)]}-{i or 'free'}"
        for a, i, _ in MATRIX
    ],
)
def test_access(card: VirtualMynaCard, ap: str, ief: int | None, readable: dict[int, bool]) -> None:
    select_ap(card, ap)
    if ief is not None:
        assert verify(card, ief, _secret(card, ap, ief)) == "90 00"
    for fid, ok in readable.items():
        assert sw(card.process(h(f"00 A4 02 0C 02 {fid:04X}"))) == "90 00"
        got = sw(card.process(h("00 B0 00 00 01")))
        assert got == ("90 00" if ok else "69 82"), f"EF {fid:04X}"


def test_minor_has_no_sign_cert(make_card) -> None:  # type: ignore[no-untyped-def]
    c = make_card("minor-no-sign-cert")
    select_ap(c, JPKI)
    c.process(h("00 A4 02 0C 02 00 08"))
    presence = c.process(h("00 B0 00 00 03"))
    assert presence[0] != 0x8F and sw(presence) == "90 00"
    assert sw(c.process(h("00 A4 02 0C 02 00 01"))) == "6A 82"
    assert sw(c.process(h("00 A4 02 0C 02 00 0A"))) == "90 00"
