"""The per-tap session state machine: one card, one connection, one worker thread (issue 4 §2).

``SessionController`` owns the state (``SessionState``), the current ``CardSession`` and one
worker thread that does all card work: the watcher and the API only *enqueue* commands. States
follow docs/architecture.md "Agent local API": no_reader → idle → card_present (SELECT by AID;
empty VERIFY for tries left) → awaiting_credential → reading (steps reported as they happen) →
result | error → (card removed) → idle; timeouts purge into awaiting_removal. Removal at any
state aborts and purges: identity lives only in the session object, whose references are
dropped. The card is connected exclusively for the whole session, because a verified PIN survives
PC/SC reconnects and only power-off clears it (card-protocol.md §6.4).
"""

from __future__ import annotations

import logging
import queue
import secrets
import threading
import time
from collections.abc import Callable
from typing import Any

from agent.service.config import AgentConfig
from agent.service.events import EventHub, ReaderEvent, ReaderEventKind
from agent.service.session_model import (
    STAFF_FLOWS,
    BusyError,
    CardSession,
    CredentialStatus,
    FlowBackend,
    FlowNotEnabledError,
    FlowOutcome,
    RecordsHook,
    SessionAborted,
    SessionState,
    StaffCaller,
    StaffRequiredError,
    StaleScreenError,
    StepCallback,
)
from agent.verification.errors import ErrorCode, error_code_for
from card.errors import CardError, CardRemovedError
from card.transports import Reader

logger = logging.getLogger(__name__)

# The data types live in agent.service.session_model; re-exported for callers of the machine.
__all__ = [
    "BusyError",
    "CardSession",
    "CredentialStatus",
    "FlowBackend",
    "FlowNotEnabledError",
    "FlowOutcome",
    "SessionAborted",
    "SessionController",
    "SessionState",
    "StaffRequiredError",
    "StaleScreenError",
    "StepCallback",
]

CONNECT_ATTEMPTS = 3
CONNECT_RETRY_S = 0.2


AuditHook = Callable[[CardSession, FlowOutcome | None, str], None]


