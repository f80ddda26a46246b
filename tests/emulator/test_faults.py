"""Injected faults (design §4) and the APDU log's masking (design §2)."""

from __future__ import annotations

import time
import types

import pytest

from card.emulator import CardPulled, Faults, VirtualMynaCard
from card.emulator import card as card_module
from tests.emulator.conftest import JPKI, h, select_ap, sw, verify

SELECT = h(f"00 A4 04 0C 0A {JPKI}")


def test_remove_after_n(card: VirtualMynaCard) -> None:
    card.faults = Faults(remove_after_apdus=2)
    card.process(SELECT)
    card.process(SELECT)
    with pytest.raises(CardPulled):
        card.process(SELECT)
    with pytest.raises(CardPulled):  # stays pulled
        card.process(SELECT)
    card.faults = Faults()
    card.power_on()  # re-inserted
    assert sw(card.process(SELECT)) == "90 00"


def test_internal_error_after_power_on(card: VirtualMynaCard) -> None:
    card.faults = Faults(internal_error_after_power_on=True)
    card.power_on()
    assert sw(card.process(SELECT)) == "6F 00"
    assert sw(card.process(SELECT)) == "90 00"


def test_garbage_and_truncation(card: VirtualMynaCard) -> None:
    card.faults = Faults(truncate_after_apdus=1)
    assert sw(card.process(SELECT)) == "90 00"
    assert len(card.process(SELECT)) == 1
    card.faults = Faults(garbage_after_apdus=0)
    a = card.process(SELECT)
    assert a != h("90 00") and 1 <= len(a) <= 32
    assert card.apdu_log[-1].fault == "garbage"


def test_latency(card: VirtualMynaCard) -> None:
    card.faults = Faults(latency_s=0.05)
    start = time.monotonic()
    card.process(SELECT)
    assert time.monotonic() - start >= 0.05


@pytest.mark.parametrize("kbps", [106, 212, 424])
def test_bitrate_model_accumulates_without_sleeping(card: VirtualMynaCard, kbps: int,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    # "Without sleeping" is asked of the card directly: a wall-clock bound measured the
    # machine's load as well (20.2 ms once, beside the other test lanes).
    slept: list[float] = []
    clock = types.SimpleNamespace(**{n: getattr(time, n) for n in dir(time) if n[0] != "_"})
    clock.sleep = slept.append  # the card module's clock only: other threads keep theirs
    monkeypatch.setattr(card_module, "time", clock)
    card.faults = Faults(bitrate=kbps)
    select_ap(card, JPKI)
    card.process(h("00 A4 02 0C 02 00 0A"))
    card.process(h("00 B0 00 00 00"))
    assert slept == []
    # SELECT 15+2, SELECT EF 7+2, READ 5+258 (two frames back): 10 etu per byte, 5 bytes of
    # framing per frame (faults.air_time_s) → 27 + 19 + 278 bytes.
    assert card.air_time_s == pytest.approx((27 + 19 + 278) * 10 / (kbps * 1000))
    card.faults = Faults(bitrate=kbps, sleep_for_air_time=True)  # the probe sees a real sleep
    card.process(h("00 B0 00 00 00"))
    assert len(slept) == 1 and slept[0] > 0


def test_faults_validate() -> None:
    with pytest.raises(ValueError, match="bitrate"):
        Faults(bitrate=100)
    with pytest.raises(ValueError):
        Faults(remove_after_apdus=-1)


def test_log_masks_pins(card: VirtualMynaCard) -> None:
    select_ap(card, JPKI)
    verify(card, 0x1B, "MYNA2026")
    card.process(h("00 24 01 9B 08") + b"NEWPASS1")
    entries = card.apdu_log[-2:]
    for entry in entries:
        assert len(entry.command) == 4 and entry.masked_length == 8
        assert b"MYNA" not in entry.command and b"NEW" not in entry.command
    assert [e.response_sw for e in entries] == [0x9000, 0x9000]
    assert card.apdu_log[0].command == SELECT and card.apdu_log[0].masked_length is None
