"""Soak: 144 taps (over two minutes of real time) across every persona and flow through real
pcscd + vpcd without restarting the agent; no stuck state, and threads, file descriptors and
RSS after the last tap within a small bound of the figures after tap 10. The 10,000-tap run is
``bench/hardening.py --taps 10000``."""

from __future__ import annotations

import gc
from pathlib import Path
from typing import Any

import pytest

from agent.verification.flows import FLOWS
from card.emulator import PERSONAS
from tests.hardening.soak import soak

pytestmark = [pytest.mark.slow, pytest.mark.pcsc, pytest.mark.emulator_only]
TAPS = 3 * len(PERSONAS) * len(FLOWS)  # 144 with 12 personas: every combination 3 times


def test_soak_through_pcsc(pcscd: Any, tmp_path: Path, trust_dir: Path) -> None:
    result = soak(tmp_path, trust_dir, pcscd.port, TAPS)
    gc.collect()
    assert result.taps == TAPS
    # A card vpcd dropped under a tap (seen once in about ten full runs, cause not yet known)
    # is repeated; more than one in a soak is a pattern, not a glitch.
    print("taps repeated after vpcd dropped the card:", result.vanished or "none")
    assert len(result.vanished) <= 1, result.vanished
    assert result.results >= TAPS // 2, result  # most combinations verify
    assert "INTERNAL" not in result.errors and "TIMEOUT" not in result.errors, result.errors
    first, last = result.samples[0], result.samples[-1]
    assert first.taps == 10 and last.taps == TAPS
    assert last.threads <= first.threads + 1, result.samples
    assert last.fds <= first.fds + 4, result.samples
    assert last.rss_kib <= first.rss_kib + 24 * 1024, result.samples
