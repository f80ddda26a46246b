"""The agent's HTTP server: waitress with hard bounds, on a Unix socket or loopback TCP.

Bounded worker threads and connections, idle connections closed after ``IDLE_TIMEOUT_S``,
bodies over the API's limit refused with 413 whether chunked or not (waitress counts the
decoded body), no tracebacks to clients. The Unix socket is created mode 0600 in a directory
that must belong to the agent's user and be writable by no one else, so no other local user
can connect to it or put a socket of their own in its place.
"""

from __future__ import annotations

import grp
import os
import socket
import stat
import threading
from pathlib import Path
from typing import Any

from waitress import wasyncore
from waitress.server import BaseWSGIServer, create_server

# Every open event stream holds a thread: room for all of them (events.MAX_SUBSCRIBERS) and
# still 8 for the kiosk's requests.
THREADS = 16 + 8
CONNECTION_LIMIT = 32
IDLE_TIMEOUT_S = 15


class SocketPathError(RuntimeError):
    """The Unix socket's place is not safe (foreign owner, writable by others, not a socket)."""


def unix_listener(path: Path, group: str = "") -> socket.socket:
    """Listen on ``path`` inside a directory only this user controls: mode 0600, or 0660 for
    ``group`` (the kiosk server's group when it runs as its own user), the directory then 0750.

    :raises SocketPathError: the directory or an old socket is not this user's, or ``group``
        is not one of this process's groups.
    """
    parent = path.parent
    parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    st = os.lstat(parent)
    if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.geteuid() or st.st_mode & 0o022:
        raise SocketPathError(f"{parent} must be a directory of this user, writable by no other")
    gid = -1
    if group:
        try:
            gid = grp.getgrnam(group).gr_gid
        except KeyError as e:
            raise SocketPathError(f"no group {group!r} (api.socket_group)") from e
        if os.geteuid() != 0 and gid not in os.getgroups() and gid != os.getegid():
            raise SocketPathError(f"the agent is not in group {group!r} (api.socket_group)")
    try:
        old = os.lstat(path)
    except FileNotFoundError:
        pass
    else:
        if not stat.S_ISSOCK(old.st_mode) or old.st_uid != os.geteuid():
            raise SocketPathError(f"{path} exists and is not this agent's old socket")
        path.unlink()  # left behind by an agent that did not stop cleanly
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    umask = os.umask(0o177)
    try:
        sock.bind(str(path))
    finally:
        os.umask(umask)
    if gid == -1:
        os.chmod(path, 0o600)
    else:
        os.chown(path, -1, gid)
        os.chmod(path, 0o660)
        os.chown(parent, -1, gid)
        os.chmod(parent, 0o750)  # noqa: S103 - group myna-api may enter, no one else
    sock.listen(64)
    return sock


def tcp_listener(host: str, port: int) -> socket.socket:
    """A listening loopback TCP socket (``port`` 0: any free port)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(64)
    return sock


class ApiServer:
    """Serve ``app`` on an already listening socket in a daemon thread until ``close()``."""

    def __init__(self, app: Any, sock: socket.socket, max_body: int) -> None:
        self._server = create_server(
            app,
            sockets=[sock],
            threads=THREADS,
            connection_limit=CONNECTION_LIMIT,
            channel_timeout=IDLE_TIMEOUT_S,
            cleanup_interval=5,
            # The API answers a body over its limit with its own JSON 413; waitress refuses one
            # far over it (chunked too) before buffering it.
            max_request_body_size=4 * max_body,
            max_request_header_size=16 * 1024,
            expose_tracebacks=False,
            channel_request_lookahead=1,  # keep reading, so a stream sees its client leave
            ident="myna-agent",
            asyncore_loop_timeout=0.5,
        )
        self._map: dict[int, Any] = getattr(self._server, "map", None) or self._server._map
        self._servers = [s for s in self._map.values() if isinstance(s, BaseWSGIServer)]
        self._thread = threading.Thread(target=self._server.run, name="myna-api", daemon=True)

    def start(self) -> None:
        self._thread.start()

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
        self._thread.join(5)
