"""RFC 5280 strictness and typed rejections for inputs a differential run found mishandled.

Each case is a shape a hostile card (or a careless CA) can produce: same-name CRLs spelled
differently, signatures that do not fit the issuer's key, duplicated extensions, and the
next J-LIS root generation (same DN, another algorithm) with and without an AKI.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from cryptography import x509 as cx509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding
from cryptography.x509 import DirectoryName, UniformResourceIdentifier

from agent.verification.errors import (
    CertificateRejectedError,
    ErrorCode,
    PossessionError,
    RejectReason,
    RevocationUnavailableError,
)
from agent.verification.revocation import RevocationSource
from agent.verification.trust import Purpose, TrustAnchor, TrustMode, TrustStore
from agent.verification.verify import validate_certificate, verify_challenge_signature
from tests.support.pki import (
    AT,
    ec_key,
    make_crl,
    make_ee,
    make_root,
    resign,
    resign_crl,
    root_name,
    rsa_key,
    two_person_certificate,
)


def store_of(*roots) -> TrustStore:
    return TrustStore(TrustMode.TEST, tuple(TrustAnchor(r.der, "test", None, True) for r in roots))


def validate(der, store, tmp_path=None, crl: bytes | None = None):
    revocation = None
    if crl is not None:
        path = tmp_path / "x.crl"
        path.write_bytes(crl)
        revocation = RevocationSource.crl_file(path)
    return validate_certificate(der, store, purpose=Purpose.SIGN, at=AT, revocation=revocation)


def rejected(*args, **kw) -> CertificateRejectedError:
    with pytest.raises(CertificateRejectedError) as ei:
        validate(*args, **kw)
    return ei.value


def unavailable(*args, **kw) -> str:
    with pytest.raises(RevocationUnavailableError) as ei:
        validate(*args, **kw)
    return str(ei.value)


@pytest.mark.parametrize("name", [root_name(o="jpki-test"), root_name(o="JPKI-TEST  "),
                                  root_name(ou="JPKI  FOR digital signature"),
                                  root_name(o="ＪＰＫＩ-TEST")],
                         ids=["lower-case", "trailing-spaces", "inner-spaces-and-case",
                              "full-width"])
def test_crl_issuer_matched_per_rfc5280_7_1(tmp_path, name):
    root = make_root()
    ee = make_ee(root, serial=0x99)
    crl = make_crl(root, [0x99], issuer_name=name)
    assert rejected(ee, store_of(root), tmp_path, crl).reason is RejectReason.REVOKED


def test_crl_of_unknown_issuer_fails_closed(tmp_path):
    root, stranger = make_root(), make_root(rsa_key(9), name=root_name(o="Elsewhere"))
    crl = make_crl(stranger, [])
    assert "attributed" in unavailable(make_ee(root), store_of(root), tmp_path, crl)


def test_crl_of_another_trusted_ca_is_not_applicable(tmp_path):
    sign, auth = make_root(), make_root(rsa_key(9), name=root_name("JPKI for user auth"))
    v = validate(make_ee(sign), store_of(sign, auth), tmp_path, make_crl(auth, [0x1234]))
    assert v.assurance == ["chain"]


def test_crl_same_name_other_key_fails_closed(tmp_path):
    root, other = make_root(), make_root(rsa_key(9), serial=3)
    crl = make_crl(other, [], issuer_name=root_name(o="jpki-test"))
    assert "signature" in unavailable(make_ee(root), store_of(root), tmp_path, crl)


def test_sha1_signed_crl_says_sha1(tmp_path):
    root = make_root()
    crl = resign_crl(make_crl(root, []), root.key)
    assert "SHA-1" in unavailable(make_ee(root), store_of(root), tmp_path, crl)


def test_unknown_critical_crl_entry_extension_makes_the_crl_unusable(tmp_path):
    root = make_root()
    ext = cx509.UnrecognizedExtension(cx509.ObjectIdentifier("1.2.3.4"), b"\x05\x00")
    crl = make_crl(root, [0x77], entry_extensions=[(ext, True)])
    assert "entry" in unavailable(make_ee(root), store_of(root), tmp_path, crl)


def _idp(*names) -> cx509.IssuingDistributionPoint:
    return cx509.IssuingDistributionPoint(list(names), None, False, False, None, False, False)


def _cdp(*names) -> cx509.CRLDistributionPoints:
    return cx509.CRLDistributionPoints([cx509.DistributionPoint(list(names), None, None, None)])


@pytest.mark.parametrize(
    ("in_cert", "in_crl"),
    [(DirectoryName(root_name(ou="Chiyoda-ku")), DirectoryName(root_name(ou="CHIYODA-KU"))),
     (UniformResourceIdentifier("http://crl.test/a.crl"),
      UniformResourceIdentifier("HTTP://CRL.Test/a.crl"))],
    ids=["directory-name", "uri-scheme-host"])
def test_distribution_point_names_matched_like_names(tmp_path, in_cert, in_crl):
    root = make_root()
    ee = make_ee(root, serial=0x99, extra_exts=[(_cdp(in_cert), False)])
    crl = make_crl(root, [0x99], extensions=[(_idp(in_crl), True)])
    assert rejected(ee, store_of(root), tmp_path, crl).reason is RejectReason.REVOKED


def test_uri_path_stays_case_sensitive(tmp_path):
    root = make_root()
    ee = make_ee(root, extra_exts=[(_cdp(UniformResourceIdentifier("http://c/a.crl")), False)])
    crl = make_crl(root, [], extensions=[(_idp(UniformResourceIdentifier("http://c/A.crl")),
                                          True)])
    assert "distribution point" in unavailable(ee, store_of(root), tmp_path, crl)


def _set_serial(value: int):
    def mutate(tbs):
        tbs["serial_number"] = value
    return mutate


# cryptography only warns about such serials today (an error in a later release): the check
# must be ours, not a side effect of the warnings filter of the test run.
@pytest.mark.filterwarnings("ignore::cryptography.utils.CryptographyDeprecationWarning")
@pytest.mark.parametrize("serial", [-5, 0])
def test_non_positive_serial_is_malformed_even_with_a_crl(tmp_path, serial):
    root = make_root()
    ee = resign(make_ee(root), root.key, _set_serial(serial))
    e = rejected(ee, store_of(root), tmp_path, make_crl(root, []))
    assert (e.code, e.reason) == (ErrorCode.CERT_MALFORMED, RejectReason.MALFORMED)
    assert "serial" in str(e)


def _ed25519_root():
    return make_root(ed25519.Ed25519PrivateKey.generate())


@pytest.mark.parametrize("aki", [True, False], ids=["aki", "no-aki"])
@pytest.mark.parametrize(
    ("root_of", "signer"),
    [(make_root, lambda: ec_key(0)), (lambda: make_root(ec_key(0)), lambda: rsa_key(0)),
     (_ed25519_root, lambda: rsa_key(0))],
    ids=["ecdsa-under-rsa", "rsa-under-ecdsa", "rsa-under-ed25519"])
def test_signature_algorithm_that_does_not_fit_the_issuer_key(root_of, signer, aki):
    root = root_of()
    e = rejected(make_ee(root, signer=signer(), aki=aki), store_of(root))
    assert (e.code, e.reason) == (ErrorCode.CERT_INVALID, RejectReason.ALGORITHM)


@pytest.mark.parametrize("aki", [True, False], ids=["aki", "no-aki"])
@pytest.mark.parametrize("rsa_first", [True, False], ids=["rsa-first", "p384-first"])
@pytest.mark.parametrize("issued_by", ["rsa", "p384"])
def test_next_root_generation_same_dn_other_algorithm(issued_by, rsa_first, aki):
    # J-LIS keeps one DN across root generations (reference §11.2): today RSA, tomorrow P-384.
    today, tomorrow = make_root(rsa_key(0), serial=1), make_root(ec_key(0), serial=2)
    roots = (today, tomorrow) if rsa_first else (tomorrow, today)
    issuer = today if issued_by == "rsa" else tomorrow
    v = validate(make_ee(issuer, aki=aki), store_of(*roots))
    assert v.anchor.der == issuer.der


def _duplicate_last_extension(tbs):
    exts = list(tbs["extensions"])
    tbs["extensions"] = [*exts, exts[-1]]


def test_duplicate_extension_with_partitioned_crl_is_typed(tmp_path):
    root = make_root()
    dp = UniformResourceIdentifier("http://crl.test/a.crl")
    ee = resign(make_ee(root, extra_exts=[(_cdp(dp), False)]), root.key,
                _duplicate_last_extension)
    e = rejected(ee, store_of(root), tmp_path, make_crl(root, [], extensions=[(_idp(dp), True)]))
    assert e.reason is RejectReason.DUPLICATE_EXTENSION


def test_two_subject_alt_names_are_refused():
    # Two people in one certificate: the validator used to report the second one.
    root = make_root()
    ee = two_person_certificate(root)
    assert rejected(ee, store_of(root)).reason is RejectReason.DUPLICATE_EXTENSION


def test_inner_signature_algorithm_must_equal_outer():
    root = make_root()

    def mutate(tbs):
        tbs["signature"] = {"algorithm": "sha384_rsa"}
    e = rejected(resign(make_ee(root), root.key, mutate), store_of(root))
    assert e.reason is RejectReason.ALGORITHM


@pytest.mark.parametrize("version", ["v1", "v2"])
def test_extensions_need_v3(version):
    root = make_root()

    def mutate(tbs):
        tbs["version"] = version
    e = rejected(resign(make_ee(root), root.key, mutate), store_of(root))
    assert (e.code, e.reason) == (ErrorCode.CERT_MALFORMED, RejectReason.MALFORMED)


@pytest.mark.parametrize(("window", "reason"), [
    ({"not_after": AT - timedelta(seconds=1)}, RejectReason.EXPIRED),
    ({"not_before": AT + timedelta(seconds=1)}, RejectReason.NOT_YET_VALID),
], ids=["one-second-after-not-after", "one-second-before-not-before"])
def test_no_validity_tolerance(window, reason):
    root = make_root()
    assert rejected(make_ee(root, **window), store_of(root)).reason is reason


def test_validity_bounds_are_inclusive():
    root = make_root()
    validate(make_ee(root, not_after=AT), store_of(root))
    validate(make_ee(root, not_before=AT), store_of(root))


@pytest.mark.parametrize(("bounds", "reason"), [
    ({"not_after": AT - timedelta(days=1), "not_before": datetime(2015, 1, 1, tzinfo=UTC)},
     RejectReason.EXPIRED),
    ({"not_before": AT + timedelta(days=1)}, RejectReason.NOT_YET_VALID),
], ids=["expired-anchor", "future-anchor"])
def test_anchor_validity_is_checked(bounds, reason):
    root = make_root(**bounds)
    ee = make_ee(root, not_before=AT - timedelta(days=30), not_after=AT + timedelta(days=30))
    assert rejected(ee, store_of(root)).reason is reason


@pytest.mark.parametrize("key", [lambda: rsa_key(5, 1024),
                                 lambda: ec.generate_private_key(ec.SECP224R1())],
                         ids=["rsa-1024", "p-224"])
def test_possession_key_minimum_size(key):
    root = make_root()
    e = rejected(make_ee(root, key()), store_of(root))
    assert (e.code, e.reason) == (ErrorCode.CERT_INVALID, RejectReason.WEAK_KEY)


def test_p256_possession_key_is_enough():
    root = make_root()
    validate(make_ee(root, ec.generate_private_key(ec.SECP256R1())), store_of(root))


@pytest.mark.parametrize("key", [lambda: rsa_key(5, 1024),
                                 lambda: ec.generate_private_key(ec.SECP224R1())],
                         ids=["rsa-1024", "p-224"])
def test_small_card_key_proves_no_possession_even_with_a_good_signature(key):
    # The face/number flows take the AP key from a TLV record, not from a certificate.
    private = key()
    challenge = b"\x01" * 40
    if isinstance(private, ec.EllipticCurvePrivateKey):
        signature = private.sign(challenge, ec.ECDSA(hashes.SHA256()))
    else:
        signature = private.sign(challenge, padding.PKCS1v15(), hashes.SHA256())
    with pytest.raises(PossessionError, match="too small"):
        verify_challenge_signature(private.public_key(), challenge, signature)
