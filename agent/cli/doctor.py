"""``myna doctor``: diagnose a kiosk (issue 4 §6): pcscd, readers, trust, clock, vpcd, file modes.

Each check returns a ``Check`` (ok / warn / fail with a one-line detail) so the command can print
them and tests can assert on them. A vsmartcard-vpcd installation on a production kiosk is a loud
warning: any local program could then present a virtual card to pcscd (test-stack.md). The NFC
and udev checks are added by the NFC work (issue 6).
"""

from __future__ import annotations

import datetime as dt
import glob
import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from agent.service.config import AgentConfig

VPCD_CONF = "/etc/reader.conf.d/vpcd"
VPCD_PORTS = (35963, 35964)  # vpcd's default ports (vsmartcard)
PROC_NET_TCP = ("/proc/net/tcp", "/proc/net/tcp6")
TCP_LISTEN = "0A"
VPCD_DRIVER_GLOBS = (
    "/usr/lib/pcsc/drivers/*/libifdvpcd.so*",
    "/usr/local/lib/pcsc/drivers/*/libifdvpcd.so*",
)


class Status(StrEnum):
    OK = "ok"
    WARN = "warn"
    FAIL = "fail"


@dataclass(frozen=True, slots=True)
class Check:
    name: str
    status: Status
    detail: str


def check_pcscd() -> tuple[Check, list[str]]:
    """pcscd reachable, and the reader names it lists."""
    from card.errors import CardError

    try:
        from card.transports.pcsc import list_pcsc_readers

        names = [r.name for r in list_pcsc_readers()]
    except ModuleNotFoundError as e:
        return Check("pcscd", Status.FAIL, f"PC/SC support not installed ({e.name})"), []
    except CardError as e:
        return Check("pcscd", Status.FAIL, f"pcscd not reachable: {e}"), []
    return Check("pcscd", Status.OK, "pcscd answered"), names


def check_readers(names: list[str], *, allow_virtual: bool = False) -> Check:
    """The readers pcscd lists; virtual ones are called out (the agent ignores them unless the
    config says ``reader.allow_virtual``)."""
    from card.transports.pcsc import is_virtual_reader

    if not names:
        return Check("readers", Status.WARN, "no PC/SC reader attached")
    virtual = [n for n in names if is_virtual_reader(n)]
    listed = f"{len(names)} reader(s): {', '.join(names)}"
    if virtual and not allow_virtual:
        return Check("readers", Status.FAIL,
                     f"{listed}; VIRTUAL reader(s) {', '.join(virtual)} are ignored by the agent")
    return Check("readers", Status.OK, listed)


def check_trust(config: AgentConfig) -> Check:
    """Build the flows' configuration (loads roots, CRL, CVC keys) and report its mode."""
    if config.trust.mode == "test":
        test_dir = os.path.expanduser(config.trust.test_dir)
        missing = [n for n in ("sign_root.pem", "auth_root.pem")
                   if not os.path.isfile(os.path.join(test_dir, n))]
        if missing:
            return Check("trust", Status.FAIL,
                         f"trust.test_dir {test_dir} lacks {', '.join(missing)} "
                         "(myna emulator --export-trust DIR)")
    try:
        config.flow_config()
    except ModuleNotFoundError as e:
        if e.name and e.name.startswith("agent"):
            return Check("trust", Status.WARN, "verification flows not installed")
        raise
    except Exception as e:  # noqa: BLE001 - report any configuration failure as one line
        return Check("trust", Status.FAIL, f"trust configuration does not load: {e}")
    if config.test_trust:
        return Check("trust", Status.WARN,
                     f"TEST trust (mode={config.trust.mode}): results are marked TEST")
    return Check("trust", Status.OK, "J-LIS roots pinned")


def check_clock(now: dt.datetime | None = None) -> Check:
    now = now or dt.datetime.now(dt.UTC)
    if now.year < 2025:
        return Check("clock", Status.FAIL,
                     f"system clock says {now:%Y-%m-%d}: certificate checks would be wrong")
    return Check("clock", Status.OK, f"{now:%Y-%m-%dT%H:%M:%SZ}")


def vpcd_listening(tcp_tables: tuple[str, ...] = PROC_NET_TCP) -> list[int]:
    """vpcd's default ports that something listens on (from /proc/net/tcp{,6})."""
    found: set[int] = set()
    for table in tcp_tables:
        try:
            with open(table, encoding="ascii", errors="replace") as f:
                lines = f.read().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if len(fields) > 3 and fields[3] == TCP_LISTEN:
                port = int(fields[1].rsplit(":", 1)[1], 16)
                if port in VPCD_PORTS:
                    found.add(port)
    return sorted(found)


