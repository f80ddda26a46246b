"""Faults the virtual card can inject on demand (design §4) and the APDU log record.

``Faults`` is a plain mutable dataclass so the demo panel and tests can change one field at a
time; the card reads it on every APDU. Counting is per power-on: ``remove_after_apdus=N`` lets
the card answer N APDUs after power-on and then pulls it (every later ``process`` raises
``CardPulled`` until ``power_on``); the fault stays armed for the next insertion until cleared.
"""

from __future__ import annotations

from dataclasses import dataclass

BITRATES_KBPS = (106, 212, 424)


class CardPulled(Exception):  # name fixed by docs/architecture.md
    """The card left the field / slot: the transport must report a removed card."""


@dataclass
class Faults:
    """What to break. ``bitrate`` is in kbit/s (106, 212 or 424): air time of each exchange is
    modelled and accumulated in ``VirtualMynaCard.air_time_s``; the card sleeps for it only when
    ``sleep_for_air_time`` is set. ``latency_s`` is always slept per APDU."""

    remove_after_apdus: int | None = None
    latency_s: float = 0.0
    bitrate: int | None = None
    garbage_after_apdus: int | None = None
    truncate_after_apdus: int | None = None
    internal_error_after_power_on: bool = False
    sleep_for_air_time: bool = False

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """Raise ValueError for values no card could model (negative counts, odd bit rates)."""
        for name in ("remove_after_apdus", "garbage_after_apdus", "truncate_after_apdus"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, int) or value < 0):
                raise ValueError(f"{name} must be a non-negative int or None")
        if not 0.0 <= float(self.latency_s) <= 60.0:
            raise ValueError("latency_s must be within 0..60 s")
        if self.bitrate is not None and self.bitrate not in BITRATES_KBPS:
            raise ValueError("bitrate must be 106, 212 or 424 (kbit/s) or None")


@dataclass(frozen=True, slots=True)
class LoggedApdu:
    """One exchange. VERIFY / CHANGE REFERENCE DATA / CHANGE KEY commands keep only their
    4-byte header in ``command``; ``masked_length`` then says how many data bytes were hidden."""

    command: bytes
    response_sw: int  # -1 when the (faulty) response had fewer than 2 bytes
    response_length: int
    masked_length: int | None = None
    fault: str | None = None


def air_time_s(command_len: int, response_len: int, bitrate_kbps: int) -> float:
    """Return modelled ISO 14443-4 Type B air time for one exchange.

    Each byte costs 10 etu (start + 8 data + stop bits); frames carry at most 253 payload bytes
    (FSC 256 minus PCB and CRC_B) and each frame adds 3 bytes plus ~2 bytes of SOF/EOF.
    """

    def frames(n: int) -> int:
        return max(1, -(-n // 253))

    total = command_len + response_len + 5 * (frames(command_len) + frames(response_len))
    return total * 10 / (bitrate_kbps * 1000)
