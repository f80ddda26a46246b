"""Fixtures for the kiosk UI tests: a fake agent (unit tests), the Flask app pointed at it, and
one headless Chromium for every browser test module (one Playwright per process)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from kiosk_ui import create_app
from tests.kiosk_ui.fake_agent import TOKEN, FakeAgent
from tests.kiosk_ui.helpers import PAIRING_SECRET, paired_client
from tests.support.browser import CHROMIUM, CHROMIUM_ARGS


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


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        yield b
        b.close()
