"""Step-boundary fault matrix through the agent session (issue 7 §3): for every flow and every
step k (k = 0 is the session's identify), a fault fires when step k starts, and the tap must
end cleanly. Faults: ``kill`` (SIGKILL the real pcscd), ``unplug`` (the card's vpcd connection
pulled: ``VpcdBridge.remove()``) and ``vanish`` (an in-process ``EmulatedReader`` leaving the
agent's reader source, its card link dying with it). Each cell checks: only typed error codes
(TRANSPORT_ERROR / CARD_REMOVED / NO_READER), no identity in any snapshot or the audit log
(unless every APDU was already answered: then a verified verdict may show before the purge),
no PIN try lost, the session ends no_reader/idle, and then a full tap of the same card works
without restarting the agent (after ``pcscd.restart()`` for ``kill``). A wrong credential with
the fault just before / just after the VERIFY costs 0 / exactly 1 try. The default run covers
every step of ``sign`` and first/middle/last of the others; the rest is ``slow``.
"""

from __future__ import annotations

from contextlib import suppress
from pathlib import Path
from typing import Any

import pytest

from agent.service.agent_service import AgentService, CardFlowBackend
from agent.service.events import EventHub
from agent.service.session import BusyError
from agent.verification.flows import FLOWS
from card.emulator import PERSONAS, VirtualMynaCard
from card.ids import AID, InputHelperEF, JpkiEF, SurfaceEF
from card.transports.emulated import EmulatedReader
from tests.hardening.rig import AT, SessionDriver, credential, pin_verifies, service_config
from tests.hardening.rig_pcsc import (
    ALLOWED_CODES,
    StepFaultBackend,
    VanishingSource,
    after_last_apdu,
    dump,
    identity_leaks,
    read_text,
    step_names,
)
from tests.support.apdu_log import assert_verifies_are_safe
from tests.support.pcscd import VpcdSlot

PERSONA = "yamada-taro"
VPCD_READER = "Virtual PCD 00 00"
PIN_EF = {"sign": (AID.JPKI, JpkiEF.SIGN_PIN), "auth": (AID.JPKI, JpkiEF.AUTH_PIN),
          "face": (AID.SURFACE, SurfaceEF.MATCH_B), "number": (AID.INPUT_HELPER, InputHelperEF.PIN)}
# The steps of a clean tap (test_step_lists_match_the_flows keeps this honest).
STEPS = {
    "sign": ["identify", "verify_pin", "read_certificate", "validate_chain", "parse_identity",
             "sign_challenge", "verify_possession"],
    "auth": ["identify", "verify_pin", "validate_chain", "sign_challenge", "verify_possession"],
    "face": ["identify", "verify_pin", "read_face", "verify_cvc", "verify_record",
             "get_challenge", "sign_challenge", "verify_possession", "read_text_retry_counter",
             "verify_text_match_b", "read_basic_info", "read_integrity", "read_text_cvc",
             "verify_text_record"],
    "number": ["identify", "verify_pin", "read_my_number", "read_basic_info", "read_integrity",
               "verify_cvc", "verify_record", "read_signed_key", "verify_signed_key",
               "get_challenge", "sign_challenge", "verify_possession"],
}
WAIT_S = 20.0


