"""The four verification flows (design §1): one tap, one credential, one ``Verdict``.

``run_flow`` goes from an open ``CardConnection`` + credential + time to a frozen ``Verdict``
whose ``to_json()`` is the verdict JSON of docs/architecture.md. PIN rules (design §1): the
credential's format is checked (sign password upper-cased) before any APDU; the retry counter
is read first; at one try left nothing is sent unless the configuration allows it and the
holder confirmed; a VERIFY is sent at most once and never resent (a transport error during it
ends the flow with CARD_REMOVED / TRANSPORT_ERROR: re-reading the counter is the caller's job).
Possession uses a fresh ``secrets`` challenge per tap. Exceptions raised by ``on_step`` (the
session's abort signal) propagate unchanged; everything else becomes a failed verdict.
"""

from __future__ import annotations

import base64
import hashlib
import inspect
import logging
import re
import secrets
import time
from collections.abc import Callable, Iterable, Mapping
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, Protocol

from asn1crypto import x509 as asn1_x509
from cryptography.hazmat.primitives.asymmetric import rsa

from agent.verification import cvc as cvc_mod
from agent.verification.errors import (
    CertificateRejectedError,
    ErrorCode,
    FlowError,
    RejectReason,
    VerificationError,
    error_code_for,
)
from agent.verification.face_text import read_face_text
from agent.verification.identity import era_for, identity_from_certificate, parse_sex
from agent.verification.revocation import Fetcher, RevocationSource, urllib_fetcher
from agent.verification.tap import PreparedTap, prepare_tap
from agent.verification.trust import PinnedCaCache, Purpose, TrustStore
from agent.verification.verify import (
    Assurance,
    public_key_of,
    validate_certificate,
    verify_challenge_signature,
)
from card.apps.input_helper import InputHelperApp, SignedKeyRecord
from card.apps.jpki import CertificateKind, JpkiApp, PinKind, digest_info, normalize_pin
from card.apps.surface import SurfaceApp, SurfaceKey
from card.errors import ApduError, CardError, InvalidPinError
from card.sw import SW
from card.transports import CardConnection

logger = logging.getLogger(__name__)

FLOWS = ("sign", "auth", "face", "number")
CHALLENGE_BYTES = 32
CARD_CHALLENGE_BYTES = 16  # §9.4: 00 84 00 00 10
StepCallback = Callable[..., None]


@dataclass(frozen=True, slots=True)
class FlowConfig:
    """Everything a flow needs besides the card, the credential and the time."""

    trust: TrustStore
    revocation: RevocationSource | None = None
    cvc_issuer_keys: tuple[rsa.RSAPublicKey, ...] = ()
    enabled_flows: frozenset[str] = frozenset({"sign", "auth", "face"})
    allow_last_try: bool = False
    fetcher: Fetcher = urllib_fetcher
    ca_cache: PinnedCaCache = field(default_factory=PinnedCaCache, compare=False)

    @classmethod
    def build(cls, *, trust_mode: str = "jlis", test_dir: str | Path | None = None,
              extra_roots: Iterable[str | Path] = (), ca_files: Iterable[str | Path] = (),
              crl_file: str | Path | None = None, crl_url: str | None = None,
              ocsp_url: str | None = None, cvc_issuer_keys: Iterable[str | Path] = (),
              enabled: Iterable[str] = ("sign", "auth", "face"),
              allow_last_try: bool = False) -> FlowConfig:
        """Build from plain values (TOML / CLI). In test mode with a test dir and no explicit
        revocation source, nothing is revoked-checked unless ``crl_file`` is given."""
        store = TrustStore.build(trust_mode, test_dir=test_dir or None,
                                 extra_roots=extra_roots, ca_files=ca_files)
        revocation = (RevocationSource.crl_file(crl_file) if crl_file else
                      RevocationSource.crl_url(crl_url) if crl_url else
                      RevocationSource.ocsp_url(ocsp_url) if ocsp_url else None)
        return cls(store, revocation, cvc_mod.load_issuer_keys(cvc_issuer_keys),
                   frozenset(enabled), allow_last_try)

    @classmethod
    def from_agent_config(cls, config: Any) -> FlowConfig:
        """Build from ``agent.service.config.AgentConfig`` (issue 4)."""
        t = config.trust
        return cls.build(trust_mode=t.mode, test_dir=t.test_dir or None,
                         extra_roots=t.extra_roots, crl_file=t.crl_file or None,
                         crl_url=t.crl_url or None, ocsp_url=t.ocsp_url or None,
                         cvc_issuer_keys=t.cvc_issuer_keys, enabled=config.flows.enabled,
                         allow_last_try=config.pin.allow_last_try)


