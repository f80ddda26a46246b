"""What path validation keeps between calls (per thread: the anchor's parsed certificate, its
public key and certvalidator's trust manager, keyed by the anchor's DER; one event loop; per
process: the last CRL verified for an issuer, keyed by its exact bytes; the RFC 4518 preparation
of name values, keyed by their text; the RFC 5280 §7.1 comparison form of whole names, keyed
by their DER; whether two names match, keyed by both DERs) never lets a bad certificate through
after a good one from the same issuer: time, the leaf's own checks and the revocation status
stay per call."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest

from agent.verification.errors import ErrorCode, RejectReason, RevocationUnavailableError
from agent.verification.revocation import RevocationSource, same_name
from agent.verification.trust import Purpose
from agent.verification.verify import validate_certificate
from tests.agent.test_verify import reject, store_of
from tests.support.pki import AT, EE_TO, make_crl, make_ee, make_root, root_name, rsa_key


def warm(der: bytes, store, **kw) -> None:
    """Validate a good certificate first, so everything reusable is in this thread's cache."""
    validate_certificate(der, store, purpose=Purpose.SIGN, at=AT, **kw)


def test_certificate_expired_at_the_record_time_after_a_good_one():
    root = make_root()
    store = store_of(root)
    good = make_ee(root)
    warm(good, store)
    expired = make_ee(root, serial=0x77, not_after=AT - timedelta(days=1))
    assert reject(expired, store).reason is RejectReason.EXPIRED
    # The very certificate that just validated, at a time past its notAfter.
    assert reject(good, store, at=EE_TO + timedelta(seconds=1)).reason is RejectReason.EXPIRED
    assert reject(good, store, at=EE_TO - timedelta(days=3650)).reason \
        is RejectReason.NOT_YET_VALID


def test_anchor_expired_at_the_record_time_after_a_good_validation():
    root = make_root(rsa_key(11), not_after=AT + timedelta(days=1), serial=11)
    store = store_of(root)
    good = make_ee(root)
    warm(good, store)
    assert reject(good, store, at=AT + timedelta(days=2)).reason is RejectReason.EXPIRED


def test_certificate_of_another_root_with_the_same_name_after_a_good_one():
    root, other = make_root(), make_root(rsa_key(9), serial=3)
    store = store_of(root)
    warm(make_ee(root), store)
    assert reject(make_ee(other), store).reason is RejectReason.UNTRUSTED_ROOT
    # And the other way round: the cached anchor is not consulted for a store without it.
    warm(make_ee(other), store_of(other))
    assert reject(make_ee(root), store_of(other)).reason is RejectReason.UNTRUSTED_ROOT


def test_issuer_name_one_letter_off_after_the_anchors_name_was_prepared():
    # Same key, same name length, one letter of one value different: only name matching can
    # refuse it, and it must, however the anchor's own values were remembered.
    root = make_root()
    store = store_of(root)
    warm(make_ee(root), store)
    off = make_root(name=root_name(ou="JPKI for digital signaturX"))
    assert reject(make_ee(off), store).reason is RejectReason.UNTRUSTED_ROOT
    for _ in range(2):  # the second time, both names' comparison forms are remembered
        assert not same_name(root.cert.subject.public_bytes(), off.cert.subject.public_bytes())
        # What RFC 5280 §7.1 lets differ (case, runs of inner spaces) still matches.
        assert same_name(root_name(ou="JPKI for  digital signature").public_bytes(),
                         root_name(ou="jpki FOR digital SIGNATURE").public_bytes())


def test_remembered_name_matches_are_asn1cryptos_in_both_orders():
    """Every pair of a set of names that match and do not match (case, inner spaces, one letter,
    another order, another attribute type, one attribute fewer), in both orders, asked twice:
    the remembered answer is asn1crypto's own."""
    from asn1crypto import x509 as ax509
    from cryptography import x509 as cx509
    from cryptography.x509.oid import NameOID

    original = ax509.RDNSequence.__eq__.original  # type: ignore[attr-defined]
    variants = [root_name(), root_name(ou="JPKI for  digital signature"),
                root_name(ou="jpki FOR digital SIGNATURE"),
                root_name(ou="JPKI for digital signaturX"), root_name(o="JPKI-TESU"),
                cx509.Name(list(reversed(list(root_name())))),
                cx509.Name([cx509.NameAttribute(NameOID.COUNTRY_NAME, "JP")]),
                cx509.Name([cx509.NameAttribute(NameOID.LOCALITY_NAME, "JP")])]
    names = [ax509.Name.load(v.public_bytes()) for v in variants]
    answers = set()
    for _ in range(2):
        for a in names:
            for b in names:
                expected = bool(original(ax509.Name.load(a.dump()).chosen,
                                         ax509.Name.load(b.dump()).chosen))
                assert (a == b) is expected and (a != b) is not expected
                answers.add(expected)
    assert answers == {True, False}


