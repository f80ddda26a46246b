"""Receivers on SQLite and on a real PostgreSQL, and records made by the real flows.

Records come from the product's own path: a flow run on the emulator with a ``RecordDraft`` as
its possession statement, ``build_record`` and the kiosk key's JWS, exactly as the agent does.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from tests.support import postgres

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


def receiver_settings(state_dir: Path, db_url: str, trust_dir: Path, **extra: Any) -> Any:
    from receiver.settings import load_settings

    values: dict[str, Any] = {
        "state_dir": str(state_dir), "db_url": db_url, "trust_mode": "test",
        "test_dir": str(trust_dir), "crl_file": str(trust_dir / "test.crl"),
        "cvc_issuer_keys": [str(trust_dir / "cvc_issuer_surface.pem"),
                            str(trust_dir / "cvc_issuer_input_helper.pem")]}
    return load_settings(None, **(values | extra))


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


def credential(persona: Any, flow: str) -> str:
    c = persona.credentials
    return str({"sign": c.sign_password, "auth": c.auth_pin, "face": c.match_b,
                "number": c.input_helper_pin}[flow])


@pytest.fixture(scope="session")
def flow_config(trust_dir: Path) -> Any:
    from agent.verification.flows import FLOWS, FlowConfig

    return FlowConfig.build(trust_mode="test", test_dir=trust_dir,
                            crl_file=trust_dir / "test.crl",
                            cvc_issuer_keys=[trust_dir / "cvc_issuer_surface.pem",
                                             trust_dir / "cvc_issuer_input_helper.pem"],
                            enabled=FLOWS)


RecordMaker = Callable[..., dict[str, Any]]


@pytest.fixture(scope="session")
def make_record(flow_config: Any) -> RecordMaker:
    """``make_record(persona, flow, kiosk_id="kiosk-1", policy=...)`` → the record dict a kiosk
    builds after a real flow on the emulator (not yet signed)."""
    from agent.records.record import RecordDraft, RecordPolicy, build_record, utc_text

    from agent.verification.flows import run_flow
    from card.emulator import PERSONAS, VirtualMynaCard
    from card.transports.emulated import EmulatedReader

    def make(persona: str = "yamada-taro", flow: str = "sign", *, kiosk_id: str = "kiosk-1",
             policy: Any = None, at: datetime = AT, staff_id: str | None = None) -> dict[str, Any]:
        reader = EmulatedReader(card=VirtualMynaCard.for_persona(persona))
        draft = RecordDraft(kiosk_id, flow, time=utc_text(at))
        with reader.connect() as connection:
            verdict = run_flow(flow, connection, credential(PERSONAS[persona], flow), at=at,
                               config=flow_config, statement=draft)
        return build_record(draft, verdict.to_json(), policy or RecordPolicy(kiosk_id),
                            staff_id=staff_id)

    return make
