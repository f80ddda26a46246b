"""Revocation sources: a CRL (file or URL) or an OCSP responder, checked at an explicit time.

Design §1: the result says ``revocation-checked`` only when a current CRL signed by the
certificate's issuer did not list it, or an OCSP responder authorised by that issuer said
good. A CRL past its nextUpdate (or not yet current) at ``at`` is *stale*: we refuse with
REVOCATION_UNAVAILABLE rather than silently degrading to ``chain``, because an operator who
configured revocation expects it to happen. Without a configured source the result is
``chain`` and says so. Network access sits behind the small ``Fetcher`` protocol so tests
pass a local fake; the default uses urllib with a timeout and a size cap.
"""

from __future__ import annotations

import logging
import urllib.request
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Protocol

from cryptography import x509 as cx509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509 import ocsp

from agent.verification.errors import (
    CertificateRejectedError,
    RejectReason,
    RevocationUnavailableError,
)

logger = logging.getLogger(__name__)

MAX_REVOCATION_BYTES = 16 * 1024 * 1024
FETCH_TIMEOUT_S = 5.0
# An OCSP answer without nextUpdate is current only this long after its thisUpdate: otherwise an
# old "good" (replayed over plain http, where no nonce binds it) would never go stale.
MAX_OCSP_AGE = timedelta(hours=1)


class Fetcher(Protocol):
    def __call__(self, url: str, *, body: bytes | None = None,
                 content_type: str | None = None) -> bytes: ...


def urllib_fetcher(url: str, *, body: bytes | None = None,
                   content_type: str | None = None) -> bytes:
    """Fetch ``url`` (GET, or POST with ``body``) with a timeout and a size cap."""
    if not url.startswith(("http://", "https://")):
        raise RevocationUnavailableError("revocation URL must be http(s)")
    headers = {"Content-Type": content_type} if content_type else {}
    req = urllib.request.Request(url, data=body, headers=headers)  # noqa: S310 - scheme checked
    try:
        with urllib.request.urlopen(req, timeout=FETCH_TIMEOUT_S) as resp:  # noqa: S310
            data: bytes = resp.read(MAX_REVOCATION_BYTES + 1)
    except OSError as e:
        raise RevocationUnavailableError("revocation source unreachable") from e
    if len(data) > MAX_REVOCATION_BYTES:
        raise RevocationUnavailableError("revocation answer too large")
    return data


class RevocationNotApplicable(Exception):
    """The configured source is for another issuer (e.g. a sign-CA CRL and an auth cert)."""


class RevocationKind(StrEnum):
    CRL_FILE = "crl_file"
    CRL_URL = "crl_url"
    OCSP = "ocsp"


@dataclass(frozen=True, slots=True)
class RevocationSource:
    """Where revocation data comes from (config ``[trust] crl_file/crl_url/ocsp_url``)."""

    kind: RevocationKind
    location: str

    @classmethod
    def crl_file(cls, path: Path | str) -> RevocationSource:
        return cls(RevocationKind.CRL_FILE, str(path))

    @classmethod
    def crl_url(cls, url: str) -> RevocationSource:
        return cls(RevocationKind.CRL_URL, url)

    @classmethod
    def ocsp_url(cls, url: str) -> RevocationSource:
        return cls(RevocationKind.OCSP, url)


def _verify_signed_by(issuer: cx509.Certificate, signature: bytes, data: bytes,
                      hash_alg: hashes.HashAlgorithm | None) -> None:
    from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

    key = issuer.public_key()
    if hash_alg is None:
        raise InvalidSignature("no hash algorithm")
    if isinstance(key, rsa.RSAPublicKey):
        key.verify(signature, data, padding.PKCS1v15(), hash_alg)
    elif isinstance(key, ec.EllipticCurvePublicKey):
        key.verify(signature, data, ec.ECDSA(hash_alg))
    else:
        raise InvalidSignature("unsupported issuer key type")


def _check_crl_scope(crl: cx509.CertificateRevocationList, cert: cx509.Certificate) -> None:
    """Refuse a CRL that is not a complete CRL covering ``cert`` (RFC 5280 §5.2.4, §5.2.5, §6.3.3).

    JPKI partitions its sign CRLs by distribution point (reference §11.1: one per prefecture and
    city), so "not listed" in another partition's CRL, or in a delta CRL, proves nothing.
    """
    idp: cx509.IssuingDistributionPoint | None = None
    for ext in crl.extensions:
        if isinstance(ext.value, cx509.DeltaCRLIndicator):
            raise RevocationUnavailableError("CRL is a delta CRL, not a complete CRL")
        if isinstance(ext.value, cx509.IssuingDistributionPoint):
            idp = ext.value
        elif ext.critical:
            raise RevocationUnavailableError("CRL has an unknown critical extension")
    if idp is None:
        return
    if (idp.only_contains_ca_certs or idp.only_contains_attribute_certs
            or idp.only_some_reasons is not None or idp.indirect_crl):
        raise RevocationUnavailableError("CRL scope does not cover this certificate")
    if idp.full_name is None and idp.relative_name is None:
        return
    try:
        cdps = cert.extensions.get_extension_for_class(cx509.CRLDistributionPoints).value
    except cx509.ExtensionNotFound as e:
        raise RevocationUnavailableError("CRL is for a distribution point the certificate "
                                         "does not name") from e
    wanted = set(idp.full_name or [])
    for point in cdps:
        if wanted and wanted.intersection(point.full_name or []):
            return
        if idp.relative_name is not None and point.relative_name == idp.relative_name:
            return
    raise RevocationUnavailableError("CRL is for another distribution point")


