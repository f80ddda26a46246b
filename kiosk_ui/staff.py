"""Staff sign-in on ``/staff``: the kiosk server's side of the agent's staff sessions.

The browser sends the staff ID and password once, here; this server passes them to the agent
(``POST /v1/staff/login``) and keeps the staff session token it gets back on the server, keyed
by this browser's id, so the token never reaches the page. Every later request from that
browser carries the token and the browser id to the agent (``staff_headers``), and the agent
decides: the page only shows what it is allowed to. The browser id lives in the signed session
cookie (HttpOnly, SameSite=Strict); once a paired-browser id exists, that id is the one to bind.
Sign-in attempts are passed on one at a time, so a flood waits instead of piling up.
"""

from __future__ import annotations

import json
import logging
import secrets
import threading
from collections import OrderedDict
from datetime import UTC, datetime, timedelta
from typing import Any

from flask import Blueprint, Response, current_app, jsonify, request, session

from kiosk_ui.agent_client import AgentClient, AgentRequestError, AgentUnavailableError
from kiosk_ui.staff_messages import STAFF_CATALOGS

log = logging.getLogger(__name__)
bp = Blueprint("staff", __name__)

MAX_STAFF_ID = 32
MAX_PASSWORD = 64
_SESSION_ID_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-")


class StaffTokens:
    """Staff session tokens by browser id, in this process only (a restart signs staff out)."""

    def __init__(self, limit: int = 64) -> None:
        self._lock = threading.Lock()
        self._tokens: OrderedDict[str, str] = OrderedDict()
        self._limit = limit
        self.login_lock = threading.Lock()

    def get(self, browser: str) -> str | None:
        with self._lock:
            return self._tokens.get(browser)

    def put(self, browser: str, token: str) -> None:
        with self._lock:
            self._tokens[browser] = token
            self._tokens.move_to_end(browser)
            while len(self._tokens) > self._limit:
                self._tokens.popitem(last=False)

    def drop(self, browser: str) -> None:
        with self._lock:
            self._tokens.pop(browser, None)


def _tokens() -> StaffTokens:
    return current_app.extensions.setdefault("myna_staff_tokens", StaffTokens())


def _agent() -> AgentClient:
    return current_app.extensions["myna_agent"]


def browser_id() -> str:
    """This browser's id (created on first use, kept in the session cookie)."""
    bid = session.get("browser")
    if not isinstance(bid, str):
        bid = secrets.token_urlsafe(18)
        session["browser"] = bid
    return bid


def staff_headers() -> dict[str, str]:
    """What the agent needs to know who is asking: the browser, and its staff session if any."""
    bid = browser_id()
    token = _tokens().get(bid)
    headers = {"X-Myna-Browser": bid}
    if token:
        headers["X-Myna-Staff"] = token
    return headers


def _fail(status: int, code: str, key: str, **params: Any) -> tuple[Response, int]:
    return jsonify({"ok": False, "code": code, "message_key": key, "params": params}), status


def _refused(e: AgentRequestError) -> tuple[Response, int]:
    if e.code in ("STAFF_REQUIRED",):
        _tokens().drop(browser_id())  # the agent ended it (idle, disabled, locked)
    key = {"STAFF_LOGIN_FAILED": "staff.login_failed", "STAFF_LOCKED": "staff.locked",
           "STAFF_RETRY_LATER": "staff.retry_later", "STAFF_REQUIRED": "staff.required",
           "STAFF_FORBIDDEN": "staff.forbidden",
           "STAFF_PASSWORD_WRONG": "staff.password_wrong", "BUSY": "staff.no_result",
           "NOT_FOUND": "staff.not_found"}.get(e.code, "staff.unavailable")
    status = e.status if e.status in (403, 404, 409, 429) else 400
    return _fail(status, e.code if key != "staff.unavailable" else "INTERNAL", key)


def _call(method: str, path: str, body: dict[str, Any] | None = None
          ) -> Any | tuple[Response, int]:
    try:
        return _agent().staff_call(method, path, body, staff_headers())
    except AgentUnavailableError:
        return _fail(503, "UNAVAILABLE", "staff.unavailable")
    except AgentRequestError as e:
        return _refused(e)


def _body() -> dict[str, Any]:
    data = request.get_json(silent=True)
    return data if isinstance(data, dict) else {}


@bp.app_context_processor
def staff_context() -> dict[str, Any]:
    return {"staff_catalogs": json.dumps(STAFF_CATALOGS, ensure_ascii=False),
            "st": STAFF_CATALOGS["ja"].__getitem__}


@bp.post("/staff/api/login")
def login() -> Any:
    data = _body()
    staff_id, password = data.get("staff_id"), data.get("password")
    if (not isinstance(staff_id, str) or not isinstance(password, str)
            or not 0 < len(staff_id) <= MAX_STAFF_ID or not 0 < len(password) <= MAX_PASSWORD):
        return _fail(403, "STAFF_LOGIN_FAILED", "staff.login_failed")
    bid = browser_id()
    with _tokens().login_lock:  # one attempt at a time reaches the agent
        _tokens().drop(bid)
        try:
            answer = _agent().staff_call(
                "POST", "/v1/staff/login", {"staff_id": staff_id, "password": password},
                {"X-Myna-Browser": bid})
        except AgentUnavailableError:
            return _fail(503, "UNAVAILABLE", "staff.unavailable")
        except AgentRequestError as e:
            return _refused(e)
        finally:
            del password
            data.clear()
    if not isinstance(answer, dict) or not isinstance(answer.get("token"), str):
        return _fail(503, "UNAVAILABLE", "staff.unavailable")
    _tokens().put(bid, answer["token"])
    return jsonify({"ok": True, "staff": answer.get("staff")})


