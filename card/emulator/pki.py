"""The emulator's deterministic test PKI in the J-LIS profile (reference §11; architecture
"Test PKI time frame").

Two root generations per CA (sign, auth) share one DN and differ in key and SKI, so a verifier
must pick the issuer by AKI, as with the real J-LIS generations (§11.2). End-entity
certificates follow §11.1: sign certs carry the four basic facts as subjectAltName otherNames
(UTF8String inside ``[0] EXPLICIT``, order .1 .4 .3 .5 .2 .6), auth certs carry none. Every key,
serial and signature is a pure function of the persona and generation (PKCS#1 v1.5 signing is
deterministic), so exported trust files never change between runs.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, date, datetime
from functools import lru_cache
from pathlib import Path

from asn1crypto import core as asn1
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from card import ids
from card.emulator.personas import PERSONAS, Persona
from card.emulator.rsakeys import deterministic_rsa_key

ROOT_NOT_BEFORE = datetime(2020, 1, 1, tzinfo=UTC)
ROOT_NOT_AFTER = datetime(2045, 12, 31, 14, 59, 59, tzinfo=UTC)
CRL_THIS_UPDATE = datetime(2026, 11, 1, tzinfo=UTC)
CRL_NEXT_UPDATE = datetime(2027, 11, 1, tzinfo=UTC)
REVOCATION_DATE = datetime(2026, 6, 1, tzinfo=UTC)
REVOKED_PERSONA = "revoked-cert"
# Test-root serials as listed for the O=JPKI-TEST hierarchy (reference §11.2).
_ROOT_SERIALS = {
    ("sign", 1): 0x00BFCD,
    ("sign", 2): 0x218887,
    ("auth", 1): 0x00C139,
    ("auth", 2): 0x1EA8A8,
}
_OU = {"sign": "JPKI for digital signature", "auth": "JPKI for user authentication"}
_JLIS_OU = "Japan Agency for Local Authority Information Systems"


def _attr(oid: x509.ObjectIdentifier, value: str) -> x509.NameAttribute:
    return x509.NameAttribute(oid, value)


def ca_name(kind: str) -> x509.Name:
    """Return the DN shared by every generation of the test ``kind`` ("sign"/"auth") root."""
    return x509.Name(
        [
            _attr(NameOID.COUNTRY_NAME, "JP"),
            _attr(NameOID.ORGANIZATION_NAME, "JPKI-TEST"),
            _attr(NameOID.ORGANIZATIONAL_UNIT_NAME, _OU[kind]),
            _attr(NameOID.ORGANIZATIONAL_UNIT_NAME, _JLIS_OU),
        ]
    )


_JPKI_SERVICE = x509.Name(
    [
        _attr(NameOID.COUNTRY_NAME, "JP"),
        _attr(NameOID.ORGANIZATION_NAME, "公的個人認証サービス"),
    ]
)


def root_key(kind: str, generation: int) -> rsa.RSAPrivateKey:
    return deterministic_rsa_key(f"root/{kind}/g{generation}")


@lru_cache(maxsize=8)
def root_certificate(kind: str, generation: int) -> x509.Certificate:
    """Return the self-signed test root ``kind`` ("sign"/"auth") of ``generation`` (1 or 2)."""
    key = root_key(kind, generation)
    name = ca_name(kind)
    pub = key.public_key()
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(pub)
        .serial_number(_ROOT_SERIALS[(kind, generation)])
        .not_valid_before(ROOT_NOT_BEFORE)
        .not_valid_after(ROOT_NOT_AFTER)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(_key_usage(cert_sign=True), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(pub), critical=False)
        .add_extension(
            x509.SubjectAlternativeName([x509.DirectoryName(_JPKI_SERVICE)]), critical=False
        )
        .add_extension(
            x509.CRLDistributionPoints(
                [x509.DistributionPoint([x509.DirectoryName(name)], None, None, None)]
            ),
            critical=False,
        )
    )
    return builder.sign(key, hashes.SHA256())


def _key_usage(
    *, cert_sign: bool = False, signature: bool = False, non_repudiation: bool = False
) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=signature,
        content_commitment=non_repudiation,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=cert_sign,
        crl_sign=cert_sign,
        encipher_only=False,
        decipher_only=False,
    )


def _digest_int(label: str, bits: int) -> int:
    return int.from_bytes(hashlib.sha256(label.encode()).digest(), "big") >> (256 - bits)


def serial_for(persona_name: str, kind: str) -> int:
    """Return the deterministic serial of a persona's ``kind`` certificate (positive, < 2^63)."""
    return _digest_int(f"serial/{persona_name}/{kind}", 63) | 1 << 56


