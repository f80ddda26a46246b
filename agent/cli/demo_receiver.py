"""``myna demo --receiver``: a local receiver (SQLite, HTTPS with its own CA) that the demo
agent hands its verification records to, so a newcomer sees a record arrive."""

from __future__ import annotations

import contextlib
import json
import socket
import ssl
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

DEMO_KIOSK_ID = "demo-kiosk"


@dataclass
class DemoReceiver:
    url: str
    db_url: str
    config_file: Path
    agent_sections: dict[str, Any]  # [records] and [handoff] for the demo agent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_healthy(url: str, ca_file: Path, proc: subprocess.Popen[bytes],
                  timeout_s: float = 60.0) -> None:
    context = ssl.create_default_context(cafile=str(ca_file))
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("the demo receiver exited")
        try:
            with urllib.request.urlopen(url + "/healthz", context=context,  # noqa: S310
                                        timeout=2) as res:
                if res.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise TimeoutError("the demo receiver did not answer")


@contextlib.contextmanager
def demo_receiver(workdir: Path, trust_dir: Path) -> Iterator[DemoReceiver]:
    from agent.records.keeper import KEY_FILE
    from agent.records.signing import KioskKey
    from receiver import admin
    from receiver.local_tls import make_local_tls
    from receiver.service import open_receiver
    from receiver.settings import load_settings

    rx_dir = workdir / "receiver"
    tls = make_local_tls(rx_dir / "tls")
    records_dir = workdir / "records"
    key = KioskKey.init(records_dir / KEY_FILE)
    config_file = rx_dir / "receiver.toml"
    cvc_keys = [str(trust_dir / "cvc_issuer_surface.pem"),
                str(trust_dir / "cvc_issuer_input_helper.pem")]
    config_file.write_text(
        f'state_dir = {json.dumps(str(rx_dir))}\ntrust_mode = "test"\n'
        f'test_dir = {json.dumps(str(trust_dir))}\n'
        f'crl_file = {json.dumps(str(trust_dir / "test.crl"))}\n'
        f"cvc_issuer_keys = {json.dumps(cvc_keys)}\n"
        'record_page = "loopback"\n', encoding="utf-8")
    settings = load_settings(config_file)
    from receiver import db

    engine = db.make_engine(settings.database_url)
    db.upgrade(engine)
    engine.dispose()
    rx = open_receiver(settings)
    try:
        admin.add_kiosk(rx, DEMO_KIOSK_ID, json.dumps(key.public_jwk()))
    finally:
        rx.engine.dispose()
    port = _free_port()
    url = f"https://127.0.0.1:{port}"
    proc = subprocess.Popen(  # noqa: S603 - our own interpreter and module
        [sys.executable, "-m", "agent.cli", "receiver", "serve", "--config", str(config_file),
         "--bind", f"127.0.0.1:{port}", "--workers", "1", "--certfile", str(tls.cert_file),
         "--keyfile", str(tls.key_file)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait_healthy(url, tls.ca_file, proc)
        yield DemoReceiver(url, settings.database_url, config_file, {
            "records": {"enabled": True, "kiosk_id": DEMO_KIOSK_ID,
                        "state_dir": str(records_dir),
                        "viewer_url": url + "/records/{record_id}"},
            "handoff": {"url": url + "/v1/records", "ca_file": str(tls.ca_file)},
        })
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
