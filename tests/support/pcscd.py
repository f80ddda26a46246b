"""Private pcscd instances for tests: socket activation without systemd (test-stack.md §3.3).

Each pytest process gets its own pcscd with its own Unix socket and its own vpcd port pair, so
tests run in parallel and beside a system pcscd. ``PCSCLITE_CSOCK_NAME`` is latched at the first
PC/SC call in a process, so ``configure_client_socket`` must run before pyscard is used.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

PCSCD = "/usr/sbin/pcscd"
VPCD_DRIVER = "/usr/lib/pcsc/drivers/serial/libifdvpcd.so"


def pcscd_available() -> bool:
    return os.path.exists(PCSCD) and os.path.exists(VPCD_DRIVER)


def free_port_pair(start: int = 41000, end: int = 60000) -> int:
    """Return P such that P and P+1 are both free on every interface (vpcd binds 0.0.0.0)."""
    seed = (os.getpid() * 7919) % ((end - start) // 2)
    for i in range((end - start) // 2):
        port = start + 2 * ((seed + i) % ((end - start) // 2))
        socks = []
        try:
            for p in (port, port + 1):
                s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                socks.append(s)
                s.bind(("0.0.0.0", p))  # noqa: S104 - probing what vpcd will bind
            return port
        except OSError:
            continue
        finally:
            for s in socks:
                s.close()
    raise RuntimeError("no free port pair for vpcd")


@dataclass
class PcscdInstance:
    workdir: Path
    sock_path: Path
    port: int
    proc: subprocess.Popen[bytes]

    @property
    def reader_names(self) -> tuple[str, str]:
        return ("Virtual PCD 00 00", "Virtual PCD 00 01")

    @property
    def log(self) -> str:
        return (self.workdir / "pcscd.log").read_text(errors="replace")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def restart(self) -> None:
        """Kill pcscd and start it again on the same socket path and port (fault tests)."""
        self.stop()
        _EMPTY_PARITY.clear()  # a new daemon counts from 0 again
        fresh = start_pcscd(self.workdir, self.port)
        self.proc = fresh.proc

    def cleanup(self) -> None:
        self.stop()
        shutil.rmtree(self.workdir, ignore_errors=True)


def make_workdir() -> Path:
    # Short path: sun_path must stay under 108 bytes.
    return Path(tempfile.mkdtemp(prefix="pcsc-", dir="/tmp"))


def configure_client_socket(workdir: Path) -> Path:
    """Point this process's PC/SC client library at the private daemon (before any pyscard call)."""
    sock_path = workdir / "pcscd.comm"
    os.environ["PCSCLITE_CSOCK_NAME"] = str(sock_path)
    return sock_path


