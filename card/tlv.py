"""Bounded BER-TLV reader for the card's records (ref. §8.2-§8.5, §9.1-§9.3, X.690 §8.1).

The card's objects use multi-byte private-class tags (``FF20``, ``DF21``, ``5F4E``, ``7F21``) and
any definite BER length of up to three length octets (``81``/``82``/``83``). Lengths need not be
minimal: real cards write every length >= 128 as ``82 HH LL``, also 128-255 (``82 00 80``, §8.2),
so DER minimality is checked only where the format is DER (certificates, CRLs), by the X.509
parsers. Everything else -- indefinite lengths, more than three length octets, tags longer than
three bytes, values that run past the data -- raises ``BadResponseError`` and nothing else,
because every byte is untrusted.
"""

from __future__ import annotations

from card.errors import BadResponseError
from card.record import FrozenRecord

TYPE_CHECKING = False  # mypy takes any name TYPE_CHECKING as true; no typing import at run time
if TYPE_CHECKING:
    from collections.abc import Iterator

MAX_TAG_BYTES = 3
MAX_LENGTH_OCTETS = 3  # 83 xx xx xx: 16 MiB, far beyond any EF on the card


class Tlv(FrozenRecord):
    """One parsed TLV: ``raw`` is the whole encoding, ``end`` the offset just after it."""

    __match_args__ = ("tag", "value", "raw", "end")
    __slots__ = __match_args__
    tag: int
    value: bytes
    raw: bytes
    end: int

    def __init__(self, tag: int, value: bytes, raw: bytes, end: int) -> None:
        self._assign(tag, value, raw, end)

    @property
    def constructed(self) -> bool:
        first = self.tag.to_bytes((self.tag.bit_length() + 7) // 8 or 1, "big")[0]
        return bool(first & 0x20)


def _read_tag(data: bytes, pos: int) -> tuple[int, int]:
    if pos >= len(data):
        raise BadResponseError("TLV: missing tag")
    first = data[pos]
    tag = first
    pos += 1
    if first & 0x1F != 0x1F:
        return tag, pos
    # High tag number form: subsequent bytes with b8=1 continue (X.690 §8.1.2.4).
    for count in range(1, MAX_TAG_BYTES):
        if pos >= len(data):
            raise BadResponseError("TLV: truncated tag")
        b = data[pos]
        if count == 1 and b == 0x80:
            raise BadResponseError("TLV: non-minimal tag")
        tag = (tag << 8) | b
        pos += 1
        if not b & 0x80:
            return tag, pos
    raise BadResponseError("TLV: tag too long")


def _read_length(data: bytes, pos: int) -> tuple[int, int]:
    if pos >= len(data):
        raise BadResponseError("TLV: missing length")
    first = data[pos]
    pos += 1
    if first < 0x80:
        return first, pos
    if first == 0x80:
        raise BadResponseError("TLV: indefinite length")
    count = first & 0x7F
    if count > MAX_LENGTH_OCTETS:
        raise BadResponseError("TLV: length field too long")
    if pos + count > len(data):
        raise BadResponseError("TLV: truncated length")
    return int.from_bytes(data[pos : pos + count], "big"), pos + count


def header_length(data: bytes) -> tuple[int, int]:
    """Return ``(header_len, value_len)`` of the TLV at the start of ``data`` (value may be absent).

    Used for paged reads: the caller reads a few bytes, learns the total, then reads only that.
    """
    data = bytes(data)
    _, pos = _read_tag(data, 0)
    length, pos = _read_length(data, pos)
    return pos, length


def parse_one(data: bytes, offset: int = 0) -> Tlv:
    """Parse the TLV starting at ``offset``; the value must lie entirely within ``data``."""
    data = bytes(data)
    if offset < 0 or offset > len(data):
        raise BadResponseError("TLV: offset outside data")
    tag, pos = _read_tag(data, offset)
    length, pos = _read_length(data, pos)
    end = pos + length
    if end > len(data):
        raise BadResponseError(f"TLV {tag:X}: value runs {end - len(data)} bytes past the data")
    return Tlv(tag, data[pos:end], data[offset:end], end)


def iterate(value: bytes) -> Iterator[Tlv]:
    """Yield consecutive TLVs filling ``value`` exactly (trailing garbage raises)."""
    value = bytes(value)
    pos = 0
    while pos < len(value):  # bounded: every step advances by at least 2 bytes
        tlv = parse_one(value, pos)
        pos = tlv.end
        yield tlv


def children(value: bytes, *, unique: bool = True) -> dict[int, Tlv]:
    """Map tag -> TLV for the children of a constructed value (duplicates raise if ``unique``)."""
    out: dict[int, Tlv] = {}
    for tlv in iterate(value):
        if unique and tlv.tag in out:
            raise BadResponseError(f"TLV: duplicate tag {tlv.tag:X}")
        out[tlv.tag] = tlv
    return out


def require(found: dict[int, Tlv], tag: int, *, length: int | None = None) -> Tlv:
    """Return ``found[tag]``, checking an exact length when given."""
    tlv = found.get(tag)
    if tlv is None:
        raise BadResponseError(f"TLV: missing tag {tag:X}")
    if length is not None and len(tlv.value) != length:
        raise BadResponseError(f"TLV {tag:X}: length {len(tlv.value)}, expected {length}")
    return tlv
