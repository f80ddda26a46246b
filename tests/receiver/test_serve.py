"""The receiver as it runs: gunicorn processes over HTTPS with a test CA, two of them on one
PostgreSQL, killed mid-request, and PostgreSQL stopped under them."""

from __future__ import annotations

import json
import os
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from receiver.models import Record

pytestmark = pytest.mark.slow


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def make_test_ca(directory: Path) -> tuple[Path, Path, Path]:
    from receiver.local_tls import make_local_tls

    tls = make_local_tls(directory / "tls")
    return tls.ca_file, tls.cert_file, tls.key_file


class ServedReceiver:
    def __init__(self, base: Path, db_url: str, settings_file: Path, tls: tuple[Path, ...],
                 workers: int = 2) -> None:
        self.port = free_port()
        self.url = f"https://127.0.0.1:{self.port}"
        self.log = base / f"receiver-{self.port}.log"
        cmd = [sys.executable, "-m", "agent.cli", "receiver", "serve", "--db", db_url,
               "--config", str(settings_file), "--bind", f"127.0.0.1:{self.port}",
               "--workers", str(workers), "--certfile", str(tls[1]), "--keyfile", str(tls[2])]
        self.log_file = open(self.log, "wb")  # noqa: SIM115 - closed in kill()
        self.proc = subprocess.Popen(cmd, stdout=self.log_file,  # noqa: S603
                                     stderr=subprocess.STDOUT, start_new_session=True)
        self.ca = ssl.create_default_context(cafile=str(tls[0]))
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(self.url + "/healthz", verify=self.ca, timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            if self.proc.poll() is not None:
                self.log_file.close()
                raise RuntimeError("receiver exited: " + self.log.read_text(errors="replace"))
            time.sleep(0.2)
        self.kill()
        raise RuntimeError("receiver did not start: " + self.log.read_text(errors="replace"))

    def post(self, token: str, record_id: str, timeout: float = 30) -> httpx.Response:
        return httpx.post(self.url + "/v1/records", content=token.encode(), verify=self.ca,
                          timeout=timeout, headers={"Content-Type": "application/jose",
                                                    "Idempotency-Key": record_id})

    def kill(self, sig: int = signal.SIGKILL) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, sig)
            self.proc.wait(timeout=30)
        self.log_file.close()


@pytest.fixture
def served(tmp_path: Path, trust_dir: Path, registered: Any) -> Iterator[Any]:
    """A factory for gunicorn receivers over HTTPS on ``registered``'s database."""
    tls = make_test_ca(tmp_path)
    settings = registered.settings
    settings_file = tmp_path / "receiver.toml"
    settings_file.write_text(
        f'state_dir = "{settings.state_dir}"\ntrust_mode = "test"\n'
        f'test_dir = "{trust_dir}"\ncrl_file = "{trust_dir / "test.crl"}"\n'
        f'cvc_issuer_keys = {json.dumps(list(settings.cvc_issuer_keys))}\n')
    started: list[ServedReceiver] = []

    def start(workers: int = 2) -> ServedReceiver:
        rx = ServedReceiver(tmp_path, settings.database_url, settings_file, tls, workers)
        started.append(rx)
        return rx

    yield start
    for rx in started:
        rx.kill(signal.SIGTERM)


def stored_ids(rx: Any) -> list[str]:
    with rx.sessions() as s:
        return list(s.scalars(select(Record.record_id)))


def test_https_ingest_health_and_metrics(served, registered, kiosk_key, make_record):
    server = served(workers=2)
    record = make_record()
    res = server.post(kiosk_key.sign(record), record["record_id"])
    assert res.status_code == 201 and res.json()["state"] == "accepted"
    assert server.post(kiosk_key.sign(record), record["record_id"]).status_code == 200
    text = httpx.get(server.url + "/metrics", verify=server.ca).text
    assert 'myna_receiver_records_total{outcome="accepted"} 1.0' in text
    assert 'myna_receiver_records_total{outcome="duplicate"} 1.0' in text
    assert "myna_receiver_verification_seconds_bucket" in text
    with pytest.raises((httpx.RemoteProtocolError, httpx.ConnectError)):  # no plain HTTP
        httpx.get(server.url.replace("https", "http") + "/healthz", timeout=5)


def test_oversized_chunked_body_is_413_and_nothing_stored(served, registered):
    server = served(workers=1)

    def chunks() -> Iterator[bytes]:
        for _ in range(40):
            yield b"A" * 65536

    res = httpx.post(server.url + "/v1/records", content=chunks(), verify=server.ca,
                     headers={"Content-Type": "application/jose"}, timeout=30)
    assert res.status_code == 413, res.text
    assert stored_ids(registered) == []


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_two_receivers_three_senders_every_record_exactly_once(served, registered, kiosk_key,
                                                               make_record):
    servers = [served(workers=2), served(workers=2)]
    records = [make_record(("yamada-taro", "foreign-resident")[i % 2], ("sign", "auth")[i % 2])
               for i in range(24)]
    tokens = [(r["record_id"], kiosk_key.sign(r)) for r in records]
    statuses: list[int] = []
    lock = threading.Lock()

    def sender(n: int) -> None:
        # Each sender delivers every record it owns to BOTH receivers (forced duplicates), and
        # every third record of its neighbour as well.
        for i, (rid, token) in enumerate(tokens):
            if i % 3 != n and (i + 1) % 3 != n:
                continue
            for server in servers:
                res = server.post(token, rid)
                with lock:
                    statuses.append(res.status_code)

    threads = [threading.Thread(target=sender, args=(n,)) for n in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    assert set(statuses) <= {200, 201}, statuses
    assert statuses.count(201) == len(records)
    ids = stored_ids(registered)
    assert sorted(ids) == sorted(r["record_id"] for r in records)


def test_receiver_killed_mid_request_then_retry_stores_once(served, registered, kiosk_key,
                                                            make_record):
    server = served(workers=1)
    records = [make_record() for _ in range(6)]
    results: dict[str, int] = {}

    def deliver() -> None:
        for r in records:
            try:
                results[r["record_id"]] = server.post(kiosk_key.sign(r), r["record_id"]).status_code
            except httpx.HTTPError:
                results[r["record_id"]] = -1

    t = threading.Thread(target=deliver)
    t.start()
    time.sleep(0.3)
    server.kill()
    t.join(timeout=120)
    again = served(workers=1)
    for r in records:  # the sender retries everything it has no 2xx for, and more
        assert again.post(kiosk_key.sign(r), r["record_id"]).status_code in (200, 201)
    ids = stored_ids(registered)
    assert sorted(ids) == sorted(r["record_id"] for r in records)  # none twice, none lost


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_postgres_down_gives_503_and_recovers_without_restart(served, registered, kiosk_key,
                                                              make_record, pg_cluster):
    server = served(workers=1)
    first, second = make_record(), make_record()
    assert server.post(kiosk_key.sign(first), first["record_id"]).status_code == 201
    pg_cluster.stop()
    try:
        res = server.post(kiosk_key.sign(second), second["record_id"])
        assert res.status_code == 503
        assert res.headers.get("Retry-After")
        assert httpx.get(server.url + "/healthz", verify=server.ca).status_code == 503
    finally:
        pg_cluster.start()
    deadline = time.monotonic() + 30
    while True:
        res = server.post(kiosk_key.sign(second), second["record_id"])
        if res.status_code == 201 or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert res.status_code == 201
    assert server.proc.poll() is None
