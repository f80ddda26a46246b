"""Fakes of our own seams for the agent's state-machine tests (a Reader and a FlowBackend)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any, ClassVar

from agent.service.config import AgentConfig, config_from_mapping
from agent.service.events import EventHub
from agent.service.session import (
    AuditHook,
    CredentialStatus,
    FlowOutcome,
    SessionController,
    StepCallback,
)
from agent.service.watcher import ReaderWatcher
from card.errors import ApplicationNotFoundError, CardRemovedError, InvalidPinError, NoCardError
from card.transports import CardConnection, Interface, Reader, Transport


class FakeConnection(CardConnection):
    transport: ClassVar[Transport] = Transport.EMULATOR

    def __init__(self, reader: FakeReader, generation: int) -> None:
        self.reader = reader
        self.generation = generation
        self.closed = False

    @property
    def interface(self) -> Interface:
        return Interface.CONTACT

    def transmit(self, apdu: bytes) -> tuple[bytes, int]:
        self.check()
        return b"", 0x9000

    def check(self) -> None:
        if self.closed or self.reader.generation != self.generation or not self.reader.present:
            raise CardRemovedError("gone")

    def close(self) -> None:
        self.closed = True


class FakeReader(Reader):
    transport: ClassVar[Transport] = Transport.EMULATOR

    def __init__(self, name: str = "fake 0") -> None:
        self._name = name
        self.present = False
        self.generation = 0
        self.card: dict[str, Any] = {}
        self.connections: list[FakeConnection] = []

    @property
    def name(self) -> str:
        return self._name

    @property
    def locator(self) -> str:
        return f"emulator:{self._name}"

    def insert(self, **card: Any) -> None:
        self.card = {"tries": 5, "secret": "PASS123", "kind": "jpki", **card}
        self.generation += 1
        self.present = True

    def remove(self) -> None:
        self.generation += 1
        self.present = False

    def has_card(self) -> bool:
        return self.present

    def connect(self, exclusive: bool = False) -> FakeConnection:
        if not self.present:
            raise NoCardError("none")
        conn = FakeConnection(self, self.generation)
        conn.exclusive = exclusive  # type: ignore[attr-defined]
        self.connections.append(conn)
        return conn


class FakeBackend:
    """Checks the credential against the fake card; steps can be slowed or hooked."""

    def __init__(self) -> None:
        self.step_delay = 0.0
        self.on_step_hook: Callable[[str], None] | None = None
        self.sent: list[int] = []  # how many VERIFYs the card saw (never the values)
        self.gate = threading.Event()
        self.gate.set()

    def identify(self, connection: CardConnection, flow: str) -> CredentialStatus:
        assert isinstance(connection, FakeConnection)
        connection.check()
        card = connection.reader.card
        if card["kind"] != "jpki":
            raise ApplicationNotFoundError(b"\xd3\x92", 0x6A82)
        return CredentialStatus("sign_password", card["tries"], 5, 6, 16, "A-Z0-9",
                                needs_confirmation=card["tries"] == 1)

    def run(self, connection: CardConnection, flow: str, credential: str, *,
            confirm_last_try: bool, on_step: StepCallback) -> FlowOutcome:
        assert isinstance(connection, FakeConnection)
        card = connection.reader.card
        for step in ("select", "verify", "read_certificate", "verify_chain"):
            on_step(step, "running")
            self.gate.wait(10)
            if self.step_delay:
                time.sleep(self.step_delay)
            if self.on_step_hook:
                self.on_step_hook(step)
            connection.check()
            if step == "verify":
                self.sent.append(1)
                if credential != card["secret"]:
                    card["tries"] -= 1
                    on_step(step, "failed")
                    e = InvalidPinError(card["tries"])
                    return FlowOutcome(False, {"ok": False, "identity": None, "error": {
                        "code": "PIN_INVALID", "message": str(e), "tries_left": card["tries"]}},
                        "PIN_INVALID")
                card["tries"] = 5
            on_step(step, "done")
        verdict = {"ok": True, "flow": flow, "assurance": ["chain", "possession"],
                   "test_trust": True, "identity": {"name": "山田　太郎"},
                   "certificate": {"serial": "0a0b", "not_after": "2030-03-31T14:59:59Z"},
                   "error": None, "timings_ms": {"select": 1.0}}
        return FlowOutcome(True, verdict, None, certificate_der=b"0\x03\x02\x01\x01")


def make_config(**sections: Any) -> AgentConfig:
    base: dict[str, Any] = {"reader": {"poll_interval_s": 0.02}}
    for k, v in sections.items():
        base.setdefault(k, {}).update(v)
    return config_from_mapping(base)


class Rig:
    """A controller + watcher over fake readers, started; ``stop()`` when done."""

    def __init__(self, config: AgentConfig | None = None, readers: list[FakeReader] | None = None,
                 backend: FakeBackend | None = None, audit: AuditHook | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.config = config or make_config()
        self.readers = readers if readers is not None else [FakeReader()]
        self.backend = backend or FakeBackend()
        self.hub = EventHub()
        self.audits: list[tuple[str, str, Any]] = []
        self.source_error: Exception | None = None

        def source() -> list[Reader]:
            if self.source_error is not None:
                raise self.source_error
            return list(self.readers)

        self.controller = SessionController(
            self.config, self.backend, self.hub, readers=lambda: self.watcher.readers(),
            audit=audit or (lambda s, o, why: self.audits.append((s.session_id, why, o))),
            clock=clock)
        self.watcher = ReaderWatcher(source, self.controller.on_reader_event,
                                     interval_s=self.config.reader.poll_interval_s,
                                     max_backoff_s=0.1)
        self.controller.start()
        self.watcher.start()

    @property
    def reader(self) -> FakeReader:
        return self.readers[0]

    def snap(self) -> dict[str, Any]:
        return self.controller.snapshot()

    def wait(self, state: str, timeout: float = 5.0, **match: Any) -> dict[str, Any]:
        return wait_for(self.snap, state, timeout, **match)

    def stop(self) -> None:
        self.watcher.stop()
        self.controller.stop()


def wait_for(get: Callable[[], dict[str, Any]], state: str, timeout: float = 5.0,
             **match: Any) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    snap = get()
    while time.monotonic() < deadline:
        snap = get()
        if snap["state"] == state and all(snap.get(k) == v for k, v in match.items()):
            return snap
        time.sleep(0.01)
    raise AssertionError(f"state {snap['state']!r} (wanted {state!r}): {snap}")
