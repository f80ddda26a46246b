"""No personal data anywhere after a run (issue 7 §5): every persona through every flow (and a
wrong credential) through the agent session, in-process and through real pcscd + vpcd, with
every logger at TRAFFIC (5) and below; then the log text, the audit, key and token files and
every file in the temporary directories are scanned for names, addresses, birth dates (several
formats), PINs/passwords (plain and as APDU hex) and My Numbers (plain and as hex/UTF-8 hex)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from agent.service.agent_service import AgentService, CardFlowBackend
from agent.verification.flows import FLOWS
from card.emulator import PERSONAS, VirtualMynaCard
from card.transports.emulated import EmulatedReader
from tests.hardening.rig import AT, SessionDriver, credential, service_config
from tests.support.pcscd import VpcdSlot
from tests.support.privacy import LogCapture, files_under, scan

TRAFFIC = 5
VPCD_READER = "Virtual PCD 00 00"


@pytest.fixture
def capture() -> Iterator[LogCapture]:
    cap = LogCapture()
    root = logging.getLogger()
    old = root.level
    root.addHandler(cap)
    root.setLevel(1)  # below TRAFFIC: everything any module logs
    try:
        yield cap
    finally:
        root.removeHandler(cap)
        root.setLevel(old)


def run_everyone(driver: SessionDriver, insert: Any, remove: Any) -> int:
    """Every persona x every flow with its credential, then one wrong credential; returns how
    many taps produced an identity (so the scan is not vacuous)."""
    results = 0
    for name in sorted(PERSONAS):
        for flow in FLOWS:
            final = driver.tap(*insert(name), flow, credential(name, flow))
            results += final["state"] == "result"
            remove()
        final = driver.tap(*insert(name), "auth", "9999")
        remove()
    return results


def _check(capture: LogCapture, results: int, tmp_path: Path, svc: AgentService) -> None:
    assert results >= 29, results
    assert any(" TRAFFIC " in line for line in capture.lines)
    files = files_under(tmp_path)
    assert str(svc.config.audit_path) in files and str(svc.token_file) in files
    leaks = scan({"log": "\n".join(capture.lines), **files})
    assert not leaks, "\n".join(leaks[:20])


@pytest.mark.emulator_only
def test_no_personal_data_in_process(capture: LogCapture, tmp_path: Path, trust_dir: Path) -> None:
    config = service_config(tmp_path, trust_dir, log={"level": "TRAFFIC"})
    reader = EmulatedReader("privacy")
    svc = AgentService(config, demo_reader=reader, backend=CardFlowBackend(config, at=lambda: AT))
    svc.start()
    driver = SessionDriver(svc)
    try:
        results = run_everyone(driver, lambda n: (reader, VirtualMynaCard(PERSONAS[n])),
                               lambda: driver.remove(reader))
    finally:
        driver.close()
        svc.stop()
    _check(capture, results, tmp_path, svc)


@pytest.mark.pcsc
@pytest.mark.emulator_only
def test_no_personal_data_through_pcsc(capture: LogCapture, tmp_path: Path, trust_dir: Path,
                                       pcscd: Any) -> None:
    config = service_config(tmp_path, trust_dir, log={"level": "TRAFFIC"},
                            reader={"locator": f"pcsc:{VPCD_READER}", "poll_interval_s": 0.1})
    svc = AgentService(config, backend=CardFlowBackend(config, at=lambda: AT))
    svc.start()
    slot = VpcdSlot(pcscd.port)
    driver = SessionDriver(svc)
    try:
        driver.wait(lambda s: s["state"] == "idle" and s["reader"] == VPCD_READER)

        def remove() -> None:
            slot.remove()
            driver.wait(lambda s: s["state"] == "idle")

        results = run_everyone(driver, lambda n: (slot, VirtualMynaCard(PERSONAS[n])), remove)
    finally:
        slot.remove()
        driver.close()
        svc.stop()
    _check(capture, results, tmp_path, svc)


def test_the_scan_finds_what_it_looks_for() -> None:
    p = PERSONAS["yamada-taro"]
    ident = p.identity
    for text in (ident.name, ident.address.encode().hex(), ident.my_number,
                 " ".join(f"{b:02X}" for b in p.credentials.sign_password.encode()),
                 f"{ident.birth_date:%Y%m%d}"):
        assert scan({"t": f"x {text} y"}), text
    assert not scan({"t": "SW 63C2 after 12 ms, 4096 bytes"})