def test_tampered_leaf_after_a_good_one_with_the_same_issuer():
    root = make_root()
    store = store_of(root)
    good = make_ee(root)
    warm(good, store)
    tampered = bytearray(good)
    tampered[-5] ^= 0x01  # inside the signature value
    assert reject(bytes(tampered), store).reason is RejectReason.UNTRUSTED_ROOT
    forged = make_ee(root, serial=0x66, signer=rsa_key(5))  # issuer's name, another key
    assert reject(forged, store).reason is RejectReason.UNTRUSTED_ROOT


def test_revoked_after_a_good_one_and_a_replaced_crl_is_read(tmp_path):
    root = make_root()
    store = store_of(root)
    crl = tmp_path / "ca.crl"
    crl.write_bytes(make_crl(root, []))
    source = RevocationSource.crl_file(crl)
    warm(make_ee(root, serial=0x99), store, revocation=source)
    assert reject(make_ee(root, serial=0x55), store, revocation=RevocationSource.crl_file(
        _write(tmp_path / "other.crl", make_crl(root, [0x55])))).code is ErrorCode.CERT_REVOKED
    crl.write_bytes(make_crl(root, [0x99]))  # the operator revokes it: the next check sees it
    assert reject(make_ee(root, serial=0x99), store, revocation=source).code \
        is ErrorCode.CERT_REVOKED


def _write(path, data: bytes):
    path.write_bytes(data)
    return path


def test_validation_in_a_thread_that_ends_leaves_no_open_loop():
    # pytest turns an unclosed event loop's ResourceWarning into a failure (filterwarnings).
    root = make_root()
    errors: list[BaseException] = []

    def run() -> None:
        try:
            warm(make_ee(root), store_of(root))
        except BaseException as e:  # noqa: BLE001 - handed to the test thread
            errors.append(e)

    threads = [threading.Thread(target=run) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors


def test_purpose_checks_stay_per_call():
    root = make_root()
    store = store_of(root)
    sign = make_ee(root)
    validate_certificate(sign, store, purpose=Purpose.SIGN, at=AT)
    assert reject(sign, store, purpose=Purpose.AUTH).reason is RejectReason.POLICY


# ---- a CRL verified once: the same bytes skip only its parse and signature check ------------

def test_same_crl_bytes_still_decide_per_certificate_and_per_time(tmp_path):
    root = make_root()
    store = store_of(root)
    source = RevocationSource.crl_file(_write(tmp_path / "ca.crl", make_crl(root, [0x55])))
    warm(make_ee(root, serial=0x99), store, revocation=source)
    assert reject(make_ee(root, serial=0x55), store, revocation=source).code \
        is ErrorCode.CERT_REVOKED
    with pytest.raises(RevocationUnavailableError):  # past the CRL's nextUpdate
        validate_certificate(make_ee(root, serial=0x99), store, purpose=Purpose.SIGN,
                             at=AT + timedelta(days=400), revocation=source)


def test_a_forged_crl_after_a_verified_one_is_checked_in_full(tmp_path):
    root, other = make_root(), make_root(rsa_key(9), serial=3)
    store = store_of(root)
    crl = tmp_path / "ca.crl"
    crl.write_bytes(make_crl(root, []))
    source = RevocationSource.crl_file(crl)
    warm(make_ee(root), store, revocation=source)
    crl.write_bytes(make_crl(other, []))  # same issuer name, another key
    with pytest.raises(RevocationUnavailableError):
        validate_certificate(make_ee(root), store, purpose=Purpose.SIGN, at=AT,
                             revocation=source)
    # the root's verified CRL says nothing for the other root's certificates
    crl.write_bytes(make_crl(root, []))
    warm(make_ee(root), store, revocation=source)
    with pytest.raises(RevocationUnavailableError):
        validate_certificate(make_ee(other), store_of(other), purpose=Purpose.SIGN, at=AT,
                             revocation=source)
