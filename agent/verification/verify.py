"""Certificate path validation and challenge-signature checks, always at an explicit time.

Path validation uses pyhanko-certvalidator (RFC 5280 path building and processing on
asn1crypto, offline by default, time given as ``moment``): signatures (RSA and ECDSA, any
key size), validity at ``at``, CA basicConstraints, policy processing, keyUsage. Path
building tries every anchor whose name matches and keeps the one whose key verifies, which
is what the J-LIS roots need (all generations share one DN, reference §11.2). Around it we
add the checks whose failure must have its own stable code: strict DER, unknown critical
extensions, EE policy OIDs (reference §11.1), anchor basicConstraints, and revocation from
``agent.verification.revocation``. This module never reads the clock.

Strictness beyond the validator (RFC 5280 MUSTs the validator lets through): an extension
may appear once (§4.2; two subjectAltNames would be two identities), tbsCertificate's
signature algorithm equals the outer one (§4.1.1.2), extensions only in v3 (§4.1.2.1), the
serial is positive (§4.1.2.2), no validity tolerance (the validator's default is 1 s), and the
trust anchor's own validity is checked at ``at`` (openssl does the same; RFC 5280 §6.1 leaves
it to the relying party, and a root past its notAfter is one J-LIS no longer stands behind).
The issuer among same-DN anchors is chosen here, by the key that verifies the signature, and
only that anchor is handed to the validator: a signature algorithm that does not fit an
anchor's key (ECDSA under RSA, RSA under Ed25519) then never reaches the validator, which
raised AssertionError/UnboundLocalError on such pairs instead of trying the next anchor.
The end-entity key is a possession key (challenge signatures): RSA below 2048 bits or a
curve below 256 bits is refused.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from asn1crypto import x509
from cryptography import x509 as cx509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, padding, rsa
from pyhanko_certvalidator import CertificateValidator, ValidationContext
from pyhanko_certvalidator import errors as cv_errors
from pyhanko_certvalidator.policy_decl import PKIXValidationParams
from pyhanko_certvalidator.registry import SimpleTrustManager
from pyhanko_certvalidator.sig_validate import (
    DEFAULT_VALIDATION_CONTEXT,
    DefaultSignatureValidator,
    SignatureValidationContext,
)
from pyhanko_certvalidator.validate import SUPPORTED_EXTENSIONS

from agent.verification import name_matching
from agent.verification.errors import CertificateRejectedError, PossessionError, RejectReason
from agent.verification.revocation import (
    Fetcher,
    RevocationNotApplicable,
    RevocationSource,
    check_revocation,
    same_name,
    urllib_fetcher,
)
from agent.verification.strict_decode import decode_every_field
from agent.verification.trust import Purpose, TrustAnchor, TrustStore
from card.ids import OID_POLICY_AUTH, OID_POLICY_SIGN, OID_POLICY_SIGN_TEST

logger = logging.getLogger(__name__)

MAX_CERT_BYTES = 16 * 1024
MIN_RSA_BITS = 2048
MIN_EC_BITS = 256

# Reference §11.1: production policy OIDs, and the JPKI-TEST form accepted only under test trust.
# The test form of the auth policy is not documented; by analogy with sign (…1.1.20 → …1.0.20)
# we accept …1.0.30 under test trust only.
OID_POLICY_AUTH_TEST = "1.2.392.200149.8.5.1.0.30"
POLICIES: dict[Purpose, tuple[frozenset[str], frozenset[str]]] = {
    Purpose.SIGN: (frozenset({OID_POLICY_SIGN}), frozenset({OID_POLICY_SIGN_TEST})),
    Purpose.AUTH: (frozenset({OID_POLICY_AUTH}), frozenset({OID_POLICY_AUTH_TEST})),
}
KEY_USAGE: dict[Purpose, set[str]] = {
    Purpose.SIGN: {"digital_signature", "non_repudiation"},
    Purpose.AUTH: {"digital_signature"},
}

name_matching.install()


class Assurance:
    CHAIN = "chain"
    REVOCATION_CHECKED = "revocation-checked"
    POSSESSION = "possession"
    RECORD_SIGNATURE = "record-signature"
    NOT_VERIFIED = "not-verified"


@dataclass(frozen=True, slots=True)
class ValidatedCertificate:
    """An end-entity certificate whose path validated at ``at``."""

    der: bytes
    anchor: TrustAnchor
    revocation_checked: bool
    at: datetime

    @property
    def certificate(self) -> x509.Certificate:
        return x509.Certificate.load(self.der)

    @property
    def serial_hex(self) -> str:
        return format(self.certificate.serial_number, "X")

    @property
    def not_after(self) -> datetime:
        return self.certificate.not_valid_after

    @property
    def assurance(self) -> list[str]:
        return [Assurance.CHAIN] + ([Assurance.REVOCATION_CHECKED] if self.revocation_checked
                                    else [])

    @property
    def test_trust(self) -> bool:
        return self.anchor.test_trust


class _ThreadLoop:
    """This thread's event loop for certvalidator's coroutines, closed when the thread's
    storage goes (thread end), so no loop is left unclosed. ``asyncio.run`` per certificate
    made and tore down a loop (selector, self-pipe, executor shutdown) each time."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()

    def __del__(self) -> None:
        self.loop.close()