@dataclass(frozen=True, slots=True)
class Verdict:
    """The result of one flow. ``identity`` is present only when ``ok``."""

    ok: bool
    flow: str
    assurance: tuple[str, ...] = ()
    test_trust: bool = False
    identity: dict[str, Any] | None = None
    certificate: dict[str, Any] | None = None
    error: dict[str, Any] | None = None
    timings_ms: dict[str, float] = field(default_factory=dict)
    certificate_der: bytes | None = field(default=None, repr=False)  # for the audit HMAC

    def to_json(self) -> dict[str, Any]:
        """The verdict JSON of design §3 / docs/architecture.md (a JSON-ready dict)."""
        return {
            "ok": self.ok, "flow": self.flow, "assurance": list(self.assurance),
            "test_trust": self.test_trust, "identity": self.identity,
            "certificate": self.certificate, "error": self.error,
            "timings_ms": dict(self.timings_ms),
        }

    def __repr__(self) -> str:
        code = self.error["code"] if self.error else None
        return (f"Verdict(ok={self.ok}, flow={self.flow!r}, assurance={self.assurance}, "
                f"error={code})")


class _CallbackAbort(Exception):
    def __init__(self, exc: BaseException) -> None:
        self.exc = exc


class _Steps:
    """Times named steps and reports them to ``on_step(name, status[, ms])``."""

    def __init__(self, on_step: StepCallback | None) -> None:
        self.timings: dict[str, float] = {}
        self._cb = on_step
        self._with_ms = False
        if on_step is not None:
            try:
                params = inspect.signature(on_step).parameters.values()
                positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY,
                                                               p.POSITIONAL_OR_KEYWORD)]
                self._with_ms = len(positional) >= 3 or any(
                    p.kind is p.VAR_POSITIONAL for p in params)
            except (TypeError, ValueError):
                self._with_ms = False

    def _emit(self, name: str, status: str, ms: float | None) -> None:
        if self._cb is None:
            return
        try:
            if self._with_ms:
                self._cb(name, status, ms)
            else:
                self._cb(name, status)
        except Exception as e:  # the caller's abort: carried out of run_flow unchanged
            raise _CallbackAbort(e) from e

    def run(self, name: str, fn: Callable[[], Any]) -> Any:
        self._emit(name, "running", None)
        start = time.perf_counter()
        try:
            result = fn()
        except _CallbackAbort:
            raise
        except BaseException:
            ms = round((time.perf_counter() - start) * 1000, 3)
            self.timings[name] = ms
            self._emit(name, "failed", ms)
            raise
        ms = round((time.perf_counter() - start) * 1000, 3)
        self.timings[name] = ms
        self._emit(name, "done", ms)
        return result


@dataclass(slots=True)
class _Outcome:
    assurance: list[str]
    test_trust: bool
    identity: dict[str, Any] | None
    certificate: dict[str, Any] | None = None
    certificate_der: bytes | None = None


def _check_tries(tries: int, config: FlowConfig, confirm_last_try: bool) -> None:
    """Design §1: blocked → PIN_BLOCKED; one left → refuse unless allowed and confirmed."""
    if tries <= 0:
        raise FlowError(ErrorCode.PIN_BLOCKED, "credential blocked", tries_left=0)
    if tries == 1 and not (config.allow_last_try and confirm_last_try):
        raise FlowError(ErrorCode.PIN_LAST_TRY_NEEDS_CONFIRMATION,
                        "only one try left: not sent without configuration and confirmation",
                        tries_left=1)


