"""The kiosk screens: one page per mode, a live event relay and the three actions.

The page (``/`` for unattended use, ``/staff`` for the ``face`` flow) is one document whose
screens the script switches from agent snapshots. ``/events`` relays the agent's SSE stream
(``GET /v1/events``) with the bearer token added here; each snapshot is reduced to the view
the browser needs (``viewmodel.view``). Credentials are validated here before anything
reaches the agent (card-protocol.md §5, §7.3: 4-digit PINs, 6–16 ``[A-Z0-9]`` signature
password folded to upper case, 14-digit 照合番号B), and a per-session guard makes sure one
rendered entry screen can send a credential at most once, however often it is submitted.
"""

from __future__ import annotations

import json
import logging
import re
import threading
from collections import OrderedDict
from collections.abc import Iterator
from typing import Any

from flask import Blueprint, Response, current_app, jsonify, render_template, request

from kiosk_ui.agent_client import AgentClient, AgentRequestError, AgentUnavailableError
from kiosk_ui.messages import all_catalogs, catalog, staff_text
from kiosk_ui.staff import staff_headers
from kiosk_ui.staff_calls import StaffCalls
from kiosk_ui.viewmodel import view
from kiosk_ui.voice import page_voice

log = logging.getLogger(__name__)
bp = Blueprint("screens", __name__)

FLOWS = ("sign", "auth", "face", "number")
_MAX_RAW = 64
# Used with fullmatch: "^…$" would let a trailing newline through ("$" matches before it).
_DIGITS = re.compile(r"[0-9]+")
_UPPER_ALNUM = re.compile(r"[A-Z0-9]+")
_SESSION_ID = re.compile(r"[A-Za-z0-9_-]{1,128}")


