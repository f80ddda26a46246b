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


class VpcdSlot:
    """A vpcd slot with the ``insert/remove/has_card`` shape of an ``EmulatedReader``:
    insert = a new ``VpcdBridge`` for the card on ``port``, remove = pull it."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.bridge: Any = None

    def insert(self, card: Any) -> None:
        from card.emulator.vpcd import VpcdBridge

        self.bridge = VpcdBridge(card, port=self.port).start()

    def remove(self) -> None:
        bridge, self.bridge = self.bridge, None
        if bridge is not None:
            bridge.remove()

    def has_card(self) -> bool:
        return self.bridge is not None and bool(self.bridge.running)
