"""Path validation at an explicit time: every rejection has its own code/reason; RSA and ECDSA."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from cryptography import x509 as cx509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding

from agent.verification.errors import (
    CertificateRejectedError,
    ErrorCode,
    PossessionError,
    RejectReason,
    RevocationUnavailableError,
)
from agent.verification.revocation import RevocationSource
from agent.verification.trust import Purpose, TrustAnchor, TrustMode, TrustStore
from agent.verification.verify import (
    public_key_of,
    validate_certificate,
    verify_challenge_signature,
)
from tests.support.pki import (
    AT,
    POLICY_AUTH,
    POLICY_SIGN,
    ec_key,
    make_crl,
    make_ee,
    make_root,
    rsa_key,
)


def store_of(*roots, test=True) -> TrustStore:
    return TrustStore(TrustMode.TEST if test else TrustMode.JLIS,
                      tuple(TrustAnchor(r.der, "test", None, test) for r in roots))


def reject(der, store, purpose=Purpose.SIGN, at=AT, **kw) -> CertificateRejectedError:
    with pytest.raises(CertificateRejectedError) as ei:
        validate_certificate(der, store, purpose=purpose, at=at, **kw)
    return ei.value


def test_valid_sign_certificate():
    root = make_root()
    v = validate_certificate(make_ee(root), store_of(root), purpose=Purpose.SIGN, at=AT)
    assert v.assurance == ["chain"] and v.test_trust
    assert v.serial_hex == "1234" and v.anchor.generation == "test"


def test_issuer_chosen_by_key_among_same_dn_roots():
    old, new = make_root(rsa_key(7), serial=1), make_root(rsa_key(8), serial=2)
    ee = make_ee(new)
    v = validate_certificate(ee, store_of(old, new), purpose=Purpose.SIGN, at=AT)
    assert v.anchor.der == new.der
    assert reject(ee, store_of(old)).code is ErrorCode.CERT_UNTRUSTED


def test_ecdsa_p384_chain_and_challenge():
    root = make_root(ec_key(0))
    ee_key = ec_key(1)
    ee = make_ee(root, ee_key)
    assert cx509.load_der_x509_certificate(ee).signature_hash_algorithm.name == "sha384"
    v = validate_certificate(ee, store_of(root), purpose=Purpose.SIGN, at=AT)
    assert v.assurance == ["chain"]
    challenge = b"\x01" * 32
    sig = ee_key.sign(challenge, ec.ECDSA(hashes.SHA384()))
    verify_challenge_signature(public_key_of(ee), challenge, sig)
    with pytest.raises(PossessionError):
        verify_challenge_signature(public_key_of(ee), b"\x02" * 32, sig)


def test_rsa_other_key_size_challenge():
    key = rsa_key(3, 3072)
    root = make_root()
    ee = make_ee(root, key)
    validate_certificate(ee, store_of(root), purpose=Purpose.SIGN, at=AT)
    sig = key.sign(b"abc", padding.PKCS1v15(), hashes.SHA256())
    assert len(sig) == 384
    verify_challenge_signature(public_key_of(ee), b"abc", sig)
    with pytest.raises(PossessionError) as ei:
        verify_challenge_signature(public_key_of(ee), b"abc", sig[:-1] + bytes([sig[-1] ^ 1]))
    assert ei.value.code is ErrorCode.POSSESSION_FAILED


@pytest.mark.parametrize(
    ("at", "code", "reason"),
    [
        (datetime(2031, 1, 1, tzinfo=UTC), ErrorCode.CERT_EXPIRED, RejectReason.EXPIRED),
        (datetime(2024, 1, 1, tzinfo=UTC), ErrorCode.CERT_NOT_YET_VALID,
         RejectReason.NOT_YET_VALID),
    ],
    ids=["expired", "not-yet-valid"],
)
def test_time_window(at, code, reason):
    root = make_root()
    e = reject(make_ee(root), store_of(root), at=at)
    assert (e.code, e.reason) == (code, reason)


def test_wrong_key_usage():
    root = make_root()
    e = reject(make_ee(root, key_usage=(True, False)), store_of(root))
    assert (e.code, e.reason) == (ErrorCode.CERT_INVALID, RejectReason.KEY_USAGE)


def test_auth_purpose_needs_auth_policy_and_digital_signature():
    root = make_root()
    ee = make_ee(root, purpose="auth", policy=POLICY_AUTH)
    validate_certificate(ee, store_of(root), purpose=Purpose.AUTH, at=AT)
    e = reject(ee, store_of(root), purpose=Purpose.SIGN)
    assert e.reason is RejectReason.KEY_USAGE
    e = reject(make_ee(root, policy=POLICY_AUTH), store_of(root), purpose=Purpose.SIGN)
    assert e.reason is RejectReason.POLICY


def test_test_policy_only_under_test_trust():
    root = make_root()
    ee = make_ee(root)  # test policy
    e = reject(ee, store_of(root, test=False))
    assert e.reason is RejectReason.POLICY
    prod = make_ee(root, policy=POLICY_SIGN)
    validate_certificate(prod, store_of(root, test=False), purpose=Purpose.SIGN, at=AT)


def test_unknown_critical_extension():
    root = make_root()
    ext = cx509.UnrecognizedExtension(cx509.ObjectIdentifier("1.2.3.4.5"), b"\x05\x00")
    e = reject(make_ee(root, extra_exts=[(ext, True)]), store_of(root))
    assert (e.code, e.reason) == (ErrorCode.CERT_INVALID, RejectReason.UNKNOWN_CRITICAL_EXTENSION)


def test_anchor_without_ca_basic_constraints():
    root = make_root(ca=False)
    e = reject(make_ee(root), store_of(root))
    assert e.reason is RejectReason.BASIC_CONSTRAINTS


def test_bad_signature_is_untrusted():
    root = make_root()
    der = bytearray(make_ee(root))
    der[-5] ^= 0xFF
    e = reject(bytes(der), store_of(root))
    assert e.code in (ErrorCode.CERT_UNTRUSTED, ErrorCode.CERT_INVALID)


@pytest.mark.parametrize("der", [b"", b"\x30\x82\xff\xff", b"\x30\x03\x02\x01\x01", b"junk" * 10],
                         ids=["empty", "absurd-length", "not-a-cert", "junk"])
def test_malformed(der):
    root = make_root()
    e = reject(der, store_of(root))
    assert (e.code, e.reason) == (ErrorCode.CERT_MALFORMED, RejectReason.MALFORMED)


def test_trailing_bytes_malformed():
    root = make_root()
    assert reject(make_ee(root) + b"\x00", store_of(root)).code is ErrorCode.CERT_MALFORMED


def test_crl_good_revoked_stale(tmp_path):
    root = make_root()
    ee = make_ee(root, serial=0x99)
    good = tmp_path / "good.crl"
    good.write_bytes(make_crl(root, [0x55]))
    v = validate_certificate(ee, store_of(root), purpose=Purpose.SIGN, at=AT,
                             revocation=RevocationSource.crl_file(good))
    assert v.assurance == ["chain", "revocation-checked"]
    bad = tmp_path / "bad.crl"
    bad.write_bytes(make_crl(root, [0x99]))
    e = reject(ee, store_of(root), revocation=RevocationSource.crl_file(bad))
    assert (e.code, e.reason) == (ErrorCode.CERT_REVOKED, RejectReason.REVOKED)
    with pytest.raises(RevocationUnavailableError) as ei:
        validate_certificate(ee, store_of(root), purpose=Purpose.SIGN,
                             at=datetime(2028, 1, 1, tzinfo=UTC),
                             revocation=RevocationSource.crl_file(good))
    assert ei.value.code is ErrorCode.REVOCATION_UNAVAILABLE


def _dp(city: str) -> cx509.GeneralName:
    return cx509.DirectoryName(cx509.Name([
        cx509.NameAttribute(cx509.oid.NameOID.ORGANIZATIONAL_UNIT_NAME, "CRL Distribution Points"),
        cx509.NameAttribute(cx509.oid.NameOID.COMMON_NAME, city)]))


def _idp(*, full_name=None, ca_only=False) -> cx509.IssuingDistributionPoint:
    return cx509.IssuingDistributionPoint(
        full_name=full_name, relative_name=None, only_contains_user_certs=False,
        only_contains_ca_certs=ca_only, only_some_reasons=None, indirect_crl=False,
        only_contains_attribute_certs=False)


@pytest.mark.parametrize(
    "extensions",
    [
        [(_idp(ca_only=True), True)],
        [(_idp(full_name=[_dp("Other-shi")]), True)],
        [(cx509.DeltaCRLIndicator(1), True)],
        [(cx509.UnrecognizedExtension(cx509.ObjectIdentifier("1.2.3.4"), b"\x05\x00"), True)],
    ],
    ids=["only-ca-certs", "other-partition", "delta-crl", "unknown-critical"],
)
def test_crl_that_does_not_cover_the_certificate_proves_nothing(tmp_path, extensions):
    # JPKI partitions sign CRLs by city (reference §11.1): "not listed" in a CRL whose scope
    # does not cover the certificate must never become revocation-checked.
    root = make_root()
    ee = make_ee(root, serial=0x99)
    crl = tmp_path / "partial.crl"
    crl.write_bytes(make_crl(root, [], extensions=extensions))
    with pytest.raises(RevocationUnavailableError) as ei:
        validate_certificate(ee, store_of(root), purpose=Purpose.SIGN, at=AT,
                             revocation=RevocationSource.crl_file(crl))
    assert ei.value.code is ErrorCode.REVOCATION_UNAVAILABLE


def test_crl_of_the_certificates_own_partition_is_used(tmp_path):
    root = make_root()
    ee = make_ee(root, serial=0x99)
    crl = tmp_path / "user-certs.crl"
    idp = cx509.IssuingDistributionPoint(
        full_name=None, relative_name=None, only_contains_user_certs=True,
        only_contains_ca_certs=False, only_some_reasons=None, indirect_crl=False,
        only_contains_attribute_certs=False)
    crl.write_bytes(make_crl(root, [0x99], extensions=[(idp, True)]))
    e = reject(ee, store_of(root), revocation=RevocationSource.crl_file(crl))
    assert e.code is ErrorCode.CERT_REVOKED


def test_crl_from_foreign_issuer_or_url_fetcher(tmp_path):
    root, other = make_root(), make_root(rsa_key(9), serial=3)
    ee = make_ee(root)
    forged = make_crl(other, [])  # same DN, other key: signature must not verify
    calls = []

    def fetcher(url, *, body=None, content_type=None):
        calls.append(url)
        return forged

    with pytest.raises(RevocationUnavailableError):
        validate_certificate(ee, store_of(root), purpose=Purpose.SIGN, at=AT,
                             revocation=RevocationSource.crl_url("http://crl.test/x.crl"),
                             fetcher=fetcher)
    assert calls == ["http://crl.test/x.crl"]


def test_ocsp_good_and_revoked():
    from cryptography.x509 import ocsp

    root = make_root()
    ee_der = make_ee(root)
    ee = cx509.load_der_x509_certificate(ee_der)

    def responder(status, next_update=datetime(2026, 11, 27, tzinfo=UTC)):
        def fetch(url, *, body=None, content_type=None):
            req = ocsp.load_der_ocsp_request(body)
            assert req.serial_number == ee.serial_number
            b = ocsp.OCSPResponseBuilder().add_response(
                cert=ee, issuer=root.cert, algorithm=hashes.SHA256(), cert_status=status,
                this_update=datetime(2026, 11, 25, tzinfo=UTC),
                next_update=next_update,
                revocation_time=(datetime(2026, 1, 1) if status == ocsp.OCSPCertStatus.REVOKED
                                 else None),
                revocation_reason=None,
            ).responder_id(ocsp.OCSPResponderEncoding.HASH, root.cert)
            from cryptography.hazmat.primitives.serialization import Encoding
            return b.sign(root.key, hashes.SHA256()).public_bytes(Encoding.DER)
        return fetch

    src = RevocationSource.ocsp_url("http://ocsp.test/")
    v = validate_certificate(ee_der, store_of(root), purpose=Purpose.SIGN, at=AT,
                             revocation=src, fetcher=responder(ocsp.OCSPCertStatus.GOOD))
    assert "revocation-checked" in v.assurance
    # Without nextUpdate an old "good" goes stale after MAX_OCSP_AGE (a replay proves nothing).
    v = validate_certificate(ee_der, store_of(root), purpose=Purpose.SIGN,
                             at=datetime(2026, 11, 25, 0, 30, tzinfo=UTC), revocation=src,
                             fetcher=responder(ocsp.OCSPCertStatus.GOOD, next_update=None))
    assert "revocation-checked" in v.assurance
    with pytest.raises(RevocationUnavailableError):
        validate_certificate(ee_der, store_of(root), purpose=Purpose.SIGN, at=AT, revocation=src,
                             fetcher=responder(ocsp.OCSPCertStatus.GOOD, next_update=None))
    e = reject(ee_der, store_of(root), revocation=src,
               fetcher=responder(ocsp.OCSPCertStatus.REVOKED))
    assert e.code is ErrorCode.CERT_REVOKED


def test_validation_inside_a_running_event_loop():
    import asyncio

    root = make_root()

    async def inside():
        return validate_certificate(make_ee(root), store_of(root), purpose=Purpose.SIGN, at=AT)

    assert asyncio.run(inside()).assurance == ["chain"]


def test_validator_is_spared_only_the_leaf_signature_already_verified(monkeypatch):
    """The leaf's signature under the chosen anchor is verified once (by us), not again by the
    validator; an RSASSA-PSS signature, and any bytes other than those verified, still go to
    the validator's own check, which still refuses a signature that does not fit."""
    from asn1crypto import x509 as ax509
    from cryptography.exceptions import InvalidSignature
    from pyhanko_certvalidator.sig_validate import DefaultSignatureValidator

    from agent.verification.verify import _LeafSignatureChecked

    checked: list[bytes] = []
    original = DefaultSignatureValidator.validate_signature

    def counting(self, signature, signed_data, *args, **kw):  # type: ignore[no-untyped-def]
        checked.append(signed_data)
        return original(self, signature, signed_data, *args, **kw)

    monkeypatch.setattr(DefaultSignatureValidator, "validate_signature", counting)
    root = make_root()
    validate_certificate(make_ee(root), store_of(root), purpose=Purpose.SIGN, at=AT)
    assert checked == []
    validate_certificate(make_ee(root, pss=True), store_of(root), purpose=Purpose.SIGN, at=AT)
    assert len(checked) == 1

    der = make_ee(root)
    cert = ax509.Certificate.load(der)
    spki = ax509.Certificate.load(root.der)["tbs_certificate"]["subject_public_key_info"]
    spared = _LeafSignatureChecked(cx509.load_der_x509_certificate(der),
                                   cert["signature_algorithm"].dump(), spki.dump())
    tbs = cert["tbs_certificate"].dump()
    spared.validate_signature(cert["signature_value"].native, tbs, spki,
                              cert["signature_algorithm"])
    assert len(checked) == 1
    other = make_ee(root, serial=0x4321)  # another leaf's bytes: checked, and they verify
    other_cert = ax509.Certificate.load(other)
    spared.validate_signature(other_cert["signature_value"].native,
                              other_cert["tbs_certificate"].dump(), spki,
                              other_cert["signature_algorithm"])
    assert len(checked) == 2
    with pytest.raises(InvalidSignature):  # this leaf's signature over the other's bytes
        spared.validate_signature(cert["signature_value"].native,
                                  other_cert["tbs_certificate"].dump(), spki,
                                  cert["signature_algorithm"])
