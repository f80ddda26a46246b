"""The card suite, written once against ``card_reader`` (in-process emulator and pcscd+vpcd).

Covers the JPKI AP (certificates, token info, PIN counters, VERIFY, signing), the 入力補助 and
券面 APs, unknown cards, malformed responses and a card pulled mid-read. Every read is also
checked for cost: a read never touches an EF's filler (APDUs ≤ ceil(len / 256) + 2).
"""

from __future__ import annotations

import hashlib
import logging
import math
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.serialization import Encoding

from card.apps import (
    CertificateKind,
    InputHelperApp,
    JpkiApp,
    PinKind,
    SurfaceApp,
    digest_info,
)
from card.channel import TRAFFIC, ApduChannel
from card.errors import (
    ApplicationNotFoundError,
    CardError,
    CardRemovedError,
    InvalidPinError,
    PinBlockedError,
)
from card.ids import AID, JpkiEF


def persona(name: str) -> Any:
    from card.emulator import PERSONAS

    return PERSONAS[name]


@contextmanager
def channel_for(reader: Any) -> Iterator[ApduChannel]:
    with reader.connect() as connection:
        yield ApduChannel(connection)


def apdu_budget(length: int) -> int:
    return math.ceil(length / 256) + 2


def test_read_four_certificates(card_reader: Any) -> None:
    from card.emulator import pki

    reader, _ = card_reader("yamada-taro")
    creds = persona("yamada-taro").credentials
    with channel_for(reader) as ch:
        app = JpkiApp(ch)
        app.select()
        app.verify_pin(PinKind.SIGN, creds.sign_password)
        certs = {}
        for kind in CertificateKind:
            before = ch.stats.apdus
            der = app.read_certificate(kind)
            assert ch.stats.apdus - before <= apdu_budget(len(der)), kind
            certs[kind] = x509.load_der_x509_certificate(der)
    assert certs[CertificateKind.SIGN].serial_number == pki.serial_for("yamada-taro", "sign")
    assert certs[CertificateKind.AUTH].serial_number == pki.serial_for("yamada-taro", "auth")
    for ee, ca in ((CertificateKind.SIGN, CertificateKind.SIGN_CA),
                   (CertificateKind.AUTH, CertificateKind.AUTH_CA)):
        assert certs[ee].issuer == certs[ca].subject
        certs[ee].verify_directly_issued_by(certs[ca])


def test_sign_certificate_needs_password(card_reader: Any) -> None:
    reader, _ = card_reader("yamada-taro")
    with channel_for(reader) as ch, pytest.raises(CardError) as e:
        JpkiApp(ch).read_certificate(CertificateKind.SIGN)
    assert getattr(e.value, "sw", None) == 0x6982


def test_token_info_and_sign_certificate_presence(card_reader: Any) -> None:
    reader, _ = card_reader("yamada-taro")
    with channel_for(reader) as ch:
        app = JpkiApp(ch)
        info = app.read_token_info()
        assert info.label == "JPKIAPICCTOKEN2" and info.is_physical_card
        assert app.has_sign_certificate() is True


@pytest.mark.emulator_only
def test_minor_has_no_sign_certificate(card_reader: Any) -> None:
    reader, _ = card_reader("minor-no-sign-cert")
    with channel_for(reader) as ch:
        assert JpkiApp(ch).has_sign_certificate() is False


def test_tries_left_is_free(card_reader: Any) -> None:
    reader, card = card_reader("yamada-taro")
    with channel_for(reader) as ch:
        jpki, helper = JpkiApp(ch), InputHelperApp(ch)
        for _ in range(2):
            got = (jpki.tries_left(PinKind.AUTH), jpki.tries_left(PinKind.SIGN),
                   helper.tries_left())
            assert got == (3, 5, 3)
    if card is not None:
        assert card.tries_left(AID.JPKI, JpkiEF.AUTH_PIN) == 3


