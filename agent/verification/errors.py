"""Stable error codes of the agent and the verification error tree (docs/architecture.md).

``ErrorCode`` values cross the wire (verdict JSON, local API) and never change meaning.
``VerificationError`` subclasses are grouped by concern and keep data in attributes; the cause
is kept with ``raise ... from e``. ``error_code_for`` folds any exception (card errors included)
into ``(code, message, extra)``; messages never carry personal data, and the kiosk shows only
the code. Modelled on python-fido2's client error folding.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from card import errors as card_errors


class ErrorCode(StrEnum):
    PIN_INVALID = "PIN_INVALID"
    PIN_BLOCKED = "PIN_BLOCKED"
    PIN_LAST_TRY_NEEDS_CONFIRMATION = "PIN_LAST_TRY_NEEDS_CONFIRMATION"
    PIN_FORMAT = "PIN_FORMAT"
    CARD_REMOVED = "CARD_REMOVED"
    NO_READER = "NO_READER"
    NO_CARD = "NO_CARD"
    UNSUPPORTED_CARD = "UNSUPPORTED_CARD"
    NO_SIGN_CERTIFICATE = "NO_SIGN_CERTIFICATE"
    CERT_EXPIRED = "CERT_EXPIRED"
    CERT_NOT_YET_VALID = "CERT_NOT_YET_VALID"
    CERT_REVOKED = "CERT_REVOKED"
    CERT_UNTRUSTED = "CERT_UNTRUSTED"
    CERT_INVALID = "CERT_INVALID"
    CERT_MALFORMED = "CERT_MALFORMED"
    REVOCATION_UNAVAILABLE = "REVOCATION_UNAVAILABLE"
    POSSESSION_FAILED = "POSSESSION_FAILED"
    RECORD_SIGNATURE_INVALID = "RECORD_SIGNATURE_INVALID"
    FLOW_DISABLED = "FLOW_DISABLED"
    CARD_ERROR = "CARD_ERROR"
    TRANSPORT_ERROR = "TRANSPORT_ERROR"
    TIMEOUT = "TIMEOUT"
    BUSY = "BUSY"
    RECORDS_BACKLOG = "RECORDS_BACKLOG"
    INTERNAL = "INTERNAL"
    AUDIT_UNAVAILABLE = "AUDIT_UNAVAILABLE"


class RejectReason(StrEnum):
    """Finer reason under a certificate code, so distinct failures stay distinguishable."""

    EXPIRED = "expired"
    NOT_YET_VALID = "not_yet_valid"
    UNTRUSTED_ROOT = "untrusted_root"
    UNPINNED_CA = "unpinned_ca"
    KEY_USAGE = "key_usage"
    POLICY = "policy"
    BASIC_CONSTRAINTS = "basic_constraints"
    SIGNATURE = "signature"
    REVOKED = "revoked"
    MALFORMED = "malformed"
    UNKNOWN_CRITICAL_EXTENSION = "unknown_critical_extension"
    ALGORITHM = "algorithm"
    DUPLICATE_EXTENSION = "duplicate_extension"
    WEAK_KEY = "weak_key"
    INVALID = "invalid"


_REASON_CODE: dict[RejectReason, ErrorCode] = {
    RejectReason.EXPIRED: ErrorCode.CERT_EXPIRED,
    RejectReason.NOT_YET_VALID: ErrorCode.CERT_NOT_YET_VALID,
    RejectReason.UNTRUSTED_ROOT: ErrorCode.CERT_UNTRUSTED,
    RejectReason.UNPINNED_CA: ErrorCode.CERT_UNTRUSTED,
    RejectReason.REVOKED: ErrorCode.CERT_REVOKED,
    RejectReason.MALFORMED: ErrorCode.CERT_MALFORMED,
}


class VerificationError(Exception):
    """Base of every agent-side verification failure; ``code`` is stable on the wire."""

    code: ErrorCode = ErrorCode.INTERNAL

    def __init__(self, message: str, *, code: ErrorCode | None = None) -> None:
        if code is not None:
            self.code = code
        super().__init__(message)

    @property
    def extra(self) -> dict[str, Any]:
        return {}


class CertificateRejectedError(VerificationError):
    """Path validation refused a certificate; ``reason`` says which check failed."""

    def __init__(self, reason: RejectReason, message: str = "") -> None:
        self.reason = reason
        super().__init__(
            message or f"certificate rejected: {reason}",
            code=_REASON_CODE.get(reason, ErrorCode.CERT_INVALID),
        )

    @property
    def extra(self) -> dict[str, Any]:
        return {"reason": str(self.reason)}


class RevocationUnavailableError(VerificationError):
    """Revocation was asked for but no current answer could be obtained."""

    code = ErrorCode.REVOCATION_UNAVAILABLE


class IdentityError(VerificationError):
    """The subjectAltName identity is missing, mistyped or out of range."""

    code = ErrorCode.CERT_INVALID


class RecordError(VerificationError):
    """A 券面 AP record or CVC is malformed or its signature does not verify."""

    code = ErrorCode.RECORD_SIGNATURE_INVALID


class PossessionError(VerificationError):
    """The card's challenge signature did not verify with the expected key."""

    code = ErrorCode.POSSESSION_FAILED


class FlowError(VerificationError):
    """A flow refused to run (disabled, credential format, last try without confirmation)."""

    def __init__(self, code: ErrorCode, message: str, *, tries_left: int | None = None) -> None:
        self.tries_left = tries_left
        super().__init__(message, code=code)

    @property
    def extra(self) -> dict[str, Any]:
        return {} if self.tries_left is None else {"tries_left": self.tries_left}


def error_code_for(exc: BaseException) -> tuple[ErrorCode, str, dict[str, Any]]:
    """Fold any exception into ``(code, message, extra)`` for the verdict and the API edge."""
    if isinstance(exc, VerificationError):
        return exc.code, str(exc), exc.extra
    if isinstance(exc, card_errors.InvalidPinError):
        return ErrorCode.PIN_INVALID, "credential refused by the card", {
            "tries_left": exc.tries_left
        }
    if isinstance(exc, card_errors.PinBlockedError):
        return ErrorCode.PIN_BLOCKED, "credential blocked", {"tries_left": 0}
    if isinstance(exc, card_errors.PinFormatError):
        return ErrorCode.PIN_FORMAT, "credential format is wrong", {}
    if isinstance(exc, card_errors.CardRemovedError):
        return ErrorCode.CARD_REMOVED, "card removed", {}
    if isinstance(exc, card_errors.NoReaderError):
        return ErrorCode.NO_READER, "no reader", {}
    if isinstance(exc, card_errors.NoCardError):
        return ErrorCode.NO_CARD, "no card in the reader", {}
    if isinstance(exc, card_errors.TransportError):
        return ErrorCode.TRANSPORT_ERROR, "reader or link failure", {}
    if isinstance(exc, card_errors.ApplicationNotFoundError):
        return ErrorCode.UNSUPPORTED_CARD, "not a My Number card (application not found)", {}
    if isinstance(exc, card_errors.ApduError):
        # The SW in hex helps developers; the kiosk only shows the code.
        return ErrorCode.CARD_ERROR, f"card answered SW {exc.sw:04X}", {"sw": f"{exc.sw:04X}"}
    if isinstance(exc, card_errors.BadResponseError):
        return ErrorCode.CARD_ERROR, "malformed card response", {}
    if isinstance(exc, card_errors.CardError):
        return ErrorCode.CARD_ERROR, "card error", {}
    if isinstance(exc, TimeoutError):
        return ErrorCode.TIMEOUT, "timed out", {}
    return ErrorCode.INTERNAL, "internal error", {}
