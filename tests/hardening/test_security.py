"""Security checks as tests (issue 7 §5) against the real agent service and the real kiosk
app: tokens (401), kiosk CSRF (403), oversized bodies (413), static path traversal (404),
loopback-only listening sockets (read back from /proc/net/tcp*), and random JSON bodies to
every agent POST endpoint (only the documented answers, never a 500)."""

from __future__ import annotations

import http.client
import json
import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agent.service.agent_service import AgentService, CardFlowBackend
from agent.service.config import ConfigError
from card.transports.emulated import EmulatedReader
from tests.hardening.rig import AT, service_config
from tests.kiosk_ui.helpers import PAIRING_SECRET

ROOT = Path(__file__).resolve().parents[2]
POSTS = ["/v1/flow", "/v1/credential", "/v1/cancel", "/v1/demo/insert", "/v1/demo/remove",
         "/v1/demo/fault"]
GETS = ["/v1/health", "/v1/state", "/v1/events", "/v1/demo/personas"]


def request(port: int, method: str, path: str, body: bytes | None = None,
            headers: dict[str, str] | None = None) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.request(method, path, body=body, headers=headers or {})
    resp = conn.getresponse()
    data = resp.read() if resp.status != 200 or "events" not in path else b""
    conn.close()
    return resp.status, data