class _PerThread(threading.local):
    """Work that is the same for every certificate under one anchor, done once per thread:
    asn1crypto and certvalidator objects parse lazily on first access and are not documented
    thread-safe, so no object here is shared between threads. Keyed by the anchor's exact DER
    bytes; nothing here depends on the verification time, the certificate being checked, or
    revocation, which stay per call."""

    def __init__(self) -> None:
        self.loop: _ThreadLoop | None = None
        self.anchor_certs: dict[bytes, x509.Certificate] = {}
        self.anchor_keys: dict[bytes, object] = {}
        self.trust_managers: dict[bytes, SimpleTrustManager] = {}


_per_thread = _PerThread()
MAX_CACHED_ANCHORS = 64  # anchors come from the trust store (pinned or configured), never cards


def _bounded(cache: dict[bytes, Any]) -> dict[bytes, Any]:
    if len(cache) >= MAX_CACHED_ANCHORS:
        cache.clear()
    return cache


def anchor_certificate(anchor: TrustAnchor) -> x509.Certificate:
    """The anchor's parsed certificate (this thread's copy, parsed once)."""
    cert = _per_thread.anchor_certs.get(anchor.der)
    if cert is None:
        cert = _bounded(_per_thread.anchor_certs)[anchor.der] = x509.Certificate.load(anchor.der)
    return cert


def _anchor_key(anchor: TrustAnchor) -> object | None:
    """The anchor's public key (cryptography), loaded once; None when it cannot be used."""
    if anchor.der not in _per_thread.anchor_keys:
        try:
            key: object | None = cx509.load_der_x509_certificate(anchor.der).public_key()
        except (ValueError, UnsupportedAlgorithm):
            key = None
        _bounded(_per_thread.anchor_keys)[anchor.der] = key
    return _per_thread.anchor_keys[anchor.der]


def _trust_manager(anchor: TrustAnchor) -> SimpleTrustManager:
    """certvalidator's view of one anchor (its name normalised, its key indexed), built once."""
    manager = _per_thread.trust_managers.get(anchor.der)
    if manager is None:
        manager = SimpleTrustManager.build(trust_roots=[anchor_certificate(anchor)])
        _bounded(_per_thread.trust_managers)[anchor.der] = manager
    return manager


