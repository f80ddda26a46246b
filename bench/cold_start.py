"""A newcomer's first minutes: run ``.venv/bin/python bench/cold_start.py [--runs N]``.

Starts ``myna demo`` as a user does, with an EMPTY key cache (a fresh ``XDG_CACHE_HOME``), and
prints the time from the command to "ready", then inserts every persona once through the demo
panel (``POST /demo/api/insert``, with its CSRF token, as the panel's button does) and prints
each first insert's HTTP status and time. Stops the demo with SIGTERM, as a supervisor would.
"""

from __future__ import annotations

import argparse
import http.cookiejar
import json
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MYNA = Path(sys.executable).with_name("myna")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_demo(port: int, cache: Path) -> tuple[subprocess.Popen[str], float]:
    env = {**os.environ, "XDG_CACHE_HOME": str(cache)}
    started = time.monotonic()
    proc = subprocess.Popen(  # noqa: S603 - our own console script
        [str(MYNA), "demo", "--port", str(port)], stdout=subprocess.PIPE, text=True, env=env
    )
    assert proc.stdout is not None
    for line in proc.stdout:
        if "ready" in line:
            return proc, time.monotonic() - started
    raise RuntimeError(f"myna demo exited with {proc.wait()} before ready")


def insert_every_persona(port: int) -> list[tuple[str, int, float]]:
    base = f"http://127.0.0.1:{port}"
    opener = urllib.request.build_opener(
        urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar())
    )
    page = opener.open(f"{base}/demo/", timeout=30).read().decode()
    match = re.search(r'name="csrf-token" content="([^"]+)"', page)
    assert match, "no CSRF token on the demo panel"
    headers = {"Content-Type": "application/json", "X-CSRF-Token": match.group(1)}
    personas = json.loads(opener.open(f"{base}/demo/api/personas", timeout=30).read())
    names = [p["name"] for p in (personas if isinstance(personas, list) else personas["personas"])]
    out = []
    for name in names:
        body = json.dumps({"persona": name}).encode()
        req = urllib.request.Request(f"{base}/demo/api/insert", body, headers, method="POST")  # noqa: S310 - http to localhost
        t0 = time.monotonic()
        try:
            status = opener.open(req, timeout=60).status
        except urllib.error.HTTPError as e:
            status = e.code
        out.append((name, status, time.monotonic() - t0))
        remove = urllib.request.Request(f"{base}/demo/api/remove", b"{}", headers, method="POST")  # noqa: S310 - http to localhost
        opener.open(remove, timeout=30).read()
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--runs", type=int, default=1)
    args = ap.parse_args()
    ready_s: list[float] = []
    worst_insert = 0.0
    for run in range(args.runs):
        with tempfile.TemporaryDirectory(prefix="myna-cold-cache-") as cache:
            port = free_port()
            proc, ready = start_demo(port, Path(cache))
            try:
                inserts = insert_every_persona(port)
            finally:
                proc.send_signal(signal.SIGTERM)
                proc.wait(30)
            written = sorted(p.name for p in Path(cache).rglob("*") if p.is_file())
        ready_s.append(ready)
        print(f"run {run + 1}: empty key cache -> myna demo ready in {ready:.2f} s")
        for name, status, seconds in inserts:
            print(f"  first insert {name:20} HTTP {status}  {seconds:.2f} s")
            worst_insert = max(worst_insert, seconds)
        print(f"  key cache files written: {len(written)}")
    print(f"ready: median {statistics.median(ready_s):.2f} s over {len(ready_s)} run(s); "
          f"slowest first insert {worst_insert:.2f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
