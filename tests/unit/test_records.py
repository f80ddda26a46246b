"""Record parsers take untrusted bytes: only BadResponseError escapes; offsets are checked."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from card.apps import (
    AgeRecord,
    ApInfo,
    BasicInfo,
    CardFaceRecord,
    IntegrityRecord,
    MyNumberRecord,
    SignedKeyRecord,
    TokenInfo,
)
from card.errors import BadResponseError

PARSERS = [MyNumberRecord, BasicInfo, IntegrityRecord, SignedKeyRecord, ApInfo,
           CardFaceRecord, AgeRecord, TokenInfo]
BASIC = bytes.fromhex(
    "FF 20 24 DF 21 08 00 0E 00 13 00 18 00 23"
    " DF 22 02 41 42 DF 23 02 43 44 DF 24 08 31 39 38 30 30 31 30 31 DF 25 01 31"
)


@given(data=st.binary(max_size=200), prefix=st.sampled_from([b"", b"\xff\x20", b"\xff\x10\x0c"]))
def test_only_bad_response_escapes(data: bytes, prefix: bytes) -> None:
    for parser in PARSERS:
        try:
            parser.parse(prefix + data)
        except BadResponseError:
            pass


def test_basic_info_parses_and_keeps_digest_bytes() -> None:
    info = BasicInfo.parse(BASIC)
    assert (info.name, info.address, info.birth_date, info.sex) == ("AB", "CD", "19800101", "1")
    assert info.attributes_raw == BASIC[14:] and "AB" not in repr(info)


def test_basic_info_offset_table_must_match() -> None:
    bad = BASIC.replace(bytes.fromhex("00 0E 00 13"), bytes.fromhex("00 0F 00 13"))
    with pytest.raises(BadResponseError):
        BasicInfo.parse(bad)


def _card_basic_info_ff20_82_00_86() -> bytes:
    """A 基本4情報 EF shaped like the real card's ``FF 20 82 00 86 …`` (reference §8.2): outer
    value 134 bytes, every field under 128, the outer length in the card's ``82 00 xx`` form."""
    name = "山田　太郎".encode()  # 15 bytes
    address = "東京都千代田区霞が関二丁目１番２号霞ビル１０１".encode()  # 69 bytes
    address += b"A" * (134 - 11 - (3 + len(name)) - 3 - 11 - 4 - len(address))
    fields = [(0xDF22, name), (0xDF23, address), (0xDF24, b"19800101"), (0xDF25, b"1")]
    offsets, items, pos = [], b"", 5 + 11  # outer header 5 bytes, DF21 table 11 bytes
    for tag, value in fields:
        offsets.append(pos)
        item = tag.to_bytes(2, "big") + bytes([len(value)]) + value
        items += item
        pos += len(item)
    table = bytes.fromhex("DF 21 08") + b"".join(o.to_bytes(2, "big") for o in offsets)
    value = table + items
    assert len(value) == 0x86
    return bytes.fromhex("FF 20 82 00 86") + value + b"\xff" * 7  # filler after the object


def test_basic_info_with_the_real_cards_82_00_xx_length() -> None:
    data = _card_basic_info_ff20_82_00_86()
    info = BasicInfo.parse(data)
    assert info.name == "山田　太郎" and info.address.startswith("東京都千代田区")
    assert (info.birth_date, info.sex) == ("19800101", "1")
    assert info.raw == data[: 5 + 0x86] and info.attributes_raw == data[16 : 5 + 0x86]


def test_ap_info_with_the_real_cards_df43_82_00_80() -> None:
    """Text AP EF 0005 as a real card serves it: ``FF 40 82 00 9F … DF 43 82 00 80`` (§8.5)."""
    df43 = bytes(range(32)) + b"\xff" * 96
    data = (bytes.fromhex("FF 40 82 00 9F DF 41 04 01 03 0E 01 DF 42 10") + bytes(16)
            + bytes.fromhex("DF 43 82 00 80") + df43)
    info = ApInfo.parse(data)
    assert (info.tag, info.get(0xDF41), info.get(0xDF43)) == (0xFF40, bytes.fromhex("01030E01"),
                                                              df43)
    assert info.raw == data


def test_my_number_needs_17_bytes_and_digits() -> None:
    good = bytes.fromhex("FF 10 0C") + b"123456789012" + b"\xff\xff"
    assert MyNumberRecord.parse(good).number == "123456789012"
    for bad in (good[:-1], good.replace(b"9", b"X")):
        with pytest.raises(BadResponseError):
            MyNumberRecord.parse(bad)
