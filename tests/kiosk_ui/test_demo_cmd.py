"""``myna demo`` end to end as a user runs it: a separate kiosk process, printed URLs, Ctrl-C."""

from __future__ import annotations

import http.client
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from agent.cli import build_parser

MYNA = Path(sys.executable).with_name("myna")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _get(port: int, path: str, cookie: str = "") -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        conn.request("GET", path, headers={"Cookie": cookie} if cookie else {})
        r = conn.getresponse()
        return r.status, r.read()
    finally:
        conn.close()


def _pair(port: int, path: str) -> str:
    """Open the printed pairing URL as the browser would; return the pairing cookie."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        conn.request("GET", path)
        r = conn.getresponse()
        r.read()
        assert r.status == 303
        return r.getheader("Set-Cookie", "").split(";", 1)[0]
    finally:
        conn.close()


def test_cli_registers_kiosk_and_demo() -> None:
    args = build_parser().parse_args(
        ["kiosk", "--agent-url", "http://127.0.0.1:9999", "--port", "8081"]
    )
    assert args.host == "127.0.0.1" and args.port == 8081 and callable(args.func)
    args = build_parser().parse_args(["demo"])
    assert args.port == 8080 and args.persona == "yamada-taro" and args.host == "127.0.0.1"


@pytest.mark.slow
@pytest.mark.skipif(not MYNA.exists(), reason="console script not installed")
def test_myna_demo_serves_and_stops_on_ctrl_c() -> None:
    port = _free_port()
    proc = subprocess.Popen(  # noqa: S603 - our own console script
        [str(MYNA), "demo", "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = proc.stdout.readline() if proc.stdout else ""
        assert f"http://127.0.0.1:{port}/pair?s=" in line
        pair_path = line.split(f"http://127.0.0.1:{port}", 1)[1].strip()
        assert _get(port, "/")[0] == 403  # no browser is served before it pairs
        cookie = _pair(port, pair_path)
        status, body = _get(port, "/", cookie)
        assert status == 200 and b'<h1 data-i18n="idle.title">' in body
        assert _get(port, "/demo/", cookie)[0] == 200
        status, body = _get(port, "/api/state", cookie)
        assert status == 200 and b'"demo":true' in body
        assert _get(port, pair_path)[0] == 403  # the printed secret is spent
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            rc = proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            raise
        _out, err = proc.communicate()
    assert rc == 0, err
    assert "Traceback" not in err
    time.sleep(0.2)
    with pytest.raises(OSError):
        _get(port, "/")  # the kiosk process is gone too


def _children(pid: int) -> list[int]:
    """Pids whose parent is ``pid`` (from /proc)."""
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # exited while we looked
        if int(fields[1]) == pid:
            out.append(int(stat.parent.name))
    return out


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _port_free(port: int) -> bool:
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def _agent_api_free(url: str) -> bool:
    """Nothing answers on the agent API ``myna demo`` printed: its Unix socket (as deployed)
    or, when the demo was given a TCP port, that port."""
    if not url.startswith("unix://"):
        return _port_free(int(url.rsplit(":", 1)[1]))
    with socket.socket(socket.AF_UNIX) as s:
        try:
            s.connect(url.removeprefix("unix://"))
        except (FileNotFoundError, ConnectionRefusedError):
            return True
        return False


def _start(args: list[str]) -> subprocess.Popen[str]:
    return subprocess.Popen(  # noqa: S603 - our own console script
        [str(MYNA), *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def _lines_until_ready(proc: subprocess.Popen[str], timeout_s: float = 60) -> list[str]:
    """stdout lines up to the "ready" line; fewer if the process ends or the time is up."""
    import select

    assert proc.stdout is not None
    fd = proc.stdout.fileno()  # raw reads: nothing is left in a text buffer select cannot see
    raw = b""
    deadline = time.monotonic() + timeout_s
    while b"ready" not in raw and time.monotonic() < deadline:
        if not select.select([fd], [], [], max(0.0, deadline - time.monotonic()))[0]:
            break
        chunk = os.read(fd, 4096)
        if not chunk:
            break
        raw += chunk
    return raw.decode().splitlines(keepends=True)


def _stop_with_sigterm(
    proc: subprocess.Popen[str], children: list[int]
) -> tuple[int, str, list[int]]:
    """SIGTERM ``proc``; return its status, stderr and the ``children`` still alive after it
    exited (those are killed here, so a failing test leaves no orphan behind)."""
    proc.send_signal(signal.SIGTERM)
    try:
        rc = proc.wait(20)
    except subprocess.TimeoutExpired:
        proc.kill()
        raise
    survivors = [pid for pid in children if _alive(pid)]
    for pid in survivors:
        os.kill(pid, signal.SIGKILL)
    _out, err = proc.communicate(timeout=20)
    return rc, err, survivors


@pytest.mark.slow
@pytest.mark.skipif(not MYNA.exists(), reason="console script not installed")
def test_sigterm_to_myna_demo_stops_the_tree_and_frees_both_ports() -> None:
    port = _free_port()
    for _run in range(2):  # the second run needs the port the first one held
        proc = _start(["demo", "--port", str(port)])
        try:
            lines = _lines_until_ready(proc)
            assert lines and "ready" in lines[-1], lines
            agent_url = next(ln for ln in lines if "agent API" in ln).split("agent API", 1)[1]
        finally:
            kiosk_pids = _children(proc.pid)
            rc, err, survivors = _stop_with_sigterm(proc, kiosk_pids)
        assert kiosk_pids and not survivors
        assert rc == 0, err
        assert "Traceback" not in err
        assert _port_free(port) and _agent_api_free(agent_url.strip())


@pytest.mark.slow
@pytest.mark.skipif(not MYNA.exists(), reason="console script not installed")
def test_sigterm_to_myna_kiosk_stops_the_server_and_frees_its_port(tmp_path: Path) -> None:
    port = _free_port()
    proc = _start(["kiosk", "--port", str(port), "--agent-url", "http://127.0.0.1:9",
                   "--token-file", str(tmp_path / "none.token")])
    try:
        deadline = time.monotonic() + 30
        while True:  # bounded: the kiosk server answers within seconds or the test fails
            try:
                # any answer means it serves (an unpaired request is refused with 403)
                if _get(port, "/")[0] in (200, 403):
                    break
            except OSError:
                pass
            assert proc.poll() is None and time.monotonic() < deadline
            time.sleep(0.1)
    finally:
        kiosk_pids = _children(proc.pid)
        rc, err, survivors = _stop_with_sigterm(proc, kiosk_pids)
    assert kiosk_pids and not survivors
    assert rc == 0, err
    assert _port_free(port)


@pytest.mark.slow
@pytest.mark.skipif(not MYNA.exists(), reason="console script not installed")
def test_myna_demo_on_a_taken_port_fails_naming_it_and_never_says_ready() -> None:
    import http.server
    import threading

    class Ok(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    squatter = http.server.HTTPServer(("127.0.0.1", 0), Ok)  # answers 200 like a kiosk would
    port = squatter.server_port
    thread = threading.Thread(target=squatter.serve_forever, daemon=True)
    thread.start()
    try:
        proc = _start(["demo", "--port", str(port)])
        out, err = proc.communicate(timeout=60)
    finally:
        squatter.shutdown()
        squatter.server_close()
    assert proc.returncode != 0
    assert "ready" not in out and str(port) in err
    assert "Traceback" not in err


@pytest.mark.skipif(not MYNA.exists(), reason="console script not installed")
def test_myna_kiosk_serves_the_socket_systemd_hands_it(tmp_path: Path) -> None:
    """Socket activation as myna-kiosk.socket does it: fd 3 is the listening socket and
    LISTEN_PID names the process systemd started (``myna kiosk``). The kiosk server must serve
    that very socket, so ``myna kiosk`` becomes it (exec) instead of starting a child."""
    held = socket.socket()
    held.bind(("127.0.0.1", 0))
    held.listen(8)
    port = int(held.getsockname()[1])
    # What systemd does between fork and exec: the socket at fd 3, LISTEN_* naming this pid.
    starter = (
        "import os, sys\n"
        "os.dup2(int(sys.argv[1]), 3)\n"
        "os.environ.update(LISTEN_FDS='1', LISTEN_PID=str(os.getpid()))\n"
        "os.execv(sys.argv[2], sys.argv[2:])\n"
    )
    proc = subprocess.Popen(  # noqa: S603 - our own interpreter and console script
        [sys.executable, "-c", starter, str(held.fileno()), str(MYNA), "kiosk",
         "--port", str(port), "--agent-url", "http://127.0.0.1:9",
         "--token-file", str(tmp_path / "none.token")],
        pass_fds=(held.fileno(),), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    held.close()  # only the kiosk holds the port now
    try:
        deadline = time.monotonic() + 30
        status = None
        while status is None:
            try:
                status = _get(port, "/")[0]
            except OSError:
                assert proc.poll() is None, proc.communicate()[1]
                assert time.monotonic() < deadline, "the handed-over socket is not served"
                time.sleep(0.1)
        assert status == 403  # served, and unpaired as it should be
        assert _children(proc.pid) == []  # the server is this process, not a child of it
    finally:
        proc.terminate()
        proc.communicate(timeout=30)
