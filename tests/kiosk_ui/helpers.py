"""Helpers shared by the kiosk UI tests."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
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


@contextmanager
def kiosk_server(app: Flask) -> Iterator[str]:
    """Serve ``app`` as the product does (waitress, ``kiosk_ui.http_server``) on a free loopback
    port; yields the base URL. Werkzeug's development server leaves a file open when a browser
    resets a media request mid-response, and the product never runs on it."""
    from kiosk_ui.http_server import KioskServer, listening_socket

    server = KioskServer(app, listening_socket("127.0.0.1", 0))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.port}"
    finally:
        # close() waits up to 2 s for the worker threads, and an /events relay holds one until
        # its agent stream ends, which happens only after this server, in the fixtures. The
        # threads are daemons, as werkzeug's were: let the closing finish in the background.
        threading.Thread(target=server.close, daemon=True).start()
