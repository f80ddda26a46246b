"""Kiosk UI figures (issue 5, Performance): run ``.venv/bin/python bench/ui.py [--runs N]``.

1. Time from the agent's result event to the identity painted in the browser: the real agent
   with the emulator (``agent.cli.demo.demo_agent``), the kiosk UI relaying its SSE stream, and
   headless Chromium. The event time is taken by a direct subscriber to the agent's stream
   (wall clock); the paint time is the first animation frame after ``#r-name`` got its text
   (a MutationObserver added by the test harness, outside the page's CSP).
2. Page weight of the kiosk screen (HTML + CSS + JS), and the number of requests to anything
   but the kiosk server (must be 0).
3. Time from starting ``myna demo`` to the first page served.
4. One screen watched for ``--steady-s`` seconds: "unavailable" events from the relay (none).
"""

from __future__ import annotations

import argparse
import os
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from werkzeug.serving import make_server  # noqa: E402

from tests.support.browser import CHROMIUM, CHROMIUM_ARGS  # noqa: E402

PAINT_PROBE = """
window.__painted = [];
document.addEventListener('DOMContentLoaded', () => {
  const el = document.getElementById('r-name');
  new MutationObserver(() => {
    if (el.textContent) {
      requestAnimationFrame(() =>
        window.__painted.push(performance.timeOrigin + performance.now()));
    }
  }).observe(el, {childList: true, characterData: true, subtree: true});
});
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def bench_paint_and_weight(runs: int) -> None:
    from playwright.sync_api import sync_playwright

    from agent.cli.demo import demo_agent
    from kiosk_ui import create_app
    from kiosk_ui.agent_client import AgentClient

    with tempfile.TemporaryDirectory() as tmp, demo_agent(Path(tmp)) as agent:
        pairing_secret = secrets.token_urlsafe(32)
        app = create_app(
            {
                "AGENT_URL": agent.url,
                "AGENT_TOKEN_FILE": str(agent.config.token_path),
                "PAIRING_SECRET": pairing_secret,
            }
        )
        srv = make_server("127.0.0.1", 0, app, threaded=True)
        srv.daemon_threads = True
        threading.Thread(target=srv.serve_forever, daemon=True).start()
        base = f"http://127.0.0.1:{srv.server_port}"

        result_times: list[float] = []
        client = AgentClient(agent.url, token_file=agent.config.token_path)

        def listen() -> None:
            try:
                for snap in client.events():
                    if snap is not None and snap.state == "result":
                        result_times.append(time.time() * 1000)
            except Exception:  # noqa: BLE001 - the stream ends when the agent stops
                return

        threading.Thread(target=listen, daemon=True).start()

        with sync_playwright() as p:
            browser = p.chromium.launch(
                executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
            )
            page = browser.new_page(viewport={"width": 1920, "height": 1080})
            # Pair first (the launcher's URL), so the weight counts only the kiosk page itself.
            page.goto(f"{base}/pair?s={pairing_secret}")
            sizes: dict[str, int] = {}
            external: list[str] = []

            def on_response(resp: object) -> None:
                url = resp.url  # type: ignore[attr-defined]
                if not url.startswith(base):
                    external.append(url)
                elif not url.endswith("/events"):
                    sizes[url] = len(resp.body())  # type: ignore[attr-defined]

            page.on("response", on_response)
            page.on(
                "request",
                lambda r: None if r.url.startswith((base, "data:")) else external.append(r.url),
            )
            page.add_init_script(PAINT_PROBE)
            page.goto(base + "/")
            page.wait_for_function("() => document.body.dataset.screen === 'idle'")
            weight = sum(sizes.values())
            parts = ", ".join(f"{u[len(base) :]}={n} B" for u, n in sizes.items())
            print(
                f"kiosk screen page weight: {weight / 1024:.1f} KiB"
                f" in {len(sizes)} requests ({parts})"
            )

            deltas: list[float] = []
            for _ in range(runs):
                before = len(result_times)
                agent.service.demo.insert("yamada-taro")
                page.wait_for_function("() => document.body.dataset.screen === 'entry'")
                for ch in "MYNA2026":
                    page.click(f"#pad [data-key='{ch}']")
                page.click("#entry-ok")
                page.wait_for_function("() => document.body.dataset.screen === 'result'")
                page.wait_for_function("() => window.__painted.length > 0")
                painted = page.evaluate("() => window.__painted.shift()")
                page.evaluate("() => { window.__painted.length = 0; }")
                deadline = time.monotonic() + 2
                while len(result_times) == before and time.monotonic() < deadline:
                    time.sleep(0.005)
                deltas.append(painted - result_times[-1])
                agent.service.demo.remove()
                page.wait_for_function("() => document.body.dataset.screen === 'idle'")
            browser.close()
        srv.shutdown()
        print(
            f"result event -> identity painted: median {statistics.median(deltas):.1f} ms, "
            f"max {max(deltas):.1f} ms over {runs} runs (target < 100 ms)"
        )
        print(f"external requests: {len(external)}")


def bench_demo_start() -> None:
    port = free_port()
    myna = Path(sys.executable).with_name("myna")
    start = time.monotonic()
    proc = subprocess.Popen(  # noqa: S603 - our own console script
        [str(myna), "demo", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        from agent.cli.demo import wait_for_http

        wait_for_http("127.0.0.1", port, "/", timeout_s=30, proc=None)
        print(f"myna demo start -> kiosk server answering: {time.monotonic() - start:.2f} s")
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            rc = proc.wait(10)
            print(f"myna demo after Ctrl-C: exit status {rc}")
        except subprocess.TimeoutExpired:
            proc.kill()
            print("myna demo did not stop within 10 s of Ctrl-C")


def bench_relay_steady(seconds: float) -> None:
    """One screen left alone: the kiosk's /events relay must send keepalives, never
    "unavailable" (it used to every ~6 s: the 5 s connect timeout cut the agent's stream)."""
    import http.client

    from agent.cli.demo import demo_agent

    secret = secrets.token_urlsafe(32)
    with tempfile.TemporaryDirectory() as tmp, demo_agent(Path(tmp)) as agent:
        port = free_port()
        proc = subprocess.Popen(  # noqa: S603 - our own interpreter and module
            [sys.executable, "-m", "kiosk_ui", "--port", str(port), "--agent-url", agent.url,
             "--token-file", str(agent.config.token_path)],
            env={**os.environ, "MYNA_KIOSK_PAIRING_SECRET": secret},
            stderr=subprocess.DEVNULL,
        )
        try:
            from agent.cli.demo import wait_for_http

            wait_for_http("127.0.0.1", port, "/", timeout_s=30, proc=proc)
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            conn.request("GET", "/pair?s=" + secret)
            resp = conn.getresponse()
            resp.read()
            cookie = (resp.getheader("Set-Cookie") or "").split(";", 1)[0]
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            conn.request("GET", "/events", headers={"Cookie": cookie})
            stream = conn.getresponse()
            unavailable = keepalives = 0
            end = time.monotonic() + seconds
            while time.monotonic() < end:
                line = stream.readline()
                if not line:
                    break
                unavailable += line.startswith(b"event: unavailable")
                keepalives += line.startswith(b": keepalive")
            print(
                f"one screen for {seconds:.0f} s: {unavailable} 'unavailable' events, "
                f"{keepalives} keepalives (target 0 unavailable)"
            )
        finally:
            proc.terminate()
            proc.wait(10)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--steady-s", type=float, default=60.0, help="seconds to watch one screen")
    args = ap.parse_args()
    os.environ.setdefault("PYTHONWARNINGS", "ignore")
    bench_paint_and_weight(args.runs)
    bench_demo_start()
    bench_relay_steady(args.steady_s)
    return 0


if __name__ == "__main__":
    sys.exit(main())
