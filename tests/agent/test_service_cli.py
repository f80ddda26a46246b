"""``myna agent`` as a process (token file, health, SIGTERM) and ``myna doctor`` checks."""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import stat
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from agent.cli.doctor import (
    Status,
    check_clock,
    check_private_files,
    check_readers,
    check_trust,
    check_vpcd,
)
from agent.service.config import AgentConfig


def test_myna_agent_runs_until_sigterm(tmp_path: Path):
    token_file = tmp_path / "state" / "agent.token"
    conf = tmp_path / "myna.toml"
    conf.write_text(
        '[reader]\nlocator = "emulator:yamada-taro"\n'
        f'[api]\nport = 0\ntoken_file = "{token_file}"\n'
        f'[log]\naudit_file = "{tmp_path / "audit.jsonl"}"\n'
        f'hmac_key_file = "{tmp_path / "audit.key"}"\n',
        encoding="utf-8",
    )
    proc = subprocess.Popen(  # noqa: S603
        [sys.executable, "-m", "agent.cli", "agent", "--config", str(conf)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        line = proc.stdout.readline() if proc.stdout else ""
        assert "listening on http://127.0.0.1:" in line, line + (proc.stderr.read()
                                                                 if proc.stderr else "")
        url = line.split("listening on ", 1)[1].split()[0]
        token = token_file.read_text().strip()
        assert token not in line
        assert stat.S_IMODE(os.stat(token_file).st_mode) == 0o600
        req = urllib.request.Request(url + "/state",  # noqa: S310 - loopback
                                     headers={"Authorization": f"Bearer {token}"})
        deadline = time.monotonic() + 30  # a bound on failure, not a speed: CI shares 2 cores
        while True:
            with urllib.request.urlopen(req, timeout=5) as resp:  # noqa: S310
                snap = json.loads(resp.read())
            if snap["state"] == "awaiting_credential" or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        assert snap["state"] == "awaiting_credential"  # emulator:yamada-taro holds a card
        assert snap["credential"]["kind"] == "sign_password"
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.communicate(timeout=10)  # closes the pipes


def test_myna_agent_config_error_names_key(tmp_path: Path):
    conf = tmp_path / "bad.toml"
    conf.write_text("[api]\nprot = 1\n", encoding="utf-8")
    out = subprocess.run(  # noqa: S603
        [sys.executable, "-m", "agent.cli", "agent", "--config", str(conf)],
        capture_output=True, text=True, timeout=30, check=False,
    )
    assert out.returncode == 2
    assert "api.prot" in out.stderr


def test_doctor_checks():
    assert check_clock(dt.datetime(2024, 1, 1, tzinfo=dt.UTC)).status is Status.FAIL
    assert check_clock(dt.datetime(2026, 11, 26, tzinfo=dt.UTC)).status is Status.OK
    assert check_readers([]).status is Status.WARN
    assert check_readers(["Virtual PCD 00 00"], allow_virtual=True).status is Status.OK
    assert check_readers(["SONY FeliCa RC-S300/P 00 00"]).status is Status.OK
    virtual = check_readers(["Virtual PCD 00 00"])
    assert virtual.status is Status.FAIL and "VIRTUAL" in virtual.detail
    installed = {"exists": lambda p: p == "/etc/reader.conf.d/vpcd", "globber": lambda p: [],
                 "listening": list}
    warn = check_vpcd(**installed, test_config=True)
    assert warn.status is Status.WARN and "VIRTUAL" in warn.detail
    assert check_vpcd(**installed).status is Status.FAIL  # a kiosk config: vpcd must go
    listening = check_vpcd(exists=lambda p: False, globber=lambda p: [], listening=lambda: [35963])
    assert listening.status is Status.FAIL and "35963" in listening.detail
    assert check_vpcd(exists=lambda p: False, globber=lambda p: [],
                      listening=list).status is Status.OK
    assert check_trust(AgentConfig()).status is Status.OK


def test_doctor_trust_failure_is_reported(tmp_path: Path):
    from agent.service.config import config_from_mapping

    config = config_from_mapping({"trust": {"mode": "test", "test_dir": str(tmp_path / "nope")}})
    assert check_trust(config).status is Status.FAIL
    config = config_from_mapping({"trust": {"cvc_issuer_keys": [str(tmp_path / "no.pem")]}})
    failed = check_trust(config)
    assert failed.status is Status.FAIL and "does not load" in failed.detail


def test_doctor_flags_a_readable_token_file(tmp_path: Path):
    from agent.service.config import config_from_mapping

    token = tmp_path / "agent.token"
    config = config_from_mapping({
        "api": {"token_file": str(token)},
        "log": {"audit_file": str(tmp_path / "a.jsonl"), "hmac_key_file": str(tmp_path / "k")},
    })
    assert check_private_files(config).status is Status.OK  # nothing created yet
    token.write_text("t")
    token.chmod(0o644)
    bad = check_private_files(config)
    assert bad.status is Status.FAIL and "agent.token" in bad.detail
    token.chmod(0o600)
    assert check_private_files(config).status is Status.OK


def test_myna_doctor_prints_every_check():
    out = subprocess.run(
        [sys.executable, "-m", "agent.cli", "doctor"],
        capture_output=True, text=True, timeout=60, check=False,
    )
    names = [line.split("]", 1)[1].split(":", 1)[0].strip()
             for line in out.stdout.splitlines() if line.startswith("[")]
    assert names == ["pcscd", "readers", "nfcpy", "nfc readers", "port100 module", "udev rule",
                     "trust", "clock", "vpcd", "permissions", "browser policy", "audit chain",
                     "units"]
    assert out.returncode in (0, 1)


def test_doctor_nfc_problems_fail_only_for_an_nfc_locator():
    from agent.cli.doctor import check_nfc
    from agent.service.config import config_from_mapping

    # No USB bus here: "nfc readers" cannot pass when the kiosk is configured for a USB reader.
    usb = config_from_mapping({"reader": {"locator": "nfc:usb"}})
    nfc = {c.name: c.status for c in check_nfc(usb)}
    assert nfc["nfc readers"] is Status.FAIL
    pcsc = {c.name: c.status for c in check_nfc(AgentConfig())}
    assert pcsc["nfc readers"] is Status.OK
    assert Status.FAIL not in pcsc.values()
    assert "vsmartcard-vpcd" not in pcsc  # reported once, by check_vpcd


ROOT = Path(__file__).resolve().parents[2]


def _installed(tmp_path: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(text)
    return tmp_path


def test_doctor_reports_the_browser_policy(tmp_path: Path):
    from agent.cli.doctor import CHROMIUM_POLICY, check_browser_policy
    from agent.service.config import config_from_mapping

    production = AgentConfig()
    assert check_browser_policy(production, tmp_path).status is Status.FAIL  # not installed
    test = config_from_mapping({"trust": {"mode": "test", "test_dir": str(tmp_path)}})
    assert check_browser_policy(test, tmp_path).status is Status.WARN
    shipped = (ROOT / "deploy" / "chromium-policy.json").read_text()
    root = _installed(tmp_path, {CHROMIUM_POLICY: shipped})
    ok = check_browser_policy(production, root)
    assert ok.status is Status.OK and "http://127.0.0.1:8080" in ok.detail
    weak = json.loads(shipped) | {"TranslateEnabled": True}
    (root / CHROMIUM_POLICY).write_text(json.dumps(weak))
    bad = check_browser_policy(production, root)
    assert bad.status is Status.FAIL and "TranslateEnabled" in bad.detail


def test_doctor_reports_a_broken_audit_chain(tmp_path: Path):
    from agent.cli.doctor import check_audit_chain
    from agent.service.audit import AuditLog
    from agent.service.config import config_from_mapping

    log, key = tmp_path / "audit.jsonl", tmp_path / "audit.key"
    key.write_text("ab" * 32)
    config = config_from_mapping({"log": {"audit_file": str(log), "hmac_key_file": str(key)}})
    assert check_audit_chain(config).status is Status.OK  # no lines yet
    audit = AuditLog(log, bytes.fromhex("ab" * 32))
    for _ in range(3):
        audit.record(session_id="s", reader="r", flow="sign", started=0.0, ended=1.0,
                     end="card_removed", attempts=1, steps=[], verdict=None,
                     certificate_der=None)
    assert check_audit_chain(config).status is Status.OK
    lines = log.read_text().splitlines(keepends=True)
    log.write_text(lines[0] + lines[2])
    broken = check_audit_chain(config)
    assert broken.status is Status.FAIL and "line 2" in broken.detail


def test_doctor_reports_unit_hardening(tmp_path: Path):
    from agent.cli.doctor import check_units

    config = AgentConfig()
    assert check_units(config, tmp_path).status is Status.FAIL  # not installed
    shipped = {f"etc/systemd/system/{u}": (ROOT / "deploy" / u).read_text()
               for u in ("myna-agent.service", "myna-kiosk.service")}
    root = _installed(tmp_path, shipped)
    ok = check_units(config, root)
    assert ok.status is Status.OK and "myna-kiosk" in ok.detail
    unit = root / "etc/systemd/system/myna-kiosk.service"
    unit.write_text(unit.read_text().replace("User=myna-kiosk", "User=myna")
                    .replace("LimitCORE=0\n", ""))
    bad = check_units(config, root)
    assert bad.status is Status.FAIL
    assert "same user" in bad.detail and "LimitCORE" in bad.detail
