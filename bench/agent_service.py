"""Print the agent's service figures (issue 4 "Performance"): event latency from verdict to SSE
delivery on loopback, idle CPU while polling, and RSS after N emulated taps vs after 10.

* Latency: the session publishes the ``result`` snapshot (timestamped inside ``EventHub.publish``)
  and an SSE client on 127.0.0.1 timestamps its arrival; same process, same ``perf_counter``.
* Idle CPU: process CPU time (all threads) over a window with no card, for the demo reader and,
  when pcscd and vpcd are installed, a private pcscd with two vpcd readers.
* RSS: ``VmRSS`` after 10 taps and after N taps (default 1,000) of the auth flow through the
  whole service (watcher, session worker, flows, audit, SSE), with ``gc.collect()`` before each.

    .venv/bin/python bench/agent_service.py [taps] [idle_seconds]
"""

from __future__ import annotations

import gc
import os
import statistics
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.support import pcscd as pcscd_support

_WORK = pcscd_support.make_workdir() if pcscd_support.pcscd_available() else None
if _WORK is not None:
    pcscd_support.configure_client_socket(_WORK)

from agent.service.agent_service import AgentService, CardFlowBackend  # noqa: E402
from agent.service.config import config_from_mapping  # noqa: E402
from agent.service.events import EventHub  # noqa: E402
from card.emulator import PERSONAS, VirtualMynaCard, export_trust  # noqa: E402
from card.transports.emulated import EmulatedReader  # noqa: E402

AT = datetime(2026, 11, 26, tzinfo=UTC)


class TimedHub(EventHub):
    """Records when each snapshot seq was published."""

    def __init__(self) -> None:
        super().__init__()
        self.published: dict[int, float] = {}

    def publish(self, snapshot: dict[str, Any]) -> None:
        self.published[snapshot["seq"]] = time.perf_counter()
        if len(self.published) > 256:  # bounded, so the bench itself does not grow
            for seq in sorted(self.published)[:128]:
                del self.published[seq]
        super().publish(snapshot)


def _config(tmp: Path, trust: Path, **reader: Any) -> Any:
    return config_from_mapping({
        "reader": {"poll_interval_s": 0.25, "allow_virtual": True, **reader},
        "flows": {"enabled": ["sign", "auth", "face", "number"], "default": "auth"},
        "trust": {"mode": "test", "test_dir": str(trust)},
        "api": {"port": 0, "token_file": str(tmp / "agent.token")},
        "log": {"audit_file": str(tmp / "audit.jsonl"), "hmac_key_file": str(tmp / "audit.key")},
    })


def _rss_kib() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def _service(tmp: Path, trust: Path, **reader: Any) -> tuple[AgentService, EmulatedReader]:
    config = _config(tmp, trust, **reader)
    demo = EmulatedReader("bench")
    svc = AgentService(config, demo_reader=demo, backend=CardFlowBackend(config, at=lambda: AT),
                       hub=TimedHub())
    svc.start()
    return svc, demo


def _sse_client(svc: AgentService) -> tuple[list[tuple[float, dict[str, Any]]], Any]:
    import http.client
    import json

    host, port = svc.url.removeprefix("http://").rsplit(":", 1)
    conn = http.client.HTTPConnection(host, int(port), timeout=60)
    conn.request("GET", "/v1/events", headers={"Authorization": f"Bearer {svc.token}"})
    resp = conn.getresponse()
    got: list[tuple[float, dict[str, Any]]] = []
    cond = threading.Condition()

    def read() -> None:
        data = ""
        try:
            for raw in resp.fp:
                line = raw.decode()
                if line.startswith("data: "):
                    data = line[6:]
                elif line == "\n" and data:
                    t = time.perf_counter()
                    with cond:
                        got.append((t, json.loads(data)))
                        cond.notify_all()
                    data = ""
        except (OSError, ValueError):
            return

    threading.Thread(target=read, daemon=True).start()
    return got, (conn, cond)


def _wait(got: list[tuple[float, dict[str, Any]]], cond: threading.Condition, state: str,
          start: int) -> int:
    deadline = time.monotonic() + 30
    with cond:
        i = start
        while True:
            while i < len(got):
                if got[i][1]["state"] == state:
                    return i
                i += 1
            if not cond.wait(max(0.0, deadline - time.monotonic())):
                raise TimeoutError(state)