def check_vpcd(exists: Callable[[str], bool] = os.path.exists,
               globber: Callable[[str], list[str]] = glob.glob,
               listening: Callable[[], list[int]] = vpcd_listening,
               *, test_config: bool = False) -> Check:
    """vsmartcard-vpcd installed or listening: a failure unless the config is a test config."""
    found = [VPCD_CONF] if exists(VPCD_CONF) else []
    for pattern in VPCD_DRIVER_GLOBS:
        found.extend(globber(pattern))
    ports = listening()
    found.extend(f"listening on port {port}" for port in ports)
    if found:
        # On a kiosk, anyone who reaches vpcd's port (it binds every interface) plays a card.
        return Check(
            "vpcd", Status.WARN if test_config else Status.FAIL,
            "!!! vsmartcard-vpcd is installed (" + ", ".join(sorted(set(found))) + "): any local "
            "program can present a VIRTUAL card to pcscd. Remove it on a production kiosk. !!!",
        )
    return Check("vpcd", Status.OK, "no virtual reader driver installed")


def is_test_config(config: AgentConfig) -> bool:
    """Demo and test-suite configs: virtual readers allowed or test trust."""
    return config.reader.allow_virtual or config.test_trust


def check_private_files(config: AgentConfig) -> Check:
    """The token, audit key and audit file must not be readable by group or others."""
    loose = []
    for path in (config.token_path, config.hmac_key_path, config.audit_path):
        if path is None:
            continue
        try:
            mode = os.stat(path).st_mode
        except FileNotFoundError:
            continue  # created 0600 on first start
        except OSError as e:
            return Check("permissions", Status.FAIL, f"cannot stat {path}: {e.strerror}")
        if mode & 0o077:
            loose.append(f"{path} ({mode & 0o777:o})")
    if loose:
        return Check("permissions", Status.FAIL,
                     "readable by others, chmod 600: " + ", ".join(loose))
    return Check("permissions", Status.OK, "token, audit key and audit file are private")


# The lock-down deploy/ installs (deploy/README.md); paths relative to the root for tests.
CHROMIUM_POLICY = "etc/chromium/policies/managed/myna-kiosk.json"
REQUIRED_POLICY: dict[str, object] = {
    "TranslateEnabled": False, "DeveloperToolsAvailability": 2, "DownloadRestrictions": 3,
    "PrintingEnabled": False, "AllowFileSelectionDialogs": False,
    "IncognitoModeAvailability": 1, "BrowserSignin": 0, "PasswordManagerEnabled": False,
}
UNIT_DIRS = ("etc/systemd/system", "usr/lib/systemd/system", "lib/systemd/system")
REQUIRED_UNIT_SETTINGS = {"IPAddressDeny": "any", "LimitCORE": "0", "NoNewPrivileges": "yes"}


def _missing(config: AgentConfig) -> Status:
    """A lock-down piece that is absent fails on a production kiosk (J-LIS trust) and only
    warns on a test or development machine."""
    return Status.WARN if config.test_trust else Status.FAIL


def check_browser_policy(config: AgentConfig, root: Path = Path("/")) -> Check:
    path = root / CHROMIUM_POLICY
    try:
        policy = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return Check("browser policy", _missing(config),
                     f"/{CHROMIUM_POLICY} missing: install deploy/chromium-policy.json")
    except (OSError, ValueError) as e:
        return Check("browser policy", Status.FAIL, f"/{CHROMIUM_POLICY} unreadable: {e}")
    wrong = [k for k, v in REQUIRED_POLICY.items() if policy.get(k) != v]
    if "*" not in (policy.get("URLBlocklist") or []):
        wrong.append("URLBlocklist")
    if wrong:
        return Check("browser policy", Status.FAIL,
                     f"/{CHROMIUM_POLICY} does not set {', '.join(wrong)}")
    allowed = ", ".join(str(u) for u in policy.get("URLAllowlist") or []) or "nothing"
    return Check("browser policy", Status.OK, f"/{CHROMIUM_POLICY}: only {allowed}")


