"""CVC parsing and the 券面 AP record signatures, with fixtures built here (not by the emulator)."""

from __future__ import annotations

import hashlib

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from hypothesis import given, settings
from hypothesis import strategies as st

from agent.verification.cvc import (
    Cvc,
    face_digest_info,
    load_issuer_keys,
    rsa_key_from_tlvs,
    verify_cvc,
    verify_face_record,
    verify_integrity_record,
)
from agent.verification.errors import ErrorCode, RecordError
from tests.support.pki import rsa_key


def tlv(tag: int, value: bytes) -> bytes:
    t = tag.to_bytes((tag.bit_length() + 7) // 8, "big")
    n = len(value)
    if n < 0x80:
        ln = bytes([n])
    elif n < 0x100:
        ln = bytes([0x81, n])
    else:
        ln = bytes([0x82]) + n.to_bytes(2, "big")
    return t + ln + value


def key_tlvs(pub) -> bytes:
    nums = pub.public_numbers()
    return tlv(0x90, nums.e.to_bytes(3, "big")) + tlv(0x91, nums.n.to_bytes(pub.key_size // 8,
                                                                             "big"))


ISSUER = rsa_key(20)
SUBJECT = rsa_key(21)
ISSUER_ID = b"6000023" + b"\x08\x05" + b"001" + b"\x00\x00\x00\x01"
SUBJECT_ID = b"6000023" + b"\x08\x05" + b"002" + b"\x00\x00\x00\x02"


def make_cvc(issuer=ISSUER, subject=SUBJECT) -> bytes:
    body = ISSUER_ID + SUBJECT_ID + key_tlvs(subject.public_key())
    sig = issuer.sign(body, padding.PKCS1v15(), hashes.SHA256())
    return tlv(0x7F21, tlv(0x5F4E, body) + tlv(0x5F37, sig))


def test_parse_and_verify():
    der = make_cvc()
    assert len(der) == 5 + 5 + 297 + 5 + 256  # 568 bytes as on the card (reference §8.4)
    cvc = Cvc.parse(der)
    assert cvc.issuer_key_id == ISSUER_ID and cvc.issuer_label() == "6000023/001"
    assert cvc.public_key.public_numbers() == SUBJECT.public_key().public_numbers()
    assert verify_cvc(cvc, [ISSUER.public_key()])
    assert not verify_cvc(cvc, [])
    assert not verify_cvc(cvc, [rsa_key(22).public_key()])


def test_other_key_size_works():
    big = rsa_key(23, 3072)
    cvc = Cvc.parse(make_cvc(issuer=big, subject=big))
    assert verify_cvc(cvc, [big.public_key()]) and cvc.public_key.key_size == 3072


@pytest.mark.parametrize("mutate", [
    lambda d: d[:-1], lambda d: d + b"\x00", lambda d: b"\x7F\x22" + d[2:],
    lambda d: d[:4] + b"\x5F\x4F" + d[6:], lambda d: b"", lambda d: b"\x7F\x21\x00",
], ids=["truncated", "trailing", "outer-tag", "body-tag", "empty", "empty-outer"])
def test_malformed_cvc(mutate):
    with pytest.raises(RecordError) as ei:
        Cvc.parse(mutate(make_cvc()))
    assert ei.value.code is ErrorCode.RECORD_SIGNATURE_INVALID


@pytest.mark.parametrize("data", [b"", tlv(0x91, b"\x01") + tlv(0x90, b"\x01"),
                                  tlv(0x90, b"\x01\x00\x01") + tlv(0x91, b"\x03" * 16),
                                  tlv(0x90, b"\x02") + tlv(0x91, b"\xff" * 256),
                                  tlv(0x90, b"\x01\x00\x01") + tlv(0x91, b"\xff" * 256) + b"\0"])
def test_bad_rsa_key_tlvs(data):
    with pytest.raises(RecordError):
        rsa_key_from_tlvs(data)


@settings(max_examples=200)
@given(st.binary(max_size=700))
def test_garbage_cvc_never_escapes(blob):
    try:
        Cvc.parse(blob)
    except RecordError:
        pass


@settings(max_examples=100)
@given(st.integers(0, 567), st.integers(1, 255))
def test_flipped_byte_fails_parse_or_verification(pos, xor):
    der = bytearray(make_cvc())
    der[pos] ^= xor
    try:
        cvc = Cvc.parse(bytes(der))
    except RecordError:
        return
    assert not verify_cvc(cvc, [ISSUER.public_key()])


def _face_parts():
    g1 = tlv(0xDF22, b"19800217") + tlv(0xDF23, b"1") + tlv(0xDF24, key_tlvs(
        rsa_key(24).public_key()))
    g2 = tlv(0xDF25, b"\x89PNG name") + tlv(0xDF26, b"\x89PNG addr")
    g3 = tlv(0xDF27, b"\x00\x00\x00\x0cjP  photo")
    return g1, g2, g3


def test_face_record_signature():
    g1, g2, g3 = _face_parts()
    di = face_digest_info(g1, g2, g3)
    assert len(di) == 115 and di[:2] == b"\x30\x71" and di[17:19] == b"\x04\x60"
    assert di[19:51] == hashlib.sha256(g1).digest()
    # The card signs the raw DigestInfo with PKCS#1 v1.5 type 1: build it by hand.
    k = SUBJECT
    em = b"\x00\x01" + b"\xff" * (k.key_size // 8 - 3 - len(di)) + b"\x00" + di
    n = k.private_numbers().public_numbers.n
    sig = pow(int.from_bytes(em, "big"), k.private_numbers().d, n).to_bytes(k.key_size // 8,
                                                                            "big")
    verify_face_record(k.public_key(), g1, g2, g3, sig)
    with pytest.raises(RecordError):
        verify_face_record(k.public_key(), g1, g2, tlv(0xDF27, b"other photo"), sig)
    with pytest.raises(RecordError):
        verify_face_record(k.public_key(), g1, g2, g3, sig[:-1])


def test_integrity_record():
    ef1 = tlv(0xFF10, b"123456789018") + b"\xff\xff"
    assert len(ef1) == 17
    attrs = tlv(0xDF22, "山田　太郎".encode()) + tlv(0xDF23, b"addr") + tlv(
        0xDF24, b"19800217") + tlv(0xDF25, b"1")
    d31 = tlv(0xDF31, hashlib.sha256(ef1).digest())
    d32 = tlv(0xDF32, hashlib.sha256(attrs).digest())
    sig = SUBJECT.sign(d31 + d32, padding.PKCS1v15(), hashes.SHA256())
    pub = SUBJECT.public_key()
    args = (hashlib.sha256(ef1).digest(), hashlib.sha256(attrs).digest(), d31 + d32, sig)
    verify_integrity_record(pub, ef1, attrs, *args)
    with pytest.raises(RecordError):
        verify_integrity_record(pub, ef1, attrs + b"x", *args)
    with pytest.raises(RecordError):
        verify_integrity_record(pub, ef1[:-1] + b"\x00", attrs, *args)
    with pytest.raises(RecordError):
        verify_integrity_record(rsa_key(25).public_key(), ef1, attrs, *args)


def test_load_issuer_keys(tmp_path):
    from cryptography.hazmat.primitives import serialization

    p = tmp_path / "k.pem"
    p.write_bytes(ISSUER.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    assert isinstance(load_issuer_keys([p])[0], rsa.RSAPublicKey)
    p.write_bytes(b"not a key")
    with pytest.raises(RecordError):
        load_issuer_keys([p])
