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
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any, Self

from agent.service.api import KEEPALIVE_S, MAX_BODY, DemoControl, create_api
from agent.service.audit import AuditLog, load_or_create_key
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
from agent.service.watcher import ReaderSource, ReaderWatcher, source_for_locator
from card.ids import AID
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
    ) -> None:
        self.config = config
        self.hub = hub or EventHub()
        self.token = secrets.token_urlsafe(32)
        self.token_file = config.token_path
        self._demo_reader = demo_reader
        self._backend = backend or CardFlowBackend(config)
        audit_path = config.audit_path
        self.audit = AuditLog(audit_path, load_or_create_key(config.hmac_key_path))
        source: ReaderSource
        if reader_source is not None:
            source = reader_source
        elif demo_reader is not None:
            source = lambda: [demo_reader]  # noqa: E731
        else:
            source = source_for_locator(config.reader.locator)
        self.watcher: ReaderWatcher
        self.controller = SessionController(
            config,
            self._backend,
            self.hub,
            readers=lambda: self.watcher.readers(),
            demo=demo_reader is not None,
            audit=self._write_audit,
        )
        self.watcher = ReaderWatcher(source, self.controller.on_reader_event,
                                     interval_s=config.reader.poll_interval_s)
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
            sock = unix_listener(self.socket_path)
        else:
            sock = tcp_listener(api.host, api.port)
            self._tcp_port = int(sock.getsockname()[1])
        self._server = ApiServer(self.app, sock, MAX_BODY)
        self.controller.start()
        self.watcher.start()
        self._server.start()
        logger.info("agent listening on %s (token file %s)", self.url, self.token_file)
        return self

    def stop(self) -> None:
        self.watcher.stop()
        self.controller.stop()
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
            flow=s.flow,
            started=s.started_wall,
            ended=time.time(),
            end=end,
            attempts=s.attempts,
            steps=s.steps,
            verdict=outcome.verdict if outcome is not None else None,
            certificate_der=outcome.certificate_der if outcome is not None else None,
        )


def _logout(connection: CardConnection, flow: str) -> None:
    """Re-SELECT the flow's AP: it clears the verified PIN (reference §1), so the card holds
    no open security state while the session waits for removal."""
    from card.channel import ApduChannel
    from card.errors import CardError

    try:
        ApduChannel(connection).select_aid(_AID_FOR[flow])
    except CardError:
        pass  # the card is gone or refuses: nothing left to log out of


# ---- the seam to agent.verification.flows ---------------------------------------------------

# flow -> (credential kind, min length, max length, charset) (design §1, reference §5, §7.3).
CREDENTIAL_SHAPE: dict[str, tuple[str, int, int, str]] = {
    "sign": ("sign_password", 6, 16, "A-Z0-9"),
    "auth": ("auth_pin", 4, 4, "0-9"),
    "face": ("match_b", 14, 14, "0-9"),
    "number": ("input_helper_pin", 4, 4, "0-9"),
}


_AID_FOR = {"sign": AID.JPKI, "auth": AID.JPKI, "face": AID.SURFACE, "number": AID.INPUT_HELPER}


class CardFlowBackend:
    """Identify with ``card.apps`` (SELECT by AID, empty VERIFY), then run the verification flow."""

    def __init__(self, config: AgentConfig, *, at: Callable[[], datetime] | None = None) -> None:
        self._config = config
        self._flow_config: Any = None
        self._at = at  # verification time source; None = now (tests pin it, design §1 "Time")

    def identify(self, connection: CardConnection, flow: str) -> CredentialStatus:
        from card.apps.input_helper import InputHelperApp
        from card.apps.jpki import JpkiApp, PinKind
        from card.apps.surface import SurfaceApp, SurfaceKey
        from card.channel import ApduChannel
        from card.errors import ApplicationNotFoundError
        from card.ids import (
            MAX_TRIES_AUTH_PIN,
            MAX_TRIES_INPUT_HELPER_PIN,
            MAX_TRIES_MATCH_KEY,
            MAX_TRIES_SIGN_PASSWORD,
        )
        from card.sw import SW

        channel = ApduChannel(connection)
        try:
            channel.select_aid(_AID_FOR[flow])
        except ApplicationNotFoundError as e:
            # Some cards answer the first command after power-on with 6F00 (reference §6.4,
            # SOL): one retry, then an unknown AID really means UNSUPPORTED_CARD.
            if e.sw != SW.INTERNAL_ERROR:
                raise
            channel.select_aid(_AID_FOR[flow])
        if flow in ("sign", "auth"):
            jpki = JpkiApp(channel)
            kind = PinKind.SIGN if flow == "sign" else PinKind.AUTH
            tries = jpki.tries_left(kind)
            max_tries = MAX_TRIES_SIGN_PASSWORD if flow == "sign" else MAX_TRIES_AUTH_PIN
        elif flow == "face":
            surface = SurfaceApp(channel)
            tries, max_tries = surface.tries_left(SurfaceKey.MATCH_B), MAX_TRIES_MATCH_KEY
        else:
            helper = InputHelperApp(channel)
            tries, max_tries = helper.tries_left(), MAX_TRIES_INPUT_HELPER_PIN
        kind_name, lo, hi, charset = CREDENTIAL_SHAPE[flow]
        return CredentialStatus(kind_name, tries, max(max_tries, tries), lo, hi, charset,
                                needs_confirmation=tries == 1)

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

        if self._flow_config is None:
            self._flow_config = self._config.flow_config()
        try:
            verdict = flows.run_flow(
                flow,
                connection,
                credential,
                at=self._at() if self._at is not None else None,
                config=self._flow_config,
                confirm_last_try=confirm_last_try,
                on_step=on_step,
            )
        finally:
            del credential
            _logout(connection, flow)
        data = verdict.to_json()
        error = data.get("error") or {}
        return FlowOutcome(
            ok=bool(data.get("ok")),
            verdict=data,
            error_code=error.get("code") if isinstance(error, dict) else None,
            certificate_der=getattr(verdict, "certificate_der", None),
        )