def start_pcscd(workdir: Path, port: int) -> PcscdInstance:
    """Start pcscd with a vpcd reader on ``port``/``port+1``, socket-activated on pcscd.comm."""
    conf = workdir / "reader.conf.d"
    conf.mkdir(parents=True, exist_ok=True)
    (conf / "vpcd").write_text(
        'FRIENDLYNAME "Virtual PCD"\n'
        f"DEVICENAME /dev/null:{port}\n"
        f"LIBPATH {VPCD_DRIVER}\n"
        f"CHANNELID {port}\n"
    )
    sock_path = workdir / "pcscd.comm"
    if sock_path.exists():
        sock_path.unlink()
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind(str(sock_path))
    os.chmod(sock_path, 0o666)  # noqa: S103 - test daemon's socket, as pcscd makes its own
    s.listen(64)
    fd = s.fileno()
    move = "" if fd == 3 else f"exec 3<&{fd} {fd}<&-; "
    log = open(workdir / "pcscd.log", "ab")  # noqa: SIM115 - handed to the child
    proc = subprocess.Popen(  # noqa: S603
        [  # noqa: S607 - bash from PATH, as the test-stack recipe does
            "bash",
            "-c",
            move + f'export LISTEN_FDS=1 LISTEN_PID=$$; exec {PCSCD} -f -c "{conf}"',
        ],
        pass_fds=(fd,),
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    s.close()
    log.close()
    return PcscdInstance(workdir=workdir, sock_path=sock_path, port=port, proc=proc)


def reader_events(reader: str) -> tuple[int, bool]:
    """``(count, empty)`` for ``reader``: how often pcscd's own reader thread has seen a card
    arrive at or leave it since pcscd started (the high word of the event state; it wraps at
    0x10000), and whether pcscd reports the slot empty."""
    from smartcard import scard

    hresult, context = scard.SCardEstablishContext(scard.SCARD_SCOPE_USER)
    if hresult != scard.SCARD_S_SUCCESS:
        raise RuntimeError(f"no PC/SC context: {scard.SCardGetErrorMessage(hresult)}")
    try:
        hresult, states = scard.SCardGetStatusChange(
            context, 0, [(reader, scard.SCARD_STATE_UNAWARE)])
    finally:
        scard.SCardReleaseContext(context)
    if hresult != scard.SCARD_S_SUCCESS or not states:
        raise RuntimeError(f"no state for {reader}: {scard.SCardGetErrorMessage(hresult)}")
    state = int(states[0][1])
    return (state >> 16) & 0xFFFF, bool(state & scard.SCARD_STATE_EMPTY)


# The parity of the event count at which pcscd's reader thread last held each reader's slot
# empty. A daemon that finds a card already in when its reader thread starts (a card put in
# while pcscd was restarting) counts that card as no event, so from then on "empty" is odd.
_EMPTY_PARITY: dict[str, int] = {}
# pcscd's reader thread looks at a vpcd slot every 400 ms; a count that has not moved for this
# long while pcscd reports the slot empty means the thread holds it empty too.
SETTLED_S = 2.5


def wait_until_slot_empty(reader: str, timeout_s: float = 15.0) -> None:
    """Return once pcscd's reader thread itself holds the vpcd slot empty: every card it saw
    arrive it has also seen leave (the event count has the parity it had when the slot was last
    known empty: even for a daemon started with the slot empty, as this rig starts it), or the
    slot has been reported empty with no event for ``SETTLED_S``. Waits for the reader to exist
    (pcscd restarting), as a physical slot must exist before a card goes in.

    The reader state pcscd publishes is not enough. After a card is pulled mid-APDU, a client
    disconnecting with SCARD_RESET_CARD gets a failed reset, and pcscd marks the reader empty
    at once, while its reader thread still believes the card is in until its next presence
    poll (every 400 ms with vpcd, later on a loaded machine). vpcd dropped the dead link when
    the APDU failed, so a card connecting before that poll is taken straight away: the thread
    sees "present" twice, counts no change, never powers the new card, and the reader stays
    reported empty for as long as that card is in. A physical reader cannot take the next card
    before its slot has reported the last one gone; putting a card in only after this wait
    gives the rig the same order.
    """
    deadline = time.monotonic() + timeout_s
    seen: tuple[int, bool] | None = None
    seen_since = time.monotonic()
    while True:
        try:
            count, empty = reader_events(reader)
        except RuntimeError as e:
            count, empty, missing = -1, False, e
        else:
            missing = None
            if empty and count % 2 == _EMPTY_PARITY.get(reader, 0):
                return
        now = time.monotonic()
        if (count, empty) != seen:
            seen, seen_since = (count, empty), now
        elif empty and now - seen_since >= SETTLED_S:
            _EMPTY_PARITY[reader] = count % 2
            return
        if now > deadline:
            raise TimeoutError(
                f"pcscd's reader thread never saw the last card leave {reader}: "
                + (f"{missing}" if missing else
                   f"{count} card events, slot reported {'empty' if empty else 'holding a card'}"))
        time.sleep(0.05)


def insert_card(card: Any, port: int, reader: str = "Virtual PCD 00 00") -> Any:
    """Put ``card`` into the vpcd slot on ``port`` once pcscd has seen the last card leave it
    (``wait_until_slot_empty``); return the started ``VpcdBridge``."""
    from card.emulator.vpcd import VpcdBridge

    wait_until_slot_empty(reader)
    return VpcdBridge(card, port=port).start()


class VpcdSlot:
    """A vpcd slot with the ``insert/remove/has_card`` shape of an ``EmulatedReader``:
    insert = a new ``VpcdBridge`` for the card on ``port`` (``insert_card``), remove = pull it."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.bridge: Any = None

    def insert(self, card: Any) -> None:
        self.bridge = insert_card(card, self.port)

    def remove(self) -> None:
        bridge, self.bridge = self.bridge, None
        if bridge is not None:
            bridge.remove()

    def has_card(self) -> bool:
        return self.bridge is not None and bool(self.bridge.running)
