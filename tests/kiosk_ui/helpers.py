"""Helpers shared by the kiosk UI tests."""

from __future__ import annotations

from typing import Any

from flask import Flask
from flask.testing import FlaskClient

PAIRING_SECRET = "test-pairing-secret-0123456789"  # noqa: S105 - a test value


def csrf(client: FlaskClient) -> str:
    """Load the page (which creates the session-bound token) and return the token."""
    html = client.get("/").get_data(as_text=True)
    marker = 'name="csrf-token" content="'
    start = html.index(marker) + len(marker)
    return html[start : html.index('"', start)]


def staff_sign_in(page: Any, staff_id: str = "demo", password: str | None = None) -> None:
    """Sign in on /staff with the physical keyboard (the demo's supervisor by default)."""
    from agent.cli.demo import DEMO_STAFF_PASSWORD

    page.wait_for_selector("#staff-signin", state="visible")
    page.fill("#staff-id", staff_id)
    page.fill("#staff-password", password or DEMO_STAFF_PASSWORD)
    page.press("#staff-password", "Enter")
    page.wait_for_function("() => document.body.dataset.staff === 'signed-in'")


def paired_client(app: Flask) -> FlaskClient:
    """A test client that is the kiosk's paired browser (the app has ``PAIRING_SECRET``)."""
    c = app.test_client()
    c.environ_base["HTTP_ORIGIN"] = "http://localhost"  # what the kiosk page's own fetch sends
    assert c.get("/pair?s=" + PAIRING_SECRET).status_code == 303
    return c
