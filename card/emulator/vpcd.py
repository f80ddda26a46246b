"""Attach a ``VirtualMynaCard`` to vsmartcard's vpcd virtual reader (test-stack §4), so pcscd and
any PC/SC program see the card.

Wire format: every message is a 2-byte big-endian length plus payload, both ways; a 1-byte
payload from vpcd is a control byte (00 power off, 01 power on, 02 reset, 04 get ATR; only
04 is answered), anything longer is a C-APDU answered with the R-APDU (at most 65,535 bytes).
Inserting = connecting to vpcd's port, removing = closing the socket. ``TCP_QUICKACK`` is set
before every ``recv`` because Debian's vpcd writes length and payload separately (§4.4).
"""

from __future__ import annotations

import logging
import socket
import struct
import threading
import time

from card.emulator.card import VirtualMynaCard
from card.emulator.faults import CardPulled

logger = logging.getLogger(__name__)

DEFAULT_PORT = 35963
MAX_FRAME = 0xFFFF
_CTRL_POWER_OFF, _CTRL_POWER_ON, _CTRL_RESET, _CTRL_GET_ATR = 0x00, 0x01, 0x02, 0x04


class VpcdBridge:
    """Serve one card on one vpcd slot. ``start()`` inserts, ``remove()`` pulls the card.

    Thread-safe for ``start``/``remove``/``insert`` from any thread; the card is served by one
    daemon thread per insertion.
    """

    def __init__(
        self,
        card: VirtualMynaCard,
        port: int = DEFAULT_PORT,
        host: str = "127.0.0.1",
        connect_timeout_s: float = 10.0,
    ) -> None:
        self.card = card
        self.addr = (host, port)
        self.connect_timeout_s = connect_timeout_s
        self._sock: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self.connected = threading.Event()
        self.error: BaseException | None = None

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> VpcdBridge:
        """Insert the card: connect (retrying until vpcd accepts) and serve in a thread."""
        with self._lock:
            if self._thread is not None and self._thread.is_alive():
                return self
            self.connected.clear()
            self.error = None
            self._thread = threading.Thread(
                target=self._run, name=f"vpcd-{self.addr[1]}", daemon=True
            )
            self._thread.start()
        return self

    insert = start

    def remove(self, wait_s: float = 5.0) -> None:
        """Pull the card: close the connection (vpcd reports the card as removed)."""
        with self._lock:
            sock, thread = self._sock, self._thread
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        if thread is not None and thread is not threading.current_thread():
            thread.join(wait_s)
        self.card.power_off()

    close = remove

    def wait_connected(self, timeout_s: float = 10.0) -> bool:
        return self.connected.wait(timeout_s)

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def run_forever(self) -> None:
        """Serve in the calling thread until the connection ends (CLI use)."""
        self._run()

    # -- the loop --------------------------------------------------------------------------

    def _connect(self) -> socket.socket:
        deadline = time.monotonic() + self.connect_timeout_s
        while True:  # vpcd may not listen yet (pcscd loads the driver lazily)
            try:
                sock = socket.create_connection(self.addr, timeout=2.0)
                sock.settimeout(None)
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                return sock
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def _run(self) -> None:
        try:
            sock = self._connect()
        except OSError as e:
            logger.warning("vpcd at %s:%d not reachable: %s", self.addr[0], self.addr[1], e)
            self.error = e
            return
        with self._lock:
            self._sock = sock
        self.connected.set()
        logger.info("card inserted into vpcd %s:%d", *self.addr)
        try:
            while True:
                (n,) = struct.unpack(">H", self._recv_exact(sock, 2))
                msg = self._recv_exact(sock, n)
                if n == 1:
                    self._control(sock, msg[0])
                    continue
                try:
                    rapdu = self.card.process(msg)
                except CardPulled:
                    logger.info("card pulled by fault; closing the vpcd connection")
                    break
                self._send(sock, rapdu)
        except OSError as e:  # includes ConnectionError: vpcd went away or remove() was called
            logger.debug("vpcd connection ended: %s", e)
        finally:
            with self._lock:
                self._sock = None
            sock.close()
            self.connected.clear()
            logger.info("card removed from vpcd %s:%d", *self.addr)

    def _control(self, sock: socket.socket, code: int) -> None:
        if code == _CTRL_GET_ATR:
            self._send(sock, self.card.atr)
        elif code == _CTRL_POWER_ON:
            self.card.power_on()
        elif code == _CTRL_POWER_OFF:
            self.card.power_off()
        elif code == _CTRL_RESET:
            self.card.reset()
        else:
            logger.debug("unknown vpcd control byte %02X ignored", code)

    @staticmethod
    def _recv_exact(sock: socket.socket, n: int) -> bytes:
        buf = bytearray()
        while len(buf) < n:
            # Re-arm before EVERY recv: the flag does not stick (test-stack §4.4).
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_QUICKACK, 1)
            chunk = sock.recv(n - len(buf))
            if not chunk:
                raise ConnectionError("vpcd closed the connection")
            buf += chunk
        return bytes(buf)

    @staticmethod
    def _send(sock: socket.socket, payload: bytes) -> None:
        if len(payload) > MAX_FRAME:
            # An R-APDU cannot exceed the 16-bit frame; answer 6700 rather than desync (§4.1).
            payload = b"\x67\x00"
        sock.sendall(struct.pack(">H", len(payload)) + payload)


def parse_hostport(text: str, default_port: int = DEFAULT_PORT) -> tuple[str, int]:
    """Parse ``HOST:PORT`` (or ``HOST``) into a tuple; raise ValueError on nonsense."""
    host, sep, port = text.rpartition(":")
    if not sep:
        return text, default_port
    value = int(port)
    if not 0 < value < 65536 or not host:
        raise ValueError(f"bad HOST:PORT {text!r}")
    return host, value
