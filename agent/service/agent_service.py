"""``AgentService``: the long-running agent that wires watcher, session, audit and API (issue 4).

``AgentService(config, demo_reader=None).start()`` starts the reader watcher thread, the session
worker thread and the local API (waitress, ``http_server``: a Unix socket, or 127.0.0.1). The
bearer token is generated with ``secrets`` at start and written to ``api.token_file`` (0600).
With a ``demo_reader`` (an ``EmulatedReader``) the watcher watches only that reader and the
``/v1/demo/*`` endpoints drive it. ``CardFlowBackend`` is the seam to ``agent.verification.flows``.
"""

from __future__ import annotations

import logging
import os
import secrets
import threading
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any, Self

from agent.service.api import KEEPALIVE_S, MAX_BODY, DemoControl, create_api
from agent.service.audit import AuditLog, key_path_for, load_or_create_key
from agent.service.config import AgentConfig
from agent.service.events import EventHub
from agent.service.http_server import ApiServer, tcp_listener, unix_listener
from agent.service.session import (
    CardSession,
    CredentialStatus,
    FlowBackend,
    FlowOutcome,
    SessionController,
    StepCallback,
)
from agent.service.watcher import (
    ReaderMonitor,
    ReaderSource,
    ReaderWatcher,
    source_for_locator,
)
from agent.staff import StaffAuthenticator, StaffSession, StaffSessions, StaffStore
from card.transports import CardConnection, Reader

logger = logging.getLogger(__name__)


def write_token_file(path: Path, token: str) -> None:
    """Write the token so only the owner can read it (0600, parent 0700 when we create it)."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_name(path.name + f".{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_NOFOLLOW", 0), 0o600)
    try:
        os.fchmod(fd, 0o600)  # the umask or an older file must not widen it
        os.write(fd, token.encode("ascii") + b"\n")
    finally:
        os.close(fd)
    os.replace(tmp, path)


class EmulatedDemo:
    """Demo controls over an ``EmulatedReader``: insert a persona's card, remove, inject faults."""

    def __init__(self, reader: Any, watcher: ReaderWatcher) -> None:
        self.reader = reader
        self._watcher = watcher
        self._poke = watcher.poke

    def insert(self, persona: str) -> None:
        from card.emulator import PERSONAS, VirtualMynaCard  # demo wiring only (architecture.md)

        if persona not in PERSONAS:
            raise KeyError(persona)
        if self.reader.has_card():
            # Swapping cards: let the watcher see the old one leave first, or the new card
            # would look like the old one still sitting there (stuck in awaiting_removal).
            self.remove()
            deadline = time.monotonic() + 2.0
            while self._watcher.has_card(self.reader.name) and time.monotonic() < deadline:
                time.sleep(0.01)
        self.reader.insert(VirtualMynaCard(PERSONAS[persona]))
        self._poke()

    def remove(self) -> None:
        self.reader.remove()
        self._poke()

    def fault(self, **faults: Any) -> None:
        from card.emulator import Faults

        card = getattr(self.reader, "card", None)
        if card is None:
            raise ValueError("no card inserted")
        card.faults = Faults(**faults)

    def personas(self) -> list[dict[str, Any]]:
        from card.emulator import PERSONAS

        out = []
        for name, p in PERSONAS.items():
            creds = getattr(p, "credentials", None)
            out.append({
                "name": name,
                "description": getattr(p, "description", ""),
                # Demo personas are fictional test data; the demo panel shows their credentials
                # (照合番号A is a My Number, so it stays out).
                "credentials": {k: v for k, v in _as_dict(creds).items() if k != "match_a"},
            })
        return out


def _as_dict(obj: Any) -> dict[str, Any]:
    if obj is None:
        return {}
    if isinstance(obj, dict):
        return dict(obj)
    fields = getattr(obj, "__dataclass_fields__", None)
    if fields:
        return {k: getattr(obj, k) for k in fields}
    return {}


