"""Helpers for the hardening tests: the emulator's test trust, flow config, credentials and
a one-flow runner over any reader (no tests here)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from agent.verification.flows import FLOWS, FlowConfig, Verdict, run_flow
from card.emulator import PERSONAS
from tests.support.apdu_log import pin_verifies  # noqa: F401 - re-exported for the tests
from tests.support.configs import service_config  # noqa: F401 - re-exported for the tests
from tests.support.staff import desk_staff

AT = datetime(2026, 11, 26, tzinfo=UTC)  # docs/architecture.md default test time
CREDENTIAL_FOR = {"sign": "sign_password", "auth": "auth_pin", "face": "match_b",
                  "number": "input_helper_pin"}


def make_config(trust_dir: Path) -> FlowConfig:
    return FlowConfig.build(
        trust_mode="test", test_dir=trust_dir, crl_file=trust_dir / "test.crl",
        cvc_issuer_keys=[trust_dir / "cvc_issuer_surface.pem",
                         trust_dir / "cvc_issuer_input_helper.pem"],
        enabled=FLOWS)


def credential(persona: str, flow: str) -> str:
    return str(getattr(PERSONAS[persona].credentials, CREDENTIAL_FOR[flow]))


def run(reader: Any, flow: str, cred: str, config: FlowConfig, **kw: Any) -> Verdict:
    with reader.connect() as connection:
        return run_flow(flow, connection, cred, at=AT, config=config, **kw)






class SessionDriver:
    """Drives an ``AgentService``'s controller directly and records every snapshot it
    publishes (``seen``), so a test can check that no snapshot ever carried an identity."""

    def __init__(self, svc: Any) -> None:
        self.svc = svc
        self.sub = svc.controller.subscribe()
        self.seen: list[dict[str, Any]] = []
        self.staff = desk_staff()  # face and number run only for a signed-in staff member

    def wait(self, pred: Any, timeout: float = 15.0) -> dict[str, Any]:
        import queue
        import time

        deadline = time.monotonic() + timeout
        snap = self.svc.snapshot()
        if pred(snap):
            return snap
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"no matching snapshot; now {self.svc.snapshot()}")
            try:
                item = self.sub.get(timeout=min(left, 0.5))
            except queue.Empty:
                item = self.svc.snapshot()
            if item is None:
                raise AssertionError("hub closed")
            self.seen.append(item)
            if pred(item):
                return item

    def tap(self, reader: Any, card: Any, flow: str, cred: str,
            timeout: float = 15.0) -> dict[str, Any]:
        """Insert ``card``, give ``cred`` when asked; return the final snapshot before removal
        (result / error / awaiting_credential with an error / idle when the card left)."""
        self.seen.clear()
        self.wait(lambda s: s["state"] in ("idle", "no_reader"), timeout)
        self.svc.controller.set_flow(flow, staff=self.staff)
        before = self.svc.snapshot()["seq"]
        reader.insert(card)
        self.svc.watcher.poke()
        # "idle" counts only when it comes after this insertion: the idle state the tap started
        # from must not pass for "the card already left" while the reader is still connecting.
        snap = self.wait(lambda s: s["state"] in ("awaiting_credential", "error")
                         or (s["state"] == "idle" and s["seq"] > before
                             and not reader.has_card()),
                         timeout)
        if snap["state"] == "awaiting_credential":
            from contextlib import suppress

            from agent.service.session import BusyError

            with suppress(BusyError):  # the card left between the snapshot and the submit
                self.svc.controller.submit_credential(snap["session_id"], cred, False,
                                                      staff=self.staff)
            snap = self.wait(lambda s: s["state"] in ("result", "error", "idle",
                                                      "awaiting_removal")
                             or (s["state"] == "awaiting_credential" and s["error"]), timeout)
        return snap

    def remove(self, reader: Any, timeout: float = 15.0) -> dict[str, Any]:
        reader.remove()
        self.svc.watcher.poke()
        return self.wait(lambda s: s["state"] == "idle", timeout)

    def close(self) -> None:
        self.sub.close()
