"""``myna doctor``: diagnose a kiosk (issue 4 §6): pcscd, readers, trust, clock, vpcd, file modes.

Each check returns a ``Check`` (ok / warn / fail with a one-line detail) so the command can print
them and tests can assert on them. A vsmartcard-vpcd installation on a production kiosk is a loud
warning: any local program could then present a virtual card to pcscd (test-stack.md). The NFC
and udev checks are added by the NFC work (issue 6).
"""

from __future__ import annotations

import datetime as dt
import glob
import os
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

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


def run_checks(config: AgentConfig) -> list[Check]:
    pcscd, names = check_pcscd()
    test_config = is_test_config(config)
    return [pcscd, check_readers(names, allow_virtual=config.reader.allow_virtual),
            *check_nfc(config), check_trust(config), check_clock(),
            check_vpcd(test_config=test_config), check_private_files(config)]