class AgentService:
    """The agent: ``start()``, ``url``, ``token``, ``token_file``, ``snapshot()``, ``stop()``."""

    def __init__(
        self,
        config: AgentConfig,
        *,
        demo_reader: Reader | None = None,
        backend: FlowBackend | None = None,
        reader_source: ReaderSource | None = None,
        keepalive_s: float = KEEPALIVE_S,
        hub: EventHub | None = None,
        records: Any = None,
        staff_clock: Callable[[], float] | None = None,
    ) -> None:
        self.config = config
        # Verification records (agent.records.keeper.RecordKeeper); tests may pass their own.
        self.records = records if records is not None else _record_keeper(config)
        self.hub = hub or EventHub()
        self.token = secrets.token_urlsafe(32)
        self.token_file = config.token_path
        self._demo_reader = demo_reader
        self._backend = backend or CardFlowBackend(config, records=self.records)
        audit_path = config.audit_path
        self.audit = AuditLog(audit_path, load_or_create_key(key_path_for(config.hmac_key_path)))
        source: ReaderSource | ReaderMonitor
        if reader_source is not None:
            source = reader_source
        elif demo_reader is not None:
            source = lambda: [demo_reader]  # noqa: E731
        else:
            source = source_for_locator(config.reader.locator,
                                        allow_virtual=config.reader.allow_virtual)
        self.watcher: ReaderWatcher
        self.controller = SessionController(
            config,
            self._backend,
            self.hub,
            readers=lambda: self.watcher.readers(),
            demo=demo_reader is not None,
            audit=self._write_audit,
            records=self.records,
        )
        self.watcher = ReaderWatcher(source, self.controller.on_reader_event,
                                     interval_s=config.reader.poll_interval_s)
        # Staff accounts live beside the token in the agent's state directory; the clock is
        # injectable so tests move time for delays and idle expiry instead of sleeping.
        self.staff_store = StaffStore(config.staff_store_path, clock=staff_clock or time.time)
        self.staff_auth = StaffAuthenticator(self.staff_store, clock=staff_clock or time.time)
        self.staff_sessions = StaffSessions(self.staff_store, idle_s=config.staff.idle_lock_s,
                                            clock=staff_clock or time.monotonic,
                                            on_end=self._staff_ended)
        self._staff_sweep_stop = threading.Event()
        self.demo: DemoControl | None = (
            EmulatedDemo(demo_reader, self.watcher) if demo_reader is not None else None
        )
        self.app = create_api(self, keepalive_s=keepalive_s)
        self._server: ApiServer | None = None
        self._tcp_port: int | None = None

    # ---- lifecycle -----------------------------------------------------------------------
    def start(self) -> Self:
        write_token_file(self.token_file, self.token)
        api = self.config.api
        if self.socket_path is not None:
            sock = unix_listener(self.socket_path, api.socket_group)
        else:
            sock = tcp_listener(api.host, api.port)
            self._tcp_port = int(sock.getsockname()[1])
        self._server = ApiServer(self.app, sock, MAX_BODY)
        if self.records is not None:
            self.records.start()
        self.controller.start()
        self.watcher.start()
        self._server.start()
        threading.Thread(target=self._sweep_staff, name="myna-staff", daemon=True).start()
        threading.Thread(target=self._warm_up, name="myna-warm-up", daemon=True).start()
        logger.info("agent listening on %s (token file %s)", self.url, self.token_file)
        return self

    def stop(self) -> None:
        self._staff_sweep_stop.set()
        self.watcher.stop()
        self.controller.stop()
        if self.records is not None:
            self.records.stop()
        self.hub.close()
        if self._server is not None:
            self._server.close()
        if self.socket_path is not None:
            self.socket_path.unlink(missing_ok=True)
        logger.info("agent stopped")

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _warm_up(self) -> None:
        warm_up = getattr(self._backend, "warm_up", None)
        if warm_up is None:
            return
        try:
            warm_up()
        except Exception as e:  # noqa: BLE001 - the first tap reports it as a verdict
            logger.warning("verifier not ready: %s", type(e).__name__)

    @property
    def socket_path(self) -> Path | None:
        return Path(self.config.api.socket).expanduser() if self.config.api.socket else None

    @property
    def url(self) -> str:
        """The API's URL for the kiosk: the Unix socket when there is one, else TCP."""
        if self._server is None:
            raise RuntimeError("service not started")
        if self.socket_path is not None:
            return f"unix://{self.socket_path}"
        return self.tcp_url

    @property
    def tcp_url(self) -> str:
        if self._tcp_port is None:
            raise RuntimeError("the API is not on TCP")
        host = self.config.api.host
        host = f"[{host}]" if ":" in host else host
        return f"http://{host}:{self._tcp_port}"

    def snapshot(self) -> dict[str, Any]:
        return self.controller.snapshot()

    def _write_audit(self, s: CardSession, outcome: FlowOutcome | None, end: str) -> None:
        self.audit.record(
            session_id=s.session_id,
            reader=s.reader,
            flow=s.ran_flow or s.flow,
            started=s.started_wall,
            ended=time.time(),
            end=end,
            attempts=s.attempts,
            steps=s.steps,
            verdict=outcome.verdict if outcome is not None else None,
            certificate_der=outcome.certificate_der if outcome is not None else None,
            staff_id=s.staff_id,
            staff_session=s.staff_session,
        )

    def _sweep_staff(self) -> None:
        while not self._staff_sweep_stop.wait(1.0):
            try:
                self.staff_sessions.sweep()
            except Exception:
                logger.exception("staff session sweep failed")

    def _staff_ended(self, session: StaffSession, why: str) -> None:
        """A staff session ended: write it down and purge the staff-mode tap it ran."""
        self.audit.event("staff_signed_out", staff_id=session.staff_id,
                         staff_session=session.ref, reason=why)
        self.controller.staff_session_ended(session.ref,
                                            others_active=bool(self.staff_sessions.active()))


