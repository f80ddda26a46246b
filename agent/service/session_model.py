"""The per-tap session's data: states, the credential and flow-outcome records, the
``FlowBackend`` seam the controller runs flows through, and ``CardSession`` (one tap's state,
which holds identity data only until ``purge``). The machine itself is ``agent.service.session``."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol

from agent.verification.errors import ErrorCode
from card.transports import CardConnection

logger = logging.getLogger(__name__)


# (step name, "running" | "done" | "failed", ms or None); may raise to abort the flow.
StepCallback = Callable[[str, str, float | None], None]


@dataclass(slots=True)
class CredentialStatus:
    """What the kiosk needs to ask for the credential (snapshot ``credential``)."""

    kind: str
    tries_left: int
    max_tries: int
    min_length: int
    max_length: int
    charset: str
    needs_confirmation: bool = False

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "tries_left": self.tries_left,
            "max_tries": self.max_tries,
            "needs_confirmation": self.needs_confirmation,
            "min_length": self.min_length,
            "max_length": self.max_length,
            "charset": self.charset,
        }


@dataclass(frozen=True, slots=True)
class FlowOutcome:
    """A finished flow: the verdict JSON plus what the audit line needs (no personal data)."""

    ok: bool
    verdict: dict[str, Any]
    error_code: str | None = None
    certificate_der: bytes | None = None
    record_draft: Any = None  # agent.records.record.RecordDraft when records are on


class FlowBackend(Protocol):
    """The seam to ``agent.verification.flows``, so the state machine tests alone."""

    def identify(self, connection: CardConnection, flow: str) -> CredentialStatus:
        """SELECT the flow's AP by AID and read the tries left with the empty VERIFY.

        :raises ApplicationNotFoundError: not a My Number card (UNSUPPORTED_CARD).
        :raises CardError: anything else from the card or the link.
        """

    def run(
        self,
        connection: CardConnection,
        flow: str,
        credential: str,
        *,
        confirm_last_try: bool,
        on_step: StepCallback,
    ) -> FlowOutcome:
        """Run the flow; ``on_step`` may raise to abort it (the exception propagates)."""


class RecordsHook(Protocol):
    """The seam to verification records: refuse taps when the outbox is full, and commit a
    record for each final verdict before it is shown."""

    def refusal(self) -> str | None: ...

    def commit(self, draft: Any, flow: str, verdict: dict[str, Any],
               staff_id: str | None) -> str: ...


class SessionState(StrEnum):
    NO_READER = "no_reader"
    IDLE = "idle"
    CARD_PRESENT = "card_present"
    AWAITING_CREDENTIAL = "awaiting_credential"
    READING = "reading"
    RESULT = "result"
    ERROR = "error"
    AWAITING_REMOVAL = "awaiting_removal"


class BusyError(Exception):
    """A request that the current state refuses (HTTP 409, code BUSY)."""

    code = ErrorCode.BUSY


class StaleScreenError(BusyError):
    """A credential from an entry screen that is not the one on show now: another kind, or a
    snapshot older than the current credential request (HTTP 409, code STALE_SESSION)."""


class FlowNotEnabledError(Exception):
    code = ErrorCode.FLOW_DISABLED


# Flows only a signed-in staff member may start (the face check; the My Number read).
STAFF_FLOWS = frozenset({"face", "number"})


class StaffRequiredError(Exception):
    """A staff-only action without a valid staff session, or by one whose role or permission
    does not allow it (HTTP 403); nothing was changed and nothing sent to the card."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


class StaffCaller(Protocol):
    """The signed-in staff member behind a request (``agent.staff.StaffSession``)."""

    ref: str
    staff_id: str

    def may_run(self, flow: str) -> bool: ...


class SessionAborted(Exception):
    """Raised from the step callback to stop a flow when the card left or the session ended."""


@dataclass(slots=True)
class CardSession:
    """One tap. Holds identity data (inside ``verdict``) only until ``purge``."""

    session_id: str
    reader: str
    flow: str
    started: float = field(default_factory=time.monotonic)
    started_wall: float = field(default_factory=time.time)
    connection: CardConnection | None = None
    credential: CredentialStatus | None = None
    steps: list[dict[str, Any]] = field(default_factory=list)
    verdict: dict[str, Any] | None = None
    error: dict[str, Any] | None = None
    outcome: FlowOutcome | None = None
    attempts: int = 0
    # Who ran this check (a staff-mode tap), for the audit line and the verification record.
    staff_id: str | None = None
    staff_session: str | None = None
    ran_flow: str | None = None  # the flow the card last ran (``flow`` may change after)
    record_id: str | None = None  # the verification record kept for this check, if any

    def purge(self) -> None:
        """Drop every reference to card data and close the card link."""
        self.verdict = None
        self.outcome = None
        self.steps = []
        self.credential = None
        conn, self.connection = self.connection, None
        if conn is not None:
            try:
                conn.close()
            except Exception:
                logger.debug("closing connection failed", exc_info=True)
