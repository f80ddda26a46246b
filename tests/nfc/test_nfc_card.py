"""The card layer over NFC: nfcpy's Type 4B stack → udp driver → NfcUdpCard → VirtualMynaCard.

Same apps and channel as the contact path; what differs is the link: ISO-DEP chaining, S(WTX)
while the card signs, RFOFF on removal, and a fresh power-up per activation.
"""

from __future__ import annotations

import hashlib
import logging
import time

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed

from card.apps.jpki import CertificateKind, JpkiApp, PinKind, digest_info
from card.channel import ApduChannel
from card.errors import ApduError, CardRemovedError, InvalidPinError
from card.ids import AID, JpkiEF
from card.transports.emulated import EmulatedReader
from tests.support.nfc import nfc_card_reader

pytestmark = pytest.mark.nfc

PERSONA = "yamada-taro"


@pytest.fixture
def virtual_card():
    from card.emulator import PERSONAS, VirtualMynaCard

    return VirtualMynaCard(PERSONAS[PERSONA])


@pytest.fixture
def credentials():
    from card.emulator import PERSONAS

    return PERSONAS[PERSONA].credentials


@pytest.fixture
def nfc(virtual_card):
    with nfc_card_reader(virtual_card, deadline_s=3.0, slow_deadline_s=8.0) as pair:
        yield pair


def contact_read(card, kind: CertificateKind) -> bytes:
    """The same certificate through the in-process contact transport (independent path)."""
    with EmulatedReader("contact", card).connect() as conn:
        return JpkiApp(ApduChannel(conn)).read_certificate(kind)


def test_auth_certificate_short_and_extended_le(nfc, virtual_card) -> None:
    reader, bridge = nfc
    with reader.connect() as conn:
        short = JpkiApp(ApduChannel(conn)).read_certificate(CertificateKind.AUTH)
        frames_short = bridge.stats.frames_out
        extended = JpkiApp(ApduChannel(conn, extended_reads=True)).read_certificate(
            CertificateKind.AUTH
        )
    assert short == extended
    x509.load_der_x509_certificate(short)  # a whole, parseable certificate
    assert bridge.stats.frames_out > frames_short  # the extended read really went over the air
    reads = [e.command for e in virtual_card.apdu_log if e.command[1] == 0xB0]
    assert any(len(c) == 7 and c[4] == 0 for c in reads)  # an extended-Le READ BINARY
    assert any(len(c) == 5 for c in reads)  # and short ones
    assert short == contact_read(virtual_card, CertificateKind.AUTH)


def test_retry_counters(nfc, virtual_card) -> None:
    reader, _ = nfc
    with reader.connect() as conn:
        app = JpkiApp(ApduChannel(conn))
        assert app.tries_left(PinKind.AUTH) == virtual_card.tries_left(AID.JPKI, JpkiEF.AUTH_PIN)
        assert app.tries_left(PinKind.SIGN) == virtual_card.tries_left(AID.JPKI, JpkiEF.SIGN_PIN)
        assert app.tries_left(PinKind.AUTH) == 3


def test_wrong_pin_counts_down_over_nfc(nfc, virtual_card, credentials) -> None:
    reader, _ = nfc
    wrong = "0000" if credentials.auth_pin != "0000" else "1111"
    with reader.connect() as conn:
        app = JpkiApp(ApduChannel(conn))
        with pytest.raises(InvalidPinError) as info:
            app.verify_pin(PinKind.AUTH, wrong)
        assert info.value.tries_left == 2
        assert virtual_card.tries_left(AID.JPKI, JpkiEF.AUTH_PIN) == 2
        app.verify_pin(PinKind.AUTH, credentials.auth_pin)  # a correct one resets the counter
    assert virtual_card.tries_left(AID.JPKI, JpkiEF.AUTH_PIN) == 3


def test_verify_and_sign_with_slow_card_uses_wtx(nfc, virtual_card, credentials) -> None:
    reader, bridge = nfc
    message_hash = hashlib.sha256(b"myna-kiosk nfc test").digest()
    with reader.connect() as conn:
        app = JpkiApp(ApduChannel(conn))
        cert = x509.load_der_x509_certificate(app.read_certificate(CertificateKind.AUTH))
        app.verify_pin(PinKind.AUTH, credentials.auth_pin)
        virtual_card.faults.latency_s = 0.9  # ~3 FWTs at FWI 10: the card must send S(WTX)
        started = time.monotonic()
        signature = app.sign(PinKind.AUTH, digest_info("sha256", message_hash))
        elapsed = time.monotonic() - started
        virtual_card.faults.latency_s = 0.0
    assert bridge.stats.wtx >= 2
    assert elapsed >= 1.7  # SELECT key EF + COMPUTE SIGNATURE each slept 0.9 s
    public_key = cert.public_key()
    assert isinstance(public_key, rsa.RSAPublicKey)
    public_key.verify(signature, message_hash, padding.PKCS1v15(), Prehashed(hashes.SHA256()))


def test_field_off_clears_pin_state(nfc, credentials) -> None:
    reader, _ = nfc
    with reader.connect() as conn:
        app = JpkiApp(ApduChannel(conn))
        app.verify_pin(PinKind.AUTH, credentials.auth_pin)
    with reader.connect() as conn:  # RFOFF + new activation: the card powered down
        app = JpkiApp(ApduChannel(conn))
        with pytest.raises(ApduError) as info:
            app.sign(PinKind.AUTH, digest_info("sha256", bytes(32)))
        assert info.value.sw == 0x6982


def test_emulator_pull_fault_is_card_removed(nfc, virtual_card) -> None:
    reader, bridge = nfc
    with reader.connect() as conn:
        app = JpkiApp(ApduChannel(conn))
        app.select()
        virtual_card.faults.remove_after_apdus = 2
        started = time.monotonic()
        with pytest.raises(CardRemovedError):
            app.read_certificate(CertificateKind.AUTH)
        assert time.monotonic() - started < 0.5
    assert not bridge.present
    assert not reader.has_card()


def test_no_pin_in_debug_logs(nfc, credentials, caplog: pytest.LogCaptureFixture) -> None:
    reader, _ = nfc
    caplog.set_level(logging.DEBUG)
    with reader.connect() as conn:
        app = JpkiApp(ApduChannel(conn))
        app.verify_pin(PinKind.SIGN, credentials.sign_password)
    secret_hex = credentials.sign_password.encode().hex()
    text = "\n".join(r.getMessage() for r in caplog.records).lower()
    assert caplog.records  # the channel's TRAFFIC log and others did log at DEBUG
    assert secret_hex not in text and credentials.sign_password.lower() not in text
