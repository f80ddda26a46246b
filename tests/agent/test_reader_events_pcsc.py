"""Card presence through real pcscd + vpcd: the agent wakes on pcscd's events instead of
polling, and holds the card exclusively from insertion to removal, so no other local program can
send it a command between sessions (not even after a pcscd restart)."""

from __future__ import annotations

import os
import shutil
import subprocess
import threading
import time
from typing import Any

import pytest

from card.emulator import PERSONAS, VirtualMynaCard
from card.emulator.vpcd import VpcdBridge
from tests.support.other_user import SYSTEM_PYTHON, python_as_nobody

pytestmark = [pytest.mark.pcsc, pytest.mark.emulator_only]
VPCD_READER = "Virtual PCD 00 00"
PERSONA = PERSONAS["yamada-taro"]

# Another program on the machine: connect (shared, as pcsc tools do) and send SELECT by AID.
# It calls the PC/SC client library directly through ctypes: it runs as another user on the
# system interpreter, which cannot see the checkout's venv (tests/support/other_user.py).
INTRUDER = r"""
import ctypes, sys
DWORD, LONG = ctypes.c_ulong, ctypes.c_long  # pcsc-lite's types on Linux
pcsc = ctypes.CDLL("libpcsclite.so.1")
for name in ("SCardEstablishContext", "SCardConnect", "SCardTransmit"):
    getattr(pcsc, name).restype = LONG
pcsc.pcsc_stringify_error.restype = ctypes.c_char_p
pcsc.pcsc_stringify_error.argtypes = [LONG]

class IoRequest(ctypes.Structure):
    _fields_ = [("dwProtocol", DWORD), ("cbPciLength", DWORD)]

SCOPE_USER, SHARE_SHARED, PROTOCOL_T0_OR_T1 = 0, 2, 3
context, card, protocol = LONG(), LONG(), DWORD()
hresult = pcsc.SCardEstablishContext(DWORD(SCOPE_USER), None, None, ctypes.byref(context))
if hresult != 0:
    print("no-context", hex(hresult & 0xFFFFFFFF)); sys.exit(0)
hresult = pcsc.SCardConnect(context, sys.argv[1].encode(), DWORD(SHARE_SHARED),
                            DWORD(PROTOCOL_T0_OR_T1), ctypes.byref(card), ctypes.byref(protocol))
if hresult != 0:
    print("refused", pcsc.pcsc_stringify_error(hresult).decode()); sys.exit(0)
apdu = bytes([0x00, 0xA4, 0x04, 0x0C, 0x0A,
              0xD3, 0x92, 0xF0, 0x00, 0x26, 0x01, 0x00, 0x00, 0x00, 0x01])
response, length = ctypes.create_string_buffer(258), DWORD(258)
send_pci = IoRequest(protocol.value, ctypes.sizeof(IoRequest))
hresult = pcsc.SCardTransmit(card, ctypes.byref(send_pci), apdu, DWORD(len(apdu)), None,
                             response, ctypes.byref(length))
print("transmitted" if hresult == 0 and length.value else "refused",
      response.raw[:length.value].hex())
"""