def _pin_format(check: Callable[[], Any]) -> Any:
    try:
        return check()
    except CardError as e:
        raise FlowError(ErrorCode.PIN_FORMAT, "credential format is wrong") from e


def _check_format(flow: str, credential: str) -> None:
    """Design §1: the credential's shape is checked before any APDU."""
    if flow in ("sign", "auth"):
        kind = PinKind.SIGN if flow == "sign" else PinKind.AUTH
        _pin_format(lambda: normalize_pin(kind, credential))
    elif flow == "face":
        _pin_format(lambda: SurfaceKey.MATCH_B.check(credential))
    elif not re.fullmatch(r"[0-9]{4}", credential):
        raise FlowError(ErrorCode.PIN_FORMAT, "credential format is wrong")


def _fresh_challenge() -> bytes:
    return secrets.token_bytes(CHALLENGE_BYTES)


class PossessionStatement(Protocol):
    """Lets the caller choose our part of the possession challenge (a statement naming the
    verification record) and learn what the card signed, so the proof can leave the kiosk."""

    def challenge(self, evidence: Mapping[str, bytes]) -> bytes: ...

    def signed(self, challenge: bytes, signature: bytes) -> None: ...


_statement: ContextVar[PossessionStatement | None] = ContextVar("possession_statement",
                                                                default=None)


def _possession_challenge(evidence: Mapping[str, bytes],
                          prove: Callable[[bytes], tuple[bytes, bytes]]) -> None:
    """Our part of the challenge (fresh, or the caller's statement over ``evidence``); ``prove``
    has the card sign it and checks the signature, returning (challenge, signature)."""
    hook = _statement.get()
    challenge, signature = prove(_fresh_challenge() if hook is None else
                                 hook.challenge(evidence))
    if hook is not None:
        hook.signed(challenge, signature)


def _certificate_json(validated: Any) -> dict[str, Any]:
    return {"serial": validated.serial_hex,
            "not_after": validated.not_after.astimezone(UTC).strftime(
                "%Y-%m-%dT%H:%M:%SZ"),
            "issuer_generation": validated.anchor.generation}


def _authority_key_id(cert_der: bytes) -> bytes | None:
    try:
        aki = asn1_x509.Certificate.load(cert_der).authority_key_identifier
    except Exception:  # noqa: BLE001 - malformed DER is validate_certificate's to report
        return None
    return aki if isinstance(aki, bytes) else None


def _store_with_card_ca(config: FlowConfig, purpose: Purpose, cert_der: bytes,
                        read_card_ca: Callable[[], bytes]) -> TrustStore:
    """The trust store for ``cert_der``, reading the card's CA copy only when needed.

    No read when an anchor already has the issuer's key id (test or operator roots) or a pinned
    CA with that key id was read from an earlier card (``PinnedCaCache``).
    """
    store = config.trust
    aki = _authority_key_id(cert_der)
    if aki is not None:
        if store.anchor_by_key_id(aki, purpose) is not None:
            return store
        cached = config.ca_cache.get(aki)
        if cached is not None:
            return store.with_ca(cached)
    ca_der = read_card_ca()
    try:
        store = store.with_ca(ca_der)
    except CertificateRejectedError:
        # The card's CA copy proves nothing unless pinned (reference §11.2); with anchors
        # configured we still validate against them, otherwise there is nothing to trust.
        if not [a for a in store.anchors if a.purpose in (None, purpose)]:
            raise
        logger.info("card CA certificate is not pinned; using configured anchors only")
        return store
    config.ca_cache.remember(ca_der)
    return store


