"""Helpers shared by the kiosk UI tests."""

from __future__ import annotations

from flask import Flask
from flask.testing import FlaskClient

PAIRING_SECRET = "test-pairing-secret-0123456789"  # noqa: S105 - a test value


def csrf(client: FlaskClient) -> str:
    """Load the page (which creates the session-bound token) and return the token."""
    html = client.get("/").get_data(as_text=True)
    marker = 'name="csrf-token" content="'
    start = html.index(marker) + len(marker)
    return html[start : html.index('"', start)]


def paired_client(app: Flask) -> FlaskClient:
    """A test client that is the kiosk's paired browser (the app has ``PAIRING_SECRET``)."""
    c = app.test_client()
    c.environ_base["HTTP_ORIGIN"] = "http://localhost"  # what the kiosk page's own fetch sends
    assert c.get("/pair?s=" + PAIRING_SECRET).status_code == 303
    return c
