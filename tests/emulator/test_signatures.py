"""Signatures verified with ``cryptography`` against the certificates and records on the card
(reference §7.4 schemes 00–05, §8.5 and §9.4 challenge signatures)."""

from __future__ import annotations

import hashlib

import pytest
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa, utils

from card.emulator import VirtualMynaCard
from tests.emulator.conftest import HELPER, JPKI, SURFACE, h, read_all, select_ap, sw, verify

DI_PREFIX = bytes.fromhex("3031300d060960864801650304020105000420")


def _cert(card: VirtualMynaCard, fid: int) -> x509.Certificate:
    card.process(h(f"00 A4 02 0C 02 {fid:04X}"))
    return x509.load_der_x509_certificate(read_all(card))


def _sign(card: VirtualMynaCard, p1: int, p2: int, data: bytes) -> bytes:
    r = card.process(h(f"80 2A {p1:02X} {p2:02X} {len(data):02X}") + data + b"\x00")
    assert sw(r) == "90 00"
    return r[:-2]


def _pub(cert: x509.Certificate) -> rsa.RSAPublicKey:
    key = cert.public_key()
    assert isinstance(key, rsa.RSAPublicKey)
    return key


MESSAGE = b"challenge from the kiosk"
DIGEST = hashlib.sha256(MESSAGE).digest()


@pytest.mark.parametrize("scheme", [0, 1, 2, 3, 4, 5])
def test_sign_key_schemes_verify(card: VirtualMynaCard, scheme: int) -> None:
    select_ap(card, JPKI)
    assert verify(card, 0x1B, "MYNA2026") == "90 00"
    pub = _pub(_cert(card, 0x01))
    data = {0: DI_PREFIX + DIGEST, 1: MESSAGE, 2: DIGEST, 3: MESSAGE, 4: DIGEST, 5: MESSAGE}[scheme]
    sig = _sign(card, scheme, 0x9A, data)
    assert len(sig) == pub.key_size // 8
    if scheme in (0, 2, 3):
        pub.verify(sig, MESSAGE, padding.PKCS1v15(), hashes.SHA256())
    elif scheme == 1:  # PKCS#1 v1.5 over the bare hash: recover and compare
        em = pow(int.from_bytes(sig, "big"), pub.public_numbers().e, pub.public_numbers().n)
        assert em.to_bytes(256, "big").endswith(b"\x00" + DIGEST)
    else:
        pss = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32)
        pub.verify(sig, DIGEST, pss, utils.Prehashed(hashes.SHA256()))


def test_auth_key_via_selected_ef(card: VirtualMynaCard) -> None:
    select_ap(card, JPKI)
    pub = _pub(_cert(card, 0x0A))
    assert verify(card, 0x18, "1234") == "90 00"
    card.process(h("00 A4 02 0C 02 00 17"))
    sig = _sign(card, 0, 0x80, DI_PREFIX + DIGEST)
    pub.verify(sig, MESSAGE, padding.PKCS1v15(), hashes.SHA256())
    assert sig == _sign(card, 0, 0x97, DI_PREFIX + DIGEST)  # 80|SFI is byte-identical


def test_cloned_card_keys_do_not_match_certs(make_card) -> None:  # type: ignore[no-untyped-def]
    c = make_card("cloned-card")
    original = make_card("yamada-taro")
    select_ap(c, JPKI)
    select_ap(original, JPKI)
    cert = _cert(c, 0x0A)
    assert cert == _cert(original, 0x0A)
    assert verify(c, 0x18, "1234") == "90 00"
    sig = _sign(c, 0, 0x97, DI_PREFIX + DIGEST)
    with pytest.raises(InvalidSignature):
        _pub(cert).verify(sig, MESSAGE, padding.PKCS1v15(), hashes.SHA256())


@pytest.mark.parametrize("ap", [SURFACE, HELPER])
def test_券面_challenge_signature_without_pin(card: VirtualMynaCard, ap: str) -> None:
    from card.emulator.cardimage import build_card_image

    select_ap(card, ap)
    challenge = card.process(h("00 84 00 00 10"))[:-2]
    sig = _sign(card, 0, 0x00, DI_PREFIX + hashlib.sha256(challenge).digest())
    app = build_card_image("yamada-taro").applications[h(ap)]
    assert app.default_key is not None
    key = app.files[app.default_key].key  # type: ignore[union-attr]
    key.public_key().verify(sig, challenge, padding.PKCS1v15(), hashes.SHA256())
