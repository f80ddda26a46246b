"""A small test PKI built with cryptography for the verification and differential tests.

JPKI-shaped (reference §11): self-signed root CA, end-entity sign/auth certificates with the
SAN otherName attributes, keyUsage, policy, AKI/SKI. Keys are generated once per process.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

AT = datetime(2026, 11, 26, tzinfo=UTC)
ROOT_FROM = datetime(2020, 1, 1, tzinfo=UTC)
ROOT_TO = datetime(2045, 12, 31, tzinfo=UTC)
EE_FROM = datetime(2025, 4, 1, tzinfo=UTC)
EE_TO = datetime(2030, 3, 31, 14, 59, 59, tzinfo=UTC)
POLICY_SIGN_TEST = "1.2.392.200149.8.5.1.0.20"
POLICY_SIGN = "1.2.392.200149.8.5.1.1.20"
POLICY_AUTH = "1.2.392.200149.8.5.1.3.30"

SAN_DEFAULT = (
    ("1.2.392.200149.8.5.5.1", "山田　太郎"),
    ("1.2.392.200149.8.5.5.4", "319800217"),
    ("1.2.392.200149.8.5.5.3", "1"),
    ("1.2.392.200149.8.5.5.5", "東京都千代田区霞が関二丁目１番２号"),
    ("1.2.392.200149.8.5.5.2", "00000"),
    ("1.2.392.200149.8.5.5.6", "0000000000000000"),
)


@functools.cache
def rsa_key(n: int = 0, bits: int = 2048) -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=bits)


@functools.cache
def ec_key(n: int = 0) -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP384R1())


def utf8_der(text: str) -> bytes:
    raw = text.encode()
    assert len(raw) < 0x80 * 256
    if len(raw) < 0x80:
        return bytes([0x0C, len(raw)]) + raw
    if len(raw) < 0x100:
        return bytes([0x0C, 0x81, len(raw)]) + raw
    return bytes([0x0C, 0x82]) + len(raw).to_bytes(2, "big") + raw


def root_name(ou: str = "JPKI for digital signature") -> x509.Name:
    return x509.Name([
        x509.NameAttribute(NameOID.COUNTRY_NAME, "JP"),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "JPKI-TEST"),
        x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, ou),
    ])


@dataclass(frozen=True)
class Ca:
    key: object
    cert: x509.Certificate

    @property
    def der(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.DER)

    @property
    def pem(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.PEM)


def _hash_for(key: object) -> hashes.HashAlgorithm:
    return hashes.SHA384() if isinstance(key, ec.EllipticCurvePrivateKey) else hashes.SHA256()


def make_root(key=None, *, name: x509.Name | None = None, ca: bool = True,
              not_before: datetime = ROOT_FROM, not_after: datetime = ROOT_TO,
              serial: int = 0xBFCD) -> Ca:
    key = key or rsa_key(0)
    name = name or root_name()
    b = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
         .public_key(key.public_key()).serial_number(serial)
         .not_valid_before(not_before).not_valid_after(not_after)
         .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
         .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False,
                                      False), critical=True)
         .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()),
                        critical=False))
    return Ca(key, b.sign(key, _hash_for(key)))


def make_ee(issuer: Ca, key=None, *, purpose: str = "sign", san=SAN_DEFAULT,
            not_before: datetime = EE_FROM, not_after: datetime = EE_TO,
            serial: int = 0x1234, policy: str | None = POLICY_SIGN_TEST,
            key_usage: tuple[bool, bool] | None = None, extra_exts=(),
            san_raw: list[x509.GeneralName] | None = None) -> bytes:
    key = key or rsa_key(1)
    ku = key_usage or ((True, True) if purpose == "sign" else (True, False))
    subject = x509.Name([x509.NameAttribute(NameOID.COUNTRY_NAME, "JP"),
                         x509.NameAttribute(NameOID.COMMON_NAME, "TEST0001")])
    b = (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer.cert.subject)
         .public_key(key.public_key()).serial_number(serial)
         .not_valid_before(not_before).not_valid_after(not_after)
         .add_extension(x509.KeyUsage(ku[0], ku[1], False, False, False, False, False, False,
                                      False), critical=True)
         .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
             issuer.key.public_key()), critical=False))
    if policy:
        b = b.add_extension(x509.CertificatePolicies(
            [x509.PolicyInformation(x509.ObjectIdentifier(policy), None)]), critical=False)
    names = san_raw if san_raw is not None else [
        x509.OtherName(x509.ObjectIdentifier(oid), utf8_der(v)) for oid, v in san]
    if purpose == "sign" and names:
        b = b.add_extension(x509.SubjectAlternativeName(names), critical=False)
    for ext, critical in extra_exts:
        b = b.add_extension(ext, critical=critical)
    return b.sign(issuer.key, _hash_for(issuer.key)).public_bytes(serialization.Encoding.DER)


def make_crl(issuer: Ca, revoked_serials=(), *, this_update=datetime(2026, 11, 1,
             tzinfo=UTC), next_update=datetime(2027, 11, 1, tzinfo=UTC),
             extensions=()) -> bytes:
    b = (x509.CertificateRevocationListBuilder().issuer_name(issuer.cert.subject)
         .last_update(this_update).next_update(next_update))
    for ext, critical in extensions:
        b = b.add_extension(ext, critical=critical)
    for s in revoked_serials:
        b = b.add_revoked_certificate(
            x509.RevokedCertificateBuilder().serial_number(s)
            .revocation_date(this_update - timedelta(days=1)).build())
    return b.sign(issuer.key, _hash_for(issuer.key)).public_bytes(serialization.Encoding.DER)
