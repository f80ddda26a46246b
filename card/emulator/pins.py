"""PIN counters and verification rules (reference §4 "PIN-state details", §13 item 5).

Empty VERIFY never consumes a try and answers ``63Cx`` (also after a success); a wrong value
decrements and answers ``63Cx``; the attempt that reaches 0 answers ``63C0`` and every later
VERIFY ``6984``; a correct value answers ``9000`` and resets the counter. Values are compared
as raw bytes (no case folding, §7.3), in constant time.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass

from card.emulator.apdu import SwError
from card.emulator.filesystem import PinEF
from card.sw import SW, SW_VERIFY_TRIES_BASE


@dataclass
class PinState:
    """Mutable state of one IEF: survives power cycles like the card's EEPROM."""

    spec: PinEF
    value: bytes
    tries: int

    @classmethod
    def fresh(cls, spec: PinEF) -> PinState:
        tries = spec.max_tries if spec.initial_tries is None else spec.initial_tries
        return cls(spec, spec.value, max(0, min(tries, spec.max_tries)))

    def query_sw(self) -> int:
        """Answer to the empty VERIFY: ``63Cx`` (``63C0`` when blocked)."""
        return SW_VERIFY_TRIES_BASE | min(self.tries, 0x0F)

    def verify(self, candidate: bytes) -> None:
        """Check ``candidate``; return normally on success.

        :raises SwError: 6984 when blocked, 63Cx on a wrong value (x = tries left).
        """
        if self.tries == 0:
            raise SwError(SW.PIN_BLOCKED)
        if hmac.compare_digest(candidate, self.value):
            self.tries = self.spec.max_tries
            return
        self.tries -= 1
        raise SwError(SW_VERIFY_TRIES_BASE | min(self.tries, 0x0F))

    def change(self, new_value: bytes) -> None:
        """Store a new value; the caller has checked the verified state (§3)."""
        if not self.spec.well_formed(new_value):
            raise SwError(SW.INCORRECT_DATA)
        self.value = new_value
        self.tries = self.spec.max_tries
