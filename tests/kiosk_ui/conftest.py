"""Fixtures for the kiosk UI tests: a fake agent (unit tests) and the Flask app pointed at it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient

from kiosk_ui import create_app
from tests.kiosk_ui.fake_agent import TOKEN, FakeAgent
from tests.kiosk_ui.helpers import PAIRING_SECRET, paired_client


@pytest.fixture
def fake_agent() -> Iterator[FakeAgent]:
    agent = FakeAgent().start()
    yield agent
    agent.stop()


@pytest.fixture
def app(fake_agent: FakeAgent) -> Flask:
    return create_app(
        {
            "TESTING": True,
            "AGENT_URL": fake_agent.url,
            "AGENT_TOKEN": TOKEN,
            "DEMO": True,
            "PAIRING_SECRET": PAIRING_SECRET,
        }
    )


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return paired_client(app)
