"""Audit lines: whitelisted fields only, keyed certificate hash, key file created 0600."""

from __future__ import annotations

import json
import os
import stat
import time
from pathlib import Path

import pytest

from agent.service.audit import AuditLog, load_or_create_key

VERDICT = {
    "ok": True, "flow": "sign", "assurance": ["chain", "possession"], "test_trust": True,
    "identity": {"name": "山田　太郎", "address": "東京都", "birth_date": "1980-02-17",
                 "my_number": "123456789018"},
    "certificate": {"serial": "0a0b", "not_after": "2030-03-31T14:59:59Z"},
    "error": None, "timings_ms": {"select": 1.5, "verify_pin": 3.0},
}


def _record(log: AuditLog, verdict: dict | None, der: bytes | None = b"0\x03\x02\x01\x01"):
    now = time.time()
    return log.record(session_id="s1", reader="Virtual PCD 00 00", flow="sign", started=now - 1,
                      ended=now, end="card_removed", attempts=1,
                      steps=[{"name": "select", "status": "done", "ms": 1.5}],
                      verdict=verdict, certificate_der=der)


def test_key_file_created_private_and_reused(tmp_path: Path):
    path = tmp_path / "sub" / "audit.key"
    key = load_or_create_key(path)
    assert len(key) == 32
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert load_or_create_key(path) == key


def test_short_key_file_refused(tmp_path: Path):
    path = tmp_path / "audit.key"
    path.write_text("abcd")
    with pytest.raises(ValueError, match="fewer than 16"):
        load_or_create_key(path)


def test_line_has_no_identity_and_a_keyed_card_ref(tmp_path: Path):
    audit_file = tmp_path / "audit.jsonl"
    log = AuditLog(audit_file, b"k" * 32)
    line = _record(log, VERDICT)
    text = audit_file.read_text(encoding="utf-8")
    assert json.loads(text) == line
    for secret in ("山田", "東京都", "1980-02-17", "123456789018", "identity"):
        assert secret not in text
    assert line["result"] == "OK" and line["assurance"] == ["chain", "possession"]
    assert line["steps"] == {"select": 1.5}
    assert line["timings_ms"] == {"select": 1.5, "verify_pin": 3.0}
    assert len(line["card_ref"]) == 64
    # same card, same key -> same ref; other key -> other ref
    assert _record(log, VERDICT)["card_ref"] == line["card_ref"]
    assert _record(AuditLog(None, b"x" * 32), VERDICT)["card_ref"] != line["card_ref"]
    assert stat.S_IMODE(os.stat(audit_file).st_mode) == 0o600


def test_failed_and_aborted_sessions(tmp_path: Path):
    log = AuditLog(tmp_path / "a.jsonl", b"k" * 32)
    failed = {"ok": False, "identity": None,
              "error": {"code": "PIN_INVALID", "message": "x", "tries_left": 2}}
    line = _record(log, failed, der=None)
    assert line["result"] == "PIN_INVALID" and line["tries_left"] == 2
    assert line["card_ref"] is None
    aborted = _record(log, None, der=None)
    assert aborted["result"] is None and aborted["ok"] is None
    assert log.lines_written == 2
