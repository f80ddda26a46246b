"""One paired browser: the kiosk server serves only the browser its launcher started.

The launcher (deploy/chromium-kiosk.sh, or ``myna demo``) hands the browser a one-time pairing
secret in its start URL, ``/pair?s=<secret>``. The secret reaches this server either through
a file only the launcher and this server can read (``PAIRING_FILE``: the launcher writes a new
one for every launch) or through this process's environment (``PAIRING_SECRET``, as
``myna demo`` does). ``/pair`` exchanges it, once, for an HttpOnly, SameSite=Strict cookie
that every other route requires. A secret that paired is spent: pairing again needs a new
one, and a new pairing replaces the old, so exactly one browser is paired at a time.
With neither a file nor an environment secret, the server makes one up and prints the
pairing URL once on stderr (development).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
from pathlib import Path

from flask import Blueprint, Flask, Response, current_app, redirect, request
from werkzeug.wrappers import Response as BaseResponse

PAIR_COOKIE = "kiosk_paired"
MAX_SECRET = 256
# Where a paired browser may be sent after /pair: the kiosk's own pages only.
NEXT_PAGES = ("/", "/staff", "/demo/")

bp = Blueprint("pairing", __name__)


class Pairing:
    """The current offer (one-time secret) and the one paired browser's cookie value."""

    def __init__(self, secret: str | None = None, secret_file: str | Path | None = None) -> None:
        self._secret = secret or None
        self._file = Path(secret_file) if secret_file else None
        self._spent: set[bytes] = set()
        self._cookie: str | None = None
        self._lock = threading.Lock()

    def _offer(self) -> str | None:
        if self._file is not None:
            try:
                text = self._file.read_text(encoding="ascii").strip()
            except (OSError, UnicodeDecodeError):
                return None
            return text[:MAX_SECRET] or None
        return self._secret

    def pair(self, given: str) -> str | None:
        """The new cookie value if ``given`` is the current, unspent offer; else ``None``."""
        with self._lock:
            offer = self._offer()
            if offer is None or len(offer) < 16:
                return None
            digest = hashlib.sha256(offer.encode()).digest()
            if digest in self._spent or not hmac.compare_digest(
                given.encode("utf-8", "replace"), offer.encode()
            ):
                return None
            self._spent.add(digest)
            if self._file is not None:
                # Best effort: the secret is spent either way; removing it only tidies up.
                try:
                    self._file.unlink()
                except OSError:
                    pass
            self._cookie = secrets.token_urlsafe(32)
            return self._cookie

    def is_paired(self, cookie: str | None) -> bool:
        current = self._cookie
        if current is None or not cookie:
            return False
        return hmac.compare_digest(cookie.encode("utf-8", "replace"), current.encode())


def pairing() -> Pairing:
    return current_app.extensions["myna_pairing"]


def _refused() -> Response:
    body = '{"ok": false, "code": "NOT_PAIRED", "message_key": null, "params": {}}'
    return Response(body, status=403, mimetype="application/json")


@bp.get("/pair")
def pair() -> BaseResponse:
    given = request.args.get("s", "")[:MAX_SECRET]
    cookie = pairing().pair(given) if given else None
    if cookie is None:
        return _refused()
    nxt = request.args.get("next", "/")
    resp = redirect(nxt if nxt in NEXT_PAGES else "/", code=303)
    resp.set_cookie(PAIR_COOKIE, cookie, httponly=True, samesite="Strict", path="/")
    return resp


def _require_pairing() -> Response | None:
    if request.endpoint == "pairing.pair":
        return None
    if pairing().is_paired(request.cookies.get(PAIR_COOKIE)):
        return None
    return _refused()


def init_app(app: Flask) -> str | None:
    """Install the pairing check; returns the secret when this server made it up itself."""
    made_up = None
    secret = str(app.config.get("PAIRING_SECRET") or "")
    secret_file = app.config.get("PAIRING_FILE")
    if not secret and not secret_file:
        secret = made_up = secrets.token_urlsafe(32)
    app.extensions["myna_pairing"] = Pairing(secret, secret_file)
    app.before_request(_require_pairing)
    app.register_blueprint(bp)
    return made_up
