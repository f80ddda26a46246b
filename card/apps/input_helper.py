"""``InputHelperApp``: 券面事項入力補助AP -- My Number, 基本4情報, integrity record, CVC, AP key.

Implements reference §2.2 and §8. Parsed records keep the raw bytes the verifier hashes: the
17-byte physical My Number EF (DF31 digest covers its filler, §8.3) and the DF22..DF25 TLVs of
the basic-info record (DF32 digest). Values are never logged (the channel logs lengths only).
"""

from __future__ import annotations

import re

from card import tlv
from card.apps.base import (
    DATE_YYYYMMDD,
    MAX_RECORD_LEN,
    ONE_DIGIT,
    CvcApp,
    ascii_field,
    outer_tlv,
    utf8_field,
)
from card.errors import BadResponseError, PinFormatError
from card.ids import (
    AID,
    TAG_BASIC_INFO,
    TAG_INTEGRITY,
    TAG_MY_NUMBER,
    TAG_SIGNED_KEY,
    InputHelperEF,
)
from card.record import FrozenRecord

MY_NUMBER_EF_LEN = 17  # FF 10 0C + 12 digits + 2 filler bytes (reference §8.1)
_FOUR_DIGITS = r"[0-9]{4}"  # patterns as text, compiled on first use (card.apps.base)
_FOURTEEN_DIGITS = r"[0-9]{14}"
_TWELVE_DIGITS = r"[0-9]{12}"


class MyNumberRecord(FrozenRecord):
    """EF 0001 (reference §8.1). ``raw`` is the whole 17-byte EF, filler included."""

    __match_args__ = ("number", "raw")
    __slots__ = __match_args__
    number: str
    raw: bytes

    def __init__(self, number: str, raw: bytes) -> None:
        self._assign(number, raw)

    def __repr__(self) -> str:  # never print the number
        return "MyNumberRecord(<redacted>)"

    @classmethod
    def parse(cls, data: bytes) -> MyNumberRecord:
        if len(data) != MY_NUMBER_EF_LEN:
            raise BadResponseError(f"My Number EF is {len(data)} bytes, expected 17")
        outer = outer_tlv(data, TAG_MY_NUMBER, "My Number")
        number = ascii_field(outer.value, _TWELVE_DIGITS, "My Number")
        return cls(number, bytes(data))


class BasicInfo(FrozenRecord):
    """EF 0002, 基本4情報 (reference §8.2). ``attributes_raw`` = DF22..DF25 TLVs (DF32 digest)."""

    __match_args__ = ("name", "address", "birth_date", "sex", "attributes_raw", "raw")
    __slots__ = __match_args__
    name: str
    address: str
    birth_date: str  # YYYYMMDD, Gregorian
    sex: str  # JIS X 0303 digit
    attributes_raw: bytes
    raw: bytes

    def __init__(self, name: str, address: str, birth_date: str, sex: str, attributes_raw: bytes,
                 raw: bytes) -> None:
        self._assign(name, address, birth_date, sex, attributes_raw, raw)

    def __repr__(self) -> str:
        return "BasicInfo(<redacted>)"

    @classmethod
    def parse(cls, data: bytes) -> BasicInfo:
        outer = outer_tlv(data, TAG_BASIC_INFO, "basic info")
        items = list(tlv.iterate(outer.value))
        if not items or items[0].tag != 0xDF21:
            raise BadResponseError("basic info: offset table DF21 missing")
        found = tlv.children(outer.value)
        offsets = tlv.require(found, 0xDF21, length=8).value
        header_len = len(outer.raw) - len(outer.value)
        # The offset table gives each item's position from the start of the file (§8.2).
        for i, tag in enumerate((0xDF22, 0xDF23, 0xDF24, 0xDF25)):
            item = tlv.require(found, tag)
            expected = int.from_bytes(offsets[2 * i : 2 * i + 2], "big")
            actual = header_len + _position(outer.value, item)
            if expected != actual:
                raise BadResponseError(f"basic info: {tag:X} at {actual}, table says {expected}")
        return cls(
            name=utf8_field(found[0xDF22].value, "name"),
            address=utf8_field(found[0xDF23].value, "address"),
            birth_date=ascii_field(tlv.require(found, 0xDF24, length=8).value, DATE_YYYYMMDD,
                                   "birth date"),
            sex=ascii_field(tlv.require(found, 0xDF25, length=1).value, ONE_DIGIT, "sex"),
            attributes_raw=outer.value[items[0].end :],
            raw=outer.raw,
        )


def _position(value: bytes, item: tlv.Tlv) -> int:
    return item.end - len(item.raw)


