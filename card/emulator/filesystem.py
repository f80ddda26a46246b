"""The card's file tree: one ``Application`` (DF) per AP holding its EFs, IEFs (PINs) and key
EFs, with the access rules of reference §2 and §13 item 8.

Immutable: a persona's tree is built once and shared by every ``VirtualMynaCard`` of that
persona; the mutable part (PIN tries, changed PIN values) lives in ``card.emulator.pins``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric import rsa

FREE: frozenset[int] | None = None  # readable without any credential
NEVER: frozenset[int] = frozenset()  # no credential opens it


@dataclass(frozen=True, slots=True)
class DataEF:
    """A transparent EF. ``opened_by``: FREE, or the IEFs any one of which opens it."""

    fid: int
    data: bytes
    opened_by: frozenset[int] | None = FREE


@dataclass(frozen=True, slots=True)
class RecordEF:
    """A linear record EF (共通AP EF 0001, reference §10)."""

    fid: int
    records: tuple[bytes, ...]
    opened_by: frozenset[int] | None = FREE


@dataclass(frozen=True, slots=True)
class PinEF:
    """An IEF holding a PIN / 照合番号 (reference §5). Compared as raw bytes, no case folding."""

    fid: int
    value: bytes
    max_tries: int
    min_length: int
    max_length: int
    charset: bytes  # allowed bytes for CHANGE REFERENCE DATA / CHANGE KEY
    change_ins: int | None  # 0x24 (JPKI, 入力補助), 0x32 (共通, 住基) or None
    initial_tries: int | None = None  # persona fault: fewer tries left than max at start

    def well_formed(self, value: bytes) -> bool:
        return self.min_length <= len(value) <= self.max_length and all(
            b in self.charset for b in value
        )


@dataclass(frozen=True, slots=True)
class KeyEF:
    """A private-key EF: readable never; used by COMPUTE DIGITAL SIGNATURE / INTERNAL AUTH."""

    fid: int
    key: rsa.RSAPrivateKey
    pin: int | None  # IEF that must be verified first; None = no PIN (券面 AP keys, 共通 0019)
    internal_auth: bool = False


@dataclass(frozen=True, slots=True)
class OpaqueEF:
    """A selectable EF whose content is unknown or unreadable (READ BINARY → 6981)."""

    fid: int


EF = DataEF | RecordEF | PinEF | KeyEF | OpaqueEF


@dataclass(frozen=True, slots=True)
class Application:
    """One AP (DF): its AID, files by FID, and the key ``80 2A 00 00`` uses (券面 APs, §8.5)."""

    name: str
    aid: bytes
    files: Mapping[int, EF]
    default_key: int | None = None
    allows_sm: bool = False  # only 券面事項入力補助AP knows secure messaging (§6.6)
    session_key_sw: int | None = None  # SET SESSION KEY answer without PIN (§10)

    def pins(self) -> list[PinEF]:
        return [f for f in self.files.values() if isinstance(f, PinEF)]


DIGITS = b"0123456789"
UPPER_ALNUM = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"


def pad(data: bytes, filler: bytes = b"\xff", block: int = 256) -> bytes:
    """Return ``data`` followed by filler up to the next ``block`` multiple (at least one byte).

    Physical 券面 EFs are larger than the TLV they hold (reference §13 item 4).
    """
    size = (len(data) // block + 1) * block
    return data + filler * (size - len(data))
