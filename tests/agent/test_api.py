"""The local API over real HTTP on loopback: auth, bounded strict bodies, SSE (issue 4 §3)."""

from __future__ import annotations

import http.client
import json
import os
import stat
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from test_session_rig import FakeBackend, FakeReader, make_config, wait_for

from agent.service.agent_service import AgentService


def _config(tmp_path: Path, **extra: Any):
    return make_config(
        api={"port": 0, "token_file": str(tmp_path / "state" / "agent.token")},
        log={"audit_file": str(tmp_path / "audit.jsonl"),
             "hmac_key_file": str(tmp_path / "audit.key")},
        **extra,
    )


class Client:
    def __init__(self, svc: AgentService) -> None:
        self.svc = svc
        self.host, port = svc.url.removeprefix("http://").rsplit(":", 1)
        self.port = int(port)

    def request(self, method: str, path: str, body: bytes | str | dict | None = None,
                token: str | bool | None = True, headers: dict[str, str] | None = None,
                ) -> tuple[int, Any]:
        conn = http.client.HTTPConnection(self.host, self.port, timeout=5)
        h = dict(headers or {})
        if token is True:
            token = self.svc.token
        if token is not None:
            h["Authorization"] = f"Bearer {token}"
        if isinstance(body, dict):
            body = json.dumps(body)
        if body is not None:
            h.setdefault("Content-Type", "application/json")
        conn.request(method, path, body=body, headers=h)
        resp = conn.getresponse()
        raw = resp.read()
        conn.close()
        return resp.status, json.loads(raw) if raw else None


@pytest.fixture
def reader():
    return FakeReader()


@pytest.fixture
def svc(tmp_path: Path, reader: FakeReader):
    s = AgentService(_config(tmp_path), backend=FakeBackend(), reader_source=lambda: [reader],
                     keepalive_s=0.2)
    s.start()
    yield s
    s.stop()


def test_token_file_is_private_and_health_works(svc: AgentService):
    mode = stat.S_IMODE(os.stat(svc.token_file).st_mode)
    assert mode == 0o600
    assert svc.token_file.read_text().strip() == svc.token
    assert len(svc.token) >= 32
    status, body = Client(svc).request("GET", "/v1/health")
    assert status == 200 and body["ok"] is True


def test_full_tap_over_http(svc: AgentService, reader: FakeReader):
    c = Client(svc)
    wait_for(lambda: c.request("GET", "/v1/state")[1], "idle")
    reader.insert()
    snap = wait_for(lambda: c.request("GET", "/v1/state")[1], "awaiting_credential")
    status, body = c.request("POST", "/v1/credential", {
        "session_id": snap["session_id"], "credential": "PASS123", "confirm_last_try": False})
    assert status == 202 and body["state"] == "reading"
    snap = wait_for(lambda: c.request("GET", "/v1/state")[1], "result")
    assert snap["verdict"]["ok"]
    status, body = c.request("POST", "/v1/credential", {
        "session_id": snap["session_id"], "credential": "PASS123"})
    assert status == 409 and body["error"]["code"] == "BUSY"
    reader.remove()
    wait_for(lambda: c.request("GET", "/v1/state")[1], "idle")
    lines = (Path(svc.config.log.audit_file)).read_text().splitlines()
    assert [(json.loads(ln)["ended_by"], json.loads(ln)["result"]) for ln in lines] == [
        ("result", "OK"), ("card_removed", None)]


BAD = [
    ("no-token", "POST", "/v1/flow", {"flow": "auth"}, None, 401),
    ("wrong-token", "POST", "/v1/flow", {"flow": "auth"}, "x" * 43, 401),
    ("wrong-token-get", "GET", "/v1/state", None, "nope", 401),
    ("no-token-events", "GET", "/v1/events", None, None, 401),
    ("oversized", "POST", "/v1/flow", json.dumps({"flow": "auth", "pad": "x" * 5000}), True,
     413),
    ("malformed", "POST", "/v1/flow", "{flow: auth", True, 400),
    ("not-object", "POST", "/v1/flow", "[1, 2]", True, 400),
    ("unknown-field", "POST", "/v1/flow", {"flow": "auth", "extra": 1}, True, 400),
    ("wrong-type", "POST", "/v1/flow", {"flow": 3}, True, 400),
    ("missing-field", "POST", "/v1/flow", {}, True, 400),
    ("not-utf8", "POST", "/v1/flow", b"\xff\xfe", True, 400),
    ("disabled-flow", "POST", "/v1/flow", {"flow": "number"}, True, 400),
    ("bool-confirm-type", "POST", "/v1/credential",
     {"session_id": "s", "credential": "x", "confirm_last_try": 1}, True, 400),
    ("demo-off", "POST", "/v1/demo/insert", {"persona": "yamada-taro"}, True, 404),
]


@pytest.mark.parametrize(("method", "path", "body", "token", "status"),
                         [b[1:] for b in BAD], ids=[b[0] for b in BAD])
def test_refused_requests_change_nothing(svc: AgentService, reader: FakeReader, method, path,
                                         body, token, status):
    c = Client(svc)
    reader.insert()
    before = wait_for(lambda: c.request("GET", "/v1/state")[1], "awaiting_credential")
    got, answer = c.request(method, path, body, token=token)
    assert got == status
    assert isinstance(answer["error"]["code"], str)
    time.sleep(0.1)
    after = c.request("GET", "/v1/state")[1]
    assert after == before  # seq unchanged: no state change at all
    assert svc.controller._backend.sent == []  # type: ignore[attr-defined]


def test_sse_first_event_is_snapshot_then_changes(svc: AgentService, reader: FakeReader):
    c = Client(svc)
    # The watcher's first look at the reader moves no_reader -> idle; connect only once the
    # state is still, so "the first event is the current snapshot" has a single answer.
    wait_for(lambda: c.request("GET", "/v1/state")[1], "idle")
    conn = http.client.HTTPConnection(c.host, c.port, timeout=5)
    conn.request("GET", "/v1/events", headers={"Authorization": f"Bearer {svc.token}"})
    resp = conn.getresponse()
    assert resp.status == 200
    assert resp.getheader("Content-Type", "").startswith("text/event-stream")
    events: list[dict[str, Any]] = []
    comments: list[str] = []

    def read() -> None:
        data = ""
        while True:
            line = resp.fp.readline().decode()
            if not line:
                return
            if line.startswith(":"):
                comments.append(line)
            elif line.startswith("data: "):
                data = line[6:]
            elif line == "\n" and data:
                events.append(json.loads(data))
                data = ""

    t = threading.Thread(target=read, daemon=True)
    t.start()
    deadline = time.monotonic() + 3
    while not events and time.monotonic() < deadline:
        time.sleep(0.01)
    assert events and events[0]["seq"] == svc.snapshot()["seq"]
    reader.insert()
    deadline = time.monotonic() + 3
    while time.monotonic() < deadline and not any(
            e["state"] == "awaiting_credential" for e in events):
        time.sleep(0.01)
    assert any(e["state"] == "awaiting_credential" for e in events)
    time.sleep(0.5)
    assert comments  # keepalive comments while nothing changes
    conn.close()