def _jpki_flow(purpose: Purpose, tap: PreparedTap, credential: str, at: datetime,
               config: FlowConfig, confirm: bool, steps: _Steps) -> _Outcome:
    kind = PinKind.SIGN if purpose is Purpose.SIGN else PinKind.AUTH
    cert_kind = CertificateKind.SIGN if purpose is Purpose.SIGN else CertificateKind.AUTH
    ca_kind = CertificateKind.SIGN_CA if purpose is Purpose.SIGN else CertificateKind.AUTH_CA
    pin = _pin_format(lambda: normalize_pin(kind, credential).decode("ascii"))
    jpki = JpkiApp(tap.channel)
    if purpose is Purpose.SIGN and tap.has_sign_certificate is False:
        raise FlowError(ErrorCode.NO_SIGN_CERTIFICATE, "card has no signature certificate")
    _check_tries(tap.tries, config, confirm)
    steps.run("verify_pin", lambda: jpki.verify_pin(kind, pin))
    try:
        cert_der = tap.auth_certificate if purpose is Purpose.AUTH else None
        if cert_der is None:
            cert_der = steps.run("read_certificate", lambda: jpki.read_certificate(cert_kind))
    except ApduError as e:
        if purpose is Purpose.SIGN and e.sw == SW.FILE_NOT_FOUND:
            raise FlowError(ErrorCode.NO_SIGN_CERTIFICATE,
                            "card has no signature certificate") from e
        raise
    store = _store_with_card_ca(config, purpose, cert_der,
                                lambda: steps.run("read_ca_certificate",
                                                  lambda: jpki.read_certificate(ca_kind)))
    validated = steps.run("validate_chain", lambda: validate_certificate(
        cert_der, store, purpose=purpose, at=at, revocation=config.revocation,
        fetcher=config.fetcher))
    if purpose is Purpose.SIGN:
        identity = steps.run("parse_identity", lambda: identity_from_certificate(
            validated.certificate).to_json())
    else:
        identity = {"card_reference": hashlib.sha256(cert_der).hexdigest()}
    def prove(challenge: bytes) -> tuple[bytes, bytes]:
        signature = steps.run("sign_challenge", lambda: jpki.sign(
            kind, digest_info("sha256", hashlib.sha256(challenge).digest())))
        steps.run("verify_possession", lambda: verify_challenge_signature(
            public_key_of(cert_der), challenge, signature))
        return challenge, signature

    _possession_challenge({"certificate": cert_der}, prove)
    return _Outcome(validated.assurance + [Assurance.POSSESSION], validated.test_trust,
                    identity, _certificate_json(validated), cert_der)


def _cvc_verified(cvc_der: bytes, config: FlowConfig) -> tuple[cvc_mod.Cvc, bool]:
    cvc = cvc_mod.Cvc.parse(cvc_der)
    if not config.cvc_issuer_keys:
        return cvc, False
    if not cvc_mod.verify_cvc(cvc, config.cvc_issuer_keys):
        # Keys are configured and none signed this CVC: a card that brings its own CVC.
        raise cvc_mod.RecordError("CVC is not signed by a configured issuer key")
    return cvc, True


def _prove_ap_possession(app: SurfaceApp | InputHelperApp, key: rsa.RSAPublicKey,
                         steps: _Steps, evidence: Mapping[str, bytes] | None = None) -> None:
    """§8.5, §9.4: GET CHALLENGE, have the AP key sign it, verify with ``key``. Our own fresh
    nonce is appended so a card cannot pick a challenge it has a stored signature for."""
    card_part = steps.run("get_challenge", lambda: app.get_challenge(CARD_CHALLENGE_BYTES))

    def prove(ours: bytes) -> tuple[bytes, bytes]:
        challenge = card_part + ours
        signature = steps.run("sign_challenge", lambda: app.sign_challenge(
            digest_info("sha256", hashlib.sha256(challenge).digest())))
        steps.run("verify_possession", lambda: verify_challenge_signature(
            key, challenge, signature))
        return challenge, signature

    _possession_challenge(evidence or {}, prove)


