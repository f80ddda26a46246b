"""``myna staff``: accounts from the command line, the password never echoed or printed, and the
per-staff report counted from an audit file (no identity in it)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agent.cli.main import main
from agent.staff import StaffStore

PASSWORD = "Counter-7-pass"  # noqa: S105 - test data


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "myna.toml"
    path.write_text(f'[api]\ntoken_file = "{tmp_path}/state/agent.token"\n'
                    f'[log]\naudit_file = "{tmp_path}/audit.jsonl"\n'
                    f'hmac_key_file = "{tmp_path}/audit.key"\n')
    return path


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    code = main(["staff", *argv])
    out = capsys.readouterr()
    assert PASSWORD not in out.out + out.err
    return code, out.out + out.err


def test_accounts_from_the_command_line(config: Path, tmp_path: Path,
                                        capsys: pytest.CaptureFixture[str],
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MYNA_STAFF_PASSWORD", PASSWORD)
    c = str(config)
    code, _ = run(capsys, "add", "tanaka", "--role", "supervisor", "--my-number", "--config", c)
    assert code == 0
    assert run(capsys, "add", "sato", "--role", "clerk", "--config", c)[0] == 0
    code, out = run(capsys, "add", "sato", "--role", "clerk", "--config", c)
    assert code == 1 and "already exists" in out
    store = StaffStore(tmp_path / "state" / "staff.db")  # beside the token file
    assert [a.staff_id for a in store.list()] == ["sato", "tanaka"]
    assert run(capsys, "disable", "sato", "--config", c)[0] == 0
    code, out = run(capsys, "list", "--json", "--config", c)
    rows = {r["staff_id"]: r for r in json.loads(out)}
    assert rows["sato"]["enabled"] is False and rows["tanaka"]["my_number"] is True
    assert "hash" not in out and "argon2" not in out
    assert run(capsys, "enable", "sato", "--config", c)[0] == 0
    store.record_failure("sato")
    assert run(capsys, "unlock", "sato", "--config", c)[0] == 0
    assert store.get("sato").failed == 0  # type: ignore[union-attr]
    new = tmp_path / "pw"
    new.write_text("Fresh-pass-99\n")
    monkeypatch.delenv("MYNA_STAFF_PASSWORD")
    assert run(capsys, "passwd", "sato", "--password-file", str(new), "--config", c)[0] == 0
    from agent.staff.passwords import verify_password

    assert verify_password(store.get("sato").password_hash, "Fresh-pass-99")  # type: ignore[union-attr]
    code, out = run(capsys, "add", "kato", "--role", "clerk", "--password-file", str(new),
                    "--config", c)
    assert code == 0
    new.write_text("short\n")
    code, out = run(capsys, "passwd", "kato", "--password-file", str(new), "--config", c)
    assert code == 1 and "8–64" in out and "short" not in out


def test_prompted_password_is_asked_twice(config: Path, capsys: pytest.CaptureFixture[str],
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    answers = iter([PASSWORD, "Something-else"])
    monkeypatch.setattr("getpass.getpass", lambda prompt="": next(answers))
    code, out = run(capsys, "add", "sato", "--role", "clerk", "--config", str(config))
    assert code == 1 and "differ" in out


def test_report_counts_per_staff_without_identity(config: Path, tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    lines = [
        {"flow": "face", "result": "OK", "end": "2026-11-20T01:00:00.000Z", "staff_id": "sato"},
        {"flow": "face", "result": "OK", "end": "2026-11-21T01:00:00.000Z", "staff_id": "sato"},
        {"flow": "face", "result": "PIN_INVALID", "end": "2026-11-21T02:00:00.000Z",
         "staff_id": "sato"},
        {"flow": "number", "result": "OK", "end": "2026-11-21T03:00:00.000Z",
         "staff_id": "tanaka"},
        {"event": "reveal", "time": "2026-11-21T03:01:00.000Z", "staff_id": "tanaka"},
        {"flow": "face", "result": "OK", "end": "2026-11-01T01:00:00.000Z", "staff_id": "sato"},
        {"flow": "sign", "result": "OK", "end": "2026-11-21T01:00:00.000Z", "staff_id": None},
    ]
    audit = tmp_path / "audit.jsonl"
    audit.write_text("\n".join(json.dumps(x) for x in lines) + "\nnot json\n")
    code, out = run(capsys, "report", "--since", "2026-11-15", "--json", "--config", str(config))
    assert code == 0
    data = json.loads(out)
    assert data["skipped_lines"] == 1
    assert data["staff"] == [
        {"staff_id": "sato", "reveals": 0, "checks": [
            {"flow": "face", "result": "OK", "count": 2},
            {"flow": "face", "result": "PIN_INVALID", "count": 1}]},
        {"staff_id": "tanaka", "reveals": 1, "checks": [
            {"flow": "number", "result": "OK", "count": 1}]},
    ]
    code, out = run(capsys, "report", "--since", "2026-11-15", "--config", str(config))
    assert "sato" in out and "PIN_INVALID" in out
    assert run(capsys, "report", "--since", "yesterday", "--config", str(config))[0] == 2


@pytest.mark.emulator_only
def test_add_with_a_card(config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
                         monkeypatch: pytest.MonkeyPatch) -> None:
    import hashlib

    monkeypatch.setenv("MYNA_STAFF_PASSWORD", PASSWORD)
    code, out = run(capsys, "add", "kato", "--role", "clerk", "--card", "--reader",
                    "emulator:yamada-taro", "--config", str(config))
    assert code == 0 and "signs in with a card" in out
    ref = StaffStore(tmp_path / "state" / "staff.db").get("kato").card_ref  # type: ignore[union-attr]
    assert ref is not None and len(ref) == len(hashlib.sha256().hexdigest())
    code, out = run(capsys, "add", "ito", "--role", "clerk", "--card", "--reader",
                    "pcsc:no-such-reader", "--config", str(config))
    assert code == 1 and StaffStore(tmp_path / "state" / "staff.db").get("ito") is None
