"""``myna demo`` end to end as a user runs it: a separate kiosk process, printed URLs, Ctrl-C."""

from __future__ import annotations

import http.client
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