def _run_sync(coro: Any) -> Any:
    """Run certvalidator's coroutine; in a thread when the caller already runs an event loop."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        if _per_thread.loop is None:
            _per_thread.loop = _ThreadLoop()
        return _per_thread.loop.loop.run_until_complete(coro)
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coro).result()


def parse_certificate(der: bytes) -> x509.Certificate:
    """Parse a DER certificate strictly (whole structure, no trailing bytes).

    :raises CertificateRejectedError: MALFORMED.
    """
    return _parse_both(der)[0]


def _parse_both(der: bytes) -> tuple[x509.Certificate, cx509.Certificate]:
    """``parse_certificate``, also handing back the second parser's certificate, so the
    validation that follows does not load the same DER again."""
    if not der or len(der) > MAX_CERT_BYTES:
        raise CertificateRejectedError(RejectReason.MALFORMED, "certificate size out of range")
    try:
        cert = x509.Certificate.load(der, strict=True)
        decode_every_field(cert)  # errors surface here, not inside the validator
        cert.critical_extensions  # noqa: B018
    except Exception as e:  # asn1crypto raises many types on garbage; all mean malformed
        raise CertificateRejectedError(RejectReason.MALFORMED, "certificate DER is malformed") \
            from e
    _check_structure(cert)
    try:
        crypto_cert = cx509.load_der_x509_certificate(der)  # an independent parser must agree
    except Exception as e:
        raise CertificateRejectedError(RejectReason.MALFORMED, "certificate DER is malformed") \
            from e
    return cert, crypto_cert


def _check_structure(cert: x509.Certificate) -> None:
    """RFC 5280 MUSTs that parsers and the validator let through."""
    tbs = cert["tbs_certificate"]
    oids = [ext["extn_id"].dotted for ext in tbs["extensions"]]
    if len(oids) != len(set(oids)):
        raise CertificateRejectedError(RejectReason.DUPLICATE_EXTENSION,
                                       "an extension appears more than once (RFC 5280 §4.2)")
    if oids and tbs["version"].native != "v3":
        raise CertificateRejectedError(RejectReason.MALFORMED,
                                       "extensions in a v1/v2 certificate (RFC 5280 §4.1.2.1)")
    if tbs["signature"].dump() != cert["signature_algorithm"].dump():
        raise CertificateRejectedError(
            RejectReason.ALGORITHM,
            "tbsCertificate.signature differs from signatureAlgorithm (RFC 5280 §4.1.1.2)")
    if tbs["serial_number"].native <= 0:
        raise CertificateRejectedError(RejectReason.MALFORMED,
                                       "serial number is not positive (RFC 5280 §4.1.2.2)")


def _check_key_size_of(key: object) -> None:
    if isinstance(key, rsa.RSAPublicKey) and key.key_size < MIN_RSA_BITS:
        raise CertificateRejectedError(RejectReason.WEAK_KEY,
                                       f"RSA key below {MIN_RSA_BITS} bits")
    if isinstance(key, ec.EllipticCurvePublicKey) and key.curve.key_size < MIN_EC_BITS:
        raise CertificateRejectedError(RejectReason.WEAK_KEY,
                                       f"elliptic curve below {MIN_EC_BITS} bits")


def _signature_verifies(cert: cx509.Certificate, issuer_key: object) -> bool | None:
    """True when ``issuer_key`` verifies ``cert``'s signature with the algorithm the
    certificate names, False when it does not, None when the algorithm does not fit the key."""
    try:
        params = cert.signature_algorithm_parameters
        signature, tbs = cert.signature, cert.tbs_certificate_bytes
        if isinstance(issuer_key, rsa.RSAPublicKey):
            hash_alg = cert.signature_hash_algorithm
            if not isinstance(params, (padding.PKCS1v15, padding.PSS)) or hash_alg is None:
                return None
            issuer_key.verify(signature, tbs, params, hash_alg)
        elif isinstance(issuer_key, ec.EllipticCurvePublicKey):
            if not isinstance(params, ec.ECDSA):
                return None
            issuer_key.verify(signature, tbs, params)
        elif isinstance(issuer_key, (ed25519.Ed25519PublicKey, ed448.Ed448PublicKey)):
            expected = (cx509.SignatureAlgorithmOID.ED25519
                        if isinstance(issuer_key, ed25519.Ed25519PublicKey)
                        else cx509.SignatureAlgorithmOID.ED448)
            if cert.signature_algorithm_oid != expected:
                return None
            issuer_key.verify(signature, tbs)
        else:
            return None
    except UnsupportedAlgorithm:
        return None
    except (InvalidSignature, ValueError, TypeError):
        return False
    return True


def _issuing_anchor(cert: x509.Certificate, crypto_cert: cx509.Certificate,
                    anchors: list[TrustAnchor]) -> TrustAnchor:
    """The anchor that issued ``cert``: name per RFC 5280 §7.1, then the key that verifies.

    Every same-DN anchor is tried (J-LIS root generations share one DN and may differ in
    algorithm), whether or not the certificate carries an authorityKeyIdentifier.
    """
    issuer = cert.issuer.dump()
    named = [a for a in anchors if same_name(anchor_certificate(a).subject.dump(), issuer)]
    if not named:
        raise CertificateRejectedError(RejectReason.UNTRUSTED_ROOT, "no path to a trusted root")
    outcomes: list[bool | None] = []
    for a in named:
        key = _anchor_key(a)
        if key is None:
            continue
        outcome = _signature_verifies(crypto_cert, key)
        if outcome:
            return a
        outcomes.append(outcome)
    if outcomes and all(o is None for o in outcomes):
        raise CertificateRejectedError(
            RejectReason.ALGORITHM, "signature algorithm does not fit the issuer's key")
    raise CertificateRejectedError(RejectReason.UNTRUSTED_ROOT,
                                   "no trusted root's key verifies the certificate signature")


class _LeafSignatureChecked(DefaultSignatureValidator):  # type: ignore[misc]
    """The validator's signature check, except for the one signature ``_issuing_anchor`` has just
    verified: the leaf's, over the same tbsCertificate bytes, with the same signature bytes,
    under the same anchor key and the algorithm the certificate names. The validator would
    verify exactly that again. Any other signature, and any RSASSA-PSS one (whose parameters the
    validator also holds against the key's), goes to the validator's own check."""

    def __init__(self, crypto_cert: cx509.Certificate, algorithm_der: bytes,
                 anchor_spki_der: bytes) -> None:
        self._checked = (crypto_cert.tbs_certificate_bytes, crypto_cert.signature,
                         anchor_spki_der, algorithm_der)

    def validate_signature(self, signature: bytes, signed_data: bytes, public_key_info: Any,
                           signature_algorithm: Any,
                           context: SignatureValidationContext = DEFAULT_VALIDATION_CONTEXT,
                           ) -> None:
        if (signature_algorithm.signature_algo != "rsassa_pss"
                and (signed_data, signature, public_key_info.dump(),
                     signature_algorithm.dump()) == self._checked):
            return
        super().validate_signature(signature, signed_data, public_key_info,
                                   signature_algorithm, context)


def _check_anchor_validity(anchor: TrustAnchor, at: datetime) -> None:
    validity = anchor_certificate(anchor)["tbs_certificate"]["validity"]
    if at < validity["not_before"].native:
        raise CertificateRejectedError(RejectReason.NOT_YET_VALID, "trust anchor not yet valid")
    if at > validity["not_after"].native:
        raise CertificateRejectedError(RejectReason.EXPIRED, "trust anchor expired")


def _policy_oids(cert: x509.Certificate) -> set[str]:
    value = cert.certificate_policies_value
    if value is None:
        return set()
    return {p["policy_identifier"].dotted for p in value}


def purpose_of(cert: x509.Certificate) -> Purpose:
    """The purpose a certificate is meant for: by its JPKI policy OID (reference §11.1), so a
    sign certificate that lacks nonRepudiation still validates as sign and is refused for
    key usage; by keyUsage only when no JPKI policy is present."""
    oids = _policy_oids(cert)
    for purpose, (production, test_only) in POLICIES.items():
        if oids & (production | test_only):
            return purpose
    ku = cert.key_usage_value
    return Purpose.SIGN if ku is not None and "non_repudiation" in ku.native else Purpose.AUTH


def _aware(at: datetime) -> datetime:
    if at.tzinfo is None:
        raise ValueError("'at' must be timezone-aware")
    return at.astimezone(UTC)


def validate_certificate(
    der: bytes,
    store: TrustStore,
    *,
    purpose: Purpose,
    at: datetime,
    revocation: RevocationSource | None = None,
    fetcher: Fetcher = urllib_fetcher,
) -> ValidatedCertificate:
    """Validate an end-entity JPKI certificate for ``purpose`` at time ``at``.

    :raises CertificateRejectedError: with a reason for every failed check.
    :raises RevocationUnavailableError: revocation configured but no current answer.
    """
    at = _aware(at)
    cert, crypto_cert = _parse_both(der)
    unknown = set(cert.critical_extensions) - SUPPORTED_EXTENSIONS
    if unknown:
        raise CertificateRejectedError(RejectReason.UNKNOWN_CRITICAL_EXTENSION,
                                       f"unknown critical extension(s): {sorted(unknown)}")
    bc = cert.basic_constraints_value
    if bc is not None and bc["ca"].native:
        raise CertificateRejectedError(RejectReason.BASIC_CONSTRAINTS,
                                       "end-entity certificate claims to be a CA")
    # keyUsage before policy, so a certificate of the other purpose reports KEY_USAGE.
    ku = cert.key_usage_value
    if ku is None or not KEY_USAGE[purpose] <= set(ku.native):
        raise CertificateRejectedError(RejectReason.KEY_USAGE,
                                       "key usage does not allow this purpose")
    production, test_only = POLICIES[purpose]
    accepted = production | (test_only if store.test_trust else frozenset())
    anchors = [a for a in store.anchors if a.purpose in (None, purpose)]
    if not anchors:
        raise CertificateRejectedError(RejectReason.UNTRUSTED_ROOT, "no trust anchor configured")
    for a in anchors:
        abc = anchor_certificate(a).basic_constraints_value
        if abc is None or not abc["ca"].native:
            raise CertificateRejectedError(RejectReason.BASIC_CONSTRAINTS,
                                           "trust anchor is not a CA")
    try:
        _check_key_size_of(crypto_cert.public_key())
    except (UnsupportedAlgorithm, ValueError) as e:
        raise CertificateRejectedError(RejectReason.MALFORMED,
                                       "certificate public key is not usable") from e
    chosen = _issuing_anchor(cert, crypto_cert, anchors)
    _check_anchor_validity(chosen, at)
    context = ValidationContext(
        trust_manager=_trust_manager(chosen),
        moment=at,
        time_tolerance=timedelta(0),  # RFC 5280 §4.1.2.5: validity is inclusive, no slack
        allow_fetching=False,
        # Revocation is ours (revocation.py), checked below. The validator holds no CRL and may
        # not fetch, so its "soft-fail" only looked for one in vain; "none" skips that search.
        revocation_mode="none",
        signature_validator=_LeafSignatureChecked(
            crypto_cert, cert["signature_algorithm"].dump(),
            anchor_certificate(chosen)["tbs_certificate"]["subject_public_key_info"].dump()),
    )
    params = PKIXValidationParams(user_initial_policy_set=frozenset(accepted),
                                  initial_explicit_policy=True)
    validator = CertificateValidator(cert, validation_context=context, pkix_params=params)
    try:
        path = _run_sync(validator.async_validate_usage(KEY_USAGE[purpose]))
    except cv_errors.ExpiredError as e:
        raise CertificateRejectedError(RejectReason.EXPIRED, "certificate expired") from e
    except cv_errors.NotYetValidError as e:
        raise CertificateRejectedError(RejectReason.NOT_YET_VALID,
                                       "certificate not yet valid") from e
    except cv_errors.RevokedError as e:
        raise CertificateRejectedError(RejectReason.REVOKED, "certificate revoked") from e
    except cv_errors.DisallowedAlgorithmError as e:
        raise CertificateRejectedError(RejectReason.ALGORITHM, "algorithm not allowed") from e
    except cv_errors.InvalidCertificateError as e:
        raise CertificateRejectedError(RejectReason.KEY_USAGE,
                                       "key usage does not allow this purpose") from e
    except cv_errors.PathBuildingError as e:
        raise CertificateRejectedError(RejectReason.UNTRUSTED_ROOT,
                                       "no path to a trusted root") from e
    except cv_errors.PathValidationError as e:
        msg = str(e).lower()
        reason = (RejectReason.SIGNATURE if "signature" in msg else
                  RejectReason.POLICY if "polic" in msg else
                  RejectReason.UNTRUSTED_ROOT if "trust" in msg else RejectReason.INVALID)
        raise CertificateRejectedError(reason, f"path validation failed: {reason}") from e
    except (ValueError, TypeError, KeyError) as e:
        raise CertificateRejectedError(RejectReason.MALFORMED, "certificate not processable") \
            from e
    except Exception as e:
        # The validator's own bugs on hostile input (AssertionError, UnboundLocalError, ...)
        # must still end as a typed rejection: a card must not be able to cause INTERNAL.
        logger.warning("path validator failed on this certificate: %s", type(e).__name__)
        raise CertificateRejectedError(RejectReason.INVALID,
                                       "path validation could not process the certificate") \
            from e
    # Policy after the path, so an untrusted certificate reports the trust failure first;
    # certvalidator already processed policies with initial_explicit_policy (RFC 5280 §6.1).
    if not (_policy_oids(cert) & accepted):
        raise CertificateRejectedError(RejectReason.POLICY, "certificate policy not accepted")
    root = path.trust_anchor.authority.certificate  # type: ignore[attr-defined]
    anchor = store.anchor_for(root.dump())
    if anchor is None:  # cannot happen: the context held only store anchors
        raise CertificateRejectedError(RejectReason.UNTRUSTED_ROOT, "anchor not in store")
    checked = False
    if revocation is not None:
        try:
            check_revocation(revocation, der, anchor.der, at, fetcher,
                             other_issuers=[a.der for a in store.anchors])
            checked = True
        except RevocationNotApplicable:
            logger.info("revocation source is another trusted CA's: chain only")
    logger.info("certificate path valid (generation %s, revocation %s)",
                anchor.generation, "checked" if checked else "not checked")
    return ValidatedCertificate(der, anchor, checked, at)


def verify_challenge_signature(public_key: object, challenge: bytes, signature: bytes) -> None:
    """Check that ``signature`` is the card's signature of DigestInfo(SHA-256(challenge)).

    RSA: PKCS#1 v1.5 over the SHA-256 DigestInfo (reference §7.4, §9.4). ECDSA (next-
    generation cards, reference §12): the hash is chosen by the curve size (P-384 → SHA-384)
    and the signature is DER (r, s). Keys below the possession minimum (RSA 2048 bits, curves
    256 bits) prove nothing even when the signature verifies: the 券面 AP keys arrive as bare
    TLVs, with no certificate check in front of this one.

    :raises PossessionError: POSSESSION_FAILED.
    """
    try:
        _check_key_size_of(public_key)
    except CertificateRejectedError as e:
        raise PossessionError(f"card key too small: {e}") from e
    try:
        if isinstance(public_key, rsa.RSAPublicKey):
            public_key.verify(signature, challenge, padding.PKCS1v15(), hashes.SHA256())
        elif isinstance(public_key, ec.EllipticCurvePublicKey):
            h = hashes.SHA384() if public_key.curve.key_size > 256 else hashes.SHA256()
            public_key.verify(signature, challenge, ec.ECDSA(h))
        else:
            raise PossessionError("unsupported key type for the challenge")
    except (InvalidSignature, UnsupportedAlgorithm, ValueError) as e:
        raise PossessionError("challenge signature does not verify") from e


def public_key_of(der: bytes) -> object:
    """The certificate's public key.

    :raises CertificateRejectedError: MALFORMED, also for a key type the library does not know
        (a card-supplied SPKI OID must not escape as ``UnsupportedAlgorithm``).
    """
    try:
        return cx509.load_der_x509_certificate(der).public_key()
    except (UnsupportedAlgorithm, ValueError) as e:
        raise CertificateRejectedError(RejectReason.MALFORMED,
                                       "certificate public key is not usable") from e
