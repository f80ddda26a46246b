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


def test_my_number_needs_17_bytes_and_digits() -> None:
    good = bytes.fromhex("FF 10 0C") + b"123456789012" + b"\xff\xff"
    assert MyNumberRecord.parse(good).number == "123456789012"
    for bad in (good[:-1], good.replace(b"9", b"X")):
        with pytest.raises(BadResponseError):
            MyNumberRecord.parse(bad)
