"""Ingest rate of ``myna receiver`` with full re-verification: records/s and p95 latency, SQLite
vs PostgreSQL, one vs two receiver processes (each ``--workers 1`` under gunicorn, HTTPS).

Records are made once by the real flows on the emulator (sign, yamada-taro and foreign-
resident), signed by one kiosk key, and encoded before any timing starts. With ``cards`` =
``distinct`` (the default) every record then comes from its own card (its own key and
certificate from the test CA, tests/support/record_maker.py ``record_from_another_card``), as a
fleet's receiver sees; ``personas`` keeps the two emulator cards, so every certificate repeats
across records. C sender threads
deliver them over keep-alive HTTPS connections (``http.client``, the lightest client the
standard library has, so the senders take as little as possible of the CPU being measured).
Every record is distinct, so every request runs the whole path: JWS check, certificate path
validation at the record's time, the card's signature over the statement, the database insert.
Each receiver first gets ``WARM_UP_RECORDS`` untimed records (imports on first use, per-thread
trust-anchor caches): the figures are a receiver's steady state, as a fleet's runs for weeks.

Besides the wall-clock rate (which on a two-core machine shares the cores with the senders
and anything else running), the receivers' own CPU time is read from /proc: "records per
receiver CPU-second" is the rate one receiver process sustains on one core of its own.
Each case runs R times; best and median are printed. Printed figures only.

    .venv/bin/python bench/receiver.py [records] [clients] [repeats] [distinct|personas] \
        [sqlite,postgresql]
"""

from __future__ import annotations

import http.client
import itertools
import json
import os
import ssl
import statistics
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.receiver.test_serve import ServedReceiver  # noqa: E402
from tests.support import postgres  # noqa: E402
from tests.support.record_maker import (  # noqa: E402
    flow_config_for_tests,
    receiver_settings,
    record_from_another_card,
    record_maker,
)