def _tap(svc: AgentService, demo: EmulatedReader, got: Any, cond: Any, start: int,
         pin: str) -> tuple[int, float]:
    demo.insert(VirtualMynaCard(PERSONAS["yamada-taro"]))
    svc.watcher.poke()
    i = _wait(got, cond, "awaiting_credential", start)
    svc.controller.submit_credential(got[i][1]["session_id"], pin, False)
    j = _wait(got, cond, "result", i)
    t_arrive, snap = got[j]
    latency = t_arrive - svc.hub.published[snap["seq"]]  # type: ignore[attr-defined]
    demo.remove()
    svc.watcher.poke()
    k = _wait(got, cond, "idle", j)
    return k + 1, latency


def bench_latency_and_rss(tmp: Path, trust: Path, taps: int) -> None:
    svc, demo = _service(tmp / "rss", trust)
    got, (conn, cond) = _sse_client(svc)
    pin = PERSONAS["yamada-taro"].credentials.auth_pin
    start = _wait(got, cond, "idle", 0) + 1
    latencies = []
    rss_10 = 0
    t0 = time.perf_counter()
    for n in range(1, taps + 1):
        start, latency = _tap(svc, demo, got, cond, start, pin)
        latencies.append(latency)
        if n == 10:
            gc.collect()
            rss_10 = _rss_kib()
        with cond:  # keep the client's own list from looking like agent growth
            del got[:start]
            start = 0
    elapsed = time.perf_counter() - t0
    gc.collect()
    rss_n = _rss_kib()
    conn.close()
    svc.stop()
    ms = sorted(x * 1000 for x in latencies)
    print(f"taps: {taps} auth taps through the service in {elapsed:.1f} s "
          f"({elapsed / taps * 1000:.1f} ms per tap incl. card-layer RSA)")
    print(f"verdict -> SSE delivery: median {statistics.median(ms):.2f} ms, "
          f"p95 {ms[int(len(ms) * 0.95) - 1]:.2f} ms, max {ms[-1]:.2f} ms (target < 10 ms)")
    print(f"RSS after 10 taps: {rss_10 / 1024:.1f} MiB; after {taps}: {rss_n / 1024:.1f} MiB; "
          f"growth {(rss_n - rss_10) / 1024:+.2f} MiB (target flat within 5 MB)")


def _cpu_of(pid: int | None) -> float:
    if pid is None:
        return 0.0
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _idle_cpu(svc: AgentService, seconds: float, other: int | None = None,
              ) -> tuple[float, float, int]:
    time.sleep(1.0)  # settle: first polls, server start
    polls0 = svc.watcher.polls
    c0, o0, w0 = time.process_time(), _cpu_of(other), time.perf_counter()
    time.sleep(seconds)
    c1, o1, w1 = time.process_time(), _cpu_of(other), time.perf_counter()
    return 100 * (c1 - c0) / (w1 - w0), 100 * (o1 - o0) / (w1 - w0), svc.watcher.polls - polls0


def bench_idle(tmp: Path, trust: Path, seconds: float) -> None:
    svc, _ = _service(tmp / "idle-demo", trust)
    pct, _, polls = _idle_cpu(svc, seconds)
    svc.stop()
    print(f"idle CPU, demo reader, 0.25 s poll: {pct:.2f} % of a core ({polls} polls "
          f"in {seconds:.0f} s)")
    if _WORK is None:
        print("idle CPU, pcsc: skipped (pcscd/vpcd not installed)")
        return
    instance = pcscd_support.start_pcscd(_WORK, pcscd_support.free_port_pair())
    try:
        time.sleep(1.0)
        config = _config(tmp / "idle-pcsc", trust, locator="pcsc")
        svc = AgentService(config, backend=CardFlowBackend(config, at=lambda: AT)).start()
        pct, daemon, polls = _idle_cpu(svc, seconds, instance.proc.pid)
        readers = len(svc.watcher.readers())
        svc.stop()
        print(f"idle CPU, pcsc ({readers} vpcd readers), 0.25 s poll: agent {pct:.2f} % of a "
              f"core, pcscd {daemon:.2f} % ({polls} polls in {seconds:.0f} s)")
    finally:
        instance.cleanup()


def main(argv: list[str]) -> int:
    taps = int(argv[1]) if len(argv) > 1 else 1000
    seconds = float(argv[2]) if len(argv) > 2 else 5.0
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        trust = tmp / "trust"
        trust.mkdir()
        export_trust(trust)
        bench_idle(tmp, trust, seconds)
        bench_latency_and_rss(tmp, trust, taps)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
