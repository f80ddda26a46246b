"""Persona properties (design §1, §4; reference §5, §11): check digits, 照合番号B, SAN content,
certificate profile, CRL and exported trust files."""

from __future__ import annotations

from datetime import date

import pytest
from asn1crypto import core as asn1
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding

from card import ids
from card.emulator import PERSONAS, VirtualMynaCard, export_trust
from card.emulator.personas import FLOWS, era_of, my_number_check_digit
from card.emulator.pki import root_certificate
from tests.emulator.conftest import JPKI, read_all, select_ap, select_ef, verify

ERROR_CODES = {
    "PIN_LAST_TRY_NEEDS_CONFIRMATION",
    "PIN_BLOCKED",
    "NO_SIGN_CERTIFICATE",
    "CERT_EXPIRED",
    "CERT_REVOKED",
    "POSSESSION_FAILED",
    "RECORD_SIGNATURE_INVALID",
    "UNSUPPORTED_CARD",
}
ALL = sorted(PERSONAS)
MY_NUMBER_PERSONAS = [n for n in ALL if PERSONAS[n].card.my_number_card]


def test_check_digit_public_example() -> None:
    assert my_number_check_digit("98320567321") == "4"  # design §1: 983205673214


@pytest.mark.parametrize("name", ALL)
def test_persona_data(name: str) -> None:
    p = PERSONAS[name]
    n = p.identity.my_number
    assert len(n) == 12 and my_number_check_digit(n[:11]) == n[11]
    assert len(p.identity.name_substitute) == len(p.identity.name)
    assert len(p.identity.address_substitute) == len(p.identity.address)
    c = p.credentials
    assert len(c.match_b) == 14 and c.match_b.isdigit()
    assert c.match_b[6:10] == f"{p.card.expiry.year}" and c.match_b[10:] == p.card.security_code
    assert c.match_b[:6] == c.birth_key
    assert set(p.expected) == set(FLOWS)
    assert all(v == "ok" or v in ERROR_CODES for v in p.expected.values())


def test_match_b_era_and_gregorian() -> None:
    assert PERSONAS["yamada-taro"].credentials.match_b.startswith("550217")  # 昭和55 (§5)
    assert PERSONAS["foreign-resident"].credentials.match_b.startswith("920704")  # Gregorian YY
    assert era_of(date(2019, 5, 1)) == (5, 1) and era_of(date(2019, 4, 30)) == (4, 31)


def _sign_cert(name: str) -> x509.Certificate:
    card = VirtualMynaCard(PERSONAS[name])
    select_ap(card, JPKI)
    assert verify(card, 0x1B, "MYNA2026") == "90 00"
    select_ef(card, 0x0001)
    return x509.load_der_x509_certificate(read_all(card))


def test_sign_cert_profile() -> None:
    p = PERSONAS["substitute-chars"]
    cert = _sign_cert(p.name)
    san_der = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    der = san_der.public_bytes()
    name_oid = asn1.ObjectIdentifier(ids.OID_SAN_NAME).dump()
    utf8 = asn1.UTF8String(p.identity.name).dump()
    # otherName = [0] { OID, [0] EXPLICIT UTF8String } (reference §11.1)
    inner = name_oid + bytes([0xA0, len(utf8)]) + utf8
    assert bytes([0xA0, len(inner)]) + inner in der
    expected_order = [
        ids.OID_SAN_NAME,
        ids.OID_SAN_BIRTH_DATE,
        ids.OID_SAN_SEX,
        ids.OID_SAN_ADDRESS,
        ids.OID_SAN_NAME_SUBSTITUTE,
        ids.OID_SAN_ADDRESS_SUBSTITUTE,
    ]
    ext = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    others = list(ext)
    assert [o.type_id.dotted_string for o in others] == expected_order  # type: ignore[union-attr]
    values = {o.type_id.dotted_string: o.value for o in others}  # type: ignore[union-attr]
    for oid, text in [
        (ids.OID_SAN_NAME, p.identity.name),
        (ids.OID_SAN_SEX, "2"),
        (ids.OID_SAN_BIRTH_DATE, "319751103"),
        (ids.OID_SAN_ADDRESS, p.identity.address),
        (ids.OID_SAN_NAME_SUBSTITUTE, "10000"),
    ]:
        assert values[oid] == asn1.UTF8String(text).dump()  # UTF8String TLV inside [0] EXPLICIT
    assert len(others) == 6
    ku = cert.extensions.get_extension_for_class(x509.KeyUsage)
    assert ku.critical and ku.value.digital_signature and ku.value.content_commitment
    policies = cert.extensions.get_extension_for_class(x509.CertificatePolicies).value
    assert [pi.policy_identifier.dotted_string for pi in policies] == [ids.OID_POLICY_SIGN_TEST]
    subject = cert.subject.rdns
    assert [r.rfc4514_string().split("=")[0] for r in subject] == ["C", "L", "L", "CN"]
    assert cert.not_valid_after_utc.isoformat() == "2030-03-31T14:59:59+00:00"


def test_roots_share_dn_differ_in_key_and_aki_selects() -> None:
    g1, g2 = root_certificate("sign", 1), root_certificate("sign", 2)
    assert g1.subject == g2.subject and g1.public_key() != g2.public_key()
    ski = [
        r.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest
        for r in (g1, g2)
    ]
    assert ski[0] != ski[1]
    bc = g1.extensions.get_extension_for_class(x509.BasicConstraints)
    assert bc.critical and bc.value.ca
    cert = _sign_cert("yamada-taro")
    aki = cert.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value
    assert aki.key_identifier == ski[1]
    pub = g2.public_key()
    pub.verify(
        cert.signature,
        cert.tbs_certificate_bytes,
        padding.PKCS1v15(),  # type: ignore[union-attr,call-arg]
        hashes.SHA256(),
    )


def test_export_trust_and_crl(tmp_path) -> None:  # type: ignore[no-untyped-def]
    files = {p.name for p in export_trust(tmp_path)}
    assert files == {
        "sign_root.pem",
        "auth_root.pem",
        "test.crl",
        "cvc_issuer_surface.pem",
        "cvc_issuer_input_helper.pem",
        "README.txt",
    }
    roots = x509.load_pem_x509_certificates((tmp_path / "sign_root.pem").read_bytes())
    assert len(roots) == 2
    crl = x509.load_der_x509_crl((tmp_path / "test.crl").read_bytes())
    revoked = _sign_cert("revoked-cert")
    assert crl.get_revoked_certificate_by_serial_number(revoked.serial_number) is not None
    assert (
        crl.get_revoked_certificate_by_serial_number(_sign_cert("yamada-taro").serial_number)
        is None
    )
    assert crl.is_signature_valid(roots[1].public_key())  # type: ignore[arg-type]
    assert crl.last_update_utc.year == 2026 and crl.next_update_utc.year == 2027  # type: ignore[union-attr]
    again = tmp_path / "again"
    export_trust(again)
    assert (again / "test.crl").read_bytes() == (tmp_path / "test.crl").read_bytes()


def test_expired_cert_validity() -> None:
    cert = _sign_cert("expired-cert")
    assert cert.not_valid_after_utc.isoformat() == "2024-03-31T14:59:59+00:00"
