"""``SurfaceApp``: 券面事項確認AP -- the card-face record, age record, AP info, CVC, presence proof.

Implements reference §2.3 and §9. ``CardFaceRecord`` keeps the raw TLVs of the three digest
groups (G1 = DF22‖DF23‖DF24, G2 = DF25‖DF26, G3 = DF27, §9.1) so the verifier can check the
record signature without re-encoding anything.
"""

from __future__ import annotations

import re
from enum import Enum

from card import tlv
from card.apps.base import DATE_YYYYMMDD, MAX_RECORD_LEN, ONE_DIGIT, CvcApp, ascii_field
from card.apps.input_helper import ApInfo
from card.errors import BadResponseError, PinFormatError
from card.ids import AID, TAG_AGE, TAG_FACE, SurfaceEF
from card.record import FrozenRecord

MAX_FACE_LEN = 0x7FFF  # READ BINARY offsets are 15-bit, so no EF can be longer (reference §3)


class SurfaceKey(Enum):
    """Credentials of the 券面事項確認AP: (IEF, format) (reference §2.3, §5)."""

    BIRTH = (SurfaceEF.BIRTH_KEY, r"[0-9]{6}")
    MATCH_B = (SurfaceEF.MATCH_B, r"[0-9]{14}")
    MATCH_A = (SurfaceEF.MATCH_A, r"[0-9]{12}")

    @property
    def ief(self) -> int:
        return int(self.value[0])

    def check(self, value: str) -> bytes:
        if not re.fullmatch(self.value[1], value):
            raise PinFormatError(f"{self.name} has the wrong format")
        return value.encode("ascii")


class CardFaceRecord(FrozenRecord):
    """EF 0002, the card-face record (reference §9.1)."""

    __match_args__ = ("birth_date", "sex", "public_key", "name_png", "address_png", "photo_jp2",
                      "signature", "expiry", "security_code_png", "group1_raw", "group2_raw",
                      "group3_raw", "raw")
    __slots__ = __match_args__
    birth_date: str  # YYYYMMDD
    sex: str
    public_key: bytes  # DF24 value: 90 <e> 91 <modulus>
    name_png: bytes
    address_png: bytes
    photo_jp2: bytes
    signature: bytes  # DF28
    expiry: str  # DF29, YYYYMMDD, not signed
    security_code_png: bytes  # DF2A, not signed
    group1_raw: bytes  # DF22‖DF23‖DF24 TLVs
    group2_raw: bytes  # DF25‖DF26 TLVs
    group3_raw: bytes  # DF27 TLV
    raw: bytes

    def __init__(self, birth_date: str, sex: str, public_key: bytes, name_png: bytes,
                 address_png: bytes, photo_jp2: bytes, signature: bytes, expiry: str,
                 security_code_png: bytes, group1_raw: bytes, group2_raw: bytes,
                 group3_raw: bytes, raw: bytes) -> None:
        self._assign(birth_date, sex, public_key, name_png, address_png, photo_jp2, signature,
                     expiry, security_code_png, group1_raw, group2_raw, group3_raw, raw)

    def __repr__(self) -> str:
        return "CardFaceRecord(<redacted>)"

    @classmethod
    def parse(cls, data: bytes) -> CardFaceRecord:
        outer = tlv.parse_one(data)
        if outer.tag != TAG_FACE:
            raise BadResponseError(f"face record: tag {outer.tag:X}, expected {TAG_FACE:X}")
        found = tlv.children(outer.value)
        offsets = tlv.require(found, 0xDF21, length=18).value
        header_len = len(outer.raw) - len(outer.value)
        for i, tag in enumerate(range(0xDF22, 0xDF2B)):
            item = tlv.require(found, tag)
            expected = int.from_bytes(offsets[2 * i : 2 * i + 2], "big")
            actual = header_len + item.end - len(item.raw)
            if expected != actual:
                raise BadResponseError(f"face record: {tag:X} at {actual}, table says {expected}")
        sig = found[0xDF28].value
        if not sig:
            raise BadResponseError("face record: empty signature")
        return cls(
            birth_date=ascii_field(tlv.require(found, 0xDF22, length=8).value, DATE_YYYYMMDD,
                                   "birth date"),
            sex=ascii_field(tlv.require(found, 0xDF23, length=1).value, ONE_DIGIT, "sex"),
            public_key=found[0xDF24].value,
            name_png=found[0xDF25].value,
            address_png=found[0xDF26].value,
            photo_jp2=found[0xDF27].value,
            signature=sig,
            expiry=ascii_field(tlv.require(found, 0xDF29, length=8).value, DATE_YYYYMMDD, "expiry"),
            security_code_png=found[0xDF2A].value,
            group1_raw=found[0xDF22].raw + found[0xDF23].raw + found[0xDF24].raw,
            group2_raw=found[0xDF25].raw + found[0xDF26].raw,
            group3_raw=found[0xDF27].raw,
            raw=outer.raw,
        )


class AgeRecord(FrozenRecord):
    """EF 0001, the age-verification record (reference §9.2)."""

    __match_args__ = ("birth_date", "public_key", "signature", "signed_data", "raw")
    __slots__ = __match_args__
    birth_date: str
    public_key: bytes  # DF12 value
    signature: bytes  # DF13
    signed_data: bytes  # DF11 TLV ‖ DF12 TLV
    raw: bytes

    def __init__(self, birth_date: str, public_key: bytes, signature: bytes, signed_data: bytes,
                 raw: bytes) -> None:
        self._assign(birth_date, public_key, signature, signed_data, raw)

    def __repr__(self) -> str:
        return "AgeRecord(<redacted>)"

    @classmethod
    def parse(cls, data: bytes) -> AgeRecord:
        outer = tlv.parse_one(data)
        if outer.tag != TAG_AGE:
            raise BadResponseError(f"age record: tag {outer.tag:X}, expected {TAG_AGE:X}")
        found = tlv.children(outer.value)
        d11 = tlv.require(found, 0xDF11, length=8)
        d12 = tlv.require(found, 0xDF12)
        d13 = tlv.require(found, 0xDF13)
        birth = ascii_field(d11.value, DATE_YYYYMMDD, "birth date")
        return cls(birth, d12.value, d13.value, d11.raw + d12.raw, outer.raw)


class SurfaceApp(CvcApp):
    """The 券面事項確認AP on one channel. Not thread-safe."""

    aid = AID.SURFACE

    def tries_left(self, key: SurfaceKey = SurfaceKey.MATCH_B) -> int:
        """Tries left of ``key``; consumes none (counts are [UNCERTAIN] on real cards, §5)."""
        return self._tries_left(key.ief)

    def verify(self, key: SurfaceKey, value: str) -> None:
        """VERIFY ``key`` once (format checked first)."""
        self._verify(key.ief, key.check(value))

    def verify_match_b(self, digits14: str) -> None:
        """VERIFY 照合番号B: birth YYMMDD (era year) + expiry YYYY + security code (§5)."""
        self.verify(SurfaceKey.MATCH_B, digits14)

    def read_face(self) -> CardFaceRecord:
        return CardFaceRecord.parse(self._read_object(SurfaceEF.FACE, MAX_FACE_LEN))

    def read_age(self) -> AgeRecord:
        return AgeRecord.parse(self._read_object(SurfaceEF.AGE, MAX_RECORD_LEN))

    def read_ap_info(self) -> ApInfo:
        return ApInfo.parse(self._read_object(SurfaceEF.AP_INFO, MAX_RECORD_LEN, personal=False))
