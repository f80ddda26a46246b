"""The emulator's own BER-TLV writer (ISO/IEC 8825-1 definite lengths), used to build the
records of reference §8 and §9. Writing only: the emulator never parses TLV from the host.
"""

from __future__ import annotations


def encode_length(n: int) -> bytes:
    """Return the definite BER length real cards write for ``n`` (reference §8.2, §13 item 12):
    one byte below 128, else always ``82 HH LL`` -- also 128-255 (``82 00 80``), never ``81 xx``.
    """
    if n < 0 or n > 0xFFFF:
        raise ValueError("TLV length out of range")
    if n < 0x80:
        return bytes([n])
    return bytes([0x82, n >> 8, n & 0xFF])


def encode_tag(tag: int) -> bytes:
    """Return the tag bytes of ``tag`` given as an int (``0xDF21`` → ``DF 21``)."""
    if tag < 0:
        raise ValueError("negative tag")
    if tag <= 0xFF:
        return bytes([tag])
    return tag.to_bytes((tag.bit_length() + 7) // 8, "big")


def tlv(tag: int, value: bytes) -> bytes:
    """Return one TLV object."""
    return encode_tag(tag) + encode_length(len(value)) + value


def header_length(tag: int, value_length: int) -> int:
    """Return the number of tag+length bytes in front of a value of ``value_length`` bytes."""
    return len(encode_tag(tag)) + len(encode_length(value_length))
