"""Command and response APDUs: ISO/IEC 7816-4 §5.1 cases 1-4, short and extended (ref. §3, §6.5).

``CommandApdu.encode`` picks the short form whenever the fields allow it, because the readers
the kiosk meets (ACR122U-class, RC-S300) handle short APDUs best (reference §6.5); extended form
is used only when Lc > 255 or Le > 256, or when asked for with ``extended=True``.
"""

from __future__ import annotations

from card.errors import BadResponseError
from card.record import FrozenRecord

MAX_SHORT_LC = 255
MAX_SHORT_LE = 256
MAX_EXTENDED_LC = 65535
MAX_EXTENDED_LE = 65536


class CommandApdu(FrozenRecord):
    """One command APDU. ``le=None`` means no Le field (cases 1 and 3)."""

    __match_args__ = ("cla", "ins", "p1", "p2", "data", "le", "extended")
    __slots__ = __match_args__
    cla: int
    ins: int
    p1: int
    p2: int
    data: bytes
    le: int | None
    extended: bool | None  # None: choose; True/False: force (ValueError if impossible)

    def __init__(self, cla: int, ins: int, p1: int, p2: int, data: bytes = b"",
                 le: int | None = None, extended: bool | None = None) -> None:
        self._assign(cla, ins, p1, p2, data, le, extended)
        self._check()

    def _check(self) -> None:
        for name in ("cla", "ins", "p1", "p2"):
            value = getattr(self, name)
            if not isinstance(value, int) or not 0 <= value <= 0xFF:
                raise ValueError(f"{name} must be a byte, got {value!r}")
        if not isinstance(self.data, bytes | bytearray):
            raise TypeError("data must be bytes")
        if len(self.data) > MAX_EXTENDED_LC:
            raise ValueError(f"Lc {len(self.data)} exceeds {MAX_EXTENDED_LC}")
        if self.le is not None and not 1 <= self.le <= MAX_EXTENDED_LE:
            raise ValueError(f"Le must be 1..{MAX_EXTENDED_LE}, got {self.le}")
        if self.extended is False and not self._fits_short():
            raise ValueError("fields do not fit a short APDU")

    def _fits_short(self) -> bool:
        return len(self.data) <= MAX_SHORT_LC and (self.le is None or self.le <= MAX_SHORT_LE)

    @property
    def is_extended(self) -> bool:
        if self.extended is not None:
            return self.extended
        return not self._fits_short()

    def encode(self) -> bytes:
        """Return the APDU bytes (ISO 7816-4 §5.1; Le 256 short = ``00``, 65536 = ``00 00``)."""
        header = bytes((self.cla, self.ins, self.p1, self.p2))
        lc = len(self.data)
        if not self.is_extended:
            body = b""
            if lc:
                body += bytes((lc,)) + bytes(self.data)
            if self.le is not None:
                body += bytes((self.le % 256,))
            return header + body
        # Extended: one 00 marker byte, then 2-byte Lc and/or Le; when both are present the
        # marker appears only once, before Lc (ISO 7816-4 §5.1, cases 2E/3E/4E).
        if lc == 0 and self.le is None:
            raise ValueError("a case 1 APDU has no extended form")
        body = b"\x00"
        if lc:
            body += lc.to_bytes(2, "big") + bytes(self.data)
        if self.le is not None:
            body += (self.le % 65536).to_bytes(2, "big")
        return header + body

    def __bytes__(self) -> bytes:
        return self.encode()


class ResponseApdu(FrozenRecord):
    """A response: data and the status word as one int."""

    __match_args__ = ("data", "sw")
    __slots__ = __match_args__
    data: bytes
    sw: int

    def __init__(self, data: bytes, sw: int) -> None:
        self._assign(data, sw)

    @property
    def sw1(self) -> int:
        return self.sw >> 8

    @property
    def sw2(self) -> int:
        return self.sw & 0xFF

    @property
    def ok(self) -> bool:
        return self.sw == 0x9000

    @classmethod
    def parse(cls, raw: bytes) -> ResponseApdu:
        """Split a raw R-APDU (data ‖ SW1 SW2).

        :raises BadResponseError: fewer than two bytes.
        """
        if len(raw) < 2:
            raise BadResponseError("response shorter than a status word")
        return cls(bytes(raw[:-2]), int.from_bytes(raw[-2:], "big"))