@pytest.mark.emulator_only
def test_wrong_pin_reports_tries_and_is_not_retried(card_reader: Any) -> None:
    reader, card = card_reader("yamada-taro")
    with channel_for(reader) as ch:
        app = JpkiApp(ch)
        before = ch.stats.apdus
        with pytest.raises(InvalidPinError) as e:
            app.verify_pin(PinKind.AUTH, "0000")
        assert e.value.tries_left == 2
        assert ch.stats.apdus - before == 3  # SELECT AP, SELECT IEF, one VERIFY
        assert app.tries_left(PinKind.AUTH) == 2
        app.verify_pin(PinKind.AUTH, persona("yamada-taro").credentials.auth_pin)
        assert app.tries_left(PinKind.AUTH) == 3
    assert card.tries_left(AID.JPKI, JpkiEF.AUTH_PIN) == 3


@pytest.mark.emulator_only
def test_blocked_sign_password(card_reader: Any) -> None:
    reader, _ = card_reader("sign-pin-blocked")
    with channel_for(reader) as ch:
        app = JpkiApp(ch)
        assert app.tries_left(PinKind.SIGN) == 0
        with pytest.raises(PinBlockedError):
            app.verify_pin(PinKind.SIGN, persona("sign-pin-blocked").credentials.sign_password)


@pytest.mark.emulator_only
def test_last_try_then_blocked(card_reader: Any) -> None:
    reader, _ = card_reader("sign-pin-1-left")
    with channel_for(reader) as ch:
        app = JpkiApp(ch)
        assert app.tries_left(PinKind.SIGN) == 1
        with pytest.raises(PinBlockedError):
            app.verify_pin(PinKind.SIGN, "WRONG0000")
        assert app.tries_left(PinKind.SIGN) == 0


@pytest.mark.emulator_only
@pytest.mark.parametrize("kind", [PinKind.AUTH, PinKind.SIGN], ids=["auth", "sign"])
def test_sign_after_verify(card_reader: Any, kind: PinKind) -> None:
    reader, _ = card_reader("yamada-taro")
    creds = persona("yamada-taro").credentials
    pin = creds.auth_pin if kind is PinKind.AUTH else creds.sign_password
    cert_kind = CertificateKind.AUTH if kind is PinKind.AUTH else CertificateKind.SIGN
    message = b"myna-kiosk challenge"
    with channel_for(reader) as ch:
        app = JpkiApp(ch)
        app.verify_pin(kind, pin)
        cert = x509.load_der_x509_certificate(app.read_certificate(cert_kind))
        signature = app.sign(kind, digest_info("sha256", hashlib.sha256(message).digest()))
    key = cert.public_key()
    assert isinstance(key, rsa.RSAPublicKey)
    assert len(signature) == key.key_size // 8
    key.verify(signature, message, padding.PKCS1v15(), hashes.SHA256())


def test_sign_without_verify_is_refused(card_reader: Any) -> None:
    reader, _ = card_reader("yamada-taro")
    with channel_for(reader) as ch, pytest.raises(CardError):
        JpkiApp(ch).sign(PinKind.AUTH, digest_info("sha256", bytes(32)))


@pytest.mark.emulator_only
def test_input_helper_reads(card_reader: Any) -> None:
    reader, _ = card_reader("yamada-taro")
    p = persona("yamada-taro")
    with channel_for(reader) as ch:
        app = InputHelperApp(ch)
        app.verify_pin(p.credentials.input_helper_pin)
        number = app.read_my_number_record()
        before = ch.stats.apdus
        info = app.read_basic_info()
        assert ch.stats.apdus - before <= apdu_budget(len(info.raw))
        integrity = app.read_integrity()
        cvc = app.read_cvc()
        ap_info = app.read_ap_info()
        signed_key = app.read_signed_key()
    assert number.number == p.identity.my_number and len(number.raw) == 17
    assert info.name == p.identity.name and info.address == p.identity.address
    assert info.birth_date == p.identity.birth_date.strftime("%Y%m%d")
    assert info.sex == p.identity.sex
    assert integrity.my_number_digest == hashlib.sha256(number.raw).digest()
    assert integrity.attributes_digest == hashlib.sha256(info.attributes_raw).digest()
    assert cvc[:2] == b"\x7f\x21" and ap_info.tag == 0xFF40
    assert signed_key.public_key.startswith(b"\x90")


