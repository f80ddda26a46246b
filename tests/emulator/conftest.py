"""Fixtures for the emulator's own tests: fresh cards per test, raw APDUs only (no host code)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from card.emulator import PERSONAS, VirtualMynaCard


def h(text: str) -> bytes:
    """Spaced hex → bytes (``"00 A4 04 0C"``)."""
    return bytes.fromhex(text.replace(" ", ""))


def sw(response: bytes) -> str:
    return response[-2:].hex(" ").upper()


JPKI = "D3 92 F0 00 26 01 00 00 00 01"
HELPER = "D3 92 10 00 31 00 01 01 04 08"
SURFACE = "D3 92 10 00 31 00 01 01 04 02"
JUKI = "D3 92 10 00 31 00 01 01 04 01"
COMMON = "D3 92 10 00 31 00 01 01 01 00"
ISD = "A0 00 00 01 51 00 00"


def select_ap(card: VirtualMynaCard, aid: str) -> None:
    n = len(h(aid))
    assert sw(card.process(h(f"00 A4 04 0C {n:02X} {aid}"))) == "90 00"


def select_ef(card: VirtualMynaCard, fid: int) -> None:
    assert sw(card.process(h(f"00 A4 02 0C 02 {fid:04X}"))) == "90 00"


def verify(card: VirtualMynaCard, fid: int, secret: str) -> str:
    data = secret.encode()
    return sw(card.process(h(f"00 20 00 {0x80 | fid:02X} {len(data):02X}") + data))


def read_all(card: VirtualMynaCard, chunk: int = 0x00) -> bytes:
    """Page READ BINARY through the current EF until 6B00 (short Le)."""
    out = b""
    while len(out) < 0x8000:
        r = card.process(h(f"00 B0 {len(out) >> 8:02X} {len(out) & 0xFF:02X} {chunk:02X}"))
        if sw(r) == "6B 00":
            return out
        assert sw(r) == "90 00", sw(r)
        out += r[:-2]
    raise AssertionError("EF too long")


@pytest.fixture
def make_card() -> Callable[[str], VirtualMynaCard]:
    def make(name: str = "yamada-taro") -> VirtualMynaCard:
        card = VirtualMynaCard(PERSONAS[name])
        card.power_on()
        return card

    return make


@pytest.fixture
def card(make_card: Callable[[str], VirtualMynaCard]) -> VirtualMynaCard:
    return make_card("yamada-taro")