class SessionController:
    """The agent's one state machine. Thread-safe; card work runs on its own worker thread."""

    def __init__(
        self,
        config: AgentConfig,
        backend: FlowBackend,
        hub: EventHub,
        *,
        readers: Callable[[], dict[str, Reader]],
        demo: bool = False,
        audit: AuditHook | None = None,
        clock: Callable[[], float] = time.monotonic,
        records: RecordsHook | None = None,
    ) -> None:
        self._config = config
        self._backend = backend
        self._hub = hub
        self._readers = readers
        self._demo = demo
        self._audit = audit
        self._records = records
        self._clock = clock
        self._lock = threading.RLock()
        self._commands: queue.Queue[tuple[Any, ...]] = queue.Queue()
        self._abort = threading.Event()
        self._thread: threading.Thread | None = None
        self._seq = 0
        self._credential_seq = 0  # seq of the snapshot that asked for the current credential
        self._state = SessionState.NO_READER
        self._known_readers: set[str] = set()
        self._cards: set[str] = set()
        self._flow = config.flows.default
        self._session: CardSession | None = None
        self._deadline: float | None = None
        self._pending_credential: tuple[str, bool] | None = None
        self._flow_staff: tuple[str, str] | None = None  # (staff ID, staff session) of the flow
        self._waiting_removal: str | None = None
        self._audit_failed = False  # set when a line could not be written: no more taps
        self._audited_outcome: FlowOutcome | None = None
        self._ended: str | None = None  # why the last session ended, until the next one starts
        self._snapshot: dict[str, Any] = self._build_snapshot()
        self.sessions_completed = 0

    # ---- lifecycle -----------------------------------------------------------------------
    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="myna-session", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._abort.set()
        self._commands.put(("stop",))
        if self._thread is not None:
            self._thread.join(timeout)
        with self._lock:
            if self._session is not None:
                self._end_session("stopped")

    # ---- inputs (any thread) -----------------------------------------------------------
    def on_reader_event(self, event: ReaderEvent) -> None:
        """Watcher callback: a card leaving aborts a running flow at once, then is queued."""
        with self._lock:
            s = self._session
            if s is not None and event.reader in (s.reader, "") and event.kind in (
                ReaderEventKind.CARD_REMOVED,
                ReaderEventKind.READER_REMOVED,
                ReaderEventKind.WATCH_FAILED,
            ):
                self._abort.set()
        self._commands.put(("event", event))

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return self._snapshot

    def subscribe(self) -> Any:
        with self._lock:
            return self._hub.subscribe(self._snapshot)

    def set_flow(self, flow: str, staff: StaffCaller | None = None) -> dict[str, Any]:
        if flow not in self._config.flows.enabled:
            raise FlowNotEnabledError(flow)
        _check_staff(flow, staff)
        with self._lock:
            # The flow belongs to the screen that started the tap: a card in use keeps its flow
            # (and its credential kind) until it is gone, whichever page asks.
            if flow != self._flow and self._state not in (SessionState.IDLE,
                                                          SessionState.NO_READER):
                raise BusyError(f"cannot change flow in state {self._state}")
            if staff is not None and flow in STAFF_FLOWS:
                # Taps of this staff flow are this member's checks, even one that fails
                # before any credential (a blocked card) still names who ran it.
                self._flow_staff = (staff.staff_id, staff.ref)
            if flow == self._flow:
                return self._snapshot
            self._flow = flow
            self._publish()
            return self._snapshot

    def submit_credential(self, session_id: str, credential: str, confirm: bool,
                          staff: StaffCaller | None = None, kind: str | None = None,
                          seq: int | None = None) -> dict[str, Any]:
        """Accept one credential for the waiting session; the flow runs on the worker thread.

        ``kind`` and ``seq`` are what the entry screen rendered: a credential typed for another
        kind, or on a screen older than the current request, never reaches the card.
        """
        with self._lock:
            s = self._session
            if (s is None or s.session_id != session_id
                    or self._state is not SessionState.AWAITING_CREDENTIAL):
                raise BusyError("no session is waiting for a credential with that id")
            _check_staff(s.flow, staff)
            if staff is not None:
                s.staff_id, s.staff_session = staff.staff_id, staff.ref
            if kind is not None and (s.credential is None or s.credential.kind != kind):
                raise StaleScreenError("the credential was typed for another kind")
            if seq is not None and not self._credential_seq <= seq <= self._seq:
                raise StaleScreenError("the credential comes from an older entry screen")
            self._pending_credential = (credential, confirm)
            s.error = None
            s.steps = []
            self._set_state(SessionState.READING)
            self._commands.put(("credential", session_id))
            return self._snapshot

    def extend(self, session_id: str) -> float:
        """The person is still typing or reading: restart the waiting state's timer.

        Returns the seconds left. Only a waiting state has a timer (credential, result, error).
        """
        with self._lock:
            s = self._session
            limit = self._time_limit(self._state)
            if s is None or s.session_id != session_id or limit is None:
                raise BusyError("no session with that id is waiting")
            self._deadline = self._clock() + limit
            return limit

    def cancel(self, session_id: str) -> dict[str, Any]:
        with self._lock:
            s = self._session
            if s is None or s.session_id != session_id:
                raise BusyError("no session with that id")
            if self._state is SessionState.READING:
                self._abort.set()  # the worker stops at the next step boundary
            self._commands.put(("cancel", session_id))
            return self._snapshot

    def reveal_my_number(self, session_id: str, staff: StaffCaller) -> str:
        """The My Number of the ``number`` result on screen, for the staff session that ran it.

        :raises BusyError: no such result now (purged, another session, another staff session).
        """
        with self._lock:
            s = self._session
            if (s is None or s.session_id != session_id or self._state is not SessionState.RESULT
                    or s.flow != "number" or s.staff_session != staff.ref or s.outcome is None):
                raise BusyError("no My Number result of this staff session")
            ident = s.outcome.verdict.get("identity") if s.outcome.ok else None
            number = ident.get("my_number") if isinstance(ident, dict) else None
            if not isinstance(number, str):
                raise BusyError("no My Number result of this staff session")
            return number

    def card_reference_of(self, session_id: str) -> str | None:
        """The card reference of the ``auth`` result on screen, when the card proved it holds
        its key (a member of staff signing in with their own card), else None."""
        with self._lock:
            s = self._session
            if (s is None or s.session_id != session_id or self._state is not SessionState.RESULT
                    or s.flow != "auth" or s.outcome is None or not s.outcome.ok
                    or "possession" not in (s.outcome.verdict.get("assurance") or [])):
                return None
            ident = s.outcome.verdict.get("identity")
            ref = ident.get("card_reference") if isinstance(ident, dict) else None
            return ref if isinstance(ref, str) else None

    def staff_session_ended(self, staff_session: str, others_active: bool) -> None:
        """A staff member signed out or was locked out: end the staff-mode tap they ran (or
        one waiting for a staff credential), and leave staff flows unless others are signed in."""
        with self._lock:
            s = self._session
            if s is not None and s.flow in STAFF_FLOWS and (
                    s.staff_session == staff_session
                    or (s.staff_session is None and not others_active)):
                if self._state is SessionState.READING:
                    self._abort.set()
                self._commands.put(("staff_ended", s.session_id))
            if self._flow_staff is not None and self._flow_staff[1] == staff_session:
                self._flow_staff = None
            if not others_active and self._flow in STAFF_FLOWS:
                self._flow = self._config.flows.default
                if s is None:
                    self._publish()

    # ---- snapshot ----------------------------------------------------------------------
    def _build_snapshot(self) -> dict[str, Any]:
        s = self._session
        cred = s.credential if s is not None else None
        return {
            "seq": self._seq,
            "state": str(self._state),
            "session_id": s.session_id if s is not None else None,
            "reader": s.reader if s is not None else (
                self._waiting_removal or min(self._known_readers, default=None)
            ),
            "flow": self._flow,
            "flows_enabled": list(self._config.flows.enabled),
            "credential": cred.to_json() if cred is not None else None,
            "steps": [dict(step) for step in s.steps] if s is not None else [],
            "verdict": s.verdict if s is not None else None,
            "error": dict(s.error) if s is not None and s.error is not None else None,
            "test_trust": self._config.test_trust,
            "demo": self._demo,
            "timeout_s": self._time_limit(self._state) if s is not None else None,
            "ended": self._ended if s is None else None,
            # The staff screen's reference for this check: the verification record's id.
            "record_id": s.record_id if s is not None else None,
        }

    def _publish(self) -> None:
        # Publish under the lock: API threads and the worker both publish, and subscribers
        # must see snapshots in seq order (hub.publish never blocks: bounded, drop-oldest).
        with self._lock:
            self._seq += 1
            self._snapshot = self._build_snapshot()
            self._hub.publish(self._snapshot)

    def _set_state(self, state: SessionState) -> None:
        with self._lock:
            if state is not self._state:
                logger.info("state %s -> %s", self._state, state)
            self._state = state
            limit = self._time_limit(state)
            self._deadline = None if limit is None else self._clock() + limit
            self._publish()
            if state is SessionState.AWAITING_CREDENTIAL:
                self._credential_seq = self._seq

    def _time_limit(self, state: SessionState) -> float | None:
        t = self._config.timeouts
        staff = (self._session.flow if self._session is not None else self._flow) in STAFF_FLOWS
        return {
            SessionState.AWAITING_CREDENTIAL: t.staff_credential_s if staff else t.credential_s,
            SessionState.RESULT: t.staff_result_s if staff else t.result_s,
            SessionState.ERROR: t.staff_result_s if staff else t.result_s,
        }.get(state)

    # ---- worker thread -----------------------------------------------------------------
    def _run(self) -> None:
        while True:
            with self._lock:
                deadline = self._deadline
            timeout = None if deadline is None else max(0.0, deadline - self._clock())
            try:
                command = self._commands.get(timeout=timeout)
            except queue.Empty:
                self._on_timeout()
                continue
            if command[0] == "stop":
                return
            try:
                self._dispatch(command)
            except Exception:
                logger.exception("session worker failed on %s", command[0])
                with self._lock:
                    if self._session is not None:
                        self._fail(ErrorCode.INTERNAL, "internal error")

    def _dispatch(self, command: tuple[Any, ...]) -> None:
        kind = command[0]
        if kind == "event":
            self._on_event(command[1])
        elif kind == "identify":
            if self._session is not None and self._session.session_id == command[1]:
                self._identify()
        elif kind == "credential":
            if self._session is not None and self._session.session_id == command[1]:
                self._run_flow()
        elif (kind in ("cancel", "staff_ended") and self._session is not None
              and self._session.session_id == command[1]):
            self._end_session("cancelled" if kind == "cancel" else "staff_signed_out")
            self._after_session()

    def _on_event(self, event: ReaderEvent) -> None:
        k = event.kind
        if k is ReaderEventKind.READER_ADDED:
            self._known_readers.add(event.reader)
        elif k is ReaderEventKind.READER_REMOVED:
            self._known_readers.discard(event.reader)
            self._cards.discard(event.reader)
        elif k is ReaderEventKind.WATCH_FAILED:
            self._known_readers.clear()
            self._cards.clear()
        elif k is ReaderEventKind.CARD_INSERTED:
            self._cards.add(event.reader)
        elif k is ReaderEventKind.CARD_REMOVED:
            self._cards.discard(event.reader)
        s = self._session
        if s is not None and s.reader not in self._cards:
            self._end_session("card_removed")
        if self._session is None:
            self._after_session()

    def _after_session(self) -> None:
        """Pick the next state when no session is running: a waiting card, idle or no_reader."""
        if self._session is not None:
            return
        waiting = self._waiting_removal
        if waiting is not None:
            if waiting in self._cards and waiting in self._known_readers:
                if self._state is not SessionState.AWAITING_REMOVAL:
                    self._set_state(SessionState.AWAITING_REMOVAL)
                return
            self._waiting_removal = None
        if not self._known_readers:
            if self._state is not SessionState.NO_READER:
                self._set_state(SessionState.NO_READER)
            return
        for name in sorted(self._cards):
            if name in self._known_readers:
                self._start_session(name)
                return
        if self._state is not SessionState.IDLE:
            self._set_state(SessionState.IDLE)

    def _start_session(self, reader_name: str) -> None:
        reader = self._readers().get(reader_name)
        if reader is None:
            return
        self._abort.clear()
        with self._lock:
            self._session = CardSession(secrets.token_urlsafe(12), reader_name, self._flow)
            self._ended = None
            if self._flow in STAFF_FLOWS and self._flow_staff is not None:
                self._session.staff_id, self._session.staff_session = self._flow_staff
            self._set_state(SessionState.CARD_PRESENT)
        if self._audit_failed:
            # No check without a trace: the card is not even touched until the log works.
            self._fail(ErrorCode.AUDIT_UNAVAILABLE, "the audit log cannot be written")
            return
        logger.info("session started on reader %s, flow %s", reader_name, self._flow)
        for attempt in range(CONNECT_ATTEMPTS):
            try:
                # Exclusive for the whole tap: a verified PIN survives reconnects (§6.4).
                self._session.connection = reader.connect(exclusive=True)
                break
            except CardRemovedError as e:
                self._fail_from(e)
                return
            except CardError as e:
                # A card just inserted may still be powering up (or another program holds
                # it for a moment): retry briefly before calling it a reader error.
                if attempt + 1 == CONNECT_ATTEMPTS or self._abort.wait(CONNECT_RETRY_S):
                    self._fail_from(e)
                    return
        self._identify()

    def _identify(self) -> None:
        s = self._session
        assert s is not None
        if s.connection is None:
            return
        refusal = self._records.refusal() if self._records is not None else None
        if refusal is not None:
            # Refused before any PIN: a check whose record cannot be kept must not start.
            logger.warning("tap refused: records outbox full (%s)", refusal)
            self._fail(ErrorCode.RECORDS_BACKLOG, "verification records are not being delivered")
            return
        try:
            status = self._backend.identify(s.connection, s.flow)
        except CardError as e:
            self._fail_from(e)
            return
        with self._lock:
            if self._abort.is_set() or self._session is not s:
                return
            s.credential = status
            if status.tries_left == 0:
                s.error = {"code": str(ErrorCode.PIN_BLOCKED), "message": "credential blocked",
                           "tries_left": 0}
                self._set_state(SessionState.ERROR)
            else:
                self._set_state(SessionState.AWAITING_CREDENTIAL)

    def _run_flow(self) -> None:
        s = self._session
        assert s is not None
        with self._lock:
            pending, self._pending_credential = self._pending_credential, None
        if pending is None or s.connection is None or s.credential is None:
            return
        credential, confirm = pending
        del pending
        if s.credential.tries_left == 1 and not (self._config.pin.allow_last_try and confirm):
            # design §1 PIN safety: never spend the last try unless allowed and confirmed.
            del credential
            with self._lock:
                s.credential.needs_confirmation = self._config.pin.allow_last_try
                s.error = {"code": str(ErrorCode.PIN_LAST_TRY_NEEDS_CONFIRMATION),
                           "message": "only one try left", "tries_left": 1}
                self._set_state(SessionState.AWAITING_CREDENTIAL
                                if self._config.pin.allow_last_try else SessionState.ERROR)
            return
        s.attempts += 1
        step_times: dict[str, float] = {}
        reading_deadline = self._clock() + self._config.timeouts.card_s
        stopped: list[str] = []  # why on_step stopped the flow, if it did

        def on_step(name: str, status: str, ms: float | None = None) -> None:
            now = self._clock()
            if self._abort.is_set() and status != "failed":  # a failed step ends the flow anyway
                stopped.append("aborted")
                raise SessionAborted
            if now > reading_deadline:
                stopped.append("timeout")
                raise SessionAborted
            with self._lock:
                if status == "running":
                    step_times[name] = now
                    s.steps.append({"name": name, "status": "running", "ms": None})
                else:
                    if ms is None:
                        ms = round((now - step_times.get(name, now)) * 1000, 2)
                    for step in reversed(s.steps):
                        if step["name"] == name and step["status"] == "running":
                            step["status"] = status
                            step["ms"] = float(ms)
                            break
                    else:
                        s.steps.append({"name": name, "status": status, "ms": float(ms)})
                self._publish()

        callback: StepCallback = on_step
        outcome: FlowOutcome | None = None
        try:
            outcome = self._backend.run(s.connection, s.flow, credential, confirm_last_try=confirm,
                                        on_step=callback)
        except SessionAborted:
            pass
        except Exception as e:
            code, message, extra = error_code_for(e)
            if code is ErrorCode.INTERNAL:
                logger.exception("flow %s failed", s.flow)
            error = {"code": str(code), "message": message, **extra}
            outcome = FlowOutcome(False, {"ok": False, "error": error}, str(code))
        finally:
            del credential  # design §2: the credential lives only for the one VERIFY
        if stopped == ["timeout"] and not self._abort.is_set():
            self._fail(ErrorCode.TIMEOUT, "the card took too long")
            return
        refused = outcome is not None and outcome.error_code == ErrorCode.PIN_INVALID
        if (self._abort.is_set() and not refused) or outcome is None:
            # The card left (or cancel) mid-flow: nothing from this flow may survive. A refused
            # credential is still shown (no identity in it): the holder must learn a try went.
            self._end_session("aborted")
            self._after_session()
            return
        if outcome.error_code == ErrorCode.CARD_REMOVED:
            self._end_session("card_removed")
            self._after_session()
            return
        s.ran_flow = s.flow
        if not self._audit_now(s, outcome, "result"):
            # The verdict is never shown when its audit line is not on disk.
            self._fail(ErrorCode.AUDIT_UNAVAILABLE, "the audit log cannot be written")
            return
        self._audited_outcome = outcome
        if not self._keep_record(s, outcome):
            return
        with self._lock:
            s.outcome = outcome
            if outcome.ok:
                s.verdict = _without_my_number(outcome.verdict)
                self._set_state(SessionState.RESULT)
                return
            s.error = outcome.verdict.get("error") or {"code": str(outcome.error_code)}
            tries = s.error.get("tries_left")
            if outcome.error_code == ErrorCode.PIN_INVALID and isinstance(tries, int) and tries > 0:
                # A wrong credential with tries left: ask again, never resend by ourselves.
                s.credential.tries_left = tries
                s.credential.needs_confirmation = tries == 1
                self._set_state(SessionState.AWAITING_CREDENTIAL)
                return
            if outcome.error_code == ErrorCode.PIN_FORMAT:
                # Refused before any APDU (design §1): nothing spent, ask again.
                self._set_state(SessionState.AWAITING_CREDENTIAL)
                return
            self._set_state(SessionState.ERROR)

    def _keep_record(self, s: CardSession, outcome: FlowOutcome) -> bool:
        """Commit the verification record of a final verdict before the kiosk shows it; a
        verdict whose record cannot be kept is not shown (False)."""
        tries = (outcome.verdict.get("error") or {}).get("tries_left")
        retry = (outcome.error_code == ErrorCode.PIN_FORMAT
                 or (outcome.error_code == ErrorCode.PIN_INVALID
                     and isinstance(tries, int) and tries > 0))
        if self._records is None or retry:
            return True
        try:
            s.record_id = self._records.commit(outcome.record_draft, s.ran_flow or s.flow,
                                               outcome.verdict, s.staff_id)
        except Exception:
            logger.exception("verification record could not be committed")
            self._fail(ErrorCode.RECORDS_BACKLOG, "the verification record could not be kept")
            return False
        return True

    def _fail_from(self, exc: BaseException) -> None:
        code, message, extra = error_code_for(exc)
        if isinstance(exc, CardRemovedError):
            self._end_session("card_removed")
            self._after_session()
            return
        logger.info("session failed: %s", code)
        self._fail(code, message, **extra)

    def _fail(self, code: ErrorCode, message: str, **extra: Any) -> None:
        with self._lock:
            if self._session is None:
                return
            self._session.error = {"code": str(code), "message": message, **extra}
            self._set_state(SessionState.ERROR)

    def _on_timeout(self) -> None:
        with self._lock:
            state, s = self._state, self._session
            if s is None or state not in (SessionState.AWAITING_CREDENTIAL, SessionState.RESULT,
                                          SessionState.ERROR):
                self._deadline = None
                return
            if self._deadline is not None and self._clock() < self._deadline:
                return  # extended while the worker waited: wait again for the new deadline
        logger.info("timeout in state %s", state)
        self._end_session("timeout")
        self._after_session()

    def _audit_now(self, s: CardSession, outcome: FlowOutcome | None, end: str) -> bool:
        """Write one audit line; False (and no more taps from now on) when it failed."""
        if self._audit is None:
            return True
        try:
            self._audit(s, outcome, end)
        except Exception:
            logger.exception("audit write failed: new taps are refused until it works again")
            self._audit_failed = True
            return False
        return True

    def _end_session(self, why: str) -> None:
        """Write the audit line, purge the session and drop it; a card still in must leave."""
        with self._lock:
            s = self._session
            if s is None:
                return
            # A verdict already has its own line (written before it was shown).
            self._audit_now(s, None if s.outcome is self._audited_outcome else s.outcome, why)
            s.purge()
            s.error = None
            self._session = None
            self._ended = why
            self.sessions_completed += 1
            logger.info("session ended: %s", why)
            if s.reader in self._cards and why != "stopped":
                self._waiting_removal = s.reader


def _check_staff(flow: str, staff: StaffCaller | None) -> None:
    if flow not in STAFF_FLOWS:
        return
    if staff is None:
        raise StaffRequiredError("STAFF_REQUIRED", "staff sign-in required")
    if not staff.may_run(flow):
        raise StaffRequiredError("STAFF_FORBIDDEN", "this staff account may not do that")


def _without_my_number(verdict: dict[str, Any]) -> dict[str, Any]:
    """The verdict as snapshots carry it: a My Number only as its last four digits. The full
    number stays in the session's outcome and leaves only through ``reveal_my_number``."""
    ident = verdict.get("identity")
    if not isinstance(ident, dict) or not isinstance(ident.get("my_number"), str):
        return verdict
    masked = {k: v for k, v in ident.items() if k != "my_number"}
    masked["my_number_last4"] = ident["my_number"][-4:]
    return {**verdict, "identity": masked}
