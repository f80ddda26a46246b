"""Rebuild card/emulator/data/test_keys.json: the primes of every test key the emulator uses
(personas, test roots, CVC issuers), derived with card.emulator.rsakeys. Run after adding a
persona or a key role; tests/emulator/test_rsakeys.py fails until the bundle covers them.

    .venv/bin/python scripts/build-test-keys.py
"""

from __future__ import annotations

import sys
import tempfile
import time

from card.emulator import PERSONAS, export_trust, rsakeys
from card.emulator.cardimage import build_card_image


def used_seeds() -> set[tuple[str, int]]:
    """Every (seed, bits) the emulator asks for while building all cards and the test trust."""
    seen: set[tuple[str, int]] = set()
    derive = rsakeys._primes

    def recording(seed: str, bits: int) -> tuple[int, int]:
        seen.add((seed, bits))
        return derive(seed, bits)

    rsakeys._primes = recording  # type: ignore[assignment]
    try:
        for name in PERSONAS:
            build_card_image(name)
        with tempfile.TemporaryDirectory() as tmp:
            export_trust(tmp)
    finally:
        rsakeys._primes = derive  # type: ignore[assignment]
    return seen


def main() -> int:
    started = time.monotonic()
    seeds = used_seeds()
    count = rsakeys.write_bundle(seeds)
    print(f"{count} test keys -> {rsakeys.BUNDLE} in {time.monotonic() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
