"""The identity goes only to the screen it belongs to (design §2.1), against real processes.

The agent runs in this process (a real HTTP server on loopback, the emulator as its reader);
the kiosk server is its own process (``python -m kiosk_ui``), as in production. Every route of
both servers is taken from their URL maps, so a route added later is covered too.
"""

from __future__ import annotations

import http.client
import os
import shutil
import subprocess
import sys
import tempfile
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
from tests.support.other_user import python_as_nobody
from tests.support.staff import desk_staff

ROOT = Path(__file__).resolve().parents[2]
FOREIGN_HOSTS = ["evil.example:{port}", "127.0.0.1.nip.io:{port}", "127.0.0.1:{other}",
                 "localhost", "127.0.0.1", "[::1]:{other}", ""]


@dataclass
class Answer:
    status: int
    body: bytes


def send(port: int, method: str, path: str, headers: dict[str, str] | None = None,
         body: bytes | None = None) -> Answer:
    """One request with exactly these headers (``Host`` too, when given); streams are not read.

    The timeout only bounds a failure: a server under the flood test on two shared cores may
    take seconds to answer the paired browser, and that still counts as served."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
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
    pair_path: str | None  # /pair?s=... when the server made its own secret up
    cookie: str = ""  # the paired browser's cookie, once ``pair`` ran

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def pair(self, path: str | None = None) -> Answer:
        """Open a pairing URL as the launcher's browser does; keep the cookie it gives."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            conn.request("GET", path or self.pair_path or "/pair")
            resp = conn.getresponse()
            answer = Answer(resp.status, resp.read())
            if resp.status == 303:
                self.cookie = resp.getheader("Set-Cookie", "").split(";", 1)[0]
            return answer
        finally:
            conn.close()

    def paired(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        return {"Cookie": self.cookie, "Origin": self.origin, **(extra or {})}

    def page_headers(self) -> dict[str, str]:
        """Headers of a POST from the paired browser's kiosk page (cookies, CSRF token)."""
        import re

        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            conn.request("GET", "/", headers=self.paired())
            resp = conn.getresponse()
            html = resp.read().decode()
            session = resp.getheader("Set-Cookie", "").split(";", 1)[0]
        finally:
            conn.close()
        m = re.search(r'name="csrf-token" content="([^"]+)"', html)
        assert m, html[:200]
        return self.paired({"Cookie": f"{self.cookie}; {session}", "X-CSRF-Token": m.group(1),
                            "Content-Type": "application/json"})


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
    line, pair_url = "", ""
    while "kiosk UI on" not in line and time.monotonic() < deadline:
        line = proc.stderr.readline()
        if line.startswith("pair a browser: "):
            pair_url = line.removeprefix("pair a browser: ").strip()
        if not line and proc.poll() is not None:
            raise RuntimeError("kiosk process exited")
    port = int(line.rsplit(":", 1)[1])
    return Kiosk(port, proc, pair_url.split(f":{port}", 1)[1] if pair_url else None)


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
    k.pair()  # (asserted by the pairing tests, so every other test runs on any kiosk)
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
        headers = {"Host": host, "Cookie": kiosk.cookie}
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
    h["Cookie"] = kiosk.cookie
    for method, path in kiosk_routes():
        body = b"{}" if method == "POST" else None
        a = send(kiosk.port, method, path, _json_post_headers(h) if body else h, body)
        assert a.status == 403, (method, path, h, a.status)
        assert b"csrf-token" not in a.body


def test_kiosk_posts_need_an_origin(kiosk: Kiosk) -> None:
    for method, path in kiosk_routes():
        if method == "POST":
            a = send(kiosk.port, method, path, _json_post_headers({"Cookie": kiosk.cookie}),
                     b"{}")
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


# ---- the paired browser ---------------------------------------------------------------------

def test_every_kiosk_route_needs_the_paired_browser(kiosk: Kiosk) -> None:
    forged = kiosk.cookie.split("=", 1)[0] + "=" + "A" * 43
    for cookie in ("", forged, "kiosk_csrf=x"):
        for method, path in kiosk_routes():
            if path == "/pair":
                continue
            body = b"{}" if method == "POST" else None
            h = {"Origin": kiosk.origin, "Cookie": cookie}
            a = send(kiosk.port, method, path, _json_post_headers(h) if body else h, body)
            assert a.status == 403, (method, path, cookie, a.status)
            assert b"csrf-token" not in a.body
    assert send(kiosk.port, "GET", "/", kiosk.paired()).status == 200


def test_a_pairing_secret_pairs_one_browser_once(kiosk: Kiosk) -> None:
    paired = kiosk.cookie
    assert kiosk.pair_path is not None
    for path in (kiosk.pair_path, kiosk.pair_path + "x", "/pair?s=", "/pair"):
        assert kiosk.pair(path).status == 403, path
    assert kiosk.cookie == paired
    assert send(kiosk.port, "GET", "/staff", kiosk.paired()).status == 200


def _launch(tmp_path: Path, kiosk: Kiosk, pairing_file: Path) -> str:
    """Run deploy/chromium-kiosk.sh with a stand-in browser; return the URL it was given."""
    fake = tmp_path / "chromium"
    fake.write_text('#!/bin/sh\nprintf "%s\\n" "$@" > "$(dirname "$0")/args"\n')
    fake.chmod(0o755)
    env = {"PATH": "/usr/bin:/bin", "CHROMIUM": str(fake), "MYNA_KIOSK_WAIT_S": "5",
           "MYNA_PAIRING_FILE": str(pairing_file), "XDG_RUNTIME_DIR": str(tmp_path)}
    subprocess.run(["/bin/sh", str(ROOT / "deploy" / "chromium-kiosk.sh"), kiosk.origin],  # noqa: S603
                   env=env, check=True, timeout=60)
    args = (tmp_path / "args").read_text().splitlines()
    (url,) = [a.removeprefix("--app=") for a in args if a.startswith("--app=")]
    return url


def test_the_launcher_pairs_its_browser_and_a_new_launch_re_pairs(
        agent: AgentService, tmp_path: Path) -> None:
    pairing_file = tmp_path / "secret"
    k = start_kiosk(agent, "--pairing-file", str(pairing_file))
    try:
        assert k.pair("/pair?s=").status == 403  # nothing offered yet
        first = _launch(tmp_path, k, pairing_file)
        assert first.startswith(k.origin + "/pair?s=")
        path = first.removeprefix(k.origin)
        assert k.pair(path).status == 303
        first_cookie = k.cookie
        assert send(k.port, "GET", "/", k.paired()).status == 200
        assert k.pair(path).status == 403  # spent: a second browser cannot use it
        assert k.cookie == first_cookie
        second = _launch(tmp_path, k, pairing_file).removeprefix(k.origin)
        assert second != path
        assert k.pair(second).status == 303  # a new launch re-pairs ...
        assert send(k.port, "GET", "/", k.paired()).status == 200
        old = {"Cookie": first_cookie, "Origin": k.origin}
        assert send(k.port, "GET", "/", old).status == 403  # ... and the old browser is out
    finally:
        stop_kiosk(k)


# ---- another local user ----------------------------------------------------------------------

ATTACKER = r"""
import http.client, json, re, sys
kiosk, agent = int(sys.argv[1]), int(sys.argv[2])
session_id = sys.argv[3]
out = []
def go(port, method, path, body=None, headers=None):
    h = {"Host": "127.0.0.1:%d" % port, "Origin": "http://127.0.0.1:%d" % port}
    h.update(headers or {})
    try:
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        c.request(method, path, body=None if body is None else json.dumps(body), headers=h)
        r = c.getresponse()
        try:
            data = r.read(256 * 1024)
        except OSError:
            data = b""  # an event stream that kept talking: what it sent so far is in r
        out.append({"path": path, "status": r.status, "cookie": r.getheader("Set-Cookie", ""),
                    "body": data.decode("utf-8", "replace")})
        return r, data
    except OSError as e:
        out.append({"path": path, "status": 0, "cookie": "", "body": repr(e)})
        return None, b""
    finally:
        c.close()
_, page = go(kiosk, "GET", "/")
m = re.search(rb'name="csrf-token" content="([^"]+)"', page)
tok = m.group(1).decode() if m else "none"
cookies = "; ".join(o["cookie"].split(";", 1)[0] for o in out if o["cookie"])
auth = {"Cookie": cookies, "X-CSRF-Token": tok, "Content-Type": "application/json"}
go(kiosk, "GET", "/staff")
r, state = go(kiosk, "GET", "/api/state")
try:
    seq = json.loads(state)["seq"]
except (ValueError, KeyError, TypeError):
    seq = 1
go(kiosk, "GET", "/events")
for n, guess in enumerate(("AAAAAA1", "BBBBBB2")):
    go(kiosk, "POST", "/api/credential",
       {"session_id": session_id, "seq": seq + n, "kind": "sign_password", "credential": guess},
       auth)
go(kiosk, "POST", "/api/reveal", {"session_id": session_id, "mode": "staff"}, auth)
go(kiosk, "POST", "/api/flow", {"flow": "auth"}, auth)
go(kiosk, "POST", "/api/cancel", {"session_id": session_id}, auth)
go(agent, "GET", "/v1/state")
go(agent, "POST", "/v1/cancel", {"session_id": session_id}, {"Content-Type": "application/json"})
print(json.dumps(out))
"""


def run_as_nobody(kiosk_port: int, agent_port_: int, session_id: str) -> list[dict[str, Any]]:
    import json

    proc = subprocess.run(  # noqa: S603 - a fixed command line
        python_as_nobody(ATTACKER, str(kiosk_port), str(agent_port_), session_id),
        check=False, capture_output=True, text=True, timeout=120, cwd="/")
    assert proc.returncode == 0, proc.stderr
    return list(json.loads(proc.stdout))


def wait_state(svc: AgentService, *states: str, timeout_s: float = 30) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        snap = svc.snapshot()
        if snap["state"] in states:
            return snap
        time.sleep(0.02)
    raise AssertionError(f"agent never reached {states}: {svc.snapshot()['state']}")


def _credential_verifies(card: Any) -> int:
    return sum(1 for a in card.apdu_log if a.command[1:2] == b"\x20" and (a.masked_length or 0) > 0)


@pytest.mark.skipif(os.geteuid() != 0, reason="setpriv needs root to become nobody")
def test_another_local_user_gets_nothing(agent: AgentService, kiosk: Kiosk) -> None:
    demo = agent.demo
    assert demo is not None
    demo.insert("yamada-taro")
    try:
        waiting = wait_state(agent, "awaiting_credential")
        card = demo.reader.card  # type: ignore[attr-defined]
        tries = waiting["credential"]["tries_left"]
        # While the holder is at the password pad: no guess reaches the card, no cancel.
        answers = run_as_nobody(kiosk.port, agent_port(agent), waiting["session_id"])
        assert _credential_verifies(card) == 0
        snap = agent.snapshot()
        assert snap["state"] == "awaiting_credential"
        assert snap["session_id"] == waiting["session_id"]
        assert snap["credential"]["tries_left"] == tries
        for a in answers:
            assert a["status"] in (0, 401, 403), a
            assert "csrf-token" not in a["body"], a["path"]
        # The holder's result on the screen: no identity, no My Number, no cancel.
        agent.controller.submit_credential(waiting["session_id"], "MYNA2026", False)
        result = wait_state(agent, "result")
        name = result["verdict"]["identity"]["name"]
        answers = run_as_nobody(kiosk.port, agent_port(agent), result["session_id"])
        for a in answers:
            assert a["status"] in (0, 401, 403), a
            assert name not in a["body"] and "identity" not in a["body"], a["path"]
        assert agent.snapshot()["state"] == "result"
        assert agent.snapshot()["session_id"] == result["session_id"]
    finally:
        demo.remove()
        wait_state(agent, "idle", "no_reader")


# ---- DNS rebinding in a real browser ---------------------------------------------------------

REBIND_PAGE = """<!doctype html><title>cats</title><script>
window.loot = (async () => {
  const out = [];
  const grab = async (path, init) => {
    try {
      const r = await fetch(path, init);
      out.push({path, status: r.status, body: (await r.text()).slice(0, 65536)});
    } catch (e) { out.push({path, status: 0, body: String(e)}); }
  };
  await grab('/');
  await grab('/api/state');
  await grab('/staff');
  const post = (body) => ({method: 'POST', headers: {'Content-Type': 'application/json'},
                           body: JSON.stringify(body)});
  await grab('/api/reveal', post({session_id: 'x', mode: 'staff'}));
  await grab('/api/cancel', post({session_id: 'x'}));
  const ctl = new AbortController();
  setTimeout(() => ctl.abort(), 2000);
  await grab('/events', {signal: ctl.signal});
  return out;
})();
</script>"""


REBIND_BROWSER = r"""
import json, sys
from playwright.sync_api import sync_playwright
pair_url, evil, page_html = sys.argv[1:4]
with sync_playwright() as p:
    browser = p.chromium.launch(
        executable_path="/usr/bin/chromium", headless=True,
        args=["--no-sandbox", "--disable-gpu", "--no-first-run",
              "--host-resolver-rules=MAP rebind.example 127.0.0.1"])
    page = browser.new_context().new_page()
    page.goto(pair_url)  # the kiosk's own paired browser ...
    # ... opens a page whose name now resolves to 127.0.0.1: the attacker's document (served
    # before the rebinding), then its requests reach the kiosk server.
    page.route(evil + "/cats.html", lambda route: route.fulfill(
        status=200, content_type="text/html", body=page_html))
    page.goto(evil + "/cats.html")
    print(json.dumps(page.evaluate("() => window.loot")))
    browser.close()
"""


@pytest.mark.browser
@pytest.mark.skipif(not Path("/usr/bin/chromium").exists(), reason="needs /usr/bin/chromium")
def test_a_rebinding_page_reads_nothing(agent: AgentService, trust_dir: Path) -> None:
    import json

    demo = agent.demo
    assert demo is not None
    k = start_kiosk(agent)
    demo.insert("yamada-taro")
    try:
        waiting = wait_state(agent, "awaiting_credential")
        agent.controller.submit_credential(waiting["session_id"], "MYNA2026", False)
        name = wait_state(agent, "result")["verdict"]["identity"]["name"]
        evil = f"http://rebind.example:{k.port}"
        # Its own Playwright in its own process: the resolver rule is a launch argument, and the
        # browser tests of this session may already run a Playwright loop here.
        run = subprocess.run(  # noqa: S603 - our own interpreter
            [sys.executable, "-c", REBIND_BROWSER, k.origin + (k.pair_path or ""), evil,
             REBIND_PAGE], check=False, capture_output=True, text=True, timeout=120)
        assert run.returncode == 0, run.stderr
        loot = json.loads(run.stdout.splitlines()[-1])
        assert [a["path"] for a in loot] == ["/", "/api/state", "/staff", "/api/reveal",
                                            "/api/cancel", "/events"]
        for a in loot:
            assert a["status"] in (0, 403, 421), a
            assert name not in a["body"] and "csrf-token" not in a["body"], a["path"]
        assert agent.snapshot()["state"] == "result"
    finally:
        stop_kiosk(k)
        demo.remove()
        wait_state(agent, "idle", "no_reader")


# ---- one credential, one screen ------------------------------------------------------------

def staff_page_headers(svc: AgentService, kiosk: Kiosk) -> dict[str, str]:
    """``page_headers`` of a browser a staff member signed in on (``/staff/api/login``): the
    face and number flows are refused to anyone else."""
    import json

    from tests.support.staff import TEST_STAFF_PASSWORD, add_staff

    add_staff(svc)
    headers = kiosk.page_headers()
    conn = http.client.HTTPConnection("127.0.0.1", kiosk.port, timeout=10)
    try:
        conn.request("POST", "/staff/api/login", headers=headers, body=json.dumps(
            {"staff_id": "test-supervisor", "password": TEST_STAFF_PASSWORD}))
        resp = conn.getresponse()
        assert resp.status == 200, resp.read()
        # the session cookie now names this browser, whose staff token the kiosk keeps
        session = resp.getheader("Set-Cookie", "").split(";", 1)[0]
    finally:
        conn.close()
    return {**headers, "Cookie": f"{kiosk.cookie}; {session}" if session else headers["Cookie"]}


def test_a_stale_face_screens_match_b_is_refused_and_no_sign_try_is_spent(
        agent: AgentService, kiosk: Kiosk) -> None:
    import json

    from card.emulator import PERSONAS

    demo = agent.demo
    assert demo is not None
    match_b = PERSONAS["yamada-taro"].credentials.match_b
    demo.insert("yamada-taro")
    try:
        waiting = wait_state(agent, "awaiting_credential")
        assert waiting["credential"]["kind"] == "sign_password"
        card = demo.reader.card  # type: ignore[attr-defined]
        headers = staff_page_headers(agent, kiosk)
        # The staff page, signed in, cannot switch the card in use to its flow ...
        a = send(kiosk.port, "POST", "/api/flow", headers, json.dumps({"flow": "face"}).encode())
        assert a.status == 409
        # ... and the 照合番号B its stale face screen still holds is not sent as the password
        # (14 digits are a well-formed signature password), whatever seq it claims.
        for seq in (waiting["seq"], waiting["seq"] - 1):
            body = {"session_id": waiting["session_id"], "seq": seq, "kind": "match_b",
                    "credential": match_b}
            a = send(kiosk.port, "POST", "/api/credential", headers, json.dumps(body).encode())
            assert a.status == 409 and b"STALE_SESSION" in a.body, a
        assert _credential_verifies(card) == 0
        snap = agent.snapshot()
        assert snap["state"] == "awaiting_credential" and snap["flow"] == "sign"
        assert snap["credential"]["tries_left"] == waiting["credential"]["tries_left"]
    finally:
        demo.remove()
        wait_state(agent, "idle", "no_reader")


# ---- no squatting, no flooding ----------------------------------------------------------------

SQUATTER = r"""
import json, socket, sys, time
agent_port, kiosk_port = int(sys.argv[1]), int(sys.argv[2])
out = {"kiosk_bind": "ok", "accepted": 0, "bytes": 0}
squat = socket.socket()
squat.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
squat.bind(("127.0.0.1", agent_port))  # the agent's development port, taken first
squat.listen(16)
squat.settimeout(0.2)
for reuse in (socket.SO_REUSEADDR, socket.SO_REUSEPORT):
    k = socket.socket()
    k.setsockopt(socket.SOL_SOCKET, reuse, 1)
    try:
        k.bind(("127.0.0.1", kiosk_port))
        k.listen(1)
    except OSError as e:
        out["kiosk_bind"] = e.strerror
    k.close()
print("ready", flush=True)
deadline = time.monotonic() + float(sys.argv[3])
while time.monotonic() < deadline:
    try:
        c, _ = squat.accept()
    except OSError:
        continue
    out["accepted"] += 1
    c.settimeout(1)
    try:
        out["bytes"] += len(c.recv(65536))
    except OSError:
        pass
    c.close()
print(json.dumps(out), flush=True)
"""

SLOWLORIS = r"""
import json, socket, sys, time
port, count = int(sys.argv[1]), int(sys.argv[2])
conns = []
for _ in range(count):
    try:
        s = socket.create_connection(("127.0.0.1", port), timeout=5)
        s.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n" % port)  # never finished
    except OSError:
        continue  # refused or closed at once: the server's per-user share
    conns.append(s)
print("ready", flush=True)
sys.stdin.readline()  # the test tells us when it is done with the kiosk
open_now = 0
for s in conns:
    s.setblocking(False)
    try:
        open_now += s.recv(1) != b""
    except BlockingIOError:
        open_now += 1
    except OSError:
        pass
deadline = time.monotonic() + float(sys.argv[3])
still = list(conns)
while still and time.monotonic() < deadline:
    time.sleep(0.5)
    left = []
    for s in still:
        try:
            if s.recv(1) != b"":
                left.append(s)
        except BlockingIOError:
            left.append(s)
        except OSError:
            pass
    still = left
print(json.dumps({"held": open_now, "never_closed": len(still)}), flush=True)
"""


def as_nobody(script: str, *args: object) -> subprocess.Popen[str]:
    return subprocess.Popen(  # noqa: S603 - a fixed command line
        python_as_nobody(script, *map(str, args)),
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        cwd="/")


def socket_activated_kiosk(agent_url: str, token_file: Path, sock: Any) -> Kiosk:
    """Start the kiosk as systemd would: the listening socket is fd 3 (LISTEN_FDS=1)."""
    fd = sock.fileno()
    proc = subprocess.Popen(  # noqa: S603 - our own interpreter and module
        ["/bin/sh", "-c", 'LISTEN_PID=$$ LISTEN_FDS=1 exec "$@"', "sh",
         sys.executable, "-m", "kiosk_ui", "--port", "1", "--agent-url", agent_url,
         "--token-file", str(token_file)],
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, pass_fds=(3,),
        preexec_fn=lambda: os.dup2(fd, 3))  # noqa: PLW1509 - only dup2, before exec
    assert proc.stderr is not None
    pair_url, line = "", ""
    while "kiosk UI on" not in line:
        line = proc.stderr.readline()
        if line.startswith("pair a browser: "):
            pair_url = line.removeprefix("pair a browser: ").strip()
        if not line and proc.poll() is not None:
            raise RuntimeError("kiosk process exited")
    port = int(line.rsplit(":", 1)[1])
    return Kiosk(port, proc, pair_url.split(f":{port}", 1)[1])


@pytest.fixture
def socket_agent(tmp_path: Path, trust_dir: Path) -> Iterator[AgentService]:
    """The agent as deployed: API on a Unix socket only."""
    run_dir = Path(tempfile.mkdtemp(prefix="myna-", dir="/tmp"))  # short: sun_path is 108 bytes
    config = service_config(tmp_path, trust_dir,
                            api={"socket": str(run_dir / "agent" / "agent.sock"), "tcp": False})
    svc = AgentService(config, demo_reader=EmulatedReader("sock"),
                       backend=CardFlowBackend(config, at=lambda: AT))
    svc.start()
    yield svc
    svc.stop()
    shutil.rmtree(run_dir, ignore_errors=True)


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _run_one_flow(svc: AgentService, k: Kiosk) -> None:
    """A holder's tap through the paired kiosk: insert, password, result, remove."""
    import json

    demo = svc.demo
    assert demo is not None
    demo.insert("yamada-taro")
    try:
        waiting = wait_state(svc, "awaiting_credential")
        body = {"session_id": waiting["session_id"], "seq": waiting["seq"],
                "kind": "sign_password", "credential": "MYNA2026"}
        a = send(k.port, "POST", "/api/credential", k.page_headers(), json.dumps(body).encode())
        assert a.status == 202, a
        wait_state(svc, "result")
    finally:
        demo.remove()
        wait_state(svc, "idle", "no_reader")


@pytest.mark.skipif(os.geteuid() != 0, reason="setpriv needs root to become nobody")
def test_another_user_cannot_reach_or_squat_the_agent_or_the_kiosk(
        socket_agent: AgentService) -> None:
    import json
    import socket

    path = socket_agent.socket_path
    assert path is not None
    assert path.stat().st_mode & 0o777 == 0o600 and path.parent.stat().st_mode & 0o777 == 0o700
    probe = subprocess.run(  # noqa: S603 - a fixed command line
        python_as_nobody(
            "import socket,sys; s=socket.socket(socket.AF_UNIX); s.connect(sys.argv[1])",
            str(path)),
        check=False, capture_output=True, text=True, timeout=60, cwd="/")
    assert probe.returncode != 0 and "PermissionError" in probe.stderr
    # systemd's part: the kiosk port is bound before any user process runs ...
    held = socket.socket()
    held.bind(("127.0.0.1", 0))
    held.listen(128)
    kiosk_port = held.getsockname()[1]
    # ... and a squatter starts before the agent's clients: on the development TCP port, and
    # trying to take the kiosk's port (even with SO_REUSEPORT).
    squatter = as_nobody(SQUATTER, _free_port(), kiosk_port, 30)
    assert squatter.stdout is not None and squatter.stdout.readline().strip() == "ready"
    k = socket_activated_kiosk(socket_agent.url, socket_agent.token_file, held)
    try:
        assert k.port == kiosk_port
        assert k.pair().status == 303
        _run_one_flow(socket_agent, k)
        assert send(k.port, "GET", "/api/state", k.paired()).status == 200
    finally:
        stop_kiosk(k)
        held.close()
    report = json.loads(squatter.communicate(timeout=60)[0].splitlines()[-1])
    assert report == {"kiosk_bind": "Address already in use", "accepted": 0, "bytes": 0}


@pytest.mark.serial  # 120 connections held open: not beside four busy workers
@pytest.mark.skipif(os.geteuid() != 0, reason="setpriv needs root to become nobody")
def test_a_flood_of_slow_connections_is_bounded_and_the_kiosk_still_serves(
        socket_agent: AgentService) -> None:
    import json

    from kiosk_ui.http_server import PER_USER_LIMIT

    k = start_kiosk(socket_agent)
    audit = socket_agent.config.audit_path
    assert audit is not None
    attacker: subprocess.Popen[str] | None = None
    try:
        assert k.pair().status == 303
        attacker = as_nobody(SLOWLORIS, k.port, 120, 90)
        assert attacker.stdout is not None and attacker.stdin is not None
        assert attacker.stdout.readline().strip() == "ready"
        # The paired browser is still served, and a whole tap still works and is audited.
        lines_before = len(audit.read_text().splitlines()) if audit.exists() else 0
        assert send(k.port, "GET", "/", k.paired()).status == 200
        _run_one_flow(socket_agent, k)
        # One tap, two chained lines: its verdict, then the end of its session.
        deadline = time.monotonic() + 20
        while (len(audit.read_text().splitlines()) < lines_before + 2
               and time.monotonic() < deadline):
            time.sleep(0.05)
        tap = [json.loads(ln) for ln in audit.read_text().splitlines()[lines_before:]]
        assert [ln["ended_by"] for ln in tap] == ["result", "card_removed"], tap
        attacker.stdin.write("done\n")
        attacker.stdin.flush()
        report = json.loads(attacker.communicate(timeout=120)[0].splitlines()[-1])
        # At most its share was ever held, and the idle ones were closed by the server.
        assert report["held"] <= PER_USER_LIMIT, report
        assert report["never_closed"] == 0, report
    finally:
        if attacker is not None and attacker.poll() is None:
            attacker.kill()
        if attacker is not None:
            attacker.communicate()
        stop_kiosk(k)


def test_deep_json_is_a_bad_request_on_both_servers(agent: AgentService, kiosk: Kiosk) -> None:
    deep = b"[" * 3000 + b"]" * 3000
    a = send(agent_port(agent), "POST", "/v1/flow",
             {"Authorization": f"Bearer {agent.token}", "Content-Type": "application/json"},
             deep[:2000] + deep[-2000:])
    assert a.status == 400 and b"Traceback" not in a.body
    for path in ("/api/flow", "/api/credential", "/api/cancel", "/api/reveal", "/demo/api/insert"):
        a = send(kiosk.port, "POST", path, kiosk.page_headers(), deep)
        assert a.status == 400 and b"Traceback" not in a.body, (path, a.status)


def test_chunked_bodies_over_the_limit_get_413(kiosk: Kiosk) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", kiosk.port, timeout=10)
    try:
        conn.request("POST", "/api/flow", body=iter([b'{"flow": "', b"a" * 64 * 1024, b'"}']),
                     headers=kiosk.page_headers(), encode_chunked=True)
        assert conn.getresponse().status == 413
    finally:
        conn.close()


def test_head_on_event_streams_holds_no_slot(agent: AgentService, kiosk: Kiosk) -> None:
    from agent.service.events import MAX_SUBSCRIBERS

    for _ in range(MAX_SUBSCRIBERS + 4):
        a = send(agent_port(agent), "HEAD", "/v1/events",
                 {"Authorization": f"Bearer {agent.token}"})
        assert a.status == 200
        assert send(kiosk.port, "HEAD", "/events", kiosk.paired()).status == 200
    assert agent.hub.subscriber_count <= 1  # the module's kiosk may hold its one relay
    conn = http.client.HTTPConnection("127.0.0.1", agent_port(agent), timeout=10)
    try:
        conn.request("GET", "/v1/events", headers={"Authorization": f"Bearer {agent.token}"})
        assert conn.getresponse().status == 200
    finally:
        conn.close()


def test_the_demo_relay_shows_only_the_kiosks_view(agent: AgentService, kiosk: Kiosk) -> None:
    import json

    from card.emulator import PERSONAS

    demo = agent.demo
    assert demo is not None
    creds = PERSONAS["yamada-taro"].credentials
    staff = desk_staff()  # the number flow runs only for a signed-in staff member
    agent.controller.set_flow("number", staff=staff)
    demo.insert("yamada-taro")
    try:
        waiting = wait_state(agent, "awaiting_credential")
        agent.controller.submit_credential(waiting["session_id"], creds.input_helper_pin, False,
                                           staff=staff)
        result = wait_state(agent, "result")
        # The agent holds the number for its staff member's reveal, not in its snapshots ...
        assert creds.match_a not in json.dumps(result)
        assert agent.controller.reveal_my_number(result["session_id"], staff) == creds.match_a
        a = send(kiosk.port, "POST", "/demo/api/fault", kiosk.page_headers(),
                 json.dumps({"latency_s": 0}).encode())
        assert a.status == 200, a
        assert creds.match_a not in a.body.decode()  # ... the demo panel never sees it
        assert json.loads(a.body)["state"] == "result"
    finally:
        demo.remove()
        wait_state(agent, "idle", "no_reader")
        agent.controller.set_flow("sign")


def test_open_event_streams_leave_room_for_requests(agent: AgentService) -> None:
    """However many event streams are open (each holds a server thread), a request is served."""
    import socket

    from agent.service.events import MAX_SUBSCRIBERS

    port = agent_port(agent)
    streams = []
    try:
        for _ in range(MAX_SUBSCRIBERS + 2):
            s = socket.create_connection(("127.0.0.1", port), timeout=10)
            s.sendall(f"GET /v1/events HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
                      f"Authorization: Bearer {agent.token}\r\n\r\n".encode())
            streams.append(s)
        deadline = time.monotonic() + 20
        while agent.hub.subscriber_count < MAX_SUBSCRIBERS and time.monotonic() < deadline:
            time.sleep(0.02)
        assert agent.hub.subscriber_count == MAX_SUBSCRIBERS
        a = send(port, "GET", "/v1/state", {"Authorization": f"Bearer {agent.token}"})
        assert a.status == 200
    finally:
        for s in streams:
            s.close()


def test_a_call_for_staff_survives_a_restart_of_the_kiosk_server(
        agent: AgentService, tmp_path: Path) -> None:
    import json

    pairing, calls = tmp_path / "pairing.json", tmp_path / "staff-calls.json"
    args = ("--pairing-state", str(pairing), "--staff-calls-state", str(calls))
    first = start_kiosk(agent, *args)
    try:
        assert first.pair().status == 303
        headers = first.page_headers()
        made = [json.loads(send(first.port, "POST", "/api/call-staff", headers, b"{}").body)["id"]
                for _ in range(2)]
        answered = send(first.port, "POST", "/api/staff-calls/answer", headers,
                        json.dumps({"id": made[0]}).encode())
        assert answered.status == 200
    finally:
        stop_kiosk(first)
    assert calls.stat().st_mode & 0o077 == 0
    second = start_kiosk(agent, *args)
    try:
        second.cookie = first.cookie  # the same browser, still paired (--pairing-state)
        still = json.loads(send(second.port, "GET", "/api/staff-calls", second.paired()).body)
        assert [c["id"] for c in still["calls"]] == [made[1]]  # the open one, not the answered
        again = json.loads(send(second.port, "POST", "/api/call-staff", second.page_headers(),
                                b"{}").body)["id"]
        assert again > made[1]  # numbers go on: an answer never closes a newer call
    finally:
        stop_kiosk(second)


def test_the_paired_browser_survives_a_restart_of_the_kiosk_server(
        agent: AgentService, tmp_path: Path) -> None:
    state = tmp_path / "pairing.json"
    first = start_kiosk(agent, "--pairing-state", str(state))
    try:
        assert first.pair().status == 303
    finally:
        stop_kiosk(first)
    assert state.stat().st_mode & 0o077 == 0
    assert first.cookie.split("=", 1)[1] not in state.read_text()  # digests only
    second = start_kiosk(agent, "--pairing-state", str(state))
    try:
        old = {"Cookie": first.cookie, "Origin": second.origin}
        assert send(second.port, "GET", "/", old).status == 200
        assert first.pair_path is not None
        assert second.pair(first.pair_path).status == 403  # the old URL pairs nothing
    finally:
        stop_kiosk(second)
