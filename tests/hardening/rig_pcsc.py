"""Helpers for the step-boundary fault matrix through real pcscd + vpcd (issue 7 §3, no tests).

``StepFaultBackend`` wraps the agent's ``CardFlowBackend`` on the test side (no product hook):
armed with a step index k it fires a fault when step k *starts*: k = 0 is the session's
identify (SELECT + empty VERIFY, before any flow step), k >= 1 the k-th ``on_step(…,
"running")`` of ``run_flow`` (``on="failed"``/``"done"``: when step k *ends* instead, after its
APDUs were answered). The fault runs on the session worker thread, synchronously,
before the session's own step callback, so the step's first APDU meets the fault. ``VpcdSlot``
gives a vpcd bridge the ``insert/remove/has_card`` shape of an ``EmulatedReader``.
``step_names`` lists a clean tap's steps (the matrix's width).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from agent.service.session import CredentialStatus, FlowBackend, FlowOutcome, StepCallback
from agent.verification.flows import FlowConfig, run_flow
from agent.verification.tap import prepare_tap
from card.emulator import PERSONAS, VirtualMynaCard
from card.transports import CardConnection
from card.transports.emulated import EmulatedReader
from tests.hardening.rig import AT, credential

IDENTIFY = "identify"
ALLOWED_CODES = ("TRANSPORT_ERROR", "CARD_REMOVED", "NO_READER")
# Steps that send no APDU: a fault at such a step *that comes after the flow's last APDU*
# cannot stop the flow (the card already proved everything), so a verdict may appear there.
OFFLINE_STEPS = frozenset({"validate_chain", "parse_identity", "verify_possession",
                           "verify_cvc", "verify_record", "verify_text_record"})


def step_names(flow: str, config: FlowConfig, persona: str) -> list[str]:
    """``identify`` + the steps a clean tap of ``flow`` starts, in order (in-process run)."""
    names: list[str] = []

    def on_step(name: str, status: str, ms: float | None = None) -> None:
        if status == "running":
            names.append(name)

    reader = EmulatedReader("steps", VirtualMynaCard(PERSONAS[persona]))
    with reader.connect() as connection:  # as the agent does: identify, then the flow
        verdict = run_flow(flow, connection, credential(persona, flow), at=AT, config=config,
                           on_step=on_step, prepared=prepare_tap(flow, connection))
    assert verdict.ok, verdict
    return [IDENTIFY, *names]


def after_last_apdu(steps: list[str], k: int) -> bool:
    """True when step k and every later step send no APDU (a verdict is legitimate then)."""
    return all(name in OFFLINE_STEPS for name in steps[k:])


class StepFaultBackend:
    """A ``FlowBackend`` that fires ``fault()`` once when step ``k`` starts (see module doc)."""

    def __init__(self, inner: FlowBackend) -> None:
        self._inner = inner
        self._lock = threading.Lock()
        self._k: int | None = None
        self._on = "running"
        self._fault: Callable[[], None] | None = None
        self.fired: str | None = None

    def arm(self, k: int, fault: Callable[[], None], on: str = "running") -> None:
        with self._lock:
            self._k, self._fault, self._on, self.fired = k, fault, on, None

    def disarm(self) -> None:
        with self._lock:
            self._k, self._fault = None, None

    def _maybe_fire(self, index: int, name: str, status: str = "running") -> None:
        with self._lock:
            if self._k != index or self._fault is None or self._on != status:
                return
            fault, self._fault, self._k = self._fault, None, None
            self.fired = name
        fault()

    def identify(self, connection: CardConnection, flow: str) -> CredentialStatus:
        self._maybe_fire(0, IDENTIFY)
        return self._inner.identify(connection, flow)

    def run(self, connection: CardConnection, flow: str, credential: str, *,
            confirm_last_try: bool, on_step: StepCallback) -> FlowOutcome:
        started = [0]

        def hooked(name: str, status: str, ms: float | None = None) -> None:
            if status == "running":
                started[0] += 1
            self._maybe_fire(started[0], name, status)
            on_step(name, status, ms)

        return self._inner.run(connection, flow, credential, confirm_last_try=confirm_last_try,
                               on_step=hooked)


class VanishingSource:
    """A reader source whose one ``EmulatedReader`` can be unplugged (leaves the list)."""

    def __init__(self, reader: EmulatedReader) -> None:
        self.reader = reader
        self.plugged = True

    def __call__(self) -> list[Any]:
        return [self.reader] if self.plugged else []

    def unplug(self) -> None:
        # A USB reader unplugged: it leaves the list and its card link dies with it.
        self.plugged = False
        self.reader.remove()


def identity_leaks(persona: str, texts: list[str]) -> list[str]:
    """Identity values of ``persona`` found in any of ``texts`` (JSON dumps, logs)."""
    ident = PERSONAS[persona].identity
    needles = [ident.name, ident.address, ident.my_number, ident.birth_date.isoformat()]
    return [n for n in needles for t in texts if n and n in t]


def dump(snapshots: list[dict[str, Any]]) -> list[str]:
    return [json.dumps(s, ensure_ascii=False) for s in snapshots]


def read_text(path: Path) -> str:
    return path.read_text(encoding="utf-8", errors="replace") if path.exists() else ""