def _cells() -> list[Any]:
    """Every (flow, k); the default run keeps all of sign and first/middle/last of the rest."""
    out = []
    for flow in FLOWS:
        n = len(STEPS[flow])
        for k, name in enumerate(STEPS[flow]):
            sampled = flow == "sign" or k in (0, n // 2, n - 1)
            marks = () if sampled else (pytest.mark.slow,)
            out.append(pytest.param(flow, k, id=f"{flow}-{k:02d}-{name}", marks=marks))
    return out


def _max_tries(card: VirtualMynaCard, flow: str) -> int:
    ap, ef = PIN_EF[flow]
    return int(card.image.applications[ap.value].files[ef].max_tries)  # type: ignore[union-attr]


def _tries(card: VirtualMynaCard, flow: str) -> int:
    ap, ef = PIN_EF[flow]
    return card.tries_left(ap, ef)


def test_step_lists_match_the_flows(config) -> None:
    for flow in FLOWS:
        assert step_names(flow, config, PERSONA) == STEPS[flow], flow


# ---- the agent rigs ----------------------------------------------------------------------

class Rig:
    """One agent with the step-fault backend, its driver, and how cards come and go."""

    def __init__(self, svc: AgentService, backend: StepFaultBackend, slot: Any,
                 audit: Path) -> None:
        self.svc, self.backend, self.slot, self.audit = svc, backend, slot, audit
        self.driver = SessionDriver(svc)

    def wait(self, pred: Any) -> dict[str, Any]:
        return self.driver.wait(pred, WAIT_S)

    def tap_until(self, card: VirtualMynaCard, flow: str, cred: str, end: Any) -> dict[str, Any]:
        """Insert ``card``, answer the credential prompt, wait for a snapshot ``end`` accepts."""
        self.svc.controller.set_flow(flow, staff=self.driver.staff)
        seq0 = self.svc.snapshot()["seq"]
        self.slot.insert(card)
        self.svc.watcher.poke()
        snap = self.wait(lambda s: s["seq"] > seq0 and (
            s["state"] == "awaiting_credential" or end(s)))
        if snap["state"] == "awaiting_credential" and not end(snap):
            with suppress(BusyError):  # the fault may already have ended the session
                self.svc.controller.submit_credential(snap["session_id"], cred, False,
                                                      staff=self.driver.staff)
            snap = self.wait(lambda s: s["seq"] > seq0 and end(s))
        return snap

    def full_tap(self, card: VirtualMynaCard, flow: str) -> None:
        """A clean tap after the fault: the agent recovered by itself."""
        self.backend.disarm()
        final = self.tap_until(card, flow, credential(PERSONA, flow),
                               lambda s: s["state"] in ("result", "error"))
        assert final["state"] == "result", final["error"]
        assert final["verdict"]["ok"] is True and final["verdict"]["identity"]
        if flow != "auth":  # the leak detector sees a real identity (auth has only a hash)
            assert identity_leaks(PERSONA, dump([final]))
        self.slot.remove()
        self.svc.watcher.poke()
        idle = self.wait(lambda s: s["state"] == "idle")
        assert idle["verdict"] is None and idle["session_id"] is None

    def close(self) -> None:
        self.driver.close()
        self.svc.stop()


def _start(tmp_path: Path, trust_dir: Path, slot: Any, **kw: Any) -> Rig:
    config = service_config(tmp_path, trust_dir, **kw.pop("sections", {}))
    backend = StepFaultBackend(CardFlowBackend(config, at=lambda: AT))
    svc = AgentService(config, backend=backend, hub=EventHub(maxsize=2000), **kw)
    svc.start()
    return Rig(svc, backend, slot, config.audit_path)


@pytest.fixture
def pcsc_rig(pcscd, tmp_path: Path, trust_dir: Path):
    if pcscd.proc.poll() is not None:
        pcscd.restart()
    rig = _start(tmp_path, trust_dir, VpcdSlot(pcscd.port), sections={
        "reader": {"locator": f"pcsc:{VPCD_READER}", "poll_interval_s": 0.1}})
    rig.wait(lambda s: s["state"] == "idle" and s["reader"] == VPCD_READER)
    yield rig, pcscd
    rig.slot.remove()
    rig.close()
    if pcscd.proc.poll() is not None:  # leave the shared daemon running for other tests
        pcscd.restart()


@pytest.fixture
def vanish_rig(tmp_path: Path, trust_dir: Path):
    reader = EmulatedReader("usb-reader")
    source = VanishingSource(reader)
    rig = _start(tmp_path, trust_dir, reader, reader_source=source,
                 sections={"reader": {"poll_interval_s": 0.05}})
    rig.wait(lambda s: s["state"] == "idle")
    yield rig, source
    rig.close()


# ---- one cell ----------------------------------------------------------------------------

def _check_cell(rig: Rig, card: VirtualMynaCard, flow: str, k: int, final: dict[str, Any],
                end_state: str, spent: int = 0) -> None:
    """``spent``: tries a processed wrong VERIFY legitimately cost (PIN_INVALID then shows)."""
    steps = STEPS[flow]
    where = (flow, k, steps[k])
    assert rig.backend.fired == steps[k], where
    assert final["state"] == end_state, where
    assert final["session_id"] is None and final["verdict"] is None, where
    assert final["error"] is None and final["credential"] is None, where
    seen = rig.driver.seen
    codes = [s["error"]["code"] for s in seen if s["error"] is not None]
    allowed = ALLOWED_CODES + (("PIN_INVALID",) if spent else ())
    assert all(c in allowed for c in codes), (where, codes)
    verdicts = [s["verdict"] for s in seen if s["verdict"] is not None]
    if after_last_apdu(steps, k):
        # Every APDU was answered before the fault: a verified verdict may show, then purge.
        assert all(v["ok"] is True for v in verdicts), where
    else:
        assert not verdicts, where
        assert not identity_leaks(PERSONA, dump(seen)), where
    assert not identity_leaks(PERSONA, [read_text(rig.audit)]), where
    assert _tries(card, flow) == _max_tries(card, flow) - spent, where
    assert_verifies_are_safe(card, flow)


def _kill(pcscd: Any) -> None:
    pcscd.proc.kill()  # SIGKILL: no orderly shutdown, as a crash or an OOM kill
    pcscd.proc.wait()


@pytest.mark.pcsc
@pytest.mark.emulator_only
@pytest.mark.parametrize(("flow", "k"), _cells())
def test_pcscd_killed_when_step_starts(flow: str, k: int, pcsc_rig) -> None:
    rig, pcscd = pcsc_rig
    card = VirtualMynaCard(PERSONAS[PERSONA])
    rig.backend.arm(k, lambda: _kill(pcscd))
    final = rig.tap_until(card, flow, credential(PERSONA, flow),
                          lambda s: s["state"] == "no_reader")
    _check_cell(rig, card, flow, k, final, "no_reader")
    assert final["reader"] is None
    rig.slot.remove()
    pcscd.restart()
    rig.svc.watcher.poke()  # skip the watcher's backoff; it would get there by itself
    rig.wait(lambda s: s["state"] == "idle" and s["reader"] == VPCD_READER)
    rig.full_tap(card, flow)


@pytest.mark.pcsc
@pytest.mark.emulator_only
@pytest.mark.parametrize(("flow", "k"), _cells())
def test_vpcd_card_pulled_when_step_starts(flow: str, k: int, pcsc_rig) -> None:
    rig, _pcscd = pcsc_rig
    card = VirtualMynaCard(PERSONAS[PERSONA])
    rig.backend.arm(k, rig.slot.remove)
    final = rig.tap_until(card, flow, credential(PERSONA, flow),
                          lambda s: s["state"] == "idle" and not rig.slot.has_card())
    _check_cell(rig, card, flow, k, final, "idle")
    rig.full_tap(card, flow)


@pytest.mark.emulator_only
@pytest.mark.parametrize(("flow", "k"), _cells())
def test_reader_vanishes_when_step_starts(flow: str, k: int, vanish_rig) -> None:
    rig, source = vanish_rig
    card = VirtualMynaCard(PERSONAS[PERSONA])
    rig.backend.arm(k, source.unplug)
    final = rig.tap_until(card, flow, credential(PERSONA, flow),
                          lambda s: s["state"] == "no_reader")
    _check_cell(rig, card, flow, k, final, "no_reader")
    source.plugged = True
    rig.full_tap(card, flow)


def _wrong(cred: str) -> str:
    return cred[:-1] + ("1" if cred[-1] != "1" else "2")


@pytest.mark.pcsc
@pytest.mark.emulator_only
@pytest.mark.parametrize("when", ["running", "failed"], ids=["before_verify", "after_verify"])
@pytest.mark.parametrize("fault", ["kill", "unplug"])
@pytest.mark.parametrize("flow", [pytest.param(f, marks=() if f == "sign" else (pytest.mark.slow,))
                                  for f in FLOWS])
def test_wrong_credential_and_fault_around_verify(flow: str, fault: str, when: str,
                                                  pcsc_rig) -> None:
    """A wrong credential with the fault just before the VERIFY (it never reaches the card: no
    try spent) or just after the card refused it (exactly that one try spent, PIN_INVALID)."""
    rig, pcscd = pcsc_rig
    k = STEPS[flow].index("verify_pin")
    card = VirtualMynaCard(PERSONAS[PERSONA])
    rig.backend.arm(k, (lambda: _kill(pcscd)) if fault == "kill" else rig.slot.remove, on=when)
    end = "no_reader" if fault == "kill" else "idle"
    final = rig.tap_until(card, flow, _wrong(credential(PERSONA, flow)),
                          lambda s: s["state"] == end and not rig.slot.has_card())
    spent = int(when == "failed")
    _check_cell(rig, card, flow, k, final, end, spent=spent)
    assert len(pin_verifies(card)) == spent
    if spent:
        assert [s["error"]["code"] for s in rig.driver.seen if s["error"]][:1] == ["PIN_INVALID"]
    if fault == "kill":
        rig.slot.remove()
        pcscd.restart()
        rig.svc.watcher.poke()
        rig.wait(lambda s: s["state"] == "idle" and s["reader"] == VPCD_READER)
    rig.full_tap(card, flow)
