"""Card-verifiable certificates and the signed records of the two 券面 APs (reference §8.3,
§8.4, §8.5, §9.1–§9.3), written byte for byte with the emulator's own TLV writer.

Signatures are RSA PKCS#1 v1.5 with SHA-256 over exactly the bytes the reference names; the
one unusual rule is the card-face record (§9.1): three SHA-256 digests of TLV groups wrapped in
ONE DigestInfo whose OCTET STRING is 96 bytes long.
"""

from __future__ import annotations

import hashlib
import struct
from dataclasses import dataclass
from datetime import date

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from card import ids
from card.emulator.rsakeys import pkcs1_sign_raw
from card.emulator.tlv import header_length, tlv

# DigestInfo header for a 96-byte "digest" (§9.1):
# SEQUENCE(0x71) { AlgId(sha256), OCTET STRING(0x60) }
FACE_DIGEST_INFO_PREFIX = bytes.fromhex("3071300d0609608648016503040201050004") + b"\x60"


def key_id(prefix7: str, middle3: str, tail: bytes) -> bytes:
    """Return a 16-byte key ID: 7 ASCII digits + ``08 05`` + 3 ASCII digits + 4 bytes (§8.4)."""
    raw = prefix7.encode("ascii") + b"\x08\x05" + middle3.encode("ascii") + tail
    if len(raw) != 16:
        raise ValueError("key ID must be 16 bytes")
    return raw


