"""deploy/myna-receiver.service: systemd accepts it, and it is hardened like the kiosk's units."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

UNIT = Path(__file__).resolve().parents[2] / "deploy" / "myna-receiver.service"


def settings() -> dict[str, str]:
    out: dict[str, str] = {}
    for line in UNIT.read_text(encoding="utf-8").splitlines():
        if "=" in line and not line.startswith(("#", "[", " ")):
            key, _, value = line.partition("=")
            out[key] = value
    return out


@pytest.mark.skipif(not shutil.which("systemd-analyze"), reason="systemd-analyze not installed")
def test_systemd_accepts_the_unit(tmp_path: Path):
    myna = Path(sys.executable).with_name("myna")
    copy = tmp_path / UNIT.name
    copy.write_text(UNIT.read_text(encoding="utf-8").replace("/usr/local/bin/myna", str(myna)))
    res = subprocess.run(["systemd-analyze", "verify", str(copy)],  # noqa: S603,S607
                         capture_output=True, text=True, timeout=60, check=False)
    assert res.returncode == 0, res.stderr
    assert [ln for ln in res.stderr.splitlines() if "myna-" in ln] == []


def test_the_unit_is_hardened_and_keeps_the_key_apart():
    s = settings()
    assert s["User"] == "myna-receiver" and s["NoNewPrivileges"] == "yes"
    assert s["ProtectSystem"] == "strict" and s["CapabilityBoundingSet"] == ""
    assert s["LimitCORE"] == "0" and s["UMask"] == "0077"
    assert s["LoadCredential"].startswith("receiver.key:")  # $CREDENTIALS_DIRECTORY/receiver.key
    assert "--certfile" in UNIT.read_text() and "receiver serve" in s["ExecStart"]


def test_a_systemd_credential_is_the_data_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    from receiver.settings import load_settings

    state = tmp_path / "state"
    assert load_settings(None, state_dir=str(state)).data_key_file == state / "receiver.key"
    creds = tmp_path / "creds"
    creds.mkdir()
    (creds / "receiver.key").write_bytes(b"k" * 32)
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(creds))
    assert load_settings(None, state_dir=str(state)).data_key_file == creds / "receiver.key"