class StatusCallCounter:
    """Counts every SCardGetStatusChange this process makes (the agent's presence checks)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        from card.transports.pcsc import _scard

        scard = _scard()  # the very module the transport calls (pyscard's extension)
        self.calls = 0
        self._lock = threading.Lock()
        real = scard.SCardGetStatusChange

        def counting(*args: Any) -> Any:
            with self._lock:
                self.calls += 1
            return real(*args)

        monkeypatch.setattr(scard, "SCardGetStatusChange", counting)


def _intruder_command(pcscd: Any) -> list[str]:
    if os.geteuid() == 0 and shutil.which("setpriv"):
        # The attacker is an unprivileged local user: nobody, let through to the daemon's socket.
        os.chmod(pcscd.workdir, 0o711)  # noqa: S103 - the test daemon's own directory
        return python_as_nobody(INTRUDER, VPCD_READER)
    return [SYSTEM_PYTHON, "-I", "-c", INTRUDER, VPCD_READER]


def _intrude(pcscd: Any) -> str:
    env = dict(os.environ, PCSCLITE_CSOCK_NAME=str(pcscd.sock_path))
    done = subprocess.run(  # noqa: S603 - our own interpreter and script
        _intruder_command(pcscd), capture_output=True, text=True, timeout=30, env=env,
        check=False, cwd="/")
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def _insert_and_wait(sse: Any, port: int, state: str) -> tuple[VpcdBridge, int, dict[str, Any]]:
    bridge = VpcdBridge(VirtualMynaCard(PERSONA), port=port).start()
    start = len(sse.events)
    i, snap = sse.wait(lambda s: s["state"] == state, start=start, timeout=15)
    return bridge, i, snap


def test_presence_is_event_driven_not_polled(pcsc_agent, monkeypatch):
    svc, _http, sse, pcscd = pcsc_agent
    counter = StatusCallCounter(monkeypatch)
    svc.watcher.poke()  # the current wait returns; every later one goes through the counter
    time.sleep(1.0)
    idle_calls = counter.calls
    # A poller at the configured 0.1 s would have asked ~10 times in this second.
    assert idle_calls <= 3, f"{idle_calls} presence checks while nothing happened"
    bridge, i, _ = _insert_and_wait(sse, pcscd.port, "awaiting_credential")
    bridge.remove()
    sse.wait(lambda s: s["state"] == "idle", start=i, timeout=10)
    # Insertion and removal each wake the one waiting call (plus the hold's own state change).
    assert 2 <= counter.calls - idle_calls <= 12, counter.calls  # counted, and not polled


@pytest.mark.parametrize("restart_first", [False, True], ids=["fresh", "after-pcscd-restart"])
def test_card_is_held_between_sessions(pcsc_agent, restart_first):
    _svc, http_, sse, pcscd = pcsc_agent
    if restart_first:
        pcscd.restart()
        sse.wait(lambda s: s["state"] == "idle" and s["reader"] == VPCD_READER,
                 start=len(sse.events), timeout=15)
    bridge, i, snap = _insert_and_wait(sse, pcscd.port, "awaiting_credential")
    try:
        status, _ = http_.call("POST", "/v1/cancel", {"session_id": snap["session_id"]})
        assert status == 200
        sse.wait(lambda s: s["state"] == "awaiting_removal", start=i, timeout=10)
        # No session runs now; the card is still in the reader and must stay the agent's.
        outcome = _intrude(pcscd)
        assert outcome.startswith("refused"), outcome
        assert "sharing violation" in outcome.lower(), outcome
    finally:
        bridge.remove()
    sse.wait(lambda s: s["state"] == "idle", start=i, timeout=10)


def test_virtual_readers_are_ignored_unless_allowed(pcscd, tmp_path, trust_dir):
    from agent.service.agent_service import AgentService
    from card.transports.pcsc import PcscMonitor
    from tests.support.configs import service_config

    assert VPCD_READER in PcscMonitor(allow_virtual=True).scan()
    assert PcscMonitor(allow_virtual=False).scan() == {}
    kiosk = service_config(tmp_path, trust_dir, reader={"locator": "pcsc",
                                                        "allow_virtual": False})
    with AgentService(kiosk) as svc:
        svc.watcher.poke()
        deadline = time.monotonic() + 5
        while svc.watcher.polls < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert svc.watcher.readers() == {}
        assert svc.snapshot()["state"] == "no_reader"


def test_virtual_reader_recognised_by_name_or_by_its_driver(tmp_path):
    from card.transports.pcsc import is_virtual_reader

    assert is_virtual_reader("Virtual PCD 00 00")
    assert not is_virtual_reader("SONY FeliCa RC-S300/P 00 00", conf_dir=str(tmp_path))
    # A vpcd renamed in reader.conf.d to look like a real reader is still vpcd.
    (tmp_path / "vpcd").write_text('FRIENDLYNAME "SONY FeliCa RC-S300/P"\n'
                                   "LIBPATH /usr/lib/pcsc/drivers/serial/libifdvpcd.so\n")
    assert is_virtual_reader("SONY FeliCa RC-S300/P 00 00", conf_dir=str(tmp_path))


def _until_pcscd_reports(observer: Any, present: bool) -> None:
    """Wait (on a monitor of its own) until pcscd reports the vpcd reader with or without a
    card, so the watcher under test can be kept from looking in between."""
    deadline = time.monotonic() + 10
    while observer.scan().get(VPCD_READER) is not present:
        assert time.monotonic() < deadline, f"pcscd never reported present={present}"
        observer.wait(1.0)


def test_a_card_replaced_between_two_looks_starts_a_new_session(pcscd):
    """A card pulled and another put in while the watcher was busy (two pcscd polls, under
    load) is present at both looks: pcscd's event counter still shows the swap, and the watcher
    reports the removal and the insertion, so the new card is not left unserved."""
    from agent.service.watcher import ReaderEventKind, ReaderWatcher
    from card.transports.pcsc import PcscMonitor

    observer = PcscMonitor(name_filter=VPCD_READER)
    monitor = PcscMonitor(name_filter=VPCD_READER)
    events: list[tuple[Any, str]] = []
    watcher = ReaderWatcher(monitor, lambda e: events.append((e.kind, e.reader)))
    first = VpcdBridge(VirtualMynaCard(PERSONA), port=pcscd.port).start()
    second = VpcdBridge(VirtualMynaCard(PERSONAS["foreign-resident"]), port=pcscd.port)
    try:
        _until_pcscd_reports(observer, True)
        assert watcher.poll_once()  # the first card: seen and held
        assert (ReaderEventKind.CARD_INSERTED, VPCD_READER) in events
        events.clear()
        first.remove()
        _until_pcscd_reports(observer, False)
        second.start()
        _until_pcscd_reports(observer, True)
        monitor.wait(0)  # the watcher's next look: present, as it was before
        assert watcher.poll_once()
        assert events == [(ReaderEventKind.CARD_REMOVED, VPCD_READER),
                          (ReaderEventKind.CARD_INSERTED, VPCD_READER)]
        events.clear()
        monitor.wait(0)
        assert watcher.poll_once() and events == []  # reported once
        # The hold moved to the new card: a lease talks to it, not to the dead connection.
        connection = watcher.readers()[VPCD_READER].connect(exclusive=True)
        try:
            _, sw = connection.transmit(bytes.fromhex("00A4040C0AD392F000260100000001"))
            assert sw == 0x9000
        finally:
            connection.close()
    finally:
        watcher.stop()
        first.remove()
        second.remove()
        _until_pcscd_reports(observer, False)  # the next test's card must not meet this one
        observer.close()
