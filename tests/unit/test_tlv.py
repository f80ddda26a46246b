"""Bounded BER-TLV reader: vectors (incl. real-card length forms), rejections, properties."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from card import tlv
from card.errors import BadResponseError


def hx(text: str) -> bytes:
    return bytes.fromhex(text)


def encode(tag: int, value: bytes, *, card_style: bool = False) -> bytes:
    """Test-only encoder (independent of card.tlv): minimal DER lengths, or with ``card_style``
    the ``82 HH LL`` form real cards write for every length >= 128 (reference §8.2)."""
    tag_bytes = tag.to_bytes((tag.bit_length() + 7) // 8 or 1, "big")
    n = len(value)
    if n < 0x80:
        length = bytes([n])
    elif card_style:
        length = bytes([0x82]) + n.to_bytes(2, "big")
    else:
        body = n.to_bytes((n.bit_length() + 7) // 8, "big")
        length = bytes([0x80 | len(body)]) + body
    return tag_bytes + length + value


@pytest.mark.parametrize(
    ("data", "tag", "value", "end"),
    [
        ("30 03 01 02 03", 0x30, "01 02 03", 5),
        ("DF 21 02 00 0E", 0xDF21, "00 0E", 5),
        ("FF 20 01 AA FF FF", 0xFF20, "AA", 4),
        ("5F 4E 81 80" + " 00" * 128, 0x5F4E, "00" * 128, 132),
        ("7F 21 82 01 00" + " 11" * 256, 0x7F21, "11" * 256, 261),
        ("04 83 01 00 00" + " 22" * 65536, 0x04, "22" * 65536, 65541),
        ("1F 81 01 00", 0x1F8101, "", 4),
        ("DF 43 82 00 80" + " FF" * 128, 0xDF43, "FF" * 128, 133),
        ("30 82 00 05" + " 00" * 5, 0x30, "00" * 5, 9),
        ("30 81 05" + " 00" * 5, 0x30, "00" * 5, 8),
        ("04 83 00 00 02 AA BB", 0x04, "AA BB", 7),
    ],
    ids=["seq", "df21", "ff20-with-filler", "5f4e-81", "7f21-82", "83-length", "3-byte-tag",
         "82-00-80-as-real-cards", "non-minimal-82", "non-minimal-81", "non-minimal-83"],
)
def test_parse_one(data: str, tag: int, value: str, end: int) -> None:
    got = tlv.parse_one(hx(data))
    assert (got.tag, got.value, got.end) == (tag, hx(value), end)
    assert got.raw == hx(data)[:end]


@pytest.mark.parametrize(
    "data",
    [
        "",
        "30",
        "30 80 00 00",
        "30 84 00 00 00 01 00",
        "30 81 05 00",
        "30 82 00 06" + " 00" * 5,
        "30 05 00 00",
        "DF",
        "1F 80 01 00",
        "1F 81 81 81 01 00",
        "30 82 01",
    ],
    ids=["empty", "no-length", "indefinite", "4-octet-length", "81-past-end",
         "82-past-end", "past-end", "truncated-tag", "non-minimal-tag", "tag-too-long",
         "truncated-length"],
)
def test_rejects(data: str) -> None:
    with pytest.raises(BadResponseError):
        tlv.parse_one(hx(data))


def test_header_length_for_paged_reads() -> None:
    assert tlv.header_length(hx("30 82 05 1A 30 82")) == (4, 0x51A)
    assert tlv.header_length(hx("FF 20 62")) == (3, 0x62)
    assert tlv.header_length(hx("FF 20 82 00 86 DF 21")) == (5, 0x86)
    with pytest.raises(BadResponseError):
        tlv.header_length(hx("FF 20 84 00 00 00 86"))


def test_iterate_and_children() -> None:
    value = hx("DF 22 01 41 DF 23 02 42 43")
    assert [t.tag for t in tlv.iterate(value)] == [0xDF22, 0xDF23]
    found = tlv.children(value)
    assert tlv.require(found, 0xDF23, length=2).value == b"BC"
    with pytest.raises(BadResponseError):
        tlv.require(found, 0xDF24)
    with pytest.raises(BadResponseError):
        tlv.require(found, 0xDF22, length=2)
    with pytest.raises(BadResponseError):
        tlv.children(value + hx("DF 22 00"))
    with pytest.raises(BadResponseError):
        list(tlv.iterate(value + hx("DF")))


tags = st.one_of(
    st.integers(0x00, 0x1E),
    st.integers(0x1F1F, 0x1F7F).map(lambda t: (t & 0xFF00) | (t & 0x7F)),
    st.sampled_from([0xDF21, 0xFF20, 0x5F4E, 0x7F21, 0x5F37, 0xDF2A]),
    st.tuples(st.integers(0x81, 0xFF), st.integers(0, 0x7F)).map(
        lambda p: 0xDF0000 | (p[0] << 8) | p[1]
    ),
)


@given(tag=tags, value=st.binary(max_size=600), tail=st.binary(max_size=8),
       card_style=st.booleans())
def test_round_trip(tag: int, value: bytes, tail: bytes, card_style: bool) -> None:
    encoded = encode(tag, value, card_style=card_style)
    got = tlv.parse_one(encoded + tail)
    assert (got.tag, got.value, got.raw, got.end) == (tag, value, encoded, len(encoded))
    header_len, value_len = tlv.header_length(encoded[:8])
    assert header_len + value_len == len(encoded)


@given(items=st.lists(st.tuples(tags, st.binary(max_size=40)), max_size=6))
def test_iterate_round_trip(items: list[tuple[int, bytes]]) -> None:
    blob = b"".join(encode(t, v) for t, v in items)
    assert [(t.tag, t.value) for t in tlv.iterate(blob)] == items


@given(st.binary(max_size=300))
def test_only_bad_response_escapes(data: bytes) -> None:
    for call in (tlv.parse_one, tlv.header_length, lambda d: list(tlv.iterate(d))):
        try:
            call(data)
        except BadResponseError:
            pass


@given(tag=tags, value=st.binary(min_size=1, max_size=300), cut=st.integers(1, 400))
def test_truncation_is_always_detected(tag: int, value: bytes, cut: int) -> None:
    encoded = encode(tag, value)
    cut = min(cut, len(encoded) - 1)
    with pytest.raises(BadResponseError):
        tlv.parse_one(encoded[: len(encoded) - cut])
