"""Privacy (design §2, issue 4 §4): every log record at every level (TRAFFIC included) and the
audit file of a run over every persona and every flow carry no name, address, birth date,
PIN, password, 照合番号B or My Number."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from test_service_rig import (
    AT,
    CREDENTIAL_FOR,
    Http,
    SseReader,
    drive_tap,
    service_config,
)

from agent.service.agent_service import AgentService, CardFlowBackend
from agent.service.logging import TRAFFIC, redact
from card.emulator import PERSONAS
from card.transports.emulated import EmulatedReader
from tests.support.privacy import LogCapture, forbidden_patterns
from tests.support.staff import sign_in_staff

FLOWS = ("sign", "auth", "face", "number")


@pytest.mark.emulator_only
def test_no_personal_data_in_logs_or_audit(tmp_path: Path, trust_dir: Path):
    capture = LogCapture()
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(capture)
    root.setLevel(TRAFFIC)
    try:
        config = service_config(tmp_path, trust_dir)
        svc = AgentService(config, demo_reader=EmulatedReader("demo"),
                           backend=CardFlowBackend(config, at=lambda: AT))
        svc.start()
        http_ = Http(svc.url, svc.token)
        sign_in_staff(svc, http_)  # face and number need a signed-in staff member
        sse = SseReader(http_)
        start = 0
        results = 0
        try:
            for name, p in sorted(PERSONAS.items()):
                for flow in FLOWS:
                    credential = getattr(p.credentials, CREDENTIAL_FOR[flow])
                    i, final = drive_tap(
                        http_, sse, flow, credential, start,
                        lambda n=name: http_.call("POST", "/v1/demo/insert", {"persona": n}))
                    results += final["state"] == "result"
                    # A wrong credential too, so the PIN_INVALID path is logged as well.
                    http_.call("POST", "/v1/demo/remove", {})
                    start, _ = sse.wait(lambda s: s["state"] == "idle", start=i + 1)
                    start += 1
                http_.call("POST", "/v1/flow", {"flow": "auth"})
                http_.call("POST", "/v1/demo/insert", {"persona": name})
                i, snap = sse.wait(lambda s: s["state"] in ("awaiting_credential", "error"),
                                   start=start)
                if snap["state"] == "awaiting_credential":
                    http_.call("POST", "/v1/credential", {"session_id": snap["session_id"],
                                                          "credential": "9999"})
                    i, _ = sse.wait(lambda s: s["error"] is not None, start=i + 1)
                http_.call("POST", "/v1/demo/remove", {})
                start, _ = sse.wait(lambda s: s["state"] == "idle", start=i + 1)
                start += 1
        finally:
            sse.close()
            svc.stop()
    finally:
        root.removeHandler(capture)
        root.setLevel(old_level)

    assert results >= 29  # the run really produced identities to leak
    assert len(capture.lines) > 100  # and really logged (TRAFFIC included)
    assert any("TRAFFIC" in line for line in capture.lines)
    audit = Path(config.log.audit_file).read_text(encoding="utf-8")
    assert audit.count("\n") >= len(PERSONAS) * len(FLOWS)
    corpus = {"log": "\n".join(capture.lines), "audit": audit}
    leaks = []
    for p in PERSONAS.values():
        for label, pattern in forbidden_patterns(p):
            for where, text in corpus.items():
                m = pattern.search(text)
                if m:
                    line = text[max(0, m.start() - 80):m.end() + 20]
                    leaks.append(f"{p.name} {label} in {where}: …{line}…")
    assert not leaks, "\n".join(leaks[:20])


def test_redaction_filter_masks_numbers_and_secrets():
    assert "123456789018" not in redact("number 123456789018 read")
    assert "55021720352285" not in redact("b=55021720352285")
    assert "MYNA2026" not in redact("password=MYNA2026 sent")
    assert redact("SW 63C2 after 12 ms") == "SW 63C2 after 12 ms"
    assert redact("cert 0A1B2C3D4E5F60718293A4B5") == "cert 0A1B2C3D4E5F60718293A4B5"