@bp.post("/staff/api/login/card")
def login_card() -> Any:
    """Sign in with the member's own card: the ``auth`` result on screen now is the proof."""
    bid = browser_id()
    with _tokens().login_lock:
        try:
            snap = _agent().state()
            if snap.session_id is None or snap.flow != "auth" or snap.state != "result":
                return _fail(403, "STAFF_LOGIN_FAILED", "staff.login_failed")
            answer = _agent().staff_call("POST", "/v1/staff/login/card",
                                         {"session_id": snap.session_id},
                                         {"X-Myna-Browser": bid})
        except AgentUnavailableError:
            return _fail(503, "UNAVAILABLE", "staff.unavailable")
        except AgentRequestError as e:
            return _refused(e)
    if not isinstance(answer, dict) or not isinstance(answer.get("token"), str):
        return _fail(503, "UNAVAILABLE", "staff.unavailable")
    _tokens().put(bid, answer["token"])
    return jsonify({"ok": True, "staff": answer.get("staff")})


@bp.post("/staff/api/logout")
def logout() -> Any:
    result = _call("POST", "/v1/staff/logout", {})
    _tokens().drop(browser_id())
    if isinstance(result, tuple):
        return result
    return jsonify({"ok": True})


@bp.get("/staff/api/me")
def me() -> Any:
    if _tokens().get(browser_id()) is None:
        return jsonify({"ok": True, "signed_in": False})
    result = _call("GET", "/v1/staff/me")
    if isinstance(result, tuple):
        return jsonify({"ok": True, "signed_in": False}) if result[1] == 403 else result
    return jsonify({"ok": True, "signed_in": True, "staff": result})


@bp.get("/staff/api/records")
def records_status() -> Any:
    """The verification records waiting to leave this kiosk (counts and oldest age only), for
    the indicator in the signed-in staff bar."""
    if _tokens().get(browser_id()) is None:
        return _fail(403, "STAFF_REQUIRED", "staff.required")
    try:
        raw = _agent().records_status()
    except AgentUnavailableError:
        return _fail(503, "UNAVAILABLE", "staff.unavailable")
    except AgentRequestError as e:
        return _refused(e)
    return jsonify({"ok": True, "records": records_view(raw)})


def records_view(raw: Any) -> dict[str, Any]:
    """Only bounded counts, an age and the receiver's https record page (a URL template) leave
    this function, whatever the agent sent."""
    if not isinstance(raw, dict) or raw.get("enabled") is not True:
        return {"enabled": False}

    def count(key: str) -> int:
        v = raw.get(key)
        return v if isinstance(v, int) and not isinstance(v, bool) and 0 <= v < 10**9 else 0

    age = raw.get("oldest_age_s")
    minutes = (int(age // 60) if isinstance(age, int | float) and not isinstance(age, bool)
               and 0 <= age < 10**9 else None)
    view: dict[str, Any] = {"enabled": True, "pending": count("pending"), "dead": count("dead"),
                            "quarantined": count("quarantined"), "oldest_age_min": minutes}
    viewer = raw.get("viewer_url")
    if (isinstance(viewer, str) and viewer.startswith("https://") and len(viewer) <= 512
            and viewer.count("{record_id}") == 1):
        view["viewer_url"] = viewer  # the record panel links its record id there
    return view


@bp.post("/staff/api/touch")
def touch() -> Any:
    result = _call("POST", "/v1/staff/touch", {})
    return result if isinstance(result, tuple) else jsonify({"ok": True, "staff": result})


@bp.get("/staff/api/accounts")
def accounts() -> Any:
    result = _call("GET", "/v1/staff/accounts")
    return result if isinstance(result, tuple) else jsonify({"ok": True, "accounts": result})


@bp.post("/staff/api/unlock")
def unlock() -> Any:
    staff_id = _body().get("staff_id")
    if not isinstance(staff_id, str) or not 0 < len(staff_id) <= MAX_STAFF_ID:
        return _fail(400, "INPUT", "staff.unavailable")
    result = _call("POST", "/v1/staff/unlock", {"staff_id": staff_id})
    return result if isinstance(result, tuple) else jsonify({"ok": True})


@bp.get("/staff/api/report")
def report() -> Any:
    days = request.args.get("days", "30")
    since = datetime.now(UTC) - timedelta(days=int(days) if days.isdigit() and
                                          0 < int(days) <= 3660 else 30)
    result = _call("GET", f"/v1/staff/report?since={since.date().isoformat()}")
    return result if isinstance(result, tuple) else jsonify({"ok": True, "report": result})


@bp.post("/api/reveal")
def reveal() -> Any:
    """The My Number of the ``number`` result on screen, only from the agent and only for the
    signed-in member who ran it, after they type their password again (design §2). The number
    travels only in this POST's no-store JSON answer; it is never logged."""
    data = _body()
    sid, password = data.get("session_id"), data.get("password")
    if (data.get("mode") != "staff" or not isinstance(sid, str) or not 0 < len(sid) <= 128
            or not set(sid) <= _SESSION_ID_CHARS or not isinstance(password, str)
            or not 0 < len(password) <= MAX_PASSWORD):
        return _fail(400, "INPUT", "input.bad_request")
    result = _call("POST", "/v1/reveal", {"session_id": sid, "password": password})
    del password
    data.clear()
    if isinstance(result, tuple):
        return result
    number = result.get("my_number") if isinstance(result, dict) else None
    if not (isinstance(number, str) and len(number) == 12 and number.isdigit()):
        return _fail(409, "STALE_SESSION", "stale.title")
    return jsonify({"ok": True, "my_number": number})
