"""Private files of the records subsystem: created 0600 (directory 0700), written atomically."""

from __future__ import annotations

import os
from pathlib import Path


def write_private(path: Path, data: bytes) -> None:
    """Write ``data`` readable by the owner only; never follows a planted symlink."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_name(path.name + f".{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_NOFOLLOW", 0),
                 0o600)
    try:
        os.fchmod(fd, 0o600)  # the umask or an older file must not widen it
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)


def load_or_create_secret(path: Path, size: int) -> bytes:
    """A random key of ``size`` bytes kept in ``path`` (0600), made on first use."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        data = os.urandom(size)
        write_private(path, data)
        return data
    if len(data) != size:
        raise ValueError(f"{path} is not a {size}-byte key")
    return data
