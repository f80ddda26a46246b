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
    """Serve ``app`` on a free loopback port for a browser; yields the base URL."""
    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", 0, _files_closed_before_sending(app), threaded=True)
    server.daemon_threads = True  # type: ignore[attr-defined]
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()


def _files_closed_before_sending(app: Any) -> Any:
    """Werkzeug's development server skips closing a response when the client resets the
    connection at its end (Chromium does that to media requests), and the file behind a voice
    clip then lingers until the garbage collector warns. Responses of known length are read
    and closed before sending; streams (``/events``) pass through unchanged."""

    def wsgi(environ: dict[str, Any], start_response: Any) -> Any:
        sized = False

        def start(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            nonlocal sized
            sized = any(name.lower() == "content-length" for name, _ in headers)
            return start_response(status, headers, exc_info)

        body = app(environ, start)
        if not sized:
            return body
        try:
            return [b"".join(body)]
        finally:
            close = getattr(body, "close", None)
            if close is not None:
                close()

    return wsgi
