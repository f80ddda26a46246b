"""Security hooks for every kiosk response and request (design §5, issue 5 "Security").

- ``Cache-Control: no-store`` and a strict CSP on every response: scripts and styles only
  from this server, no inline script, images from this server or ``data:`` (the converted
  face photo), connections only back to this server; no framing.
- Host and Origin: every request must name this server by one of its loopback names and its
  own port (``127.0.0.1:<port>``, ``localhost:<port>``, ``[::1]:<port>``), so a page reached
  through DNS rebinding (a foreign name resolving to 127.0.0.1) is refused before any route
  runs. A request a browser marks as cross-site (``Sec-Fetch-Site``) or whose ``Origin`` is
  not this server is refused on every route; a state-changing request must carry a matching
  ``Origin`` (browsers always send one on POST).
- CSRF: a random token bound to the Flask session (a signed cookie holding only that token,
  HttpOnly, SameSite=Strict); every POST must echo it in ``X-CSRF-Token``. The secret key is
  per process, so a tab opened before a restart gets a clear "reload" message instead of a
  silent failure.
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


LOOPBACK_NAMES = ("127.0.0.1", "localhost", "[::1]")
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def own_hosts(port: str) -> frozenset[str]:
    """The ``Host`` values that name this server: a loopback name and the port it listens on."""
    names = {f"{name}:{port}" for name in LOOPBACK_NAMES}
    if port == "80":  # browsers leave the default port out of Host and Origin
        names.update(LOOPBACK_NAMES)
    return frozenset(names)


def foreign_request() -> str | None:
    """Why this request does not come from this server's own page, or ``None``."""
    host = request.headers.get("Host", "").lower()
    if host not in own_hosts(str(request.environ.get("SERVER_PORT", ""))):
        return "host"
    if request.headers.get("Sec-Fetch-Site", "same-origin") not in ("same-origin", "none"):
        return "cross-site"
    origin = request.headers.get("Origin")
    if origin is None:
        return None if request.method in SAFE_METHODS else "origin"
    return None if origin.lower() == "http://" + host else "origin"


def _check_host_and_origin() -> Response | None:
    why = foreign_request()
    if why is None:
        return None
    body = '{"ok": false, "code": "FOREIGN_ORIGIN", "message_key": null, "params": {}}'
    return Response(body, status=421 if why == "host" else 403, mimetype="application/json")


MAX_JSON_DEPTH = 16  # the kiosk's bodies are flat objects; deeper is never ours


def json_depth(raw: bytes) -> int:
    """How deeply ``raw`` nests arrays and objects (brackets inside strings do not count)."""
    depth = deepest = 0
    in_string = escaped = False
    for byte in raw:
        if in_string:
            if escaped:
                escaped = False
            elif byte == 0x5C:  # backslash
                escaped = True
            elif byte == 0x22:  # quote
                in_string = False
        elif byte == 0x22:
            in_string = True
        elif byte in (0x5B, 0x7B):  # [ {
            depth += 1
            deepest = max(deepest, depth)
        elif byte in (0x5D, 0x7D):  # ] }
            depth -= 1
    return deepest


def _check_json_depth() -> Response | None:
    # Parsed deeper than the interpreter's recursion limit, JSON raises RecursionError, which
    # no "silent" JSON parsing catches: refuse it as a bad request before any route parses.
    if request.method == "POST" and json_depth(request.get_data(cache=True)) > MAX_JSON_DEPTH:
        body = '{"ok": false, "code": "INPUT", "message_key": "input.bad_request", "params": {}}'
        return Response(body, status=400, mimetype="application/json")
    return None


def _check_csrf() -> None:
    if request.method != "POST":
        return
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
    app.before_request(_check_host_and_origin)
    app.before_request(_check_csrf)
    app.before_request(_check_json_depth)
    app.after_request(_headers)
    app.jinja_env.globals["csrf_token"] = csrf_token
