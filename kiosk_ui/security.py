"""Security hooks for every kiosk response and request (design §5, issue 5 "Security").

- ``Cache-Control: no-store`` and a strict CSP on every response: scripts and styles only
  from this server, no inline script, images from this server or ``data:`` (the converted
  face photo), connections only back to this server; no framing.
- CSRF: a random token bound to the Flask session (a signed cookie holding only that token,
  HttpOnly, SameSite=Strict); every POST must echo it in ``X-CSRF-Token``. A same-origin
  check on ``Origin`` adds a second line. The secret key is per process, so a tab opened
  before a restart gets a clear "reload" message instead of a silent failure.
"""

from __future__ import annotations

import hmac
import secrets

from flask import Flask, Response, abort, request, session

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)


def csrf_token() -> str:
    tok = session.get("csrf")
    if not isinstance(tok, str):
        tok = secrets.token_urlsafe(32)
        session["csrf"] = tok
    return tok


def _check_csrf() -> None:
    if request.method != "POST":
        return
    origin = request.headers.get("Origin")
    if origin is not None and origin != request.host_url.rstrip("/"):
        abort(403)
    sent = request.headers.get("X-CSRF-Token", "")
    tok = session.get("csrf")
    if not isinstance(tok, str) or not hmac.compare_digest(sent.encode(), tok.encode()):
        abort(403)


def _headers(resp: Response) -> Response:
    resp.headers["Cache-Control"] = "no-store"
    resp.headers["Pragma"] = "no-cache"
    resp.headers["Content-Security-Policy"] = CSP
    resp.headers["X-Content-Type-Options"] = "nosniff"
    resp.headers["X-Frame-Options"] = "DENY"
    resp.headers["Referrer-Policy"] = "no-referrer"
    resp.headers["Cross-Origin-Opener-Policy"] = "same-origin"
    resp.headers["Permissions-Policy"] = "camera=(), microphone=(), geolocation=()"
    return resp


def init_app(app: Flask) -> None:
    app.before_request(_check_csrf)
    app.after_request(_headers)
    app.jinja_env.globals["csrf_token"] = csrf_token