def listening_addresses(port: int) -> set[str]:
    """Local addresses (hex, as in /proc/net/tcp*) of sockets LISTENing on ``port``."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            addr, hexport = fields[1].split(":")
            if int(hexport, 16) == port and fields[3] == "0A":
                found.add(addr)
    return found


LOOPBACK_HEX = {"0100007F", "00000000000000000000000001000000"}


@pytest.fixture(scope="module")
def agent(tmp_path_factory: pytest.TempPathFactory, trust_dir: Path) -> Iterator[AgentService]:
    tmp = tmp_path_factory.mktemp("agent")
    config = service_config(tmp, trust_dir)
    svc = AgentService(config, demo_reader=EmulatedReader("sec"),
                       backend=CardFlowBackend(config, at=lambda: AT))
    svc.start()
    deadline = time.monotonic() + 10
    while svc.snapshot()["state"] != "idle" and time.monotonic() < deadline:
        time.sleep(0.01)  # the watcher's first look at the reader settles the state
    yield svc
    svc.stop()


def port_of(svc: AgentService) -> int:
    return int(svc.url.rsplit(":", 1)[1])


# ---- agent API -----------------------------------------------------------------------------

@pytest.mark.parametrize("auth", [None, "Bearer wrong", "Bearer ", "Basic abc", "bearer {t}x"])
def test_agent_refuses_missing_or_wrong_token(agent: AgentService, auth: str | None) -> None:
    headers = {} if auth is None else {"Authorization": auth.replace("{t}", agent.token)}
    before = agent.snapshot()["seq"]
    for path in GETS:
        status, body = request(port_of(agent), "GET", path, headers=headers)
        assert status == 401, (path, status)
        assert json.loads(body)["error"]["code"] == "UNAUTHORIZED"
    for path in POSTS:
        status, _ = request(port_of(agent), "POST", path, b'{"flow": "auth"}',
                            {**headers, "Content-Type": "application/json"})
        assert status == 401, (path, status)
    assert agent.snapshot()["seq"] == before  # a refused request changes nothing


def test_agent_accepts_the_right_token(agent: AgentService) -> None:
    status, body = request(port_of(agent), "GET", "/v1/health",
                           headers={"Authorization": f"Bearer {agent.token}"})
    assert status == 200 and json.loads(body)["ok"] is True


@pytest.mark.parametrize("size", [4097, 64 * 1024, 2 * 1024 * 1024])
def test_agent_refuses_oversized_bodies(agent: AgentService, size: int) -> None:
    body = b'{"flow": "' + b"a" * size + b'"}'
    for path in POSTS:
        status, data = request(port_of(agent), "POST", path, body, {
            "Authorization": f"Bearer {agent.token}", "Content-Type": "application/json"})
        assert status == 413, (path, status)
        # Far over the limit, the HTTP server itself refuses before reading (plain text).
        assert data.startswith(b"Request Entity Too Large") or json.loads(data)["error"][
            "code"] == "TOO_LARGE"


def test_agent_refuses_oversized_chunked_bodies(agent: AgentService) -> None:
    for size in (4097, 64 * 1024):
        before = agent.snapshot()["seq"]
        conn = http.client.HTTPConnection("127.0.0.1", port_of(agent), timeout=10)
        try:
            conn.request("POST", "/v1/flow", body=iter([b'{"flow": "', b"a" * size, b'"}']),
                         headers={"Authorization": f"Bearer {agent.token}",
                                  "Content-Type": "application/json"}, encode_chunked=True)
            status: int | str = conn.getresponse().status
        except (ConnectionResetError, BrokenPipeError):
            # Far over the limit the server answers 413 and closes while the rest of the body
            # is still on its way; the reset can reach the client before it reads the answer.
            status = "reset"
        finally:
            conn.close()
        assert status == 413 or (status == "reset" and size > 8 * 1024), (size, status)
        assert agent.snapshot()["seq"] == before  # refused: nothing changed


def test_agent_listens_on_loopback_only(agent: AgentService, tmp_path: Path,
                                        trust_dir: Path) -> None:
    assert listening_addresses(port_of(agent)) <= LOOPBACK_HEX
    assert listening_addresses(port_of(agent))
    for host in ("0.0.0.0", "::", "192.168.1.10"):  # noqa: S104 - what must be refused
        with pytest.raises(ConfigError):
            service_config(tmp_path, trust_dir, api={"host": host})


JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats()
    | st.text(max_size=40),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner,
                                                                max_size=4),
    max_leaves=12)
FIELDS = st.sampled_from(["flow", "session_id", "credential", "confirm_last_try", "persona",
                          "remove_after_apdus", "latency_s", "bitrate", "garbage_after_apdus",
                          "truncate_after_apdus", "internal_error_after_power_on", "x"])
BODIES = st.one_of(
    st.dictionaries(FIELDS, JSON, max_size=4).map(lambda d: json.dumps(d).encode()),
    JSON.map(lambda v: json.dumps(v).encode()),
    st.binary(max_size=300))


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow,
          HealthCheck.function_scoped_fixture])
@given(path=st.sampled_from(POSTS), body=BODIES)
def test_agent_api_random_bodies(agent: AgentService, path: str, body: bytes) -> None:
    client = agent.app.test_client()
    resp = client.post(path, data=body, headers={"Authorization": f"Bearer {agent.token}",
                                                 "Content-Type": "application/json"})
    assert resp.status_code in (200, 202, 400, 404, 409, 413), (resp.status_code, body)
    if resp.status_code >= 400:
        assert resp.get_json()["error"]["code"] in (
            "BAD_REQUEST", "TOO_LARGE", "NOT_FOUND", "BUSY", "FLOW_DISABLED")
    # Whatever it was, leave the demo reader empty and without faults for the next example.
    client.post("/v1/demo/fault", json={}, headers={"Authorization": f"Bearer {agent.token}"})
    client.post("/v1/demo/remove", json={}, headers={"Authorization": f"Bearer {agent.token}"})


# ---- kiosk UI ------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def kiosk(agent: AgentService) -> Iterator[int]:
    """The real kiosk app (as ``python -m kiosk_ui`` builds it) served on a loopback port."""
    from werkzeug.serving import make_server

    from kiosk_ui import create_app

    app = create_app({"AGENT_URL": agent.url, "AGENT_TOKEN": agent.token, "DEMO": True,
                      "PAIRING_SECRET": PAIRING_SECRET})
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    conn = http.client.HTTPConnection("127.0.0.1", server.server_port, timeout=10)
    conn.request("GET", "/pair?s=" + PAIRING_SECRET)
    _PAIR_COOKIES[server.server_port] = conn.getresponse().getheader("Set-Cookie", "").split(
        ";", 1)[0]
    conn.close()
    yield server.server_port
    server.shutdown()
    server.server_close()


_PAIR_COOKIES: dict[int, str] = {}  # kiosk port -> the paired browser's cookie


def paired(port: int) -> dict[str, str]:
    """Headers of the kiosk's paired browser."""
    return {"Cookie": _PAIR_COOKIES[port]}


