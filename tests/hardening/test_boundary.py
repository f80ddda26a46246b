"""The identity goes only to the screen it belongs to (design §2.1), against real processes.

The agent runs in this process (a real HTTP server on loopback, the emulator as its reader);
the kiosk server is its own process (``python -m kiosk_ui``), as in production. Every route of
both servers is taken from their URL maps, so a route added later is covered too.
"""

from __future__ import annotations

import http.client
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from agent.service.agent_service import AgentService, CardFlowBackend
from card.transports.emulated import EmulatedReader
from tests.hardening.rig import AT, service_config

ROOT = Path(__file__).resolve().parents[2]
FOREIGN_HOSTS = ["evil.example:{port}", "127.0.0.1.nip.io:{port}", "127.0.0.1:{other}",
                 "localhost", "127.0.0.1", "[::1]:{other}", ""]


@dataclass
class Answer:
    status: int
    body: bytes


def send(port: int, method: str, path: str, headers: dict[str, str] | None = None,
         body: bytes | None = None) -> Answer:
    """One request with exactly these headers (``Host`` too, when given); streams are not read."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        h = dict(headers or {})
        if "Host" in h:
            conn.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
            for k, v in h.items():
                conn.putheader(k, v)
            if body is not None:
                conn.putheader("Content-Length", str(len(body)))
            conn.endheaders(body)
        else:
            conn.request(method, path, body=body, headers=h)
        resp = conn.getresponse()
        stream = resp.getheader("Content-Type", "").startswith("text/event-stream")
        data = resp.read(64 * 1024) if not stream or resp.status != 200 else b"<stream>"
        return Answer(resp.status, data)
    finally:
        conn.close()


def routes(app: Flask) -> list[tuple[str, str]]:
    """(method, path) for every route of ``app``, with a real file for the static route."""
    out = []
    for rule in app.url_map.iter_rules():
        path = rule.rule.replace("<path:filename>", "kiosk.css")
        for method in sorted((rule.methods or set()) - {"OPTIONS"}):
            out.append((method, path))
    return out


@dataclass
class Kiosk:
    port: int
    proc: subprocess.Popen[str]

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@pytest.fixture(scope="module")
def agent(tmp_path_factory: pytest.TempPathFactory, trust_dir: Path) -> Iterator[AgentService]:
    tmp = tmp_path_factory.mktemp("agent")
    config = service_config(tmp, trust_dir)
    svc = AgentService(config, demo_reader=EmulatedReader("boundary"),
                       backend=CardFlowBackend(config, at=lambda: AT))
    svc.start()
    yield svc
    svc.stop()


def agent_port(svc: AgentService) -> int:
    return int(svc.url.rsplit(":", 1)[1])


def start_kiosk(svc: AgentService, *extra: str) -> Kiosk:
    proc = subprocess.Popen(  # noqa: S603 - our own interpreter and module
        [sys.executable, "-m", "kiosk_ui", "--port", "0", "--demo",
         "--agent-url", svc.url, "--token-file", str(svc.token_file), *extra],
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    assert proc.stderr is not None
    deadline = time.monotonic() + 30
    line = ""
    while "kiosk UI on" not in line and time.monotonic() < deadline:
        line = proc.stderr.readline()
        if not line and proc.poll() is not None:
            raise RuntimeError("kiosk process exited")
    return Kiosk(int(line.rsplit(":", 1)[1]), proc)


def stop_kiosk(k: Kiosk) -> None:
    k.proc.terminate()
    try:
        k.proc.communicate(timeout=10)
    except subprocess.TimeoutExpired:
        k.proc.kill()
        k.proc.communicate()


@pytest.fixture(scope="module")
def kiosk(agent: AgentService) -> Iterator[Kiosk]:
    k = start_kiosk(agent)
    yield k
    stop_kiosk(k)


def kiosk_routes() -> list[tuple[str, str]]:
    from kiosk_ui import create_app

    return routes(create_app({"DEMO": True, "AGENT_TOKEN": "unused"}))


def agent_routes(svc: AgentService) -> list[tuple[str, str]]:
    return routes(svc.app)


def _json_post_headers(extra: dict[str, str]) -> dict[str, str]:
    return {"Content-Type": "application/json", **extra}


# ---- Host and Origin ------------------------------------------------------------------------

@pytest.mark.parametrize("template", FOREIGN_HOSTS)
def test_kiosk_refuses_a_foreign_host_on_every_route(kiosk: Kiosk, template: str) -> None:
    host = template.format(port=kiosk.port, other=kiosk.port + 1)
    for method, path in kiosk_routes():
        headers = {"Host": host}
        body = b"{}" if method == "POST" else None
        if method == "POST":
            headers = _json_post_headers({**headers, "Origin": f"http://{host}"})
        a = send(kiosk.port, method, path, headers, body)
        assert a.status in (403, 421), (method, path, host, a.status)
        assert b"csrf-token" not in a.body and b"identity" not in a.body


@pytest.mark.parametrize("headers", [{"Origin": "http://evil.example"},
                                     {"Origin": "http://127.0.0.1:{other}"},
                                     {"Origin": "null"},
                                     {"Sec-Fetch-Site": "cross-site"},
                                     {"Sec-Fetch-Site": "same-site"}])
def test_kiosk_refuses_a_foreign_origin_on_every_route(kiosk: Kiosk,
                                                       headers: dict[str, str]) -> None:
    h = {k: v.format(other=kiosk.port + 1) for k, v in headers.items()}
    for method, path in kiosk_routes():
        body = b"{}" if method == "POST" else None
        a = send(kiosk.port, method, path, _json_post_headers(h) if body else h, body)
        assert a.status == 403, (method, path, h, a.status)
        assert b"csrf-token" not in a.body


def test_kiosk_posts_need_an_origin(kiosk: Kiosk) -> None:
    for method, path in kiosk_routes():
        if method == "POST":
            a = send(kiosk.port, method, path, _json_post_headers({}), b"{}")
            assert a.status == 403, (path, a.status)


@pytest.mark.parametrize("template", FOREIGN_HOSTS)
def test_agent_refuses_a_foreign_host_on_every_route(agent: AgentService, template: str) -> None:
    port = agent_port(agent)
    host = template.format(port=port, other=port + 1)
    for method, path in agent_routes(agent):
        headers = {"Host": host, "Authorization": f"Bearer {agent.token}"}
        body = b"{}" if method == "POST" else None
        if body:
            headers = _json_post_headers(headers)
        a = send(port, method, path, headers, body)
        assert a.status == 403, (method, path, host, a.status)


@pytest.mark.parametrize("headers", [{"Origin": "http://evil.example"}, {"Origin": "null"},
                                     {"Sec-Fetch-Site": "cross-site"}])
def test_agent_refuses_a_foreign_origin_on_every_route(agent: AgentService,
                                                       headers: dict[str, str]) -> None:
    port = agent_port(agent)
    for method, path in agent_routes(agent):
        h: dict[str, Any] = {**headers, "Authorization": f"Bearer {agent.token}"}
        body = b"{}" if method == "POST" else None
        a = send(port, method, path, _json_post_headers(h) if body else h, body)
        assert a.status == 403, (method, path, headers, a.status)


def test_own_host_and_origin_still_served(agent: AgentService) -> None:
    port = agent_port(agent)
    for name in ("127.0.0.1", "localhost", "[::1]"):
        a = send(port, "GET", "/v1/health",
                 {"Host": f"{name}:{port}", "Authorization": f"Bearer {agent.token}",
                  "Origin": f"http://{name}:{port}"})
        assert a.status == 200, name