def opaque_cn(persona_name: str, kind: str) -> str:
    """Return a 23-character opaque CN in the style of reference §11.1 (treated as opaque)."""
    h = hashlib.sha256(f"cn/{persona_name}/{kind}".encode()).hexdigest().upper()
    return h[:23]


def _otherName(oid: str, value: str) -> x509.OtherName:
    # cryptography writes OtherName.value inside [0] EXPLICIT; we hand it the UTF8String TLV.
    return x509.OtherName(x509.ObjectIdentifier(oid), asn1.UTF8String(value).dump())


def _validity(p: Persona) -> tuple[datetime, datetime]:
    nb: date = p.card.cert_not_before
    na: date = p.card.cert_not_after
    return (
        datetime(nb.year, nb.month, nb.day, tzinfo=UTC),
        datetime(na.year, na.month, na.day, 14, 59, 59, tzinfo=UTC),  # 23:59:59 JST
    )


def _ee_builder(
    p: Persona, kind: str, subject: x509.Name, pub: rsa.RSAPublicKey, generation: int
) -> x509.CertificateBuilder:
    issuer = root_certificate(kind, generation)
    not_before, not_after = _validity(p)
    ski = issuer.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer.subject)
        .public_key(pub)
        .serial_number(serial_for(p.name, kind))
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski), critical=False
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(pub), critical=False)
        .add_extension(x509.IssuerAlternativeName([x509.DirectoryName(_JPKI_SERVICE)]), False)
    )


def sign_certificate(p: Persona, pub: rsa.RSAPublicKey) -> x509.Certificate:
    """Return the persona's 署名用電子証明書 (reference §11.1) for public key ``pub``."""
    ident = p.identity
    subject = x509.Name(
        [
            _attr(NameOID.COUNTRY_NAME, "JP"),
            _attr(NameOID.LOCALITY_NAME, ident.prefecture_romaji),
            _attr(NameOID.LOCALITY_NAME, ident.city_romaji),
            _attr(NameOID.COMMON_NAME, opaque_cn(p.name, "sign")),
        ]
    )
    san = x509.SubjectAlternativeName(
        [
            _otherName(ids.OID_SAN_NAME, ident.name),
            _otherName(ids.OID_SAN_BIRTH_DATE, ident.san_birth_date),
            _otherName(ids.OID_SAN_SEX, ident.sex),
            _otherName(ids.OID_SAN_ADDRESS, ident.address),
            _otherName(ids.OID_SAN_NAME_SUBSTITUTE, ident.name_substitute),
            _otherName(ids.OID_SAN_ADDRESS_SUBSTITUTE, ident.address_substitute),
        ]
    )
    crl_dp = x509.Name(
        [
            _attr(NameOID.COUNTRY_NAME, "JP"),
            _attr(NameOID.ORGANIZATION_NAME, "JPKI-TEST"),
            _attr(NameOID.ORGANIZATIONAL_UNIT_NAME, _OU["sign"]),
            _attr(NameOID.ORGANIZATIONAL_UNIT_NAME, "CRL Distribution Points"),
            _attr(NameOID.ORGANIZATIONAL_UNIT_NAME, ident.prefecture_romaji),
            _attr(NameOID.COMMON_NAME, ident.city_romaji),
        ]
    )
    generation = p.card.sign_root_generation
    builder = (
        _ee_builder(p, "sign", subject, pub, generation)
        .add_extension(_key_usage(signature=True, non_repudiation=True), critical=True)
        .add_extension(san, critical=False)
        .add_extension(
            x509.CertificatePolicies(
                [x509.PolicyInformation(x509.ObjectIdentifier(ids.OID_POLICY_SIGN_TEST), None)]
            ),
            critical=False,
        )
        .add_extension(
            x509.CRLDistributionPoints(
                [x509.DistributionPoint([x509.DirectoryName(crl_dp)], None, None, None)]
            ),
            critical=False,
        )
    )
    return builder.sign(root_key("sign", generation), hashes.SHA256())


