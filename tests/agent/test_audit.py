"""Audit lines: whitelisted fields only, keyed certificate hash, key file created 0600."""

from __future__ import annotations

import json
import os
import stat
import time
from pathlib import Path

import pytest

from agent.service.audit import (
    CREDENTIAL_NAME,
    AuditLog,
    AuditWriteError,
    key_path_for,
    load_or_create_key,
    verify_log,
)

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


# ---- tamper evidence: sequence numbers and a chained MAC ------------------------------------

KEY = b"k" * 32


def _chain(tmp_path: Path, n: int = 5) -> Path:
    path = tmp_path / "chain.jsonl"
    log = AuditLog(path, KEY)
    for _ in range(n):
        _record(log, VERDICT)
    return path


def _rewrite(path: Path, edit) -> None:
    lines = path.read_bytes().splitlines(keepends=True)
    path.write_bytes(b"".join(edit(lines)))


def test_an_untouched_chain_verifies_and_lines_are_numbered(tmp_path: Path):
    path = _chain(tmp_path)
    report = verify_log(path, KEY)
    assert report.ok and report.lines == 5
    assert [json.loads(ln)["seq"] for ln in path.read_text().splitlines()] == [1, 2, 3, 4, 5]


def test_a_restarted_writer_continues_the_chain(tmp_path: Path):
    path = _chain(tmp_path, 2)
    _record(AuditLog(path, KEY), VERDICT)
    report = verify_log(path, KEY)
    assert report.ok and report.lines == 3


@pytest.mark.parametrize(
    ("name", "edit", "broken"),
    [
        ("edited", lambda ls: [*ls[:2], ls[2].replace(b'"ok":true', b'"ok":false'), *ls[3:]], 3),
        ("deleted", lambda ls: [*ls[:2], *ls[3:]], 3),
        ("reordered", lambda ls: [ls[0], ls[2], ls[1], *ls[3:]], 2),
        ("inserted", lambda ls: [*ls[:1], ls[0], *ls[1:]], 2),
        ("renumbered", lambda ls: [*ls[:3], ls[3].replace(b'"seq":4', b'"seq":3'), *ls[4:]], 4),
        ("mac-stripped", lambda ls: [*ls[:4], ls[4].split(b',"mac"')[0] + b"}\n"], 5),
        ("cut", lambda ls: [*ls[:4], ls[4][:40]], 5),
    ],
    ids=lambda v: v if isinstance(v, str) else "",
)
def test_tampering_is_reported_at_the_first_broken_line(tmp_path: Path, name, edit, broken):
    path = _chain(tmp_path)
    _rewrite(path, edit)
    report = verify_log(path, KEY)
    assert not report.ok
    assert report.broken_line == broken, report
    assert report.lines == broken - 1


def test_the_wrong_key_breaks_the_first_line(tmp_path: Path):
    report = verify_log(_chain(tmp_path), b"x" * 32)
    assert report.broken_line == 1 and "MAC" in report.reason


def test_a_full_disk_raises_and_writes_nothing_more(tmp_path: Path):
    log = AuditLog(Path("/dev/full"), KEY)  # every write fails with ENOSPC
    with pytest.raises(AuditWriteError, match="No space left"):
        _record(log, VERDICT)
    assert log.lines_written == 0


def test_an_unwritable_log_raises(tmp_path: Path):
    folder = tmp_path / "gone"
    log = AuditLog(folder / "audit.jsonl", KEY)
    folder.rmdir()  # the state directory vanished (or was remounted read-only)
    with pytest.raises(AuditWriteError):
        _record(log, VERDICT)


def test_key_comes_from_the_systemd_credential_when_given(tmp_path: Path):
    configured = tmp_path / "state" / "audit.key"
    creds = tmp_path / "creds"
    creds.mkdir()
    assert key_path_for(configured, {"CREDENTIALS_DIRECTORY": str(creds)}) == configured
    (creds / CREDENTIAL_NAME).write_text("ab" * 32)
    chosen = key_path_for(configured, {"CREDENTIALS_DIRECTORY": str(creds)})
    assert chosen == creds / CREDENTIAL_NAME
    assert load_or_create_key(chosen) == bytes.fromhex("ab" * 32)
    assert key_path_for(configured, {}) == configured


def test_cli_audit_verify_reports_the_first_broken_line(tmp_path: Path, capsys):
    from agent.cli.main import main

    path = _chain(tmp_path)
    key_file = tmp_path / "audit.key"
    key_file.write_text(KEY.hex())
    assert main(["audit", "verify", str(path), "--key", str(key_file)]) == 0
    assert "5 line(s), chain intact" in capsys.readouterr().out
    _rewrite(path, lambda ls: [*ls[:3], *ls[4:]])
    assert main(["audit", "verify", str(path), "--key", str(key_file)]) == 1
    assert "line 4 is broken" in capsys.readouterr().out
    assert main(["audit", "verify", str(tmp_path / "none"), "--key", str(key_file)]) == 2
