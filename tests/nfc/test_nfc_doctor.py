"""``agent.cli.doctor_nfc.nfc_checks`` against fake file trees (and, for USB only, a mocked bus)."""

from __future__ import annotations

import logging
from pathlib import Path
from unittest import mock

import pytest

from agent.cli import doctor_nfc
from agent.cli.doctor_nfc import nfc_checks

ROOT = Path(__file__).resolve().parents[2]


def tree(tmp_path: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return tmp_path


def by_name(checks: list[tuple[str, bool, str]]) -> dict[str, tuple[bool, str]]:
    return {name: (ok, detail) for name, ok, detail in checks}


def test_clean_kiosk_passes(tmp_path: Path) -> None:
    root = tree(tmp_path, {
        "proc/modules": "usbhid 73728 0 - Live 0x0\nnfc 151552 0 - Live 0x0\n",
        "etc/modprobe.d/blacklist-myna-nfc.conf": (ROOT / "udev/blacklist-port100.conf")
        .read_text(),
        "etc/udev/rules.d/60-myna-nfc.rules": (ROOT / "udev/60-myna-nfc.rules").read_text(),
    })
    checks = by_name(nfc_checks(root))
    assert list(checks) == [
        "nfcpy", "nfc readers", "port100 module", "udev rule", "vsmartcard-vpcd"
    ]
    assert checks["nfcpy"][0]
    assert checks["port100 module"][0]
    assert "blacklist-myna-nfc.conf" in checks["port100 module"][1]
    assert checks["udev rule"][0]
    assert checks["vsmartcard-vpcd"] == (True, "not installed")
    assert checks["nfc readers"][0]  # none needed when the configured reader is not nfc:usb


def test_loaded_port100_fails(tmp_path: Path) -> None:
    root = tree(tmp_path, {
        "proc/modules": "port100 24576 0 - Live 0x0\ndigital 20480 1 port100, Live 0x0\n",
        "etc/modprobe.d/blacklist-myna-nfc.conf": "blacklist port100\n",
    })
    ok, detail = by_name(nfc_checks(root))["port100 module"]
    assert not ok and "modprobe -r port100" in detail


def test_unblacklisted_port100_fails_when_the_kernel_has_it(tmp_path: Path) -> None:
    root = tree(tmp_path, {"proc/modules": "",
                           "lib/modules/6.1.0/kernel/drivers/nfc/port100.ko.xz": "",
                           "etc/modprobe.d/other.conf": "# blacklist port100\nblacklist pn533\n"})
    assert not doctor_nfc.check_port100(root, "6.1.0")[1]
    root2 = tree(tmp_path / "b", {"proc/modules": "", "lib/modules/6.1.0/kernel/x.ko": ""})
    assert doctor_nfc.check_port100(root2, "6.1.0")[1]  # a kernel without port100 is fine


def test_vpcd_is_a_loud_warning(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    root = tree(tmp_path, {"etc/reader.conf.d/vpcd": "FRIENDLYNAME \"Virtual PCD\"\n"})
    with caplog.at_level(logging.WARNING):
        ok, detail = by_name(nfc_checks(root))["vsmartcard-vpcd"]
    assert not ok
    assert "WARNING" in detail and "35963" in detail and "fake card" in detail
    assert any("vsmartcard-vpcd" in r.getMessage() for r in caplog.records)


def test_missing_or_foreign_udev_rule(tmp_path: Path) -> None:
    assert not doctor_nfc.check_udev_rule(tmp_path)[1]
    root = tree(tmp_path, {"etc/udev/rules.d/60-myna-nfc.rules": 'SUBSYSTEM=="usb", MODE="0666"\n'})
    _, ok, detail = doctor_nfc.check_udev_rule(root)
    assert not ok and "differs" in detail


def test_udev_rule_granting_the_seat_user_fails(tmp_path: Path) -> None:
    old = ('ATTR{idVendor}=="054c", ATTR{idProduct}=="06c1", MODE="0660", GROUP="myna", '
           'TAG+="uaccess"\n')
    root = tree(tmp_path, {"etc/udev/rules.d/60-myna-nfc.rules": old})
    _, ok, detail = doctor_nfc.check_udev_rule(root)
    assert not ok and "uaccess" in detail


def test_required_reader_missing_fails(tmp_path: Path) -> None:
    checks = by_name(nfc_checks(tmp_path, locator="nfc:usb"))
    assert checks["nfc readers"][0] is False
    assert "no USB reader" in checks["nfc readers"][1]


def test_reader_without_access_is_reported(tmp_path: Path) -> None:
    # USB cannot exist here (test-stack §9): mock only the bus enumeration.
    with mock.patch("card.transports.nfc.usb_devices", return_value=[(0x054C, 0x06C1, 1, 5)]):
        _, ok, detail = doctor_nfc.check_usb_readers(tmp_path, required=True)
    assert not ok and "054c:06c1" in detail and "udev" in detail
    node = tree(tmp_path, {"dev/bus/usb/001/005": ""}) / "dev/bus/usb/001/005"
    node.chmod(0o600)
    with mock.patch("card.transports.nfc.usb_devices", return_value=[(0x054C, 0x06C1, 1, 5)]):
        _, ok, detail = doctor_nfc.check_usb_readers(tmp_path, required=True)
    assert ok and "usb:054c:06c1 on bus 001 device 005" in detail


def test_this_machine() -> None:
    checks = by_name(nfc_checks())
    vpcd_installed = Path("/etc/reader.conf.d/vpcd").exists()
    assert checks["vsmartcard-vpcd"][0] is not vpcd_installed
    assert all(isinstance(detail, str) and detail for _ok, detail in checks.values())
