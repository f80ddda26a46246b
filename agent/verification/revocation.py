"""Revocation sources: a CRL (file or URL) or an OCSP responder, checked at an explicit time.

Design §1: the result says ``revocation-checked`` only when a current CRL signed by the
certificate's issuer did not list it, or an OCSP responder authorised by that issuer said
good. A CRL past its nextUpdate (or not yet current) at ``at`` is *stale*: we refuse with
REVOCATION_UNAVAILABLE rather than silently degrading to ``chain``, because an operator who
configured revocation expects it to happen. Without a configured source the result is
``chain`` and says so.

Which CRL belongs to which CA (RFC 5280 §6.3.3): the CRL's issuer must be the certificate's
issuer under the name matching of RFC 5280 §7.1 (asn1crypto's ``Name`` equality: case,
insignificant spaces and NFKC folded, so ``jpki-test`` is ``JPKI-TEST``) *and* the CRL must
verify with that issuer's key. A configured CRL that cannot be attributed that way fails
closed (REVOCATION_UNAVAILABLE). The one exception is a CRL provably from *another* CA we
also trust (its name is that anchor's and its signature verifies with that anchor's key),
for example the sign CA's CRL during the auth flow: it says nothing about this certificate,
so the result stays ``chain`` and says so. Deployments that run a flow whose CA is not in
the store must therefore configure that CA's CRL, or none.

Network access sits behind the small ``Fetcher`` protocol so tests pass a local fake; the
default uses urllib with a timeout and a size cap.
"""

from __future__ import annotations

import logging
import threading
import urllib.request
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Protocol

from asn1crypto import x509 as ax509
from cryptography import x509 as cx509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
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
    """The configured CRL is provably another trusted CA's (e.g. the sign CA's, auth cert)."""


# CRL entry extensions we understand (RFC 5280 §5.3). certificateIssuer is known but only
# meaningful in indirect CRLs, which _check_crl_scope already refuses.
_KNOWN_ENTRY_EXTENSIONS = frozenset({
    cx509.oid.CRLEntryExtensionOID.CRL_REASON,
    cx509.oid.CRLEntryExtensionOID.INVALIDITY_DATE,
})


def names_match(a: cx509.Name, b: cx509.Name) -> bool:
    """RFC 5280 §7.1 name matching (RFC 4518 preparation), via asn1crypto's ``Name``."""
    return same_name(a.public_bytes(), b.public_bytes())


def same_name(a_der: bytes, b_der: bytes) -> bool:
    """Two DER names are the same name (RFC 5280 §7.1). Identical encodings are, at once; only
    names encoded differently pay for the string preparation, which costs more than the rest
    of a path validation."""
    return a_der == b_der or bool(ax509.Name.load(a_der) == ax509.Name.load(b_der))


def _general_names_match(a: cx509.GeneralName, b: cx509.GeneralName) -> bool:
    """Distribution point names: directory names per §7.1, URIs with scheme and host
    compared case-insensitively (RFC 5280 §7.4, RFC 3986 §6.2.2.1), anything else exactly."""
    if isinstance(a, cx509.DirectoryName) and isinstance(b, cx509.DirectoryName):
        return names_match(a.value, b.value)
    if isinstance(a, cx509.UniformResourceIdentifier) and isinstance(
            b, cx509.UniformResourceIdentifier):
        return _uri_key(a.value) == _uri_key(b.value)
    return a == b


def _uri_key(uri: str) -> tuple[str, str]:
    scheme, sep, rest = uri.partition("://")
    if not sep:
        return ("", uri)
    authority, slash, path = rest.partition("/")
    return (scheme.lower() + "://" + authority.lower(), slash + path)


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
    except cx509.DuplicateExtension as e:
        raise RevocationUnavailableError("certificate has a duplicated extension") from e
    wanted = list(idp.full_name or [])
    for point in cdps:
        if any(_general_names_match(w, g) for w in wanted for g in point.full_name or []):
            return
        if (idp.relative_name is not None and point.relative_name is not None
                and names_match(cx509.Name([idp.relative_name]),
                                cx509.Name([point.relative_name]))):
            return
    raise RevocationUnavailableError("CRL is for another distribution point")


def _check_crl_entries(crl: cx509.CertificateRevocationList) -> None:
    """Refuse the whole CRL when an entry carries a critical extension we do not understand:
    RFC 5280 §5.3 forbids using such a CRL to decide the status of any certificate."""
    for entry in crl:
        for ext in entry.extensions:
            if ext.critical and ext.oid not in _KNOWN_ENTRY_EXTENSIONS:
                raise RevocationUnavailableError(
                    "CRL entry has an unknown critical extension: CRL not usable")


