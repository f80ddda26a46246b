"""The agent's Unix socket shared with one group (api.socket_group): the kiosk server, running
as its own user in that group, connects; any other user or group does not."""

from __future__ import annotations

import grp
import os
import stat
import subprocess
import tempfile
from pathlib import Path

import pytest

from agent.service.http_server import SocketPathError, unix_listener
from tests.support.other_user import python_as_nobody

CONNECT = ("import socket, sys\n"
           "s = socket.socket(socket.AF_UNIX)\n"
           "try:\n    s.connect(sys.argv[1])\nexcept OSError as e:\n    print(e.errno)\n"
           "else:\n    print('connected')\n")


def connect_as(path: Path, group: str) -> str:
    out = subprocess.run(python_as_nobody(CONNECT, str(path), group=group),  # noqa: S603
                         capture_output=True, text=True, timeout=30, check=True, cwd="/")
    return out.stdout.strip()


@pytest.mark.skipif(os.geteuid() != 0, reason="setpriv needs root to become nobody")
def test_only_the_socket_group_connects() -> None:
    with tempfile.TemporaryDirectory(prefix="myna-sock-") as tmp:
        os.chmod(tmp, 0o755)  # noqa: S103 - nobody may traverse it; the socket dir decides
        path = Path(tmp) / "run" / "agent.sock"
        sock = unix_listener(path, "nogroup")
        try:
            gid = grp.getgrnam("nogroup").gr_gid
            assert stat.S_IMODE(path.stat().st_mode) == 0o660 and path.stat().st_gid == gid
            assert stat.S_IMODE(path.parent.stat().st_mode) == 0o750
            assert path.parent.stat().st_gid == gid
            assert connect_as(path, "nogroup") == "connected"
            assert connect_as(path, "daemon") == "13"  # EACCES: not in the group
        finally:
            sock.close()


def test_without_a_group_the_socket_is_the_agent_users_alone(tmp_path: Path) -> None:
    path = tmp_path / "run" / "agent.sock"
    sock = unix_listener(path)
    try:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    finally:
        sock.close()


def test_an_unknown_group_is_refused(tmp_path: Path) -> None:
    with pytest.raises(SocketPathError, match="no group"):
        unix_listener(tmp_path / "run" / "agent.sock", "no-such-group-myna")