def _face_flow(tap: PreparedTap, credential: str, at: datetime, config: FlowConfig,
               confirm: bool, steps: _Steps) -> _Outcome:
    _pin_format(lambda: SurfaceKey.MATCH_B.check(credential))
    app = SurfaceApp(tap.channel)
    _check_tries(tap.tries, config, confirm)
    steps.run("verify_pin", lambda: app.verify_match_b(credential))
    face = steps.run("read_face", app.read_face)
    cvc_der = tap.cvc if tap.cvc is not None else steps.run("read_cvc", app.read_cvc)
    cvc, verified = steps.run("verify_cvc", lambda: _cvc_verified(cvc_der, config))
    # The record is checked against the CVC key even when the CVC itself cannot be
    # verified: an inconsistent record is always RECORD_SIGNATURE_INVALID.
    steps.run("verify_record", lambda: cvc_mod.verify_face_record(
        cvc.public_key, face.group1_raw, face.group2_raw, face.group3_raw, face.signature))
    card_key = cvc_mod.rsa_key_from_tlvs(face.public_key)
    _prove_ap_possession(app, card_key, steps, {
        "face_group1": face.group1_raw, "face_group2": face.group2_raw,
        "face_group3": face.group3_raw, "face_signature": face.signature, "cvc": cvc_der})
    born = _date8(face.birth_date)
    identity = {
        "birth_date": born.isoformat(), "birth_era": era_for(born).to_json(),
        "sex": parse_sex(face.sex).to_json(),
        "card_expiry": _date8(face.expiry).isoformat(),
        "photo_jp2_b64": base64.b64encode(face.photo_jp2).decode("ascii"),
        "name_png_b64": base64.b64encode(face.name_png).decode("ascii"),
        "address_png_b64": base64.b64encode(face.address_png).decode("ascii"),
        "verified": verified,
        # Only now, with the face result complete: the second VERIFY follows a success.
        "text": read_face_text(tap.channel, credential, steps.run,
                               issuer_keys=config.cvc_issuer_keys,
                               face_birth_date=face.birth_date, face_sex=face.sex),
    }
    assurance = ([Assurance.RECORD_SIGNATURE, Assurance.POSSESSION] if verified
                 else [Assurance.NOT_VERIFIED])
    return _Outcome(assurance, config.trust.test_trust, identity)


def _date8(text: str) -> date:
    try:
        return date(int(text[0:4]), int(text[4:6]), int(text[6:8]))
    except ValueError as e:
        raise cvc_mod.RecordError("date in the record is not a calendar date") from e


def my_number_valid(number: str) -> bool:
    """Check digit of design §1 (総務省令第八十五号 第五条)."""
    if not re.fullmatch(r"[0-9]{12}", number):
        return False
    total = sum(int(number[11 - n]) * (n + 1 if n <= 6 else n - 5) for n in range(1, 12))
    r = total % 11
    return int(number[11]) == (0 if r <= 1 else 11 - r)


def _number_flow(tap: PreparedTap, credential: str, at: datetime, config: FlowConfig,
                 confirm: bool, steps: _Steps) -> _Outcome:
    if not re.fullmatch(r"[0-9]{4}", credential):
        raise FlowError(ErrorCode.PIN_FORMAT, "credential format is wrong")
    app = InputHelperApp(tap.channel)
    _check_tries(tap.tries, config, confirm)
    steps.run("verify_pin", lambda: app.verify_pin(credential))
    number_rec = steps.run("read_my_number", app.read_my_number_record)
    basic = steps.run("read_basic_info", app.read_basic_info)
    integrity = steps.run("read_integrity", app.read_integrity)
    cvc_der = tap.cvc if tap.cvc is not None else steps.run("read_cvc", app.read_cvc)
    cvc, verified = steps.run("verify_cvc", lambda: _cvc_verified(cvc_der, config))
    steps.run("verify_record", lambda: cvc_mod.verify_integrity_record(
        cvc.public_key, number_rec.raw, basic.attributes_raw, integrity.my_number_digest,
        integrity.attributes_digest, integrity.signed_data, integrity.signature))
    if not my_number_valid(number_rec.number):
        raise cvc_mod.RecordError("My Number check digit fails")
    # Possession (reference §8.5): EF 0007 carries this AP's public key signed by the CVC key;
    # the card then signs a fresh challenge with the matching private key. Without it a card
    # replaying another card's signed records would pass.
    signed = steps.run("read_signed_key", app.read_signed_key)
    ap_key = steps.run("verify_signed_key", lambda: _certified_ap_key(cvc.public_key, signed))
    _prove_ap_possession(app, ap_key, steps, {"cvc": cvc_der, "signed_key": signed.signed_data,
                                              "signed_key_signature": signed.signature})
    born = _date8(basic.birth_date)
    identity = {
        "name": basic.name, "address": basic.address, "birth_date": born.isoformat(),
        "birth_era": era_for(born).to_json(), "sex": parse_sex(basic.sex).to_json(),
        "my_number": number_rec.number, "verified": verified,
    }
    assurance = ([Assurance.RECORD_SIGNATURE, Assurance.POSSESSION] if verified
                 else [Assurance.NOT_VERIFIED])
    return _Outcome(assurance, config.trust.test_trust, identity)


