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
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
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
    ("1.2.392.200149.8.5.5.6", "0" * 17),  # one flag per address character
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


def root_name(ou: str = "JPKI for digital signature", o: str = "JPKI-TEST") -> x509.Name:
    return x509.Name([
        x509.NameAttribute(NameOID.COUNTRY_NAME, "JP"),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, o),
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


def _hash_for(key: object) -> hashes.HashAlgorithm | None:
    from cryptography.hazmat.primitives.asymmetric import ed25519

    if isinstance(key, ed25519.Ed25519PrivateKey):
        return None
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
            san_raw: list[x509.GeneralName] | None = None, signer=None,
            aki: bool = True, pss: bool = False) -> bytes:
    """``signer`` signs instead of the issuer's key (a signature that does not fit the issuer);
    ``aki=False`` leaves out the authorityKeyIdentifier; ``pss`` signs with RSASSA-PSS."""
    key = key or rsa_key(1)
    signer = signer or issuer.key
    ku = key_usage or ((True, True) if purpose == "sign" else (True, False))
    subject = x509.Name([x509.NameAttribute(NameOID.COUNTRY_NAME, "JP"),
                         x509.NameAttribute(NameOID.COMMON_NAME, "TEST0001")])
    b = (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer.cert.subject)
         .public_key(key.public_key()).serial_number(serial)
         .not_valid_before(not_before).not_valid_after(not_after)
         .add_extension(x509.KeyUsage(ku[0], ku[1], False, False, False, False, False, False,
                                      False), critical=True))
    if aki:
        b = b.add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
            issuer.key.public_key()), critical=False)
    if policy:
        b = b.add_extension(x509.CertificatePolicies(
            [x509.PolicyInformation(x509.ObjectIdentifier(policy), None)]), critical=False)
    names = san_raw if san_raw is not None else [
        x509.OtherName(x509.ObjectIdentifier(oid), utf8_der(v)) for oid, v in san]
    if purpose == "sign" and names:
        b = b.add_extension(x509.SubjectAlternativeName(names), critical=False)
    for ext, critical in extra_exts:
        b = b.add_extension(ext, critical=critical)
    hash_alg = _hash_for(signer)
    rsa_padding = (padding.PSS(padding.MGF1(hash_alg), padding.PSS.DIGEST_LENGTH)
                   if pss and isinstance(signer, rsa.RSAPrivateKey) and hash_alg else None)
    return b.sign(signer, hash_alg, rsa_padding=rsa_padding).public_bytes(
        serialization.Encoding.DER)


def make_crl(issuer: Ca, revoked_serials=(), *, this_update=datetime(2026, 11, 1,
             tzinfo=UTC), next_update=datetime(2027, 11, 1, tzinfo=UTC),
             extensions=(), issuer_name: x509.Name | None = None, entry_extensions=()) -> bytes:
    """``issuer_name`` names another issuer than ``issuer``'s subject (signed by its key)."""
    b = (x509.CertificateRevocationListBuilder().issuer_name(issuer_name or issuer.cert.subject)
         .last_update(this_update).next_update(next_update))
    for ext, critical in extensions:
        b = b.add_extension(ext, critical=critical)
    for s in revoked_serials:
        entry = (x509.RevokedCertificateBuilder().serial_number(s)
                 .revocation_date(this_update - timedelta(days=1)))
        for ext, critical in entry_extensions:
            entry = entry.add_extension(ext, critical=critical)
        b = b.add_revoked_certificate(entry.build())
    return b.sign(issuer.key, _hash_for(issuer.key)).public_bytes(serialization.Encoding.DER)


def sign_with(key: object, data: bytes) -> bytes:
    """Sign ``data`` as an X.509 issuer would with ``key`` (PKCS#1 v1.5, ECDSA or EdDSA)."""
    from cryptography.hazmat.primitives.asymmetric import ed25519

    if isinstance(key, rsa.RSAPrivateKey):
        return key.sign(data, padding.PKCS1v15(), _hash_for(key))
    if isinstance(key, ec.EllipticCurvePrivateKey):
        return key.sign(data, ec.ECDSA(_hash_for(key)))
    assert isinstance(key, ed25519.Ed25519PrivateKey)
    return key.sign(data)


def resign(der: bytes, key: object, mutate) -> bytes:
    """Apply ``mutate(tbs)`` to a certificate's asn1crypto tbsCertificate and sign it again
    with ``key``, keeping the outer signatureAlgorithm: for shapes the builders refuse."""
    from asn1crypto import x509 as ax509

    cert = ax509.Certificate.load(der)
    tbs = cert["tbs_certificate"]
    mutate(tbs)
    tbs = ax509.TbsCertificate.load(tbs.dump(force=True))
    out = ax509.Certificate({"tbs_certificate": tbs,
                             "signature_algorithm": cert["signature_algorithm"],
                             "signature_value": sign_with(key, tbs.dump())})
    return out.dump()


def resign_crl(der: bytes, key: rsa.RSAPrivateKey, hash_name: str = "sha1") -> bytes:
    """Sign a CRL's tbsCertList again with RSA and ``hash_name`` (the builder refuses SHA-1)."""
    from asn1crypto import crl as acrl

    crl = acrl.CertificateList.load(der)
    algorithm = {"algorithm": f"{hash_name}_rsa"}
    tbs = crl["tbs_cert_list"]
    tbs["signature"] = algorithm
    tbs = acrl.TbsCertList.load(tbs.dump(force=True))
    digest = {"sha1": hashes.SHA1(), "sha256": hashes.SHA256()}[hash_name]  # noqa: S303 - the case under test
    return acrl.CertificateList({
        "tbs_cert_list": tbs, "signature_algorithm": algorithm,
        "signature": key.sign(tbs.dump(), padding.PKCS1v15(), digest)}).dump()



def two_person_certificate(root: Ca) -> bytes:
    """An end-entity certificate with a second subjectAltName naming another person."""
    from asn1crypto import x509 as ax509

    other = dict(SAN_DEFAULT) | {"1.2.392.200149.8.5.5.1": "鈴木　花子"}
    second = next(e for e in ax509.Certificate.load(make_ee(root, san=tuple(other.items())))
                  ["tbs_certificate"]["extensions"] if e["extn_id"].native == "subject_alt_name")

    def add_second_san(tbs) -> None:
        tbs["extensions"] = [*tbs["extensions"], second]
    return resign(make_ee(root), root.key, add_second_san)
