"""Untrusted input: any byte string into ``process`` yields an R-APDU (≥ 2 bytes, SW last) and
never a Python exception (house rules: typed errors only, no IndexError/struct.error)."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from card.emulator import PERSONAS, VirtualMynaCard
from tests.emulator.conftest import JPKI, h

_CARD = VirtualMynaCard(PERSONAS["yamada-taro"])
_CLAS = st.sampled_from([0x00, 0x80, 0x0C, 0x01, 0xFF, 0x10])
_INS = st.sampled_from([0xA4, 0xB0, 0xB2, 0x20, 0x24, 0x32, 0x2A, 0x84, 0x88, 0xCA, 0xC0, 0xAE])


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    prefix=st.sampled_from(
        ["", f"00 A4 04 0C 0A {JPKI}", "00 A4 04 0C 0A D3 92 10 00 31 00 01 01 04 02"]
    ),
    cla=_CLAS,
    ins=_INS,
    p1=st.integers(0, 255),
    p2=st.integers(0, 255),
    body=st.binary(max_size=300),
)
def test_process_never_raises(
    prefix: str, cla: int, ins: int, p1: int, p2: int, body: bytes
) -> None:
    _CARD.power_on()
    if prefix:
        _CARD.process(h(prefix))
    r = _CARD.process(bytes([cla, ins, p1, p2]) + body)
    assert len(r) >= 2
    assert r[-2] in (0x90, 0x61, 0x62, 0x63, 0x66, 0x67, 0x68, 0x69, 0x6A, 0x6B, 0x6D, 0x6E, 0x6F)


@given(raw=st.binary(max_size=12))
def test_short_garbage(raw: bytes) -> None:
    r = _CARD.process(raw)
    assert len(r) >= 2
