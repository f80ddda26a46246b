"""Card-verifiable certificates and the signed records of the 券面 APs (reference §8.3, §8.4, §9.1).

The CVC in EF 0004 (``7F21 { 5F4E body, 5F37 signature }``; body = issuer key ID 16 ‖ subject
key ID 16 ‖ ``90 e 91 n``) is signed by an issuer key that is not on the card and not
published: those keys are configuration (PEM SubjectPublicKeyInfo). Without a matching
configured key nothing here says "verified". Once the CVC verifies, its key checks the
card-face record (§9.1: SHA-256 of three raw TLV groups, the three digests in ONE DigestInfo)
and the 入力補助 integrity record (§8.3: DF31 = SHA-256 of the 17-byte EF 0001, DF32 =
SHA-256 of DF22…DF25, DF33 over the DF31‖DF32 TLVs). Parsing is strict; every failure is a
``RecordError`` (RECORD_SIGNATURE_INVALID). No key or signature size is fixed.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from agent.verification.errors import RecordError
from card import tlv
from card.errors import BadResponseError
from card.ids import TAG_CVC, TAG_CVC_BODY, TAG_CVC_SIGNATURE, TAG_RSA_EXPONENT, TAG_RSA_MODULUS

logger = logging.getLogger(__name__)

KEY_ID_LEN = 16
MIN_RSA_BITS = 1024
MAX_RSA_BITS = 8192
MAX_CVC_BYTES = 4096
# DigestInfo header for the face record's 96-byte "digest" (reference §9.1).
FACE_DIGEST_INFO_PREFIX = bytes.fromhex("3071300d060960864801650304020105000460")


def rsa_key_from_tlvs(data: bytes) -> rsa.RSAPublicKey:
    """Decode ``90 <e> 91 <n>`` (exactly these two, in order) into an RSA public key."""
    try:
        items = list(tlv.iterate(data))
    except BadResponseError as err:
        raise RecordError("RSA key TLVs do not parse") from err
    if [i.tag for i in items] != [TAG_RSA_EXPONENT, TAG_RSA_MODULUS]:
        raise RecordError("RSA key TLVs are not 90 then 91")
    exponent = int.from_bytes(items[0].value, "big")
    n = int.from_bytes(items[1].value, "big")
    if not (3 <= exponent < (1 << 64)) or exponent % 2 == 0:
        raise RecordError("RSA exponent out of range")
    if not MIN_RSA_BITS <= n.bit_length() <= MAX_RSA_BITS or n % 2 == 0:
        raise RecordError("RSA modulus out of range")
    try:
        return rsa.RSAPublicNumbers(exponent, n).public_key()
    except ValueError as ex:
        raise RecordError("RSA key rejected") from ex


def _pkcs1_payload(key: rsa.RSAPublicKey, signature: bytes) -> bytes:
    """Return the PKCS#1 v1.5 type-1 payload of ``signature`` (the DigestInfo)."""
    if len(signature) != (key.key_size + 7) // 8:
        raise RecordError("signature size does not match the key")
    try:
        return key.recover_data_from_signature(signature, padding.PKCS1v15(), None)
    except (InvalidSignature, ValueError) as e:
        raise RecordError("signature does not verify") from e


def verify_sha256(key: rsa.RSAPublicKey, signature: bytes, data: bytes) -> None:
    """PKCS#1 v1.5 / SHA-256 verify.

    :raises RecordError: RECORD_SIGNATURE_INVALID.
    """
    try:
        key.verify(signature, data, padding.PKCS1v15(), hashes.SHA256())
    except (InvalidSignature, ValueError) as e:
        raise RecordError("signature does not verify") from e


@dataclass(frozen=True, slots=True)
class Cvc:
    """A parsed CVC (reference §8.4)."""

    issuer_key_id: bytes
    subject_key_id: bytes
    public_key: rsa.RSAPublicKey
    body: bytes
    signature: bytes

    @classmethod
    def parse(cls, data: bytes) -> Cvc:
        if not data or len(data) > MAX_CVC_BYTES:
            raise RecordError("CVC size out of range")
        try:
            outer = tlv.parse_one(data)
            if outer.tag != TAG_CVC or outer.end != len(data):
                raise RecordError("CVC is not one 7F21 object")
            items = list(tlv.iterate(outer.value))
        except BadResponseError as e:
            raise RecordError("CVC does not parse") from e
        if [i.tag for i in items] != [TAG_CVC_BODY, TAG_CVC_SIGNATURE]:
            raise RecordError("CVC is not 5F4E then 5F37")
        body, signature = items[0].value, items[1].value
        if len(body) <= 2 * KEY_ID_LEN or not signature:
            raise RecordError("CVC body too short")
        key = rsa_key_from_tlvs(body[2 * KEY_ID_LEN:])
        return cls(body[:KEY_ID_LEN], body[KEY_ID_LEN:2 * KEY_ID_LEN], key, body, signature)

    def issuer_label(self) -> str:
        """The printable part of the issuer key ID (7 digits + 3 digits, reference §8.4)."""
        raw = self.issuer_key_id
        return raw[:7].decode("ascii", "replace") + "/" + raw[9:12].decode("ascii", "replace")