def _certified_ap_key(cvc_key: rsa.RSAPublicKey, signed: SignedKeyRecord) -> rsa.RSAPublicKey:
    """The AP's own public key from EF 0007, once its DF52 signature (over the DF51 TLV)
    verifies with the CVC key (reference §8.5)."""
    cvc_mod.verify_sha256(cvc_key, signed.signature, signed.signed_data)
    return cvc_mod.rsa_key_from_tlvs(signed.public_key)


def run_flow(flow: str, connection: CardConnection, credential: str, *,
             at: datetime | None = None, config: FlowConfig, confirm_last_try: bool = False,
             on_step: StepCallback | None = None, prepared: PreparedTap | None = None,
             statement: PossessionStatement | None = None) -> Verdict:
    """Run one flow on an open connection and return its verdict (never raises for card or
    verification failures; exceptions raised by ``on_step`` propagate unchanged).

    ``at`` is the verification time (tz-aware); None means now (read once, here).
    ``prepared`` is the identification already done on this connection (``tap.prepare_tap``):
    the flow continues from it instead of selecting and querying again. Without it the flow
    prepares first, reporting those APDUs as steps. A refused credential updates its ``tries``.
    ``statement`` supplies the possession challenge (verification records); None = a nonce.
    """
    steps = _Steps(on_step)
    reset = _statement.set(statement)
    test_trust = config.trust.test_trust
    try:
        if flow not in FLOWS or flow not in config.enabled_flows:
            raise FlowError(ErrorCode.FLOW_DISABLED, "flow is not enabled")
        when = at if at is not None else datetime.now(UTC)
        _check_format(flow, credential)  # a malformed credential costs no APDU at all
        if prepared is None or not prepared.continues(connection, flow):
            prepared = prepare_tap(flow, connection, run_step=steps.run)
        tap = prepared
        try:
            if flow in ("sign", "auth"):
                purpose = Purpose.SIGN if flow == "sign" else Purpose.AUTH
                out = _jpki_flow(purpose, tap, credential, when, config, confirm_last_try,
                                 steps)
            elif flow == "face":
                out = _face_flow(tap, credential, when, config, confirm_last_try, steps)
            else:
                out = _number_flow(tap, credential, when, config, confirm_last_try, steps)
        except InvalidPinError as e:
            tap.tries = e.tries_left  # the card's own count: the next attempt asks no more
            raise
    except _CallbackAbort as abort:
        raise abort.exc from None
    except Exception as e:
        if not isinstance(e, (VerificationError, CardError)):
            logger.exception("flow %s failed unexpectedly", flow)
        code, message, extra = error_code_for(e)
        logger.info("flow %s failed: %s", flow, code)
        error = {"code": str(code), "message": message, **extra}
        return Verdict(False, flow, (), test_trust, None, None, error, steps.timings)
    finally:
        _statement.reset(reset)
    logger.info("flow %s ok: %s", flow, ",".join(out.assurance))
    return Verdict(True, flow, tuple(out.assurance), out.test_trust or test_trust,
                   out.identity, out.certificate, None, steps.timings, out.certificate_der)


__all__ = ["FLOWS", "FlowConfig", "PossessionStatement", "RejectReason", "Verdict",
           "my_number_valid", "run_flow"]