def kiosk_session(port: int) -> tuple[str, str]:
    """(cookies, csrf token) of the paired browser's kiosk page."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.request("GET", "/", headers=paired(port))
    resp = conn.getresponse()
    html = resp.read().decode()
    cookie = _PAIR_COOKIES[port] + "; " + resp.getheader("Set-Cookie", "").split(";", 1)[0]
    conn.close()
    m = re.search(r'name="csrf-token" content="([^"]+)"', html)
    assert m and cookie, html[:300]
    return cookie, m.group(1)


KIOSK_POSTS = ["/api/flow", "/api/credential", "/api/cancel"]


def test_kiosk_posts_need_the_csrf_token(kiosk: int) -> None:
    cookie, token = kiosk_session(kiosk)
    body = json.dumps({"flow": "auth"}).encode()
    for path in KIOSK_POSTS:
        for headers in ({}, {"Cookie": cookie}, {"Cookie": cookie, "X-CSRF-Token": "forged"},
                        {"X-CSRF-Token": token},
                        {"Cookie": cookie, "X-CSRF-Token": token,
                         "Origin": "http://evil.example"}):
            status, _ = request(kiosk, "POST", path, body,
                                {"Content-Type": "application/json", **headers})
            assert status == 403, (path, headers.keys(), status)
    status, _ = request(kiosk, "POST", "/api/flow", body, {
        "Content-Type": "application/json", "Cookie": cookie, "X-CSRF-Token": token,
        "Origin": f"http://127.0.0.1:{kiosk}"})
    assert status != 403


def test_kiosk_refuses_oversized_bodies(kiosk: int) -> None:
    cookie, token = kiosk_session(kiosk)
    body = b'{"flow": "' + b"a" * (64 * 1024) + b'"}'
    status, _ = request(kiosk, "POST", "/api/flow", body, {
        "Content-Type": "application/json", "Cookie": cookie, "X-CSRF-Token": token,
        "Origin": f"http://127.0.0.1:{kiosk}"})
    assert status == 413


TRAVERSALS = ["/static/../../pyproject.toml", "/static/..%2f..%2fpyproject.toml",
              "/static/%2e%2e/%2e%2e/pyproject.toml", "/static/%2e%2e%2f__init__.py",
              "/static/..%5c..%5cpyproject.toml", "/static/....//....//pyproject.toml",
              "/static//etc/passwd", "/static/%2fetc%2fpasswd", "/static/../__init__.py",
              "/static/%252e%252e/%252e%252e/pyproject.toml", "/static/..;/__init__.py",
              "/static/demo.css/../../__init__.py", "/static/%c0%ae%c0%ae/__init__.py"]


@pytest.mark.parametrize("path", TRAVERSALS)
def test_kiosk_static_path_traversal(kiosk: int, path: str) -> None:
    status, body = request(kiosk, "GET", path, headers=paired(kiosk))
    if status == 308:  # werkzeug merges '//' with a redirect: follow it once
        conn = http.client.HTTPConnection("127.0.0.1", kiosk, timeout=10)
        conn.request("GET", path, headers=paired(kiosk))
        location = conn.getresponse().getheader("Location", "")
        conn.close()
        assert location.split("/", 3)[-1].startswith("static/"), location
        status, body = request(kiosk, "GET", "/" + location.split("/", 3)[-1],
                               headers=paired(kiosk))
    assert status == 404, (path, status)
    for secret in (b"[project]", b"root:", b"def create_app", b"import "):
        assert secret not in body, path


def test_kiosk_static_files_still_served(kiosk: int) -> None:
    status, body = request(kiosk, "GET", "/static/demo.css", headers=paired(kiosk))
    assert status == 200 and body


def _kiosk_process(host: str) -> subprocess.Popen[str]:
    return subprocess.Popen(  # noqa: S603 - our own interpreter and module
        [sys.executable, "-m", "kiosk_ui", "--host", host, "--port", "0",
         "--agent-url", "http://127.0.0.1:9", "--token-file", "/nonexistent"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_kiosk_process_listens_on_loopback_only() -> None:
    proc = _kiosk_process("127.0.0.1")
    try:
        assert proc.stderr is not None
        line = ""
        deadline = time.monotonic() + 20
        while "kiosk UI on" not in line and time.monotonic() < deadline:
            line = proc.stderr.readline()
        port = int(line.rsplit(":", 1)[1])
        assert listening_addresses(port) and listening_addresses(port) <= LOOPBACK_HEX
    finally:
        proc.terminate()
        proc.communicate(timeout=10)  # also closes the pipes


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "10.0.0.1"])  # noqa: S104
def test_kiosk_process_refuses_a_public_bind(host: str) -> None:
    proc = _kiosk_process(host)
    _, err = proc.communicate(timeout=20)
    assert proc.returncode == 2 and "loopback" in err