def check_audit_chain(config: AgentConfig) -> Check:
    from agent.service.audit import key_path_for, read_key, verify_log

    log = config.audit_path
    if log is None:
        return Check("audit chain", _missing(config), "no audit file configured (log.audit_file)")
    if not log.exists():
        return Check("audit chain", Status.OK, f"{log}: no lines yet")
    try:
        report = verify_log(log, read_key(key_path_for(config.hmac_key_path)))
    except PermissionError as e:
        return Check("audit chain", Status.WARN,
                     f"cannot read {e.filename}: run as root or the agent's user")
    except (OSError, ValueError) as e:
        return Check("audit chain", Status.FAIL, f"cannot check {log}: {e}")
    if not report.ok:
        return Check("audit chain", Status.FAIL,
                     f"{log} line {report.broken_line}: {report.reason}")
    return Check("audit chain", Status.OK, f"{log}: {report.lines} line(s), chain intact")


def _unit_settings(root: Path, name: str) -> dict[str, str] | None:
    for directory in UNIT_DIRS:
        path = root / directory / name
        if path.is_file():
            settings: dict[str, str] = {}
            for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
                if "=" in line and not line.lstrip().startswith(("#", ";", "[")):
                    key, _, value = line.partition("=")
                    settings[key.strip()] = value.strip()
            return settings
    return None


def check_units(config: AgentConfig, root: Path = Path("/")) -> Check:
    """The installed units keep the hardening of deploy/*.service and one user per service."""
    agent = _unit_settings(root, "myna-agent.service")
    kiosk = _unit_settings(root, "myna-kiosk.service")
    if agent is None or kiosk is None:
        return Check("units", _missing(config),
                     "myna-agent.service / myna-kiosk.service not installed (deploy/README.md)")
    problems = [f"{unit} lacks {key}={value}"
                for unit, settings in (("myna-agent", agent), ("myna-kiosk", kiosk))
                for key, value in REQUIRED_UNIT_SETTINGS.items() if settings.get(key) != value]
    if agent.get("User") == kiosk.get("User"):
        problems.append("agent and kiosk UI run as the same user")
    if problems:
        return Check("units", Status.FAIL, "; ".join(problems))
    return Check("units", Status.OK, (f"agent as {agent.get('User')}, UI as {kiosk.get('User')}, "
                                      "loopback only, no core dumps"))


def check_nfc(config: AgentConfig) -> list[Check]:
    """NFC readers, port100 and udev (doctor_nfc); failures matter only for nfc: locators."""
    from agent.cli.doctor_nfc import nfc_checks

    uses_nfc = config.reader.locator.startswith("nfc:")
    failed = Status.FAIL if uses_nfc else Status.WARN
    return [
        Check(name, Status.OK if ok else failed, detail)
        for name, ok, detail in nfc_checks(locator=config.reader.locator)
        if name != "vsmartcard-vpcd"  # check_vpcd covers it
    ]


def check_records(config: AgentConfig) -> list[Check]:
    """Records on: the kiosk key exists, the outbox backlog, and whether the receiver answers
    over TLS with the pinned CA (and if not, why: wrong CA, expired, wrong host name...)."""
    if not config.records.enabled:
        return []  # nothing to check: records are off
    from agent.cli.commands.records_cmds import status_line
    from agent.records.keeper import key_path_of
    from agent.records.sender import HandoffTarget, probe

    out = []
    if not key_path_of(config).exists():
        out.append(Check("records key", Status.FAIL,
                         f"no kiosk key at {key_path_of(config)} (myna keys init)"))
    line = status_line(config)
    bad = not line.startswith("0 pending") or ", 0 dead, 0 quarantined" not in line
    out.append(Check("records outbox", Status.WARN if bad else Status.OK, line))
    target = HandoffTarget.from_config(config.handoff)
    if not target.url:
        out.append(Check("handoff", Status.FAIL, "handoff.url is not set: records pile up"))
    else:
        ok, why = probe(target)
        out.append(Check("handoff", Status.OK if ok else Status.FAIL,
                         f"{target.url}: {why}" if ok else f"{target.url} unreachable: {why}"))
    return out


def run_checks(config: AgentConfig) -> list[Check]:
    pcscd, names = check_pcscd()
    test_config = is_test_config(config)
    return [pcscd, check_readers(names, allow_virtual=config.reader.allow_virtual),
            *check_nfc(config), check_trust(config), check_clock(),
            check_vpcd(test_config=test_config), check_private_files(config),
            *check_records(config), check_browser_policy(config), check_audit_chain(config),
            check_units(config)]
