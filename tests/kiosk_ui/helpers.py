"""Helpers shared by the kiosk UI tests."""

from __future__ import annotations

from typing import Any

from flask.testing import FlaskClient


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