def _signed_by(crl: cx509.CertificateRevocationList, issuer: cx509.Certificate) -> bool:
    try:
        return bool(crl.is_signature_valid(issuer.public_key()))  # type: ignore[arg-type]
    except (TypeError, ValueError, UnsupportedAlgorithm):
        return False


# The last CRL that was attributed to an issuer, signature-verified and found usable, by that
# issuer's DER: the same CRL bytes again skip only those CRL-level steps. Scope (per
# certificate), currency at the verification time and the serial lookup run on every call, and
# the CRL is still read (file or URL) every time, so a replaced CRL takes effect at once. A
# JPKI CRL is large (every revoked card of a CA), and parsing and verifying it per record is
# most of a receiver's work.
_verified_crls: dict[bytes, tuple[bytes, cx509.CertificateRevocationList]] = {}
_verified_crls_lock = threading.Lock()
MAX_VERIFIED_CRLS = 8


def check_crl(crl_der: bytes, cert: cx509.Certificate, issuer: cx509.Certificate,
              at: datetime, other_issuers: Iterable[cx509.Certificate] = ()) -> None:
    """Check ``cert`` against ``crl_der`` at ``at``.

    :raises CertificateRejectedError: REVOKED when listed (revocation date ≤ at).
    :raises RevocationUnavailableError: bad/unattributable/unusable/stale CRL.
    :raises RevocationNotApplicable: the CRL is provably one of ``other_issuers``'.
    """
    issuer_der = issuer.public_bytes(Encoding.DER)
    with _verified_crls_lock:
        known = _verified_crls.get(issuer_der)
    verified = known is not None and known[0] == crl_der  # the very bytes verified before
    if known is not None and verified:
        crl = known[1]
    else:
        try:
            crl = (cx509.load_pem_x509_crl(crl_der) if crl_der.lstrip().startswith(b"-----")
                   else cx509.load_der_x509_crl(crl_der))
        except ValueError as e:
            raise RevocationUnavailableError("CRL does not parse") from e
    try:
        if not verified:
            _check_crl_issuer(crl, issuer, other_issuers)
        _check_crl_scope(crl, cert)
        if not verified:
            _check_crl_entries(crl)
            with _verified_crls_lock:
                if len(_verified_crls) >= MAX_VERIFIED_CRLS:
                    _verified_crls.clear()
                _verified_crls[issuer_der] = (crl_der, crl)
        _check_crl_status(crl, cert, at)
    except (ValueError, TypeError, UnsupportedAlgorithm, cx509.DuplicateExtension) as e:
        # Lazily parsed parts of a hostile CRL (extensions, entries) fail only when read.
        raise RevocationUnavailableError("CRL content is not processable") from e


def _check_crl_issuer(crl: cx509.CertificateRevocationList, issuer: cx509.Certificate,
                      other_issuers: Iterable[cx509.Certificate]) -> None:
    if not names_match(crl.issuer, issuer.subject):
        if any(names_match(crl.issuer, o.subject) and _signed_by(crl, o)
               for o in other_issuers):
            raise RevocationNotApplicable("CRL is another trusted CA's")
        raise RevocationUnavailableError("CRL cannot be attributed to the certificate's issuer")
    if isinstance(crl.signature_hash_algorithm, hashes.SHA1):
        raise RevocationUnavailableError("CRL is signed with SHA-1, which is not accepted")
    if not _signed_by(crl, issuer):
        raise RevocationUnavailableError("CRL signature does not verify with the issuer key")


def _check_crl_status(crl: cx509.CertificateRevocationList, cert: cx509.Certificate,
                      at: datetime) -> None:
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
                     at: datetime, fetcher: Fetcher = urllib_fetcher,
                     other_issuers: Iterable[bytes] = ()) -> None:
    """Run one revocation check; returns only when the certificate is known good at ``at``.

    ``other_issuers`` are the other trusted CAs (DER): a CRL provably theirs is not applicable.
    """
    cert = cx509.load_der_x509_certificate(cert_der)
    issuer = cx509.load_der_x509_certificate(issuer_der)
    others = [cx509.load_der_x509_certificate(d) for d in other_issuers if d != issuer_der]
    if source.kind is RevocationKind.CRL_FILE:
        try:
            with open(source.location, "rb") as f:
                data = f.read(MAX_REVOCATION_BYTES + 1)
        except OSError as e:
            raise RevocationUnavailableError("CRL file unreadable") from e
        if len(data) > MAX_REVOCATION_BYTES:
            raise RevocationUnavailableError("CRL file too large")
        check_crl(data, cert, issuer, at, others)
    elif source.kind is RevocationKind.CRL_URL:
        check_crl(fetcher(source.location), cert, issuer, at, others)
    else:
        check_ocsp(source.location, cert, issuer, at, fetcher)
    logger.info("revocation checked (%s): good", source.kind)