def rsa_key_tlvs(pub: rsa.RSAPublicKey) -> bytes:
    """Return ``90 <e> 91 <modulus>`` (§8.4, §9.1 DF24)."""
    numbers = pub.public_numbers()
    e = numbers.e.to_bytes((numbers.e.bit_length() + 7) // 8, "big")
    n = numbers.n.to_bytes((pub.key_size + 7) // 8, "big")
    return tlv(ids.TAG_RSA_EXPONENT, e) + tlv(ids.TAG_RSA_MODULUS, n)


def sign_sha256(key: rsa.RSAPrivateKey, data: bytes) -> bytes:
    return key.sign(data, padding.PKCS1v15(), hashes.SHA256())


def build_cvc(
    issuer: rsa.RSAPrivateKey,
    issuer_key_id: bytes,
    subject_key_id: bytes,
    subject: rsa.RSAPublicKey,
) -> bytes:
    """Return the ``7F21`` CVC (§8.4): body = issuer ID ‖ subject ID ‖ RSA key TLVs, signed."""
    body = issuer_key_id + subject_key_id + rsa_key_tlvs(subject)
    return tlv(
        ids.TAG_CVC,
        tlv(ids.TAG_CVC_BODY, body) + tlv(ids.TAG_CVC_SIGNATURE, sign_sha256(issuer, body)),
    )


def my_number_ef(number: str) -> bytes:
    """Return the 17 physical bytes of 入力補助AP EF 0001: ``FF 10 0C`` + 12 digits + ``FF FF``."""
    return tlv(ids.TAG_MY_NUMBER, number.encode("ascii")) + b"\xff\xff"


def _with_offset_table(outer_tag: int, table_tag: int, items: list[bytes]) -> bytes:
    """Return ``outer{ table_tag{u16 offsets of items from file start}, items… }`` (§8.2, §9.1)."""
    table_len = 2 * len(items)
    inner_len = header_length(table_tag, table_len) + table_len + sum(map(len, items))
    offset = header_length(outer_tag, inner_len) + header_length(table_tag, table_len) + table_len
    offsets = []
    for item in items:
        offsets.append(offset)
        offset += len(item)
    table = tlv(table_tag, b"".join(struct.pack(">H", o) for o in offsets))
    return tlv(outer_tag, table + b"".join(items))


def basic_info(name: str, address: str, birth: date, sex: str) -> tuple[bytes, bytes]:
    """Return (EF 0002 record, the DF22…DF25 TLVs that the integrity digest covers) (§8.2/§8.3)."""
    items = [
        tlv(0xDF22, name.encode()),
        tlv(0xDF23, address.encode()),
        tlv(0xDF24, f"{birth:%Y%m%d}".encode()),
        tlv(0xDF25, sex.encode()),
    ]
    return _with_offset_table(ids.TAG_BASIC_INFO, 0xDF21, items), b"".join(items)


def integrity_record(ef1_physical: bytes, attrs_tlvs: bytes, signer: rsa.RSAPrivateKey) -> bytes:
    """Return 入力補助AP EF 0003 (§8.3): SHA-256 of EF 0001 (all 17 bytes) and of DF22…DF25."""
    signed = tlv(0xDF31, hashlib.sha256(ef1_physical).digest()) + tlv(
        0xDF32, hashlib.sha256(attrs_tlvs).digest()
    )
    return tlv(ids.TAG_INTEGRITY, signed + tlv(0xDF33, sign_sha256(signer, signed)))


def helper_ap_info(basic_key_id: bytes) -> bytes:
    """Return 入力補助AP EF 0005 (§8.5): DF41 version bytes, DF42 key ID, DF43 128 bytes."""
    df43 = hashlib.sha256(basic_key_id).digest() + b"\xff" * 96
    return tlv(
        ids.TAG_AP_INFO_HELPER,
        tlv(0xDF41, bytes.fromhex("01030E01")) + tlv(0xDF42, basic_key_id) + tlv(0xDF43, df43),
    )


def signed_key(ap_pub: rsa.RSAPublicKey, signer: rsa.RSAPrivateKey) -> bytes:
    """Return 入力補助AP EF 0007 (§8.5): ``FF50 { DF51 key, DF52 signature over DF51 }``."""
    df51 = tlv(0xDF51, rsa_key_tlvs(ap_pub))
    return tlv(ids.TAG_SIGNED_KEY, df51 + tlv(0xDF52, sign_sha256(signer, df51)))


@dataclass(frozen=True, slots=True)
class FaceParts:
    birth: date
    sex: str
    card_pub: rsa.RSAPublicKey
    name_png: bytes
    address_png: bytes
    photo_jp2: bytes
    expiry: date
    security_code_png: bytes


def face_signature_input(df22_24: bytes, df25_26: bytes, df27: bytes) -> bytes:
    """Return the 115-byte DigestInfo the face signature covers (§9.1: three digests, one DI)."""
    digests = b"".join(hashlib.sha256(g).digest() for g in (df22_24, df25_26, df27))
    return FACE_DIGEST_INFO_PREFIX + digests


def face_record(
    parts: FaceParts, signer: rsa.RSAPrivateKey, photo_after_signing: bytes | None = None
) -> bytes:
    """Return 券面事項確認AP EF 0002 (§9.1). ``photo_after_signing`` builds a tampered record."""
    g1 = (
        tlv(0xDF22, f"{parts.birth:%Y%m%d}".encode())
        + tlv(0xDF23, parts.sex.encode())
        + tlv(0xDF24, rsa_key_tlvs(parts.card_pub))
    )
    g2 = tlv(0xDF25, parts.name_png) + tlv(0xDF26, parts.address_png)
    g3 = tlv(0xDF27, parts.photo_jp2)
    digest_info = face_signature_input(g1, g2, g3)
    signature = pkcs1_sign_raw(signer, digest_info)
    if photo_after_signing is not None:
        g3 = tlv(0xDF27, photo_after_signing)
    items = [
        tlv(0xDF22, f"{parts.birth:%Y%m%d}".encode()),
        tlv(0xDF23, parts.sex.encode()),
        tlv(0xDF24, rsa_key_tlvs(parts.card_pub)),
        tlv(0xDF25, parts.name_png),
        tlv(0xDF26, parts.address_png),
        g3,
        tlv(0xDF28, signature),
        tlv(0xDF29, f"{parts.expiry:%Y%m%d}".encode()),  # not signed (§9.1)
        tlv(0xDF2A, parts.security_code_png),  # not signed (§9.1)
    ]
    return _with_offset_table(ids.TAG_FACE, 0xDF21, items)


def age_record(birth: date, card_pub: rsa.RSAPublicKey, signer: rsa.RSAPrivateKey) -> bytes:
    """Return 券面事項確認AP EF 0001 (§9.2): ``FF10 { DF11 date, DF12 key, DF13 sig }``."""
    signed = tlv(0xDF11, f"{birth:%Y%m%d}".encode()) + tlv(0xDF12, rsa_key_tlvs(card_pub))
    return tlv(ids.TAG_AGE, signed + tlv(0xDF13, sign_sha256(signer, signed)))


def number_image_record(png: bytes, card_pub: rsa.RSAPublicKey, signer: rsa.RSAPrivateKey) -> bytes:
    """Return 券面事項確認AP EF 0005 (§9.2): ``FF40 { DF41 PNG, DF42 key, DF43 sig }``."""
    signed = tlv(0xDF41, png) + tlv(0xDF42, rsa_key_tlvs(card_pub))
    return tlv(ids.TAG_NUMBER_IMAGE, signed + tlv(0xDF43, sign_sha256(signer, signed)))


def surface_ap_info(basic_key_id: bytes, municipality: str, opaque_id: bytes) -> bytes:
    """Return 券面事項確認AP EF 0003 (§9.3): layout id, key id, version, municipality, opaque."""
    df35 = opaque_id + hashlib.sha256(opaque_id).digest() * 8
    return tlv(
        ids.TAG_AP_INFO_SURFACE,
        tlv(0xDF31, bytes.fromhex("06030E01"))
        + tlv(0xDF32, basic_key_id)
        + tlv(0xDF33, b"\x01")
        + tlv(0xDF34, municipality.encode("ascii"))
        + tlv(0xDF35, df35),
    )
