"""Kiosk system pieces: udev rules (strict syntax, exact USB ids), port100 blacklist, systemd
units (``systemd-analyze verify``) and the Chromium kiosk launcher."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "udev" / "60-myna-nfc.rules"
BLACKLIST = ROOT / "udev" / "blacklist-port100.conf"
UNITS = [ROOT / "deploy" / "myna-agent.service", ROOT / "deploy" / "myna-kiosk.service"]
LAUNCHER = ROOT / "deploy" / "chromium-kiosk.sh"

# The readers nfcpy drives (test-stack.md §7.1, card-protocol.md §6.4); CCID readers such as the
# RC-S300 (054c:0dc8/0dc9) belong to pcscd and must not appear.
EXPECTED_IDS = {
    ("054c", "06c1"), ("054c", "06c3"),  # Sony RC-S380/S, RC-S380/P
    ("054c", "02e1"),  # Sony RC-S330/360/370
    ("04cc", "2533"), ("04e6", "5591"), ("04e6", "5593"),  # PN533 boards, SCL3711, SCL3712
    ("072f", "2200"),  # ACS ACR122U
}

# udev(7): keys, which operators each accepts, and whether it takes {attribute}.
_MATCH_OPS = {"==", "!="}
_ASSIGN_OPS = {"=", "+=", "-=", ":="}
_KEYS: dict[str, tuple[set[str], bool]] = {
    "ACTION": (_MATCH_OPS, False), "DEVPATH": (_MATCH_OPS, False), "KERNEL": (_MATCH_OPS, False),
    "KERNELS": (_MATCH_OPS, False), "SUBSYSTEM": (_MATCH_OPS, False),
    "SUBSYSTEMS": (_MATCH_OPS, False), "DRIVER": (_MATCH_OPS, False),
    "DRIVERS": (_MATCH_OPS, False), "ATTRS": (_MATCH_OPS, True), "TAGS": (_MATCH_OPS, False),
    "TEST": (_MATCH_OPS, True), "PROGRAM": (_MATCH_OPS, False), "RESULT": (_MATCH_OPS, False),
    "CONST": (_MATCH_OPS, True),
    "ATTR": (_MATCH_OPS | {"=", ":="}, True), "ENV": (_MATCH_OPS | _ASSIGN_OPS, True),
    "SYSCTL": (_MATCH_OPS | {"=", ":="}, True), "TAG": (_MATCH_OPS | _ASSIGN_OPS, False),
    "NAME": (_MATCH_OPS | {"=", ":="}, False), "SYMLINK": (_MATCH_OPS | _ASSIGN_OPS, False),
    "OWNER": ({"=", ":="}, False), "GROUP": ({"=", ":="}, False), "MODE": ({"=", ":="}, False),
    "RUN": ({"=", "+=", ":="}, True), "IMPORT": ({"="}, True), "OPTIONS": ({"=", "+="}, False),
    "LABEL": ({"="}, False), "GOTO": ({"="}, False), "SECLABEL": ({"=", "+=", ":="}, True),
}
_TOKEN = re.compile(
    r'(?P<key>[A-Z]+)(?:\{(?P<attr>[A-Za-z0-9_.:/-]+)\})?'
    r'(?P<op>==|!=|\+=|-=|:=|=)"(?P<value>(?:[^"\\]|\\.)*)"'
)


class RuleSyntaxError(ValueError):
    pass


def run(*argv: str, **kwargs: object) -> subprocess.CompletedProcess[str]:
    """Run a fixed system tool by absolute path (no shell), capturing text output."""
    exe = shutil.which(argv[0])
    assert exe is not None, argv[0]
    return subprocess.run(  # noqa: S603 - fixed argv, no shell
        [exe, *argv[1:]], capture_output=True, text=True, check=False, **kwargs  # type: ignore[call-overload]
    )


def parse_rule(line: str) -> list[tuple[str, str | None, str, str]]:
    """One udev rule line → [(key, attribute, operator, value)], strictly."""
    tokens = []
    rest = line.strip()
    while rest:
        m = _TOKEN.match(rest)
        if m is None:
            raise RuleSyntaxError(f"bad token at {rest[:30]!r}")
        key, attr, op, value = m.group("key", "attr", "op", "value")
        if key not in _KEYS:
            raise RuleSyntaxError(f"unknown key {key}")
        ops, takes_attr = _KEYS[key]
        if op not in ops:
            raise RuleSyntaxError(f"operator {op} not allowed for {key}")
        if takes_attr != (attr is not None) and key not in {"IMPORT", "RUN"}:
            raise RuleSyntaxError(f"{key} {'needs' if takes_attr else 'takes no'} {{attribute}}")
        tokens.append((key, attr, op, value))
        rest = rest[m.end():]
        if rest:
            if not rest.startswith(","):
                raise RuleSyntaxError(f"expected ',' at {rest[:30]!r}")
            rest = rest[1:].lstrip()
            if not rest:
                raise RuleSyntaxError("trailing comma")
    return tokens


def parse_rules(text: str) -> list[tuple[int, list[tuple[str, str | None, str, str]]]]:
    rules = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        if line.rstrip().endswith("\\"):
            raise RuleSyntaxError(f"line {number}: continuation lines are not used here")
        try:
            rules.append((number, parse_rule(line)))
        except RuleSyntaxError as e:
            raise RuleSyntaxError(f"line {number}: {e}") from e
    labels = {v for _, toks in rules for k, _, _, v in toks if k == "LABEL"}
    gotos = {v for _, toks in rules for k, _, _, v in toks if k == "GOTO"}
    if gotos - labels:
        raise RuleSyntaxError(f"GOTO without LABEL: {sorted(gotos - labels)}")
    return rules


@pytest.mark.parametrize(
    "bad",
    ['ATTRS{idVendor}="054c"', 'GROUP=="myna"', 'MODE="0660" GROUP="myna"', 'FOO=="1"',
     'ATTR{idVendor}=="054c",', 'ATTR=="054c"', 'SUBSYSTEM=="usb", MODE=0660',
     'TAG+="uaccess', 'SUBSYSTEM!~"usb"'],
)
def test_parser_rejects_bad_rules(bad: str) -> None:
    with pytest.raises(RuleSyntaxError):
        parse_rule(bad)


def test_udev_rules_parse_and_cover_exactly_the_nfcpy_readers() -> None:
    text = RULES.read_text(encoding="ascii")
    lines = text.splitlines()
    rules = parse_rules(text)
    seen = set()
    for number, tokens in rules:
        keys = {(k, a): (op, v) for k, a, op, v in tokens}
        if ("GROUP", None) not in keys:
            continue
        vid = keys[("ATTR", "idVendor")]
        pid = keys[("ATTR", "idProduct")]
        assert vid[0] == pid[0] == "=="
        ident = (vid[1], pid[1])
        assert ident not in seen, f"duplicate rule for {ident}"
        seen.add(ident)
        assert keys[("GROUP", None)] == ("=", "myna")
        assert keys[("MODE", None)] == ("=", "0660")
        # The agent's group only: the seat user (uaccess) must not reach the card.
        assert ("TAG", None) not in keys and ("OWNER", None) not in keys
        comment = lines[number - 2]
        assert comment.startswith("# ") and f"{ident[0]}:{ident[1]}" in comment
    assert seen == EXPECTED_IDS
    # Every rule sits behind the usb_device guard.
    first_rule = rules[0][1]
    assert ("SUBSYSTEM", None, "!=", "usb") in first_rule


def test_listed_ids_are_readers_nfcpy_drives_for_type_b() -> None:
    from nfc.clf.device import usb_device_map

    for vid, pid in EXPECTED_IDS:
        driver = usb_device_map.get((int(vid, 16), int(pid, 16)))
        assert driver in {"rcs380", "rcs956", "pn533", "acr122"}, (vid, pid, driver)
    # The RC-S300 is CCID (pcscd); nfcpy has no driver for it.
    assert (0x054C, 0x0DC8) not in usb_device_map


@pytest.mark.skipif(not shutil.which("udevadm"), reason="udevadm not installed")
def test_udevadm_verify_when_available(tmp_path: Path) -> None:
    helptext = run("udevadm", "--help", timeout=30)
    if "verify" not in helptext.stdout:
        pytest.skip("this udevadm has no 'verify' (added in systemd 254; Debian 12 has 252)")
    res = run("udevadm", "verify", str(RULES), timeout=30)
    assert res.returncode == 0, res.stderr


def test_port100_blacklist() -> None:
    lines = [ln.strip() for ln in BLACKLIST.read_text(encoding="ascii").splitlines()]
    directives = [ln for ln in lines if ln and not ln.startswith("#")]
    assert directives == ["blacklist port100"]


def _verifiable_copy(unit: Path, tmp_path: Path) -> Path:
    myna = Path(sys.executable).with_name("myna")
    if not myna.exists():
        pytest.skip("the myna console script is not installed in this venv")
    text = unit.read_text(encoding="utf-8")
    assert "ExecStart=/usr/local/bin/myna " in text
    copy = tmp_path / unit.name
    copy.write_text(text.replace("/usr/local/bin/myna", str(myna)), encoding="utf-8")
    return copy


@pytest.mark.skipif(not shutil.which("systemd-analyze"), reason="systemd-analyze not installed")
def test_systemd_analyze_verify_units(tmp_path: Path) -> None:
    copies = [_verifiable_copy(unit, tmp_path) for unit in UNITS]
    socket_unit = tmp_path / "myna-kiosk.socket"  # holds the kiosk's port for its service
    shutil.copy(ROOT / "deploy" / "myna-kiosk.socket", socket_unit)
    res = run("systemd-analyze", "verify", *map(str, copies), str(socket_unit), timeout=60)
    assert res.returncode == 0, res.stderr
    # verify only warns (exit 0) on unknown keys and bad values: treat any word about our
    # units as a failure.
    ours = [ln for ln in res.stderr.splitlines() if "myna-" in ln]
    assert ours == []


def test_systemd_analyze_catches_a_typo(tmp_path: Path) -> None:
    if not shutil.which("systemd-analyze"):
        pytest.skip("systemd-analyze not installed")
    copy = _verifiable_copy(UNITS[0], tmp_path)
    copy.write_text(copy.read_text().replace("ProtectSystem=", "ProtectSytem="))
    res = run("systemd-analyze", "verify", str(copy), timeout=60)
    assert "Unknown key" in res.stderr  # so the clean run above is meaningful


@pytest.mark.parametrize("unit", UNITS, ids=lambda p: p.name)
def test_units_are_hardened(unit: Path) -> None:
    settings: dict[str, str] = {}
    for line in unit.read_text(encoding="utf-8").splitlines():
        if "=" in line and not line.startswith(("#", "[")):
            key, _, value = line.partition("=")
            settings[key] = value
    for key, value in {
        "Restart": "on-failure", "ProtectSystem": "strict",
        "ProtectHome": "yes", "NoNewPrivileges": "yes", "PrivateTmp": "yes",
        "CapabilityBoundingSet": "", "IPAddressDeny": "any", "IPAddressAllow": "localhost",
        "LimitCORE": "0", "ProtectProc": "invisible", "RemoveIPC": "yes",
    }.items():
        assert settings.get(key) == value, key
    # One user per service: the kiosk UI (which decodes the card's images) cannot reach the
    # readers, the audit log or the agent's state directory.
    if unit.name == "myna-agent.service":
        assert (settings["User"], settings.get("StateDirectory")) == ("myna", "myna")
        assert settings["LoadCredential"] == "myna-audit-key:/etc/myna/audit.key"
    else:
        assert settings["User"] == settings["Group"] == "myna-kiosk"
        # Its own state (the paired browser's digests), never the agent's directory.
        assert settings.get("StateDirectory") == "myna-kiosk"
        assert set(settings["SupplementaryGroups"].split()) == {"myna-api", "myna-pair"}
    families = set(settings["RestrictAddressFamilies"].split())
    assert families <= {"AF_UNIX", "AF_INET", "AF_INET6", "AF_NETLINK"}
    if unit.name == "myna-agent.service":
        assert settings["DeviceAllow"] == "char-usb_device rw"


def _run_launcher(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    fake = tmp_path / "chromium"
    fake.write_text('#!/bin/sh\nfor a in "$@"; do echo "$a"; done\n')
    fake.chmod(0o755)
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "CHROMIUM": str(fake),
           "MYNA_KIOSK_WAIT_S": "0", "XDG_RUNTIME_DIR": str(tmp_path),
           "MYNA_PAIRING_FILE": str(tmp_path / "pairing-secret")}
    return run("sh", str(LAUNCHER), *args, env=env, timeout=30)


def test_launcher_starts_chromium_kiosk_with_empty_profile(tmp_path: Path) -> None:
    res = _run_launcher(tmp_path)
    assert res.returncode == 0, res.stderr
    argv = res.stdout.splitlines()
    secret = (tmp_path / "pairing-secret").read_text().strip()
    assert "--kiosk" in argv and f"--app=http://127.0.0.1:8080/pair?s={secret}" in argv
    assert len(secret) >= 40 and (tmp_path / "pairing-secret").stat().st_mode & 0o077 == 0o040
    assert "--no-first-run" in argv and "--disable-background-networking" in argv
    profile = [a for a in argv if a.startswith("--user-data-dir=")]
    assert len(profile) == 1
    assert not Path(profile[0].partition("=")[2]).exists()  # removed when chromium exited


@pytest.mark.parametrize("url", [
    "http://evil.example:8080", "http://127.0.0.1:8080@evil.example/",
    "http://127.0.0.1:8080.evil.example/", "http://user@127.0.0.1:8080/",
    "https://127.0.0.1:8080", "HTTP://127.0.0.1:8080", "http://127.0.0.1",
    "http://127.0.0.1:", "http://127.0.0.1:08080", "http://127.0.0.1:99999",
    "http://127.0.0.1:8080\\@evil.example/", "http://127.0.0.1:8080 http://evil.example/",
    "file:///etc/", "javascript:alert(1)",
])
def test_launcher_refuses_anything_but_an_exact_loopback_origin(tmp_path: Path, url: str) -> None:
    res = _run_launcher(tmp_path, url)
    assert res.returncode == 2 and "refusing" in res.stderr
    assert res.stdout == ""


@pytest.mark.parametrize("url", ["http://127.0.0.1:8080/", "http://127.0.0.1:8765/?pair=x#y",
                                 "http://localhost:8080", "http://[::1]:8080/staff"])
def test_launcher_accepts_loopback_origins_with_any_path(tmp_path: Path, url: str) -> None:
    res = _run_launcher(tmp_path, url)
    assert res.returncode == 0, res.stderr
    # The browser pairs on the kiosk's own origin with this launch's secret, whatever the path.
    origin = "http://" + url.removeprefix("http://").split("/")[0].split("?")[0]
    secret = (tmp_path / "pairing-secret").read_text().strip()
    app = f"--app={origin}/pair?s={secret}"
    expected = app + "&next=/staff" if url.endswith("/staff") else app
    assert expected in res.stdout.splitlines()


def test_launcher_removes_profiles_left_by_a_killed_browser(tmp_path: Path) -> None:
    stale = tmp_path / "myna-chromium.stale1"
    (stale / "Default").mkdir(parents=True)
    res = _run_launcher(tmp_path)
    assert res.returncode == 0, res.stderr
    assert not stale.exists()


POLICY = ROOT / "deploy" / "chromium-policy.json"
BROWSER_UNIT = ROOT / "deploy" / "myna-chromium.service"


def test_managed_policy_closes_the_escapes() -> None:
    import json

    policy = json.loads(POLICY.read_text(encoding="utf-8"))
    for key, value in {
        "TranslateEnabled": False, "DeveloperToolsAvailability": 2, "DownloadRestrictions": 3,
        "PrintingEnabled": False, "AllowFileSelectionDialogs": False,
        "IncognitoModeAvailability": 1, "BrowserGuestModeEnabled": False,
        "PasswordManagerEnabled": False, "AutofillAddressEnabled": False,
        "AutofillCreditCardEnabled": False, "BrowserSignin": 0,
        "URLAllowlist": ["http://127.0.0.1:8080"],
    }.items():
        assert policy.get(key) == value, key
    assert {"*", "chrome://*", "file://*"} <= set(policy["URLBlocklist"])
    # Flags only for what no policy covers; the obsolete or ignored ones are gone.
    argv = LAUNCHER.read_text(encoding="utf-8")
    for obsolete in ("--disable-translate", "--lang=", "--incognito", "--disable-sync"):
        assert obsolete not in argv, obsolete


def test_browser_unit_restarts_always(tmp_path: Path) -> None:
    text = BROWSER_UNIT.read_text(encoding="utf-8")
    settings = dict(line.split("=", 1) for line in text.splitlines()
                    if "=" in line and not line.startswith("#"))
    assert settings["Restart"] == "always" and settings["StartLimitIntervalSec"] == "0"
    assert settings["ExecStart"] == "/usr/local/bin/myna-chromium-kiosk"
    if shutil.which("systemd-analyze") is None:
        pytest.skip("systemd-analyze not installed")
    copy = tmp_path / BROWSER_UNIT.name
    copy.write_text(text.replace("/usr/local/bin/myna-chromium-kiosk", f"/bin/sh {LAUNCHER}"))
    res = run("systemd-analyze", "verify", str(copy), timeout=60)
    assert res.returncode == 0 and "myna-" not in res.stderr, res.stderr


def test_production_config_loads() -> None:
    from agent.service.config import load_config

    config = load_config(ROOT / "deploy" / "myna.toml")
    assert config.trust.mode == "jlis"
    assert config.api.host == "127.0.0.1"
    kiosk_unit = (ROOT / "deploy" / "myna-kiosk.service").read_text(encoding="utf-8")
    assert f"LoadCredential=agent.token:{config.api.token_file}\n" in kiosk_unit
    assert "--token-file %d/agent.token" in kiosk_unit
    assert config.api.token_file.startswith("/var/lib/myna/")  # the agent's StateDirectory
    agent_unit = (ROOT / "deploy" / "myna-agent.service").read_text(encoding="utf-8")
    assert f"ExecStartPre=/bin/rm -f {config.api.token_file}\n" in agent_unit
    # The audit key is not beside the log (the agent reads it as a credential).
    assert config.audit_path is not None
    assert config.hmac_key_path.parent != config.audit_path.parent