def load_issuer_keys(paths: Iterable[Path | str]) -> tuple[rsa.RSAPublicKey, ...]:
    """Load CVC issuer public keys (PEM SubjectPublicKeyInfo), RSA only."""
    keys: list[rsa.RSAPublicKey] = []
    for p in paths:
        data = Path(p).read_bytes()[:MAX_CVC_BYTES * 4]
        try:
            key = serialization.load_pem_public_key(data)
        except (ValueError, TypeError) as e:
            raise RecordError(f"CVC issuer key file {Path(p).name} does not parse") from e
        if not isinstance(key, rsa.RSAPublicKey):
            raise RecordError("CVC issuer key is not RSA")
        keys.append(key)
    return tuple(keys)


def verify_cvc(cvc: Cvc, issuer_keys: Iterable[rsa.RSAPublicKey]) -> bool:
    """Return True when one of ``issuer_keys`` verifies the CVC's signature, else False.

    The flows read an empty key list as ``not-verified`` (issuer keys are not published,
    reference §8.4) and a non-empty list that verifies nothing as RECORD_SIGNATURE_INVALID
    (a card bringing its own CVC).
    """
    for key in issuer_keys:
        try:
            key.verify(cvc.signature, cvc.body, padding.PKCS1v15(), hashes.SHA256())
        except (InvalidSignature, ValueError):
            continue
        return True
    return False


def face_digest_info(group1_raw: bytes, group2_raw: bytes, group3_raw: bytes) -> bytes:
    """The DigestInfo the card-face signature covers (reference §9.1)."""
    return FACE_DIGEST_INFO_PREFIX + b"".join(
        hashlib.sha256(g).digest() for g in (group1_raw, group2_raw, group3_raw))


def verify_face_record(key: rsa.RSAPublicKey, group1_raw: bytes, group2_raw: bytes,
                       group3_raw: bytes, signature: bytes) -> None:
    """Verify the card-face record's DF28 with the CVC key.

    :raises RecordError: RECORD_SIGNATURE_INVALID (e.g. the photo was replaced).
    """
    verify_face_digests(key, [hashlib.sha256(g).digest() for g in
                              (group1_raw, group2_raw, group3_raw)], signature)


def verify_face_digests(key: rsa.RSAPublicKey, digests: Sequence[bytes],
                        signature: bytes) -> None:
    """Verify DF28 from the three groups' SHA-256 digests alone (a back office that holds a
    record without its photo still checks the signature)."""
    if len(digests) != 3 or any(len(d) != 32 for d in digests):
        raise RecordError("card-face record needs three SHA-256 digests")
    payload = _pkcs1_payload(key, signature)
    if not hmac.compare_digest(payload, FACE_DIGEST_INFO_PREFIX + b"".join(digests)):
        raise RecordError("card-face record signature does not match its content")


def verify_integrity_record(key: rsa.RSAPublicKey, my_number_ef: bytes | None,
                            attributes_raw: bytes, my_number_digest: bytes,
                            attributes_digest: bytes, signed_data: bytes,
                            signature: bytes) -> None:
    """Verify the 入力補助 integrity record (reference §8.3) and that its digests match the data.

    ``my_number_ef`` is the whole 17-byte EF 0001 (filler included), or None when the flow
    did not read it (then only the signature and the DF32 digest are checked).
    """
    verify_sha256(key, signature, signed_data)
    if not hmac.compare_digest(hashlib.sha256(attributes_raw).digest(), attributes_digest):
        raise RecordError("basic-info digest does not match the integrity record")
    if my_number_ef is not None and not hmac.compare_digest(
            hashlib.sha256(my_number_ef).digest(), my_number_digest):
        raise RecordError("My Number digest does not match the integrity record")
