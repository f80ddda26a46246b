"""``myna doctor`` checks for NFC readers and the kiosk's system set-up (test-stack.md §7.5, §9).

``nfc_checks()`` returns ``(name, ok, detail)`` tuples: nfcpy importable, the USB readers nfcpy
could drive and whether this user may open them, the kernel's ``port100`` module (it claims
RC-S380 readers; nfcpy then fails with EBUSY), the udev rule from ``udev/``, and a loud warning
when vsmartcard-vpcd is installed: its driver listens on TCP 35963 on every interface, so on a
production kiosk anyone on the network could insert a fake card. Paths are read under ``root``
so tests can point the checks at a fake file tree. Nothing here needs root or changes anything.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

log = logging.getLogger(__name__)

Check = tuple[str, bool, str]

UDEV_RULE = "60-myna-nfc.rules"
_UDEV_DIRS = ("etc/udev/rules.d", "usr/lib/udev/rules.d", "lib/udev/rules.d", "run/udev/rules.d")
_MODPROBE_DIRS = ("etc/modprobe.d", "usr/lib/modprobe.d", "lib/modprobe.d", "run/modprobe.d")
_VPCD_FILES = (
    "etc/reader.conf.d/vpcd",
    "usr/lib/pcsc/drivers/serial/libifdvpcd.so",
    "usr/lib/pcsc/drivers/serial/libifdvpcd.so.0.8",
    "usr/bin/vpcd-config",
)
_MAX_FILE = 1 << 20  # config files are small; never read more than this from any of them


def _read(path: Path) -> str:
    try:
        with path.open("rb") as f:
            return f.read(_MAX_FILE).decode("utf-8", "replace")
    except OSError:
        return ""


def check_nfcpy() -> Check:
    try:
        import nfc
    except ImportError as e:
        return ("nfcpy", False, f"not importable ({e.name}): pip install 'myna-kiosk[nfc]'")
    return ("nfcpy", True, f"nfcpy {getattr(nfc, '__version__', '?')}")


def check_usb_readers(root: Path, required: bool) -> Check:
    """Readers nfcpy has a driver for, and read/write access to their device nodes."""
    try:
        from card.transports.nfc import usb_devices

        devices = usb_devices()
    except Exception as e:  # noqa: BLE001 - doctor reports, never crashes
        return ("nfc readers", not required, f"cannot enumerate USB: {type(e).__name__}")
    if not devices:
        where = "" if (root / "sys/bus/usb").exists() else " (this machine has no USB bus)"
        return ("nfc readers", not required, f"no USB reader nfcpy can drive{where}")
    found, denied = [], []
    for vid, pid, bus, dev in devices:
        ident = f"{vid:04x}:{pid:04x}"
        found.append(f"usb:{ident} on bus {bus:03d} device {dev:03d}")
        node = root / f"dev/bus/usb/{bus:03d}/{dev:03d}"
        if not os.access(node, os.R_OK | os.W_OK):
            denied.append(ident)
    if denied:
        return ("nfc readers", False, (f"no access to {', '.join(denied)}: install udev/"
                f"{UDEV_RULE} and add this user to group myna"))
    return ("nfc readers", True, "; ".join(found))


def check_port100(root: Path, kernel_release: str | None = None) -> Check:
    """port100 must be neither loaded nor loadable for an RC-S380 (test-stack §7.5)."""
    modules = _read(root / "proc/modules")
    if any(line.split(" ", 1)[0] == "port100" for line in modules.splitlines()):
        return ("port100 module", False,
                ("loaded: it holds RC-S380 readers (nfcpy gets EBUSY); run 'modprobe -r port100' "
                "and install udev/blacklist-port100.conf in /etc/modprobe.d/"))
    for directory in _MODPROBE_DIRS:
        base = root / directory
        if not base.is_dir():
            continue
        for conf in sorted(base.glob("*.conf")):
            for line in _read(conf).splitlines():
                if line.split() == ["blacklist", "port100"]:
                    return ("port100 module", True, (f"not loaded, blacklisted in /{directory}/"
                            f"{conf.name}"))
    release = kernel_release or os.uname().release
    moddir = root / "lib/modules" / release
    if moddir.is_dir() and not any(moddir.rglob("port100.ko*")):
        return ("port100 module", True, f"not loaded, not built for kernel {release}")
    return ("port100 module", False,
            ("not loaded but not blacklisted: it will claim an RC-S380 when one is plugged in; "
            "install udev/blacklist-port100.conf in /etc/modprobe.d/"))


def check_udev_rule(root: Path) -> Check:
    for directory in _UDEV_DIRS:
        path = root / directory / UDEV_RULE
        if path.is_file():
            text = _read(path)
            rules = [ln for ln in text.splitlines() if not ln.lstrip().startswith("#")]
            if any("uaccess" in ln for ln in rules):
                return ("udev rule", False, (f"/{directory}/{UDEV_RULE} gives the desktop user "
                        f"(uaccess) raw reader access: reinstall udev/{UDEV_RULE}"))
            if 'GROUP="myna"' in text and 'ATTR{idProduct}=="06c1"' in text:
                return ("udev rule", True, f"/{directory}/{UDEV_RULE}")
            return ("udev rule", False, f"/{directory}/{UDEV_RULE} differs from udev/{UDEV_RULE}")
    return ("udev rule", False, (f"udev/{UDEV_RULE} is not installed in /etc/udev/rules.d/ "
            "(a non-root agent cannot open USB NFC readers without it)"))


def check_vpcd(root: Path) -> Check:
    present = [f"/{p}" for p in _VPCD_FILES if (root / p).exists()]
    if not present:
        return ("vsmartcard-vpcd", True, "not installed")
    detail = ("WARNING: vsmartcard-vpcd is INSTALLED (" + ", ".join(present) + "). Its pcscd "
              "driver listens on TCP port 35963 on EVERY interface: anyone who can reach this "
              "machine can insert a fake card. Test machines only; on a production kiosk run "
              "'apt-get purge vsmartcard-vpcd'.")
    log.warning("doctor: vsmartcard-vpcd is installed; remove it from production kiosks")
    return ("vsmartcard-vpcd", False, detail)


def nfc_checks(root: Path | str = "/", *, locator: str | None = None) -> list[Check]:
    """All NFC/kiosk checks. ``locator`` is the configured reader: readers are required only
    when it names a USB NFC reader."""
    base = Path(root)
    required = bool(locator) and str(locator).startswith("nfc:usb")
    return [
        check_nfcpy(),
        check_usb_readers(base, required),
        check_port100(base),
        check_udev_rule(base),
        check_vpcd(base),
    ]