def check_crl(crl_der: bytes, cert: cx509.Certificate, issuer: cx509.Certificate,
              at: datetime) -> None:
    """Check ``cert`` against ``crl_der`` at ``at``.

    :raises CertificateRejectedError: REVOKED when listed (revocation date ≤ at).
    :raises RevocationUnavailableError: bad/unsigned/stale CRL, or same DN but another key.
    :raises RevocationNotApplicable: the CRL names another issuer.
    """
    try:
        crl = (cx509.load_pem_x509_crl(crl_der) if crl_der.lstrip().startswith(b"-----")
               else cx509.load_der_x509_crl(crl_der))
    except ValueError as e:
        raise RevocationUnavailableError("CRL does not parse") from e
    if crl.issuer != issuer.subject:
        # Another CA's CRL (same-DN generations are caught by the signature check below).
        raise RevocationNotApplicable("CRL is from another issuer")
    try:
        ok = crl.is_signature_valid(issuer.public_key())  # type: ignore[arg-type]
    except (TypeError, ValueError):
        ok = False
    if not ok:
        raise RevocationUnavailableError("CRL signature does not verify with the issuer key")
    _check_crl_scope(crl, cert)
    at_utc = at.astimezone(tz=crl.last_update_utc.tzinfo)
    next_update = crl.next_update_utc
    if at_utc < crl.last_update_utc:
        raise RevocationUnavailableError("CRL is not yet current at the verification time")
    if next_update is None or at_utc > next_update:
        raise RevocationUnavailableError("CRL is stale (past nextUpdate)")
    entry = crl.get_revoked_certificate_by_serial_number(cert.serial_number)
    if entry is not None and entry.revocation_date_utc <= at_utc:
        raise CertificateRejectedError(RejectReason.REVOKED, "certificate is listed in the CRL")


def check_ocsp(url: str, cert: cx509.Certificate, issuer: cx509.Certificate, at: datetime,
               fetcher: Fetcher) -> None:
    """Ask the OCSP responder at ``url`` about ``cert``; return only when it says good."""
    req = ocsp.OCSPRequestBuilder().add_certificate(cert, issuer, hashes.SHA256()).build()
    raw = fetcher(url, body=req.public_bytes(Encoding.DER), content_type="application/ocsp-request")
    try:
        resp = ocsp.load_der_ocsp_response(raw)
    except ValueError as e:
        raise RevocationUnavailableError("OCSP answer does not parse") from e
    if resp.response_status != ocsp.OCSPResponseStatus.SUCCESSFUL:
        raise RevocationUnavailableError("OCSP responder refused")
    signer = issuer
    if resp.certificates:
        # Delegated responder: must be issued by the issuer and carry id-kp-OCSPSigning.
        delegate = resp.certificates[0]
        try:
            eku = delegate.extensions.get_extension_for_class(cx509.ExtendedKeyUsage).value
            delegate.verify_directly_issued_by(issuer)
        except (cx509.ExtensionNotFound, ValueError, TypeError, InvalidSignature) as e:
            raise RevocationUnavailableError("OCSP responder not authorised") from e
        if cx509.oid.ExtendedKeyUsageOID.OCSP_SIGNING not in eku:
            raise RevocationUnavailableError("OCSP responder not authorised")
        at_delegate = at.astimezone(tz=delegate.not_valid_after_utc.tzinfo)
        if not delegate.not_valid_before_utc <= at_delegate <= delegate.not_valid_after_utc:
            raise RevocationUnavailableError("OCSP responder certificate is not valid now")
        signer = delegate
    try:
        _verify_signed_by(signer, resp.signature, resp.tbs_response_bytes,
                          resp.signature_hash_algorithm)
    except InvalidSignature as e:
        raise RevocationUnavailableError("OCSP signature does not verify") from e
    if resp.serial_number != cert.serial_number:
        raise RevocationUnavailableError("OCSP answer is about another certificate")
    at_utc = at.astimezone(tz=resp.this_update_utc.tzinfo)
    expires = resp.next_update_utc or resp.this_update_utc + MAX_OCSP_AGE
    if at_utc < resp.this_update_utc or at_utc > expires:
        raise RevocationUnavailableError("OCSP answer is not current")
    if resp.certificate_status == ocsp.OCSPCertStatus.REVOKED:
        raise CertificateRejectedError(RejectReason.REVOKED, "OCSP says revoked")
    if resp.certificate_status != ocsp.OCSPCertStatus.GOOD:
        raise RevocationUnavailableError("OCSP status unknown")


def check_revocation(source: RevocationSource, cert_der: bytes, issuer_der: bytes,
                     at: datetime, fetcher: Fetcher = urllib_fetcher) -> None:
    """Run one revocation check; returns only when the certificate is known good at ``at``."""
    cert = cx509.load_der_x509_certificate(cert_der)
    issuer = cx509.load_der_x509_certificate(issuer_der)
    if source.kind is RevocationKind.CRL_FILE:
        try:
            with open(source.location, "rb") as f:
                data = f.read(MAX_REVOCATION_BYTES + 1)
        except OSError as e:
            raise RevocationUnavailableError("CRL file unreadable") from e
        if len(data) > MAX_REVOCATION_BYTES:
            raise RevocationUnavailableError("CRL file too large")
        check_crl(data, cert, issuer, at)
    elif source.kind is RevocationKind.CRL_URL:
        check_crl(fetcher(source.location), cert, issuer, at)
    else:
        check_ocsp(source.location, cert, issuer, at, fetcher)
    logger.info("revocation checked (%s): good", source.kind)
