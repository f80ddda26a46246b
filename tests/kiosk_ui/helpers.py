"""Helpers shared by the kiosk UI tests."""

from __future__ import annotations

from flask.testing import FlaskClient


def csrf(client: FlaskClient) -> str:
    """Load the page (which creates the session-bound token) and return the token."""
    html = client.get("/").get_data(as_text=True)
    marker = 'name="csrf-token" content="'
    start = html.index(marker) + len(marker)
    return html[start : html.index('"', start)]
