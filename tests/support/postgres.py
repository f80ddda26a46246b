"""A throwaway PostgreSQL cluster for one test session: Debian's server binaries, ``initdb`` in a
temp dir, a Unix socket only (no TCP port), stopped and deleted afterwards.

CI runs as root and PostgreSQL refuses to run as root, so the cluster belongs to the ``postgres``
user and its commands run through ``setpriv``; as an ordinary user they run as that user.
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO

PG_ROOT = Path("/usr/lib/postgresql")


def server_bin() -> Path | None:
    versions = sorted((p for p in PG_ROOT.glob("*/bin/postgres")), key=lambda p: p.parts[-3])
    return versions[-1].parent if versions else None


def available() -> bool:
    return server_bin() is not None and (os.geteuid() != 0 or _postgres_user() is not None)


def _postgres_user() -> pwd.struct_passwd | None:
    try:
        return pwd.getpwnam("postgres")
    except KeyError:
        return None


def _as_owner(cmd: list[str]) -> list[str]:
    if os.geteuid() != 0:
        return cmd
    return ["setpriv", "--reuid=postgres", "--regid=postgres", "--init-groups", *cmd]


@dataclass
class PostgresCluster:
    root: Path
    bindir: Path
    proc: subprocess.Popen[bytes] | None = None
    log_file: IO[bytes] | None = None

    @property
    def datadir(self) -> Path:
        return self.root / "data"

    @property
    def sockdir(self) -> Path:
        return self.root / "sock"

    def url(self, database: str = "myna") -> str:
        return f"postgresql://postgres@/{database}?host={self.sockdir}"

    def _run(self, *cmd: str) -> None:
        subprocess.run(_as_owner(list(cmd)), check=True, capture_output=True,  # noqa: S603
                       timeout=120, cwd=self.root)

    def start(self) -> None:
        self.log_file = log = open(self.root / "postgres.log", "ab")  # noqa: SIM115
        self.proc = subprocess.Popen(  # noqa: S603
            _as_owner([str(self.bindir / "postgres"), "-D", str(self.datadir),
                       "-k", str(self.sockdir), "-c", "listen_addresses=",
                       "-c", "fsync=off", "-c", "max_connections=200"]),
            stdout=log, stderr=subprocess.STDOUT, cwd=self.root)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            ready = subprocess.run(  # noqa: S603
                [str(self.bindir / "pg_isready"), "-q", "-h", str(self.sockdir)], check=False)
            if ready.returncode == 0:
                return
            if self.proc.poll() is not None:
                raise RuntimeError("postgres exited: " +
                                   (self.root / "postgres.log").read_text(errors="replace"))
            time.sleep(0.1)
        raise RuntimeError("postgres did not become ready")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()  # SIGTERM: smart shutdown
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None
        if self.log_file is not None:
            self.log_file.close()
            self.log_file = None

    def create_database(self, name: str) -> str:
        self._run(str(self.bindir / "createdb"), "-h", str(self.sockdir), "-U", "postgres", name)
        return self.url(name)

    def cleanup(self) -> None:
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)


def start_cluster() -> PostgresCluster:
    bindir = server_bin()
    if bindir is None:
        raise RuntimeError("no PostgreSQL server under /usr/lib/postgresql")
    root = Path(tempfile.mkdtemp(prefix="myna-pg-"))
    root.chmod(0o755)
    (root / "sock").mkdir()
    if os.geteuid() == 0:
        user = _postgres_user()
        assert user is not None
        for path in (root, root / "sock"):
            os.chown(path, user.pw_uid, user.pw_gid)
    cluster = PostgresCluster(root, bindir)
    cluster._run(str(bindir / "initdb"), "-D", str(cluster.datadir), "-A", "trust",
                 "-U", "postgres", "--no-sync", "-E", "UTF8", "--no-instructions")
    cluster.start()
    return cluster
