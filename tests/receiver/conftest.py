"""Receivers on SQLite and on a real PostgreSQL, and records made by the real flows.

Records come from the product's own path: a flow run on the emulator with a ``RecordDraft`` as
its possession statement, ``build_record`` and the kiosk key's JWS, exactly as the agent does.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from tests.support import postgres
from tests.support import record_maker as records_support
from tests.support.record_maker import receiver_settings

AT = datetime(2026, 11, 26, tzinfo=UTC)
_db_numbers = itertools.count(1)


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[postgres.PostgresCluster]:
    if not postgres.available():
        if os.environ.get("CI"):
            pytest.fail("PostgreSQL server binaries are missing (scripts/install-system-deps.sh)")
        pytest.skip("PostgreSQL server binaries are not installed")
    cluster = postgres.start_cluster()
    yield cluster
    cluster.cleanup()


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'receiver.sqlite3'}"
    cluster = request.getfixturevalue("pg_cluster")
    return str(cluster.create_database(f"myna_{os.getpid()}_{next(_db_numbers)}"))


@pytest.fixture
def settings(tmp_path: Path, db_url: str, trust_dir: Path) -> Any:
    return receiver_settings(tmp_path / "state", db_url, trust_dir)


@pytest.fixture
def receiver(settings: Any) -> Iterator[Any]:
    from receiver import db
    from receiver.service import open_receiver

    engine = db.make_engine(settings.database_url)
    db.upgrade(engine)
    engine.dispose()
    rx = open_receiver(settings)
    yield rx
    rx.engine.dispose()


@pytest.fixture(scope="session")
def kiosk_key() -> Any:
    from agent.records.signing import KioskKey

    return KioskKey.generate()


@pytest.fixture
def registered(receiver: Any, kiosk_key: Any) -> Any:
    """The receiver with kiosk ``kiosk-1`` registered under ``kiosk_key``."""
    import json

    from receiver import admin

    admin.add_kiosk(receiver, "kiosk-1", json.dumps(kiosk_key.public_jwk()))
    return receiver


@pytest.fixture(scope="session")
def flow_config(trust_dir: Path) -> Any:
    return records_support.flow_config_for_tests(trust_dir)


@pytest.fixture(scope="session")
def make_record(flow_config: Any) -> records_support.RecordMaker:
    return records_support.record_maker(flow_config)