def _record_keeper(config: AgentConfig) -> Any:
    if not config.records.enabled:
        return None
    from agent.records.keeper import RecordKeeper

    return RecordKeeper(config)


# ---- the seam to agent.verification.flows ---------------------------------------------------

# flow -> (credential kind, min length, max length, charset) (design §1, reference §5, §7.3).
CREDENTIAL_SHAPE: dict[str, tuple[str, int, int, str]] = {
    "sign": ("sign_password", 6, 16, "A-Z0-9"),
    "auth": ("auth_pin", 4, 4, "0-9"),
    "face": ("match_b", 14, 14, "0-9"),
    "number": ("input_helper_pin", 4, 4, "0-9"),
}


class CardFlowBackend:
    """Identify (``tap.prepare_tap``: SELECT, prefetch, retry query), then run the verification
    flow from that state on the same exclusive connection: each APDU is sent once per tap."""

    def __init__(self, config: AgentConfig, *, at: Callable[[], datetime] | None = None,
                 records: Any = None) -> None:
        self._config = config
        self._records = records
        self._flow_config: Any = None
        self._at = at  # verification time source; None = now (tests pin it, design §1 "Time")
        self._prepared: Any = None  # the last tap's PreparedTap (public card data only)
        self._config_lock = threading.Lock()

    def warm_up(self) -> None:
        """Load the verifier and build its configuration (trust roots, CRL) before the first
        credential needs it, so no tap waits for imports."""
        self._flows_config()

    def _flows_config(self) -> Any:
        with self._config_lock:
            if self._flow_config is None:
                self._flow_config = self._config.flow_config()
            return self._flow_config

    def identify(self, connection: CardConnection, flow: str) -> CredentialStatus:
        from agent.verification.tap import prepare_tap
        from card.ids import (
            MAX_TRIES_AUTH_PIN,
            MAX_TRIES_INPUT_HELPER_PIN,
            MAX_TRIES_MATCH_KEY,
            MAX_TRIES_SIGN_PASSWORD,
        )

        self._prepared = None
        tap = prepare_tap(flow, connection)
        self._prepared = tap
        max_tries = {"sign": MAX_TRIES_SIGN_PASSWORD, "auth": MAX_TRIES_AUTH_PIN,
                     "face": MAX_TRIES_MATCH_KEY, "number": MAX_TRIES_INPUT_HELPER_PIN}[flow]
        kind_name, lo, hi, charset = CREDENTIAL_SHAPE[flow]
        return CredentialStatus(kind_name, tap.tries, max(max_tries, tap.tries), lo, hi, charset,
                                needs_confirmation=tap.tries == 1)

    def run(
        self,
        connection: CardConnection,
        flow: str,
        credential: str,
        *,
        confirm_last_try: bool,
        on_step: StepCallback,
    ) -> FlowOutcome:
        from agent.verification import flows

        flow_config = self._flows_config()
        prepared = self._prepared
        draft = self._records.draft(flow) if self._records is not None else None
        try:
            verdict = flows.run_flow(
                flow,
                connection,
                credential,
                at=self._at() if self._at is not None else None,
                config=flow_config,
                confirm_last_try=confirm_last_try,
                on_step=on_step,
                prepared=prepared,
                statement=draft,
            )
        finally:
            del credential
        data = verdict.to_json()
        error = data.get("error") or {}
        if not isinstance(error, dict) or error.get("code") != "PIN_INVALID":
            # Only a refused credential is asked again on this state; anything else ends the
            # tap (no SELECT to log out: the card stays held until it leaves, then loses power).
            self._prepared = None
        return FlowOutcome(
            ok=bool(data.get("ok")),
            verdict=data,
            error_code=error.get("code") if isinstance(error, dict) else None,
            certificate_der=getattr(verdict, "certificate_der", None),
            record_draft=draft,
        )
