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
import json
import secrets
import threading
from pathlib import Path

from flask import Blueprint, Flask, Response, current_app, redirect, request
from werkzeug.wrappers import Response as BaseResponse

from kiosk_ui.private_state import write_private_json

PAIR_COOKIE = "kiosk_paired"
MAX_SECRET = 256
# Where a paired browser may be sent after /pair: the kiosk's own pages only.
NEXT_PAGES = ("/", "/staff", "/demo/")

bp = Blueprint("pairing", __name__)


def _digest(value: str) -> bytes:
    return hashlib.sha256(value.encode("utf-8", "replace")).digest()


class Pairing:
    """The current offer (one-time secret) and the one paired browser's cookie (its digest).

    With a ``state_file`` the pairing survives a restart of this server (the paired browser
    keeps working; a spent secret stays spent): it holds digests only, never a usable value.
    """

    def __init__(self, secret: str | None = None, secret_file: str | Path | None = None,
                 state_file: str | Path | None = None) -> None:
        self._secret = secret or None
        self._file = Path(secret_file) if secret_file else None
        self._state = Path(state_file) if state_file else None
        self._spent: set[bytes] = set()
        self._paired: bytes | None = None
        self._lock = threading.Lock()
        self._load()

    def _load(self) -> None:
        if self._state is None:
            return
        try:
            data = json.loads(self._state.read_text(encoding="ascii"))
            self._paired = bytes.fromhex(data["paired"]) if data.get("paired") else None
            self._spent = {bytes.fromhex(d) for d in data.get("spent", [])[-64:]}
        except (OSError, ValueError, TypeError, KeyError, AttributeError):
            return  # no pairing yet (or an unreadable one): the launcher pairs again

    def _save(self) -> None:
        if self._state is None:
            return
        data = {"paired": self._paired.hex() if self._paired else None,
                "spent": [d.hex() for d in list(self._spent)[-64:]]}
        write_private_json(self._state, data)

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
            digest = _digest(offer)
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
            cookie = secrets.token_urlsafe(32)
            self._paired = _digest(cookie)
            self._save()
            return cookie

    def is_paired(self, cookie: str | None) -> bool:
        current = self._paired
        if current is None or not cookie:
            return False
        return hmac.compare_digest(_digest(cookie[:MAX_SECRET]), current)


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
    app.extensions["myna_pairing"] = Pairing(secret, secret_file, app.config.get("PAIRING_STATE"))
    app.before_request(_require_pairing)
    app.register_blueprint(bp)
    return made_up
