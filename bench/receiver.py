"""Ingest rate of ``myna receiver`` with full re-verification: records/s and p95 latency, SQLite
vs PostgreSQL, one vs two receiver processes (each ``--workers 1`` under gunicorn, HTTPS).

Records are made once by the real flows on the emulator (sign, yamada-taro and foreign-
resident), signed by one kiosk key, and delivered by C client threads over keep-alive HTTPS.
Every record is distinct, so every request runs the whole path: JWS check, certificate path
validation at the record's time, the card's signature over the statement, the database insert.
Printed figures only.

    .venv/bin/python bench/receiver.py [records] [clients]
"""

from __future__ import annotations

import json
import ssl
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.receiver.test_serve import ServedReceiver  # noqa: E402
from tests.support import postgres  # noqa: E402
from tests.support.record_maker import (  # noqa: E402
    flow_config_for_tests,
    receiver_settings,
    record_maker,
)


def deliver(servers: list[ServedReceiver], tokens: list[tuple[str, str]], clients: int,
            ca: ssl.SSLContext) -> tuple[float, list[float], int]:
    latencies: list[float] = []
    errors = 0
    lock = threading.Lock()
    cursor = iter(enumerate(tokens))

    def run(n: int) -> None:
        nonlocal errors
        with httpx.Client(verify=ca, timeout=60) as client:
            for i, (rid, token) in cursor:
                server = servers[i % len(servers)]
                t0 = time.perf_counter()
                res = client.post(server.url + "/v1/records", content=token.encode(),
                                  headers={"Content-Type": "application/jose",
                                           "Idempotency-Key": rid})
                dt = time.perf_counter() - t0
                with lock:
                    latencies.append(dt)
                    if res.status_code != 201 or res.json()["state"] != "accepted":
                        errors += 1

    threads = [threading.Thread(target=run, args=(n,)) for n in range(clients)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return time.perf_counter() - t0, latencies, errors


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 300
    clients = int(sys.argv[2]) if len(sys.argv) > 2 else 8
    from agent.records.signing import KioskKey
    from card.emulator import export_trust
    from receiver import admin, db
    from receiver.local_tls import make_local_tls
    from receiver.service import open_receiver

    with tempfile.TemporaryDirectory(prefix="myna-bench-rx-") as tmp:
        base = Path(tmp)
        trust = base / "trust"
        trust.mkdir()
        export_trust(trust)
        make = record_maker(flow_config_for_tests(trust))
        key = KioskKey.generate()
        started = time.perf_counter()
        personas = ("yamada-taro", "foreign-resident")
        tokens_all = [make(personas[i % 2], "sign") for i in range(count * 4)]
        tokens = [(r["record_id"], key.sign(r)) for r in tokens_all]
        print(f"made {len(tokens)} signed sign-flow records in "
              f"{time.perf_counter() - started:.1f} s; {clients} client threads, HTTPS")
        body = statistics.mean(len(t) for _, t in tokens)
        print(f"record size: {body:.0f} bytes of compact JWS on average")
        tls = make_local_tls(base / "tls")
        ca = ssl.create_default_context(cafile=str(tls.ca_file))
        cluster = postgres.start_cluster() if postgres.available() else None
        try:
            backends = [("sqlite", f"sqlite:///{base / 'rx.sqlite3'}")]
            if cluster is not None:
                backends.append(("postgresql", cluster.create_database("bench")))
            batch = 0
            for name, url in backends:
                settings = receiver_settings(base / f"state-{name}", url, trust)
                engine = db.make_engine(url)
                db.upgrade(engine)
                engine.dispose()
                rx = open_receiver(settings)
                admin.add_kiosk(rx, "kiosk-1", json.dumps(key.public_jwk()))
                rx.engine.dispose()
                conf = base / f"{name}.toml"
                conf.write_text(
                    f'state_dir = "{settings.state_dir}"\ntrust_mode = "test"\n'
                    f'test_dir = "{trust}"\ncrl_file = "{trust / "test.crl"}"\n')
                one_rate = 0.0
                for processes in (1, 2):
                    servers = [ServedReceiver(base, url, conf, (tls.ca_file, tls.cert_file,
                                                                tls.key_file), workers=1)
                               for _ in range(processes)]
                    try:
                        part = tokens[batch * count:(batch + 1) * count]
                        batch += 1
                        elapsed, lat, errors = deliver(servers, part, clients, ca)
                    finally:
                        for s in servers:
                            s.kill()
                    rate = len(part) / elapsed
                    lat.sort()
                    p95 = lat[int(0.95 * (len(lat) - 1))] * 1000
                    one_rate = one_rate or rate
                    print(f"{name:10s} {processes} process(es): {rate:6.1f} records/s, "
                          f"p50 {lat[len(lat) // 2] * 1000:6.1f} ms, p95 {p95:6.1f} ms, "
                          f"{errors} not accepted"
                          + (f"; {rate / one_rate:.2f}x one process" if processes == 2 else ""))
        finally:
            if cluster is not None:
                cluster.cleanup()
    fleet = 10_000 / 60
    print(f"a fleet of 10,000 kiosks at one check a minute each sends {fleet:.0f} records/s "
          "on average")


if __name__ == "__main__":
    main()