def _process_group_cpu_s(pgid: int) -> float:
    """User + system CPU seconds of every live process in ``pgid`` (a receiver: gunicorn's
    arbiter and its worker)."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # the process ended meanwhile
        if int(fields[2]) == pgid:  # fields[0] is the state; 2 = pgrp, 11/12 = utime/stime
            total += int(fields[11]) + int(fields[12])
    return total / tick


def deliver(servers: list[ServedReceiver], tokens: list[tuple[str, bytes]], clients: int,
            ca: ssl.SSLContext) -> tuple[float, list[float], int, float]:
    """(seconds, latencies, records not accepted, receivers' CPU seconds)."""
    latencies: list[float] = []
    errors = 0
    lock = threading.Lock()
    cursor = iter(enumerate(tokens))
    ready = threading.Barrier(clients + 1)

    def run(n: int) -> None:
        nonlocal errors
        # Connected at the first request, not before the clock starts: a gthread worker gives
        # each new connection a thread that waits for its first request.
        conns = {s.port: http.client.HTTPSConnection("127.0.0.1", s.port, context=ca,
                                                     timeout=60) for s in servers}
        ready.wait()
        try:
            for i, (rid, body) in cursor:
                server = servers[i % len(servers)]
                conn = conns[server.port]
                t0 = time.perf_counter()
                conn.request("POST", "/v1/records", body=body,
                             headers={"Content-Type": "application/jose",
                                      "Idempotency-Key": rid})
                res = conn.getresponse()
                answer = res.read()
                dt = time.perf_counter() - t0
                ok = res.status == 201 and b'"state":"accepted"' in answer.replace(b" ", b"")
                with lock:
                    latencies.append(dt)
                    errors += not ok
        finally:
            for conn in conns.values():
                conn.close()

    threads = [threading.Thread(target=run, args=(n,)) for n in range(clients)]
    for t in threads:
        t.start()
    ready.wait()
    cpu0 = sum(_process_group_cpu_s(s.proc.pid) for s in servers)
    t0 = time.perf_counter()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - t0
    cpu = sum(_process_group_cpu_s(s.proc.pid) for s in servers) - cpu0
    return elapsed, latencies, errors, cpu


@dataclass
class Run:
    rate: float
    p95_ms: float
    cpu_ms: float  # receivers' CPU per record
    errors: int


WARM_UP_RECORDS = 40  # per receiver process, delivered before timing starts


def run_case(base: Path, name: str, url: str, trust: Path, key: object,
             tokens: list[tuple[str, bytes]], processes: int, clients: int, tls: object,
             ca: ssl.SSLContext) -> Run:
    from receiver import admin, db
    from receiver.service import open_receiver

    settings = receiver_settings(base / f"state-{name}", url, trust)
    engine = db.make_engine(url)
    db.upgrade(engine)
    engine.dispose()
    rx = open_receiver(settings)
    admin.add_kiosk(rx, "kiosk-1", json.dumps(key.public_jwk()))  # type: ignore[attr-defined]
    rx.engine.dispose()
    conf = base / f"{name}.toml"
    conf.write_text(f'state_dir = "{settings.state_dir}"\ntrust_mode = "test"\n'
                    f'test_dir = "{trust}"\ncrl_file = "{trust / "test.crl"}"\n')
    files = (tls.ca_file, tls.cert_file, tls.key_file)  # type: ignore[attr-defined]
    servers = [ServedReceiver(base, url, conf, files, workers=1) for _ in range(processes)]
    try:
        # A fresh worker pays once for what a long-running one has long done: the verification
        # core's imports on the first record, and each thread's parsed trust anchors. Records
        # that are not timed pay that here, on every server and thread, before the clock starts.
        warm, timed = tokens[:WARM_UP_RECORDS * processes], tokens[2 * WARM_UP_RECORDS:]
        deliver(servers, warm, clients, ca)
        elapsed, lat, errors, cpu = deliver(servers, timed, clients, ca)
    finally:
        for s in servers:
            s.kill()
    lat.sort()
    return Run(len(timed) / elapsed, lat[int(0.95 * (len(lat) - 1))] * 1000,
               cpu / len(timed) * 1000, errors)


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 300
    clients = int(sys.argv[2]) if len(sys.argv) > 2 else 8
    repeats = int(sys.argv[3]) if len(sys.argv) > 3 else 3
    cards = sys.argv[4] if len(sys.argv) > 4 else "distinct"
    only = sys.argv[5].split(",") if len(sys.argv) > 5 else ["sqlite", "postgresql"]
    from agent.records.signing import KioskKey
    from card.emulator import export_trust
    from receiver.local_tls import make_local_tls

    with tempfile.TemporaryDirectory(prefix="myna-bench-rx-") as tmp:
        base = Path(tmp)
        trust = base / "trust"
        trust.mkdir()
        export_trust(trust)
        make = record_maker(flow_config_for_tests(trust))
        key = KioskKey.generate()
        started = time.perf_counter()
        personas = ("yamada-taro", "foreign-resident")
        records = [make(personas[i % 2], "sign") for i in range(count + 2 * WARM_UP_RECORDS)]
        if cards == "distinct":
            records = [record_from_another_card(r, i) for i, r in enumerate(records)]
        tokens = [(r["record_id"], key.sign(r).encode("ascii")) for r in records]
        leaves = {r["evidence"]["documents"]["certificate"]["sha256"] for r in records}
        print(f"made {len(tokens)} signed sign-flow records from {len(leaves)} distinct card "
              f"certificates in "
              f"{time.perf_counter() - started:.1f} s; each case delivers them to a fresh "
              f"database with {clients} sender threads over keep-alive HTTPS, {repeats} runs "
              f"per case; the first {WARM_UP_RECORDS} per receiver process warm it up and are "
              f"not timed, so each case times {count}")
        body = statistics.mean(len(t) for _, t in tokens)
        print(f"record size: {body:.0f} bytes of compact JWS on average")
        tls = make_local_tls(base / "tls")
        ca = ssl.create_default_context(cafile=str(tls.ca_file))
        cluster = postgres.start_cluster() if postgres.available() else None
        databases = itertools.count(1)
        per_cpu_s: list[float] = []
        try:
            backends = [b for b in ("sqlite", "postgresql") if b in only
                        and (b == "sqlite" or cluster is not None)]
            for backend in backends:
                one_rate = 0.0
                for processes in (1, 2):
                    runs = []
                    for _ in range(repeats):
                        n = next(databases)
                        url = (f"sqlite:///{base / f'rx{n}.sqlite3'}" if backend == "sqlite"
                               else str(cluster.create_database(f"bench{n}")))  # type: ignore
                        runs.append(run_case(base, f"rx{n}", url, trust, key, tokens,
                                             processes, clients, tls, ca))
                    rates = sorted(r.rate for r in runs)
                    median = statistics.median(rates)
                    one_rate = one_rate or median
                    cpu = statistics.median(r.cpu_ms for r in runs)
                    per_cpu_s.append(1000 / cpu)
                    print(f"{backend:10s} {processes} process(es): best {rates[-1]:6.1f}, "
                          f"median {median:6.1f} records/s; p95 "
                          f"{statistics.median(r.p95_ms for r in runs):6.1f} ms; receiver CPU "
                          f"{cpu:5.2f} ms/record = {1000 / cpu:5.0f} records per CPU-second; "
                          f"{sum(r.errors for r in runs)} not accepted"
                          + (f"; {median / one_rate:.2f}x one process" if processes == 2
                             else ""))
        finally:
            if cluster is not None:
                cluster.cleanup()
    fleet = 10_000 / 60
    print(f"a fleet of 10,000 kiosks at one check a minute each sends {fleet:.0f} records/s "
          "on average")
    if per_cpu_s:
        rate = statistics.median(per_cpu_s)
        print(f"at {rate:.0f} records per receiver CPU-second that is {fleet / rate:.1f} cores "
              f"of receiver work on average, {3 * fleet / rate:.1f} for peaks three times the "
              "average (plus the database's own)")


if __name__ == "__main__":
    main()