def auth_certificate(p: Persona, pub: rsa.RSAPublicKey) -> x509.Certificate:
    """Return the persona's 利用者証明用電子証明書 (reference §11.1): no personal data."""
    subject = x509.Name(
        [
            _attr(NameOID.COUNTRY_NAME, "JP"),
            _attr(NameOID.COMMON_NAME, opaque_cn(p.name, "auth")),
        ]
    )
    generation = p.card.auth_root_generation
    builder = (
        _ee_builder(p, "auth", subject, pub, generation)
        .add_extension(_key_usage(signature=True), critical=True)
        .add_extension(
            x509.CertificatePolicies(
                [x509.PolicyInformation(x509.ObjectIdentifier(ids.OID_POLICY_AUTH), None)]
            ),
            critical=False,
        )
    )
    return builder.sign(root_key("auth", generation), hashes.SHA256())


def revoked_persona() -> Persona:
    return PERSONAS[REVOKED_PERSONA]


@lru_cache(maxsize=1)
def test_crl() -> x509.CertificateRevocationList:
    """Return the test CRL of the sign root that issued ``revoked-cert``'s certificate."""
    p = revoked_persona()
    generation = p.card.sign_root_generation
    issuer = root_certificate("sign", generation)
    ski = issuer.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    revoked = (
        x509.RevokedCertificateBuilder()
        .serial_number(serial_for(p.name, "sign"))
        .revocation_date(REVOCATION_DATE)
        .build()
    )
    builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(issuer.subject)
        .last_update(CRL_THIS_UPDATE)
        .next_update(CRL_NEXT_UPDATE)
        .add_revoked_certificate(revoked)
        .add_extension(x509.CRLNumber(1), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski), critical=False
        )
    )
    return builder.sign(root_key("sign", generation), hashes.SHA256())


def cvc_issuer_key(ap: str) -> rsa.RSAPrivateKey:
    """Return the CVC issuer key of ``ap`` ("surface" or "input_helper"); never on a card."""
    if ap not in ("surface", "input_helper"):
        raise ValueError(f"unknown CVC issuer {ap!r}")
    return deterministic_rsa_key(f"cvc-issuer/{ap}")


_README = """Test trust material of the myna-kiosk emulator (NOT J-LIS; never trust in production).

sign_root.pem                 both generations of the O=JPKI-TEST signature root (same DN,
                              different keys; pick the issuer by AKI/SKI), concatenated
auth_root.pem                 both generations of the O=JPKI-TEST user-authentication root
test.crl                      DER CRL of the sign root that issued revoked-cert's certificate
                              (thisUpdate 2026-11-01, nextUpdate 2027-11-01)
cvc_issuer_surface.pem        RSA public key (SPKI PEM) that signs 券面事項確認AP CVCs
cvc_issuer_input_helper.pem   RSA public key (SPKI PEM) that signs 券面事項入力補助AP CVCs
"""


def export_trust(directory: str | Path) -> list[Path]:
    """Write the test roots, test CRL and CVC issuer public keys into ``directory``."""
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    pem = serialization.Encoding.PEM
    files: dict[str, bytes] = {
        "sign_root.pem": b"".join(root_certificate("sign", g).public_bytes(pem) for g in (1, 2)),
        "auth_root.pem": b"".join(root_certificate("auth", g).public_bytes(pem) for g in (1, 2)),
        "test.crl": test_crl().public_bytes(serialization.Encoding.DER),
    }
    spki = serialization.PublicFormat.SubjectPublicKeyInfo
    for ap in ("surface", "input_helper"):
        files[f"cvc_issuer_{ap}.pem"] = cvc_issuer_key(ap).public_key().public_bytes(pem, spki)
    files["README.txt"] = _README.encode()
    written = []
    for name, data in files.items():
        path = out / name
        path.write_bytes(data)
        written.append(path)
    return written