class IntegrityRecord(FrozenRecord):
    """EF 0003 (reference §8.3): digests of EF 0001 and EF 0002 and the issuer's signature."""

    __match_args__ = ("my_number_digest", "attributes_digest", "signature", "signed_data", "raw")
    __slots__ = __match_args__
    my_number_digest: bytes  # DF31: SHA-256 of the 17-byte EF 0001
    attributes_digest: bytes  # DF32: SHA-256 of BasicInfo.attributes_raw
    signature: bytes  # DF33
    signed_data: bytes  # DF31 TLV ‖ DF32 TLV, what DF33 signs
    raw: bytes

    def __init__(self, my_number_digest: bytes, attributes_digest: bytes, signature: bytes,
                 signed_data: bytes, raw: bytes) -> None:
        self._assign(my_number_digest, attributes_digest, signature, signed_data, raw)

    @classmethod
    def parse(cls, data: bytes) -> IntegrityRecord:
        outer = outer_tlv(data, TAG_INTEGRITY, "integrity record")
        found = tlv.children(outer.value)
        d31 = tlv.require(found, 0xDF31, length=32)
        d32 = tlv.require(found, 0xDF32, length=32)
        sig = tlv.require(found, 0xDF33)
        if not sig.value:
            raise BadResponseError("integrity record: empty signature")
        return cls(d31.value, d32.value, sig.value, d31.raw + d32.raw, outer.raw)


class SignedKeyRecord(FrozenRecord):
    """EF 0007 (reference §8.5): this AP's public key (DF51) signed by the CVC key (DF52)."""

    __match_args__ = ("public_key", "signature", "signed_data", "raw")
    __slots__ = __match_args__
    public_key: bytes  # DF51 value: 90 <e> 91 <modulus>
    signature: bytes  # DF52
    signed_data: bytes  # the DF51 TLV
    raw: bytes

    def __init__(self, public_key: bytes, signature: bytes, signed_data: bytes, raw: bytes) -> None:
        self._assign(public_key, signature, signed_data, raw)

    @classmethod
    def parse(cls, data: bytes) -> SignedKeyRecord:
        outer = outer_tlv(data, TAG_SIGNED_KEY, "signed key")
        found = tlv.children(outer.value)
        key = tlv.require(found, 0xDF51)
        sig = tlv.require(found, 0xDF52)
        return cls(key.value, sig.value, key.raw, outer.raw)


class ApInfo(FrozenRecord):
    """An AP's basic-info record (reference §8.5 ``FF40``, §9.3 ``FF30``): tag → value."""

    __match_args__ = ("tag", "fields", "raw")
    __slots__ = __match_args__
    tag: int
    fields: tuple[tuple[int, bytes], ...]
    raw: bytes

    def __init__(self, tag: int, fields: tuple[tuple[int, bytes], ...], raw: bytes) -> None:
        self._assign(tag, fields, raw)

    def get(self, tag: int) -> bytes | None:
        return next((v for t, v in self.fields if t == tag), None)

    @classmethod
    def parse(cls, data: bytes) -> ApInfo:
        outer = tlv.parse_one(data)
        fields = tuple((item.tag, item.value) for item in tlv.iterate(outer.value))
        return cls(outer.tag, fields, outer.raw)


class InputHelperApp(CvcApp):
    """The 券面事項入力補助AP on one channel. Not thread-safe."""

    aid = AID.INPUT_HELPER

    def tries_left(self) -> int:
        """Tries left of the 4-digit PIN (IEF 0011); consumes none."""
        return self._tries_left(InputHelperEF.PIN)

    def verify_pin(self, pin: str) -> None:
        """VERIFY the 4-digit PIN once (format checked first, no APDU on a bad format)."""
        if not re.fullmatch(_FOUR_DIGITS, pin):
            raise PinFormatError("the 券面事項入力補助 PIN is exactly 4 digits")
        self._verify(InputHelperEF.PIN, pin.encode("ascii"))

    def match_b_tries_left(self) -> int:
        """Tries left of this AP's 照合番号B (IEF 0015, reference §2.2, §5); consumes none."""
        return self._tries_left(InputHelperEF.MATCH_B)

    def verify_match_b(self, digits14: str) -> None:
        """VERIFY 照合番号B once: it opens EF 0002 and EF 0003, never EF 0001 (§2.2)."""
        if not re.fullmatch(_FOURTEEN_DIGITS, digits14):
            raise PinFormatError("照合番号B is exactly 14 digits")
        self._verify(InputHelperEF.MATCH_B, digits14.encode("ascii"))

    def read_my_number_record(self) -> MyNumberRecord:
        """Read EF 0001 as the reference does: exactly 17 bytes (``00 B0 00 00 11``, §8.1)."""
        self._ensure()
        self.channel.select_ef(InputHelperEF.MY_NUMBER)
        return MyNumberRecord.parse(self.channel.read_binary(0, MY_NUMBER_EF_LEN))

    def read_my_number(self) -> str:
        """Return the 12 digits (the check digit is the verifier's job)."""
        return self.read_my_number_record().number

    def read_basic_info(self) -> BasicInfo:
        return BasicInfo.parse(self._read_object(InputHelperEF.BASIC_INFO, MAX_RECORD_LEN))

    def read_integrity(self) -> IntegrityRecord:
        return IntegrityRecord.parse(
            self._read_object(InputHelperEF.INTEGRITY, MAX_RECORD_LEN, personal=False))

    def read_signed_key(self) -> SignedKeyRecord:
        return SignedKeyRecord.parse(
            self._read_object(InputHelperEF.SIGNED_KEY, MAX_RECORD_LEN, personal=False))

    def read_ap_info(self) -> ApInfo:
        return ApInfo.parse(
            self._read_object(InputHelperEF.AP_INFO, MAX_RECORD_LEN, personal=False))
