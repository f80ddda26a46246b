"""The soak loop shared by ``tests/hardening/test_soak.py`` and ``bench/hardening.py``: N taps
across every persona and flow through one agent service on the real PC/SC path (pcscd + vpcd,
the emulator behind the vpcd bridge), never restarting the service; process figures (RSS,
open file descriptors, threads) are sampled after tap 10 and after tap N."""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from agent.service.agent_service import AgentService, CardFlowBackend
from agent.verification.flows import FLOWS
from card.emulator import PERSONAS, VirtualMynaCard
from tests.hardening.rig import AT, SessionDriver, credential, service_config
from tests.support.pcscd import VpcdSlot
from tests.support.privacy import LogCapture

VPCD_READER = "Virtual PCD 00 00"
END_STATES = ("result", "error", "awaiting_credential")


@dataclass(frozen=True, slots=True)
class Figures:
    taps: int
    rss_kib: int
    fds: int
    threads: int

    def line(self) -> str:
        return (f"after {self.taps:>6} taps: RSS {self.rss_kib / 1024:7.1f} MiB, "
                f"{self.fds:3d} fds, {self.threads:2d} threads")


@dataclass(slots=True)
class SoakResult:
    taps: int = 0
    results: int = 0
    errors: dict[str, int] = field(default_factory=dict)
    samples: list[Figures] = field(default_factory=list)
    vanished: list[str] = field(default_factory=list)  # taps whose card vpcd dropped, repeated


def figures(taps: int) -> Figures:
    rss = 0
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            rss = int(line.split()[1])
    return Figures(taps, rss, len(os.listdir("/proc/self/fd")), threading.active_count())


def soak(tmp: Path, trust_dir: Path, vpcd_port: int, taps: int,
         sample_at: tuple[int, ...] = (10,),
         progress: Callable[[Figures], None] | None = None) -> SoakResult:
    """Run ``taps`` taps (personas x flows round robin, right credentials) through one
    service; every tap must end in a final state and go back to idle on removal."""
    config = service_config(tmp, trust_dir, reader={"locator": f"pcsc:{VPCD_READER}",
                                                    "poll_interval_s": 0.1})
    svc = AgentService(config, backend=CardFlowBackend(config, at=lambda: AT))
    svc.start()
    slot = VpcdSlot(vpcd_port)
    driver = SessionDriver(svc)
    out = SoakResult()
    combos = [(p, f) for p in sorted(PERSONAS) for f in FLOWS]
    bridge_log = LogCapture(keep=12)  # the vpcd bridge's insertions, removals and why a link ended
    bridge_logger = logging.getLogger("card.emulator.vpcd")
    level = bridge_logger.level
    bridge_logger.addHandler(bridge_log)
    bridge_logger.setLevel(logging.DEBUG)
    try:
        driver.wait(lambda s: s["state"] == "idle" and s["reader"] == VPCD_READER)
        for i in range(taps):
            persona, flow = combos[i % len(combos)]
            final = driver.tap(slot, VirtualMynaCard(PERSONAS[persona]), flow,
                               credential(persona, flow))
            if final["state"] == "idle" and not slot.has_card():
                # No fault is injected here, yet the card's vpcd connection ended under the
                # tap: vpcd drops its link on any I/O error. The agent must have ended the
                # session and kept nothing; the tap is then repeated with a fresh card, and the
                # caller bounds how often this may happen.
                assert final["session_id"] is None and final["verdict"] is None, (i, final)
                out.vanished.append(f"tap {i} ({persona}, {flow}): " + " | ".join(bridge_log.lines))
                slot.remove()
                driver.wait(lambda s: s["state"] == "idle")
                final = driver.tap(slot, VirtualMynaCard(PERSONAS[persona]), flow,
                                   credential(persona, flow))
            assert final["state"] in END_STATES, (i, persona, flow, final, list(bridge_log.lines))
            if final["state"] == "result":
                out.results += 1
            elif final["error"]:
                code = final["error"]["code"]
                out.errors[code] = out.errors.get(code, 0) + 1
            slot.remove()
            idle = driver.wait(lambda s: s["state"] == "idle")
            assert idle["session_id"] is None and idle["verdict"] is None, (i, idle)
            out.taps = i + 1
            if out.taps in sample_at or out.taps == taps:
                fig = figures(out.taps)
                out.samples.append(fig)
                if progress is not None:
                    progress(fig)
    finally:
        slot.remove()
        driver.close()
        svc.stop()
        bridge_logger.removeHandler(bridge_log)
        bridge_logger.setLevel(level)
    return out
