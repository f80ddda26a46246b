"""AgentService end to end with the real flows and the in-process emulator (demo reader),
every persona through every flow over HTTP + SSE."""

from __future__ import annotations

import json
import os
import stat
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
from card.emulator import PERSONAS
from card.transports.emulated import EmulatedReader
from tests.support.staff import sign_in_staff

FLOWS = ("sign", "auth", "face", "number")


@pytest.fixture
def demo(tmp_path: Path, trust_dir: Path):
    config = service_config(tmp_path, trust_dir)
    reader = EmulatedReader("demo")
    svc = AgentService(config, demo_reader=reader, backend=CardFlowBackend(config, at=lambda: AT),
                       keepalive_s=1.0)
    svc.start()
    http_ = Http(svc.url, svc.token)
    sign_in_staff(svc, http_)  # face and number need a signed-in staff member
    sse = SseReader(http_)
    yield svc, http_, sse
    sse.close()
    svc.stop()


@pytest.mark.emulator_only
@pytest.mark.parametrize("persona", sorted(PERSONAS))
def test_every_persona_every_flow(demo, persona: str):
    svc, http_, sse = demo
    p = PERSONAS[persona]
    start = 0
    for flow in FLOWS:
        credential = getattr(p.credentials, CREDENTIAL_FOR[flow])
        i, final = drive_tap(http_, sse, flow, credential, start,
                             lambda: http_.call("POST", "/v1/demo/insert", {"persona": persona}))
        expected = p.outcome(flow)
        if expected == "ok":
            assert final["state"] == "result", (flow, final["error"])
            assert final["verdict"]["ok"] is True
            assert final["verdict"]["test_trust"] is True
        else:
            assert final["state"] == "error", (flow, final["state"])
            assert final["error"]["code"] == expected, flow
            assert final["verdict"] is None
        status, _ = http_.call("POST", "/v1/demo/remove", {})
        assert status == 200
        start, idle = sse.wait(lambda s: s["state"] == "idle", start=i + 1)
        assert idle["verdict"] is None and idle["session_id"] is None
        start += 1
    lines = Path(svc.config.log.audit_file).read_text(encoding="utf-8").splitlines()
    records = [json.loads(line) for line in lines]
    assert [r["seq"] for r in records] == list(range(1, len(records) + 1))
    # Each tap: a line when a verdict is reached (if one is), one when the card leaves; staff
    # sign-in lines are events.
    taps = [r for r in records if "event" not in r]
    assert [r["ended_by"] for r in taps].count("card_removed") == len(FLOWS)
    assert {r["ended_by"] for r in taps} <= {"result", "card_removed"}
    for record in taps:
        if record["flow"] in ("face", "number") or record["attempts"]:
            assert record["staff_id"] == "test-supervisor"  # the signed-in client ran it


def test_demo_personas_and_faults_and_audit_key(demo):
    svc, http_, _sse = demo
    status, personas = http_.call("GET", "/v1/demo/personas")
    assert status == 200
    assert {p["name"] for p in personas} == set(PERSONAS)
    assert all("match_a" not in p["credentials"] for p in personas)
    status, _ = http_.call("POST", "/v1/demo/insert", {"persona": "nobody"})
    assert status == 400
    status, _ = http_.call("POST", "/v1/demo/fault", {"remove_after_apdus": -1})
    assert status == 400
    key = Path(svc.config.log.hmac_key_file)
    assert stat.S_IMODE(os.stat(key).st_mode) == 0o600


@pytest.mark.emulator_only
def test_bad_format_asks_again_without_spending_a_try(demo):
    svc, http_, sse = demo
    http_.call("POST", "/v1/flow", {"flow": "auth"})
    http_.call("POST", "/v1/demo/insert", {"persona": "yamada-taro"})
    i, snap = sse.wait(lambda s: s["state"] == "awaiting_credential")
    status, _ = http_.call("POST", "/v1/credential", {"session_id": snap["session_id"],
                                                      "credential": "12a"})
    assert status == 202
    i, snap = sse.wait(lambda s: s["state"] == "awaiting_credential" and s["error"], start=i + 1)
    assert snap["error"]["code"] == "PIN_FORMAT"
    assert snap["credential"]["tries_left"] == 3
    card = svc.demo.reader.card
    from card.ids import AID, JpkiEF

    assert card.tries_left(AID.JPKI, JpkiEF.AUTH_PIN) == 3
    status, _ = http_.call("POST", "/v1/credential", {"session_id": snap["session_id"],
                                                      "credential": "1234"})
    _, final = sse.wait(lambda s: s["state"] in ("result", "error"), start=i + 1)
    assert final["state"] == "result"


@pytest.mark.emulator_only
def test_demo_swapping_cards_starts_a_fresh_session(demo):
    _svc, http_, sse = demo
    http_.call("POST", "/v1/demo/insert", {"persona": "yamada-taro"})
    i, first = sse.wait(lambda s: s["state"] == "awaiting_credential")
    http_.call("POST", "/v1/demo/insert", {"persona": "foreign-resident"})
    _, second = sse.wait(lambda s: s["state"] == "awaiting_credential"
                         and s["session_id"] != first["session_id"], start=i + 1)
    assert second["session_id"]
