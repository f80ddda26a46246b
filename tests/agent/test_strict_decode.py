"""The certificate's strict decode remembers the fields it has decoded, and still gives exactly
the verdicts of asn1crypto's whole-certificate decode, whatever it has seen before."""

from __future__ import annotations

import random

import pytest
from asn1crypto import x509
from cryptography.hazmat.primitives import serialization

from agent.verification import strict_decode
from agent.verification.strict_decode import decode_every_field
from card.emulator import PERSONAS
from card.emulator.pki import auth_certificate, sign_certificate
from tests.support.pki import rsa_key


def card_certificates() -> list[bytes]:
    """Sign and auth certificates of two emulator cards: one CA's issuer name, algorithms and
    common extensions; each card's own subject, key, serial and alternative name."""
    out = []
    for n, persona in enumerate(("yamada-taro", "foreign-resident")):
        key = rsa_key(n + 1).public_key()
        for make in (sign_certificate, auth_certificate):
            out.append(make(PERSONAS[persona], key).public_bytes(serialization.Encoding.DER))
    return out


def whole_decode_ok(der: bytes) -> bool:
    """The reference: asn1crypto's decode of the whole certificate at once, no memory."""
    try:
        x509.Certificate.load(der, strict=True).native  # noqa: B018
    except Exception:  # noqa: BLE001 - asn1crypto raises many types; any of them is "no"
        return False
    return True


def field_decode_ok(der: bytes) -> bool:
    try:
        decode_every_field(x509.Certificate.load(der, strict=True))
    except Exception:  # noqa: BLE001 - the same
        return False
    return True


def _header(tag: int, length: int) -> bytes:
    if length < 0x80:
        return bytes([tag, length])
    size = (length.bit_length() + 7) // 8
    return bytes([tag, 0x80 | size]) + length.to_bytes(size, "big")


def with_field(der: bytes, field: str, replacement: bytes) -> bytes:
    """``der`` with one tbsCertificate field's encoding replaced by ``replacement`` (lengths
    rewritten around it; the signature no longer fits, which a decode does not look at)."""
    cert = x509.Certificate.load(der)
    tbs = cert["tbs_certificate"]
    body = b"".join(replacement if name == field else tbs[name].dump() for name in tbs)
    tbs_der = _header(0x30, len(body)) + body
    rest = cert["signature_algorithm"].dump() + cert["signature_value"].dump()
    return _header(0x30, len(tbs_der) + len(rest)) + tbs_der + rest


@pytest.fixture(autouse=True)
def _fresh_memory():
    strict_decode._decoded.clear()
    yield
    strict_decode._decoded.clear()


def test_rebuilding_a_certificate_keeps_its_bytes():
    der = card_certificates()[0]  # the helper below must change only what it is told to
    cert = x509.Certificate.load(der)
    assert with_field(der, "subject", cert["tbs_certificate"]["subject"].dump()) == der


def test_byte_mutants_get_the_whole_decode_verdict_with_memory_warm_and_cold():
    """Every byte of a card certificate changed in turn, after the unmutated certificates were
    decoded: a mutated field at a place that decoded before must still be decoded."""
    originals = card_certificates()
    rng = random.Random(5280)  # noqa: S311 - a repeatable corpus
    mutants = []
    for der in originals[:2]:
        for i in range(len(der)):
            data = bytearray(der)
            data[i] ^= rng.choice((0x01, 0x20, 0x80, 0xFF))
            mutants.append(bytes(data))
    for der in originals:
        assert field_decode_ok(der)
    refused = 0
    for der in mutants:
        expected = whole_decode_ok(der)
        assert field_decode_ok(der) == expected, der.hex()
        refused += not expected
    assert refused > 100  # the corpus holds many fields that fail to decode, not just a few
    strict_decode._decoded.clear()
    for der in mutants[::7]:  # cold: nothing remembered
        assert field_decode_ok(der) == whole_decode_ok(der)


def test_the_same_bytes_at_another_place_are_decoded_again():
    """An extension's bytes that decoded as an extension do not pass as the subject's name."""
    der = card_certificates()[0]
    extension = x509.Certificate.load(der)["tbs_certificate"]["extensions"][0].dump()
    assert field_decode_ok(der)  # the extension is now remembered
    forged = with_field(der, "subject", extension)
    assert not whole_decode_ok(forged)
    assert not field_decode_ok(forged)


def test_the_issuers_fields_are_decoded_once_for_a_fleet_of_cards(monkeypatch):
    """The second card of the same CA decodes only its own fields: of the names, only its
    subject (the issuer's name, and those inside its extensions, were decoded for the first)."""
    calls: list[bytes] = []
    original = x509.Name.native

    def counting(self):  # type: ignore[no-untyped-def]
        calls.append(self.dump())
        return original.fget(self)

    monkeypatch.setattr(x509.Name, "native", property(counting))
    first, _, second, _ = card_certificates()
    issuer = x509.Certificate.load(first).issuer.dump()
    assert x509.Certificate.load(second).issuer.dump() == issuer
    decode_every_field(x509.Certificate.load(first))
    assert calls.count(issuer) == 1 and len(calls) >= 2  # the issuer, the subject, ...
    before = len(calls)
    decode_every_field(x509.Certificate.load(second))
    assert issuer not in calls[before:]
    assert x509.Certificate.load(second).subject.dump() in calls[before:]


def test_memory_is_bounded(monkeypatch):
    monkeypatch.setattr(strict_decode, "MAX_REMEMBERED_FIELDS", 8)
    for der in card_certificates():
        assert field_decode_ok(der)
        assert len(strict_decode._decoded) <= 8
