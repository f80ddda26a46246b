"""``myna keys init|show`` and ``myna records list|status|retry|purge --dead`` as processes,
the ``[records]``/``[handoff]`` config checks, and the staff id reaching the record."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from agent.records.outbox import Outbox
from agent.service.config import ConfigError, config_from_mapping
from tests.hardening.rig import credential
from tests.support.records import wait_for


def myna(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "agent.cli", *args],  # noqa: S603
                          capture_output=True, text=True, timeout=60, check=False)


def write_config(tmp: Path, state: Path) -> Path:
    conf = tmp / "myna.toml"
    conf.write_text(
        f'[api]\nport = 0\ntoken_file = "{tmp / "agent.token"}"\n'
        f'[log]\naudit_file = "{tmp / "audit.jsonl"}"\nhmac_key_file = "{tmp / "audit.key"}"\n'
        f'[records]\nenabled = true\nkiosk_id = "k-1"\nstate_dir = "{state}"\n'
        '[handoff]\nurl = "https://127.0.0.1:9/v1/records"\n', encoding="utf-8")
    return conf


def test_keys_init_and_show(tmp_path):
    conf = write_config(tmp_path, tmp_path / "state")
    out = myna("keys", "show", "--config", str(conf))
    assert out.returncode == 1 and "myna keys init" in out.stderr
    agent = myna("agent", "--config", str(conf))
    assert agent.returncode == 2 and "myna keys init" in agent.stderr  # refuses to start
    assert myna("keys", "init", "--config", str(conf)).returncode == 0
    key_file = tmp_path / "state" / "kiosk-signing.jwk"
    assert stat.S_IMODE(os.stat(key_file).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(key_file.parent).st_mode) == 0o700
    shown = myna("keys", "show", "--config", str(conf))
    assert shown.returncode == 0
    text, thumb_line = shown.stdout.rsplit("thumbprint ", 1)
    jwk = json.loads(text)
    assert set(jwk) == {"kty", "crv", "x", "kid", "alg", "use"}  # public only: no "d"
    # RFC 7638: SHA-256 over the required members in lexical order, no whitespace.
    required = json.dumps({"crv": jwk["crv"], "kty": jwk["kty"], "x": jwk["x"]},
                          separators=(",", ":"), sort_keys=True)
    expected = base64.urlsafe_b64encode(hashlib.sha256(required.encode()).digest()).rstrip(b"=")
    assert thumb_line.strip() == expected.decode() == jwk["kid"]
    again = myna("keys", "init", "--config", str(conf))
    assert "kept existing" in again.stdout  # never replaced by accident
    assert json.loads(myna("keys", "show", "--config", str(conf)).stdout.rsplit(
        "thumbprint", 1)[0])["x"] == jwk["x"]


def test_records_list_status_retry_purge(tmp_path):
    state = tmp_path / "state"
    conf = write_config(tmp_path, state)
    outbox = Outbox(state, max_pending=100, max_bytes=10**6)
    for i in range(3):
        outbox.add(f"0190-{i}", "header.payload-with-identity.sig")
    outbox.dead_letter("0190-1", "HTTP 422")
    outbox.close()
    listed = myna("records", "list", "--config", str(conf), "--json")
    rows = json.loads(listed.stdout)
    assert [(r["record_id"], r["state"]) for r in rows] == [
        ("0190-0", "pending"), ("0190-1", "dead"), ("0190-2", "pending")]
    assert "identity" not in listed.stdout
    status = myna("records", "status", "--config", str(conf))
    assert "2 pending" in status.stdout and "1 dead" in status.stdout
    assert "1 record(s)" in myna("records", "retry", "--config", str(conf)).stdout
    assert "0 dead" in myna("records", "status", "--config", str(conf)).stdout
    outbox = Outbox(state, max_pending=100, max_bytes=10**6)
    outbox.dead_letter("0190-2", "HTTP 400")
    outbox.close()
    assert "1 dead record(s) deleted" in myna("records", "purge", "--dead", "--config",
                                              str(conf)).stdout
    assert len(json.loads(myna("records", "list", "--config", str(conf), "--json").stdout)) == 2


@pytest.mark.parametrize("records, handoff, key", [
    ({"enabled": True}, {}, "records.kiosk_id"),
    ({"identity_fields": ["my_number"]}, {}, "records.identity_fields"),
    ({}, {"url": "http://receiver/v1/records"}, "handoff.url"),
    ({}, {"client_cert": "c.pem"}, "handoff.client_key"),
    ({"max_pending": 0}, {}, "records.max_pending"),
    ({"viewer_url": "http://receiver/records/{record_id}"}, {}, "records.viewer_url"),
    ({"viewer_url": "https://receiver/records/"}, {}, "records.viewer_url"),
])
def test_records_config_errors_name_the_key(records, handoff, key):
    with pytest.raises(ConfigError) as e:
        config_from_mapping({"records": records, "handoff": handoff})
    assert e.value.key == key


@pytest.mark.emulator_only
def test_the_staff_id_of_the_session_is_in_the_record(agent_factory, receiver):
    agent = agent_factory(receiver.url)
    from card.emulator import PERSONAS, VirtualMynaCard

    driver, reader = agent.driver, agent.reader
    driver.wait(lambda s: s["state"] == "idle")
    agent.svc.controller.set_flow("auth")
    reader.insert(VirtualMynaCard(PERSONAS["yamada-taro"]))
    agent.svc.watcher.poke()
    snap = driver.wait(lambda s: s["state"] == "awaiting_credential")
    agent.svc.controller._session.staff_id = "staff-0042"  # what staff mode sets per tap
    agent.svc.controller.submit_credential(snap["session_id"],
                                           credential("yamada-taro", "auth"), False)
    driver.wait(lambda s: s["state"] == "result")
    driver.remove(reader)
    wait_for(lambda: receiver.ids(), what="delivered")
    assert receiver.received()[0]["staff_id"] == "staff-0042"