class _SentGuard:
    """Remembers, per agent session, the newest entry screen (snapshot seq) already answered."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self._sent: OrderedDict[str, int] = OrderedDict()

    def already_sent(self, session_id: str, seq: int) -> bool:
        last = self._sent.get(session_id)
        return last is not None and seq <= last

    def record(self, session_id: str, seq: int) -> None:
        self._sent[session_id] = seq
        self._sent.move_to_end(session_id)
        while len(self._sent) > 64:
            self._sent.popitem(last=False)


@bp.record_once
def _open_staff_calls(state: Any) -> None:
    state.app.extensions["myna_staff_calls"] = StaffCalls(
        state.app.config.get("STAFF_CALLS_STATE"))


def _staff_calls() -> StaffCalls:
    calls: StaffCalls = current_app.extensions["myna_staff_calls"]
    return calls


def _agent() -> AgentClient:
    return current_app.extensions["myna_agent"]


def _guard() -> _SentGuard:
    return current_app.extensions.setdefault("myna_sent_guard", _SentGuard())


def _fail(status: int, code: str, key: str | None = None, **params: Any) -> tuple[Response, int]:
    return jsonify({"ok": False, "code": code, "message_key": key, "params": params}), status


def validate_credential(kind: str, raw: object) -> tuple[str | None, str | None, dict[str, Any]]:
    """Return ``(value, None, {})`` or ``(None, message_key, params)``.

    The value is never logged.
    """
    if not isinstance(raw, str):
        return None, "input.bad_request", {}
    if len(raw) > _MAX_RAW:
        return None, "input.too_long", {}
    if not raw.isascii():
        key = "input.charset.sign_password" if kind == "sign_password" else "input.charset.digits"
        return None, key, {}
    if kind == "sign_password":
        value = raw.upper()  # §7.3: the card compares bytes; hosts fold to upper case
        if not _UPPER_ALNUM.fullmatch(value):
            return None, "input.charset.sign_password", {}
        if len(value) < 6:
            return None, "input.too_short", {}
        if len(value) > 16:
            return None, "input.too_long", {}
        return value, None, {}
    if not _DIGITS.fullmatch(raw):
        return None, "input.charset.digits", {}
    if kind == "match_b":
        if len(raw) != 14:
            return None, "input.match_b_length", {"n": len(raw)}
        return raw, None, {}
    if kind in ("auth_pin", "input_helper_pin"):
        if len(raw) < 4:
            return None, "input.too_short", {}
        if len(raw) > 4:
            return None, "input.too_long", {}
        return raw, None, {}
    return None, "input.bad_request", {}


def _page(mode: str) -> str:
    ja = catalog("ja")
    return render_template(
        "kiosk.html",
        mode=mode,
        want_flow="face" if mode == "staff" else current_app.config["UNATTENDED_FLOW"] or "",
        catalogs=json.dumps(all_catalogs(), ensure_ascii=False),
        # A printed record leaves out the photo unless configured (MYNA_KIOSK_PRINT_PHOTO).
        print_photo=bool(current_app.config.get("PRINT_PHOTO", False)),
        voice=page_voice(mode),
        # Japanese text in the HTML itself, before the script runs; staff wording on /staff.
        t=(lambda key: staff_text(ja, key)) if mode == "staff" else ja.__getitem__,
    )


@bp.get("/")
def unattended() -> str:
    return _page("unattended")


@bp.get("/staff")
def staff() -> str:
    return _page("staff")


@bp.get("/api/state")
def state() -> tuple[Response, int] | Response:
    try:
        return jsonify(view(_agent().state()))
    except AgentUnavailableError:
        return _fail(503, "UNAVAILABLE", "unavailable.title")


@bp.get("/events")
def events() -> Response:
    if request.method == "HEAD":  # headers only: no relay (and no agent stream) for nobody
        return Response(mimetype="text/event-stream")
    client = _agent()
    retry = int(current_app.config["SSE_RETRY_MS"])
    # The server says when the browser has gone: the relay (and its agent stream) ends then.
    gone = request.environ.get("waitress.client_disconnected", lambda: False)

    def stream() -> Iterator[str]:
        yield f"retry: {retry}\n\n"
        try:
            for snap in client.events():
                if gone():
                    return
                if snap is None:
                    yield ": keepalive\n\n"
                    continue
                yield (
                    "event: snapshot\ndata: " + json.dumps(view(snap), ensure_ascii=False) + "\n\n"
                )
        except AgentUnavailableError:
            log.info("agent event stream unavailable")
            yield "event: unavailable\ndata: {}\n\n"

    return Response(stream(), mimetype="text/event-stream", headers={"X-Accel-Buffering": "no"})


def _json_body() -> dict[str, Any] | None:
    body = request.get_json(silent=True)
    return body if isinstance(body, dict) else None


@bp.post("/api/flow")
def set_flow() -> tuple[Response, int] | Response:
    body = _json_body()
    if body is None or body.get("flow") not in FLOWS:
        return _fail(400, "INPUT", "input.bad_request")
    try:
        return jsonify(view(_agent().set_flow(body["flow"], staff_headers())))
    except AgentUnavailableError:
        return _fail(503, "UNAVAILABLE", "unavailable.title")
    except AgentRequestError as e:
        return _fail(e.status if e.status in (403, 409) else 400, e.code)


@bp.post("/api/credential")
def credential() -> tuple[Response, int] | Response:
    body = _json_body()
    if body is None:
        return _fail(400, "INPUT", "input.bad_request")
    sid, seq, confirm = body.get("session_id"), body.get("seq"), body.get("confirm_last_try", False)
    kind = body.get("kind")
    if (
        not isinstance(sid, str)
        or not _SESSION_ID.fullmatch(sid)
        or not isinstance(seq, int)
        or isinstance(seq, bool)
        or not isinstance(confirm, bool)
        or not isinstance(kind, str)
    ):
        return _fail(400, "INPUT", "input.bad_request")
    client, guard = _agent(), _guard()
    # One lock around check-and-send: two submits of one screen can never both reach the agent.
    with guard.lock:
        try:
            snap = client.state()
        except AgentUnavailableError:
            return _fail(503, "UNAVAILABLE", "unavailable.title")
        if snap.session_id != sid or seq > snap.seq:
            return _fail(409, "STALE_SESSION", "stale.title")
        if guard.already_sent(sid, seq):
            return _fail(409, "DUPLICATE", "input.duplicate")
        if snap.state != "awaiting_credential" or snap.credential is None:
            return _fail(409, "BUSY", "input.duplicate")
        # One credential, one screen: only the entry screen on show now (this very snapshot,
        # this credential kind) may send; anything older was typed for something else.
        if seq != snap.seq or snap.credential.kind != kind:
            return _fail(409, "STALE_SESSION", "stale.title")
        value, key, params = validate_credential(snap.credential.kind, body.get("credential"))
        if value is None:
            return _fail(400, "INPUT", key, **params)
        if snap.credential.needs_confirmation and not confirm:
            return _fail(400, "INPUT", "input.needs_confirmation")
        try:
            after = client.submit_credential(sid, value, confirm, kind, seq, staff_headers())
        except AgentUnavailableError:
            return _fail(503, "UNAVAILABLE", "unavailable.title")
        except AgentRequestError as e:
            if e.status == 403:  # the agent wants a signed-in staff member (kiosk_ui.staff)
                return _fail(403, e.code, "staff.required")
            return _fail(409 if e.status == 409 else 400, e.code)
        finally:
            # Sent or not, this screen's credential is spent: an unknown outcome must not be
            # retried (design §1, PIN safety).
            guard.record(sid, max(seq, snap.seq))
        return jsonify(view(after)), 202


@bp.post("/api/cancel")
def cancel() -> tuple[Response, int] | Response:
    body = _json_body()
    sid = body.get("session_id") if body else None
    if not isinstance(sid, str) or not _SESSION_ID.fullmatch(sid):
        return _fail(400, "INPUT", "input.bad_request")
    try:
        return jsonify(view(_agent().cancel(sid)))
    except AgentUnavailableError:
        return _fail(503, "UNAVAILABLE", "unavailable.title")
    except AgentRequestError as e:
        return _fail(409, e.code)


@bp.post("/api/activity")
def activity() -> tuple[Response, int] | Response:
    """Typing, or 延長する: the agent restarts the waiting screen's timer."""
    body = _json_body()
    sid = body.get("session_id") if body else None
    if not isinstance(sid, str) or not _SESSION_ID.fullmatch(sid):
        return _fail(400, "INPUT", "input.bad_request")
    try:
        return jsonify({"ok": True, "timeout_s": _agent().activity(sid)})
    except AgentUnavailableError:
        return _fail(503, "UNAVAILABLE", "unavailable.title")
    except AgentRequestError as e:
        return _fail(409, e.code)


@bp.post("/api/call-staff")
def call_staff() -> Response:
    """The person at the unattended screen asks for help; the staff screen shows it."""
    log.info("help requested at the kiosk")
    return jsonify({"ok": True, "id": _staff_calls().call()})


@bp.get("/api/staff-calls")
def staff_calls() -> Response:
    return jsonify({"calls": _staff_calls().open_calls()})


@bp.post("/api/staff-calls/answer")
def answer_staff_call() -> tuple[Response, int] | Response:
    body = _json_body()
    number = body.get("id") if body else None
    if not isinstance(number, int) or isinstance(number, bool):
        return _fail(400, "INPUT", "input.bad_request")
    _staff_calls().answer(number)
    return jsonify({"ok": True})


@bp.app_errorhandler(403)
def forbidden(_e: Exception) -> tuple[Response, int]:
    return _fail(403, "CSRF", "input.session_expired")


@bp.app_errorhandler(413)
def too_large(_e: Exception) -> tuple[Response, int]:
    return _fail(413, "INPUT", "input.too_long")
