"""Fixtures for the kiosk UI tests: a fake agent (unit tests) and the Flask app pointed at it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from kiosk_ui import create_app
from tests.kiosk_ui.fake_agent import TOKEN, FakeAgent


@pytest.fixture
def fake_agent() -> Iterator[FakeAgent]:
    agent = FakeAgent().start()
    yield agent
    agent.stop()


@pytest.fixture
def app(fake_agent: FakeAgent) -> Flask:
    return create_app(
        {"TESTING": True, "AGENT_URL": fake_agent.url, "AGENT_TOKEN": TOKEN, "DEMO": True}
    )


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """One headless Chromium per test process, shared by every browser test module (two
    sync Playwright instances cannot run in one process)."""
    from playwright.sync_api import sync_playwright

    from tests.kiosk_ui.test_kiosk_browser import CHROMIUM_ARGS

    with sync_playwright() as p:
        b = p.chromium.launch(
            executable_path="/usr/bin/chromium", headless=True, args=CHROMIUM_ARGS
        )
        yield b
        b.close()