@pytest.mark.emulator_only
def test_surface_face_record(card_reader: Any) -> None:
    reader, _ = card_reader("yamada-taro")
    p = persona("yamada-taro")
    with channel_for(reader) as ch:
        app = SurfaceApp(ch)
        before = ch.stats.apdus
        app.verify_match_b(p.credentials.match_b)
        face = app.read_face()
        assert ch.stats.apdus - before - 3 <= apdu_budget(len(face.raw))
        challenge = app.get_challenge(16)
        proof = app.sign_challenge(digest_info("sha256", hashlib.sha256(challenge).digest()))
        assert app.read_ap_info().tag == 0xFF30
        assert app.read_cvc()[:2] == b"\x7f\x21"
    assert face.birth_date == p.identity.birth_date.strftime("%Y%m%d")
    assert face.expiry == p.card.expiry.strftime("%Y%m%d")
    assert face.photo_jp2[4:8] == b"jP  " or face.photo_jp2[:4] == b"\xff\x4f\xff\x51"
    assert face.name_png.startswith(b"\x89PNG")
    assert face.group1_raw.startswith(b"\xdf\x22") and face.group3_raw.startswith(b"\xdf\x27")
    assert len(proof) == 256


@pytest.mark.emulator_only
def test_unknown_card(card_reader: Any) -> None:
    reader, _ = card_reader("unknown-card")
    with channel_for(reader) as ch:
        for select in (JpkiApp(ch).select, InputHelperApp(ch).select, SurfaceApp(ch).select):
            with pytest.raises(ApplicationNotFoundError):
                select()


@pytest.mark.emulator_only
@pytest.mark.parametrize("fault", ["garbage_after_apdus", "truncate_after_apdus"])
def test_bad_responses_are_typed(card_reader: Any, fault: str) -> None:
    import dataclasses

    reader, card = card_reader("yamada-taro")
    card.faults = dataclasses.replace(card.faults, **{fault: 3})
    with channel_for(reader) as ch, pytest.raises(CardError):
        JpkiApp(ch).read_certificate(CertificateKind.AUTH)


@pytest.mark.emulator_only
def test_card_pulled_mid_read(card_reader: Any) -> None:
    import dataclasses

    reader, card = card_reader("yamada-taro")
    card.faults = dataclasses.replace(card.faults, remove_after_apdus=4)
    with channel_for(reader) as ch, pytest.raises(CardRemovedError):
        JpkiApp(ch).read_certificate(CertificateKind.AUTH)


@pytest.mark.emulator_only
def test_traffic_log_never_carries_secrets(
    card_reader: Any, caplog: pytest.LogCaptureFixture
) -> None:
    reader, _ = card_reader("yamada-taro")
    p = persona("yamada-taro")
    with caplog.at_level(TRAFFIC), channel_for(reader) as ch:
        JpkiApp(ch).verify_pin(PinKind.SIGN, p.credentials.sign_password)
        JpkiApp(ch).read_certificate(CertificateKind.SIGN)
        helper = InputHelperApp(ch)
        helper.verify_pin(p.credentials.input_helper_pin)
        helper.read_my_number()
        helper.read_basic_info()
    text = caplog.text
    assert "redacted" in text
    for secret in (p.credentials.sign_password, p.identity.my_number):
        assert secret not in text
        assert secret.encode().hex(" ").upper() not in text
    assert p.identity.name.encode().hex(" ").upper()[:20] not in text
    assert all(r.levelno <= logging.DEBUG for r in caplog.records if r.name == "card.channel")


def test_certificate_matches_pki(card_reader: Any) -> None:
    from card.emulator import pki

    reader, _ = card_reader("yamada-taro")
    with channel_for(reader) as ch:
        der = JpkiApp(ch).read_certificate(CertificateKind.AUTH_CA)
    roots = [pki.root_certificate("auth", g).public_bytes(Encoding.DER) for g in (1, 2)]
    assert der in roots
