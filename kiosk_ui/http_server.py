"""The kiosk's HTTP server: waitress with hard bounds, on a socket held from boot.

- **Bounded**: a fixed pool of worker threads, at most ``CONNECTION_LIMIT`` open connections,
  and at most ``PER_USER_LIMIT`` of them from any one local user (the kernel says whose each
  loopback connection is: ``/proc/net/tcp``), so another user's flood or slow-loris cannot take
  the slots the kiosk's browser needs. Idle connections close after ``IDLE_TIMEOUT_S``;
  bodies larger than ``MAX_BODY`` get 413, chunked or not (waitress counts the decoded body).
- **Held from boot**: under systemd the kiosk socket unit owns 127.0.0.1:8080 and hands it over
  (socket activation, ``LISTEN_FDS``), so no other user's process can take the port first.
"""

from __future__ import annotations

import ipaddress
import os
import socket
import threading
from pathlib import Path
from typing import Any

from waitress import wasyncore
from waitress.channel import HTTPChannel
from waitress.server import BaseWSGIServer, create_server

THREADS = 24  # every open /events relay holds one: PER_USER_LIMIT of them, and 8 to spare
CONNECTION_LIMIT = 64
PER_USER_LIMIT = 16
IDLE_TIMEOUT_S = 15
MAX_BODY = 32 * 1024  # the app refuses over 8 KiB (its 413); waitress stops far larger ones
SD_LISTEN_FDS_START = 3  # sd_listen_fds(3): the first inherited descriptor


def inherited_socket() -> socket.socket | None:
    """The listening socket systemd passed to this very process, or ``None``."""
    if os.environ.get("LISTEN_PID") != str(os.getpid()):
        return None
    if int(os.environ.get("LISTEN_FDS", "0") or "0") < 1:
        return None
    for name in ("LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES"):
        os.environ.pop(name, None)  # not for our children
    return socket.socket(fileno=SD_LISTEN_FDS_START)


def is_loopback(sock: socket.socket) -> bool:
    if sock.family not in (socket.AF_INET, socket.AF_INET6):
        return False
    return ipaddress.ip_address(sock.getsockname()[0]).is_loopback


def _proc_hex(addr: str, port: int, family: int) -> str:
    """An address and port as /proc/net/tcp{,6} writes them (host byte order words)."""
    packed = socket.inet_pton(family, addr)
    words = [packed[i : i + 4][::-1].hex().upper() for i in range(0, len(packed), 4)]
    return "".join(words) + f":{port:04X}"


def peer_uid(sock: socket.socket) -> int | None:
    """The user id owning the other end of a loopback TCP connection (``None`` if unknown)."""
    try:
        family = sock.family
        peer, local = sock.getpeername(), sock.getsockname()
        table = "/proc/net/tcp6" if family == socket.AF_INET6 else "/proc/net/tcp"
        # The client's own socket is the row whose local end is our peer and whose remote
        # end is us; its uid column says who opened it.
        want = (_proc_hex(peer[0], peer[1], family), _proc_hex(local[0], local[1], family))
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if (fields[1], fields[2]) == want:
                return int(fields[7])
    except (OSError, ValueError, IndexError):
        return None
    return None


class _PerUserChannel(HTTPChannel):
    """An HTTP connection that closes at once when its user already holds its share."""

    peer_uid: int | None = None

    def __init__(self, server: Any, sock: socket.socket, addr: Any, adj: Any,
                 map: Any = None) -> None:
        uid = peer_uid(sock)
        held = sum(1 for ch in list(server.active_channels.values())
                   if getattr(ch, "peer_uid", None) == uid)
        super().__init__(server, sock, addr, adj, map)
        self.peer_uid = uid
        if held >= PER_USER_LIMIT:
            self.close()


class KioskServer:
    """Serve ``app`` on ``sock`` (already bound and listening) until ``close()``."""

    def __init__(self, app: Any, sock: socket.socket) -> None:
        self.socket = sock
        self.port = int(sock.getsockname()[1])
        self._server = create_server(
            app,
            sockets=[sock],
            threads=THREADS,
            connection_limit=CONNECTION_LIMIT,
            channel_timeout=IDLE_TIMEOUT_S,
            cleanup_interval=min(IDLE_TIMEOUT_S, 5),
            max_request_body_size=MAX_BODY,
            max_request_header_size=16 * 1024,
            expose_tracebacks=False,
            channel_request_lookahead=1,  # keep reading, so a relay sees its browser leave
            ident="myna-kiosk",
            asyncore_loop_timeout=0.5,
        )
        self._servers = [s for s in self._map.values() if isinstance(s, BaseWSGIServer)]
        for server in self._servers:
            server.channel_class = _PerUserChannel

    @property
    def _map(self) -> dict[int, Any]:
        return getattr(self._server, "map", None) or self._server._map

    def serve_forever(self) -> None:
        self._server.run()

    def close(self) -> None:
        """Stop accepting and close every connection, from the server's own loop."""
        done = threading.Event()

        def shut() -> None:
            wasyncore.close_all(self._map)
            done.set()

        try:
            self._servers[0].trigger.pull_trigger(shut)
            done.wait(5)
        except OSError:  # the loop has already closed everything
            pass
        self._server.task_dispatcher.shutdown(timeout=2)


def listening_socket(host: str, port: int) -> socket.socket:
    """A listening TCP socket on ``host:port`` (``port`` 0: any free port)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(128)
    return sock
