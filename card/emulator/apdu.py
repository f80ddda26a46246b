"""The emulator's own strict command-APDU parser (ISO/IEC 7816-3 §12.1, cases 1–4, short and
extended) and the ``SwError`` that handlers raise to answer with a status word.

Deliberately independent of the host's ``card/apdu.py`` (architecture "Rules"): an encoding bug
on the host side must come back as ``6700`` here instead of being quietly understood.
"""

from __future__ import annotations

from dataclasses import dataclass

from card.sw import SW


class SwError(Exception):
    """Answer the current command with this status word and no data."""

    def __init__(self, sw: int) -> None:
        super().__init__(f"{sw:04X}")
        self.sw = sw


@dataclass(frozen=True, slots=True)
class Command:
    """One parsed C-APDU. ``le`` is None when absent; 256 / 65536 when encoded as zero."""

    cla: int
    ins: int
    p1: int
    p2: int
    data: bytes
    le: int | None
    extended: bool

    @property
    def case(self) -> int:
        if self.data:
            return 4 if self.le is not None else 3
        return 2 if self.le is not None else 1

    @classmethod
    def parse(cls, raw: bytes) -> Command:
        """Parse ``raw`` strictly; anything that is not exactly one of the cases → 6700."""
        n = len(raw)
        if n < 4:
            raise SwError(SW.WRONG_LENGTH)
        cla, ins, p1, p2 = raw[0], raw[1], raw[2], raw[3]
        body = raw[4:]
        if not body:  # case 1
            return cls(cla, ins, p1, p2, b"", None, False)
        if len(body) == 1:  # case 2S
            return cls(cla, ins, p1, p2, b"", body[0] or 256, False)
        if body[0] != 0:  # case 3S / 4S
            lc = body[0]
            if len(body) == 1 + lc:
                return cls(cla, ins, p1, p2, bytes(body[1:]), None, False)
            if len(body) == 2 + lc:
                return cls(cla, ins, p1, p2, bytes(body[1 : 1 + lc]), body[-1] or 256, False)
            raise SwError(SW.WRONG_LENGTH)
        # Extended: first body byte 00 followed by two length bytes.
        if len(body) == 3:  # case 2E
            le = int.from_bytes(body[1:3], "big") or 65536
            return cls(cla, ins, p1, p2, b"", le, True)
        if len(body) < 3:
            raise SwError(SW.WRONG_LENGTH)
        lc = int.from_bytes(body[1:3], "big")
        if lc == 0:
            raise SwError(SW.WRONG_LENGTH)
        if len(body) == 3 + lc:  # case 3E
            return cls(cla, ins, p1, p2, bytes(body[3:]), None, True)
        if len(body) == 5 + lc:  # case 4E
            le = int.from_bytes(body[-2:], "big") or 65536
            return cls(cla, ins, p1, p2, bytes(body[3 : 3 + lc]), le, True)
        raise SwError(SW.WRONG_LENGTH)
