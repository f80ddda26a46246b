"""Building the receiver from its settings: one place, used by ``serve``, the admin commands
and the tests."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import Flask
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from receiver import db
from receiver.sealing import Sealer, load_or_create_key
from receiver.settings import ReceiverSettings
from receiver.store import RecordStore


@dataclass
class Receiver:
    settings: ReceiverSettings
    engine: Engine
    sessions: sessionmaker[Session]
    store: RecordStore

    def app(self) -> Flask:
        from receiver.app import create_app

        return create_app(self.store, self.sessions,
                          max_body_bytes=self.settings.max_body_bytes,
                          record_page=self.settings.record_page)


def flow_config(settings: ReceiverSettings) -> Any:
    from agent.verification.flows import FlowConfig

    return FlowConfig.build(trust_mode=settings.trust_mode, test_dir=settings.test_dir or None,
                            cvc_issuer_keys=settings.cvc_issuer_keys,
                            crl_file=settings.crl_file or None,
                            enabled=("sign", "auth", "face", "number"))


def open_receiver(settings: ReceiverSettings, *, require_schema: bool = True) -> Receiver:
    settings.state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    engine = db.make_engine(settings.database_url)
    if require_schema:
        db.require_current(engine)
    sealer = Sealer(load_or_create_key(settings.data_key_file))
    sessions = db.session_factory(engine)
    return Receiver(settings, engine, sessions, RecordStore(sessions, sealer,
                                                            flow_config(settings)))
