"""Helpers for the agent service tests: a config over the emulator's test trust, an HTTP
client, an SSE reader and a one-tap driver (no tests here)."""

from __future__ import annotations

import http.client
import json
import threading
import time
from datetime import UTC, datetime
from typing import Any

from tests.support.configs import service_config  # noqa: F401 - re-exported for the tests

AT = datetime(2026, 11, 26, tzinfo=UTC)  # docs/architecture.md: default test time
CREDENTIAL_FOR = {"sign": "sign_password", "auth": "auth_pin", "face": "match_b",
                  "number": "input_helper_pin"}




class Http:
    def __init__(self, url: str, token: str) -> None:
        self.host, port = url.removeprefix("http://").rsplit(":", 1)
        self.port = int(port)
        self.token = token
        self.staff: dict[str, str] = {}  # staff session headers (tests.support.staff)

    def call(self, method: str, path: str, body: dict[str, Any] | None = None,
             ) -> tuple[int, Any]:
        conn = http.client.HTTPConnection(self.host, self.port, timeout=10)
        headers = {"Authorization": f"Bearer {self.token}", **self.staff}
        data = None
        if body is not None:
            data = json.dumps(body)
            headers["Content-Type"] = "application/json"
        conn.request(method, path, body=data, headers=headers)
        resp = conn.getresponse()
        raw = resp.read()
        conn.close()
        return resp.status, json.loads(raw) if raw else None

    def state(self) -> dict[str, Any]:
        return self.call("GET", "/v1/state")[1]


class SseReader:
    """Reads ``/v1/events`` on a thread; ``events`` collects (arrival time, snapshot)."""

    def __init__(self, http_: Http) -> None:
        self.conn = http.client.HTTPConnection(http_.host, http_.port, timeout=30)
        self.conn.request("GET", "/v1/events", headers={"Authorization": f"Bearer {http_.token}"})
        self.resp = self.conn.getresponse()
        assert self.resp.status == 200
        self.events: list[tuple[float, dict[str, Any]]] = []
        self.cond = threading.Condition()
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self) -> None:
        data = ""
        try:
            while True:
                line = self.resp.fp.readline().decode()
                if not line:
                    return
                if line.startswith("data: "):
                    data = line[6:]
                elif line == "\n" and data:
                    snap = json.loads(data)
                    with self.cond:
                        self.events.append((time.perf_counter(), snap))
                        self.cond.notify_all()
                    data = ""
        except (OSError, ValueError):
            return

    def wait(self, pred: Any, timeout: float = 10.0, start: int = 0) -> tuple[int, dict[str, Any]]:
        deadline = time.monotonic() + timeout
        with self.cond:
            i = start
            while True:
                while i < len(self.events):
                    if pred(self.events[i][1]):
                        return i, self.events[i][1]
                    i += 1
                left = deadline - time.monotonic()
                if left <= 0:
                    last = self.events[-1][1] if self.events else None
                    raise AssertionError(f"no matching SSE event; last: {last}")
                self.cond.wait(left)

    def close(self) -> None:
        self.conn.close()


def drive_tap(http_: Http, sse: SseReader, flow: str, credential: str | None,
              start: int, insert: Any) -> tuple[int, dict[str, Any]]:
    """Choose the flow, insert (callable), give the credential when asked; return the final
    result/error event (index, snapshot)."""
    status, _ = http_.call("POST", "/v1/flow", {"flow": flow})
    assert status == 200, status
    insert()
    i, snap = sse.wait(lambda s: s["state"] in ("awaiting_credential", "error"), start=start)
    if snap["state"] == "error":
        return i, snap
    status, body = http_.call("POST", "/v1/credential", {
        "session_id": snap["session_id"], "credential": credential or "",
        "confirm_last_try": False})
    assert status == 202, body
    return sse.wait(lambda s: s["state"] in ("result", "error")
                    or (s["state"] == "awaiting_credential" and s["error"]), start=i + 1)
