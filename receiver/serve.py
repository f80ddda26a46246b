"""Serving the receiver under gunicorn (never Flask's development server).

Each worker builds its own engine after the fork (``load`` runs in the worker), so no database
connection is shared between processes.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable
from typing import Any

from gunicorn.app.base import BaseApplication

from receiver.settings import ReceiverSettings


class _Gunicorn(BaseApplication):  # type: ignore[misc]
    def __init__(self, factory: Callable[[], Any], options: dict[str, Any]) -> None:
        self._factory = factory
        self._options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self._options.items():
            self.cfg.set(key, value)

    def load(self) -> Any:
        return self._factory()


def _child_exit(_server: Any, worker: Any) -> None:
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)  # type: ignore[no-untyped-call]


def gunicorn_options(bind: str, workers: int, certfile: str | None,
                     keyfile: str | None) -> dict[str, Any]:
    # One request thread per worker: re-verification is CPU work under one interpreter lock,
    # and a second thread (meant to verify while the first waits on the database) only
    # contended for it: bench/receiver.py, one process on PostgreSQL, 4 alternating runs:
    # 135-155 records/s at 5.9-6.8 ms CPU/record with one thread, 114-115 at 9.0-9.1 with two.
    # gthread still keeps many idle keep-alive connections open while that thread works;
    # more parallelism is more workers (processes).
    options: dict[str, Any] = {
        "bind": [bind], "workers": workers, "worker_class": "gthread", "threads": 1,
        "timeout": 30, "graceful_timeout": 10, "keepalive": 5,
        "limit_request_line": 4096, "limit_request_fields": 50,
        "limit_request_field_size": 8190, "errorlog": "-", "loglevel": "info",
        "accesslog": None, "proc_name": "myna-receiver", "child_exit": _child_exit,
    }
    if certfile:
        options.update(certfile=certfile, keyfile=keyfile)
    return options


def serve(settings: ReceiverSettings, *, bind: str, workers: int, certfile: str | None = None,
          keyfile: str | None = None) -> None:
    from receiver import db

    engine = db.make_engine(settings.database_url)
    try:
        if engine.dialect.name == "sqlite":
            db.upgrade(engine)  # one site, nothing to install: the embedded default sets itself up
        else:
            db.require_current(engine)  # several receivers never race a migration
    finally:
        engine.dispose()
    metrics_dir = tempfile.mkdtemp(prefix="myna-receiver-metrics-")
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir

    def factory() -> Any:
        from receiver.service import open_receiver

        return open_receiver(settings).app()

    try:
        _Gunicorn(factory, gunicorn_options(bind, workers, certfile, keyfile)).run()
    finally:
        shutil.rmtree(metrics_dir, ignore_errors=True)
