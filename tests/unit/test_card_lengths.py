"""Object headers as real cards write them (``82 00 xx``, reference §8.2), read through
ApduChannel.read_object, and the untrusted-length cases that must stay typed CardErrors."""

from __future__ import annotations

import pytest

from card.errors import ApduError, BadResponseError, CardError
from tests.unit.test_channel import channel, hx


def test_read_object_with_82_00_xx_header_reads_exactly_the_object() -> None:
    obj = hx("FF 20 82 00 86") + bytes(range(0x86))
    ch, conn = channel([
        ("00 B0 00 00 08", obj[:8].hex() + " 90 00"),
        ("00 B0 00 08 83", obj[8:].hex() + " 90 00"),
    ])
    assert ch.read_object(4096) == obj
    assert conn.done()


def test_more_than_three_length_octets_is_a_card_error() -> None:
    ch, conn = channel([("00 B0 00 00 08", "FF 20 84 00 00 00 86 DF 90 00")])
    with pytest.raises(BadResponseError):
        ch.read_object(4096)
    assert conn.done()


def test_declared_length_beyond_the_ef_is_a_card_error() -> None:
    """The header claims 0x86 bytes; the EF ends after 8 (the card answers 6B00)."""
    ch, conn = channel([
        ("00 B0 00 00 08", "FF 20 82 00 86 DF 21 08 90 00"),
        ("00 B0 00 08 83", "6B 00"),
    ])
    with pytest.raises(CardError) as caught:
        ch.read_object(4096)
    assert isinstance(caught.value, ApduError) and conn.done()
