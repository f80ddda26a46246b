"""The agent's staff endpoints: sign-in, sign-out, the signed-in member, supervisor actions and
the My Number reveal (docs/architecture.md, "Staff sessions").

The kiosk server forwards the staff session token in ``X-Myna-Staff`` and the id of its paired
browser in ``X-Myna-Browser``; a session started with a browser id answers only to that id. All
staff refusals are 403 (429 while a sign-in delay runs) with a stable code, so the kiosk never
mistakes them for a wrong bearer token (401). Every sign-in, sign-out, lockout, unlock and
reveal writes an audit line with the staff ID and session, never a password or a number.
"""

from __future__ import annotations

import contextlib
import logging
from typing import Any, Protocol

from flask import Flask, Response, request

from agent.service.audit import AuditLog
from agent.service.session import BusyError, SessionController, StaffRequiredError
from agent.staff import (
    LoginFailedError,
    LoginLockedError,
    LoginRetryLaterError,
    Role,
    StaffAuthenticator,
    StaffSession,
    StaffSessionError,
    StaffSessions,
    StaffStore,
)
from agent.staff.authenticator import MAX_FAILURES
from agent.staff.report import build_report, parse_since

logger = logging.getLogger(__name__)

STAFF_HEADER = "X-Myna-Staff"
BROWSER_HEADER = "X-Myna-Browser"
MAX_BROWSER_ID = 128


class StaffHost(Protocol):
    controller: SessionController
    audit: AuditLog
    staff_store: StaffStore
    staff_auth: StaffAuthenticator
    staff_sessions: StaffSessions


def browser_id() -> str | None:
    value = request.headers.get(BROWSER_HEADER)
    return value[:MAX_BROWSER_ID] if value else None


def current_staff(host: StaffHost) -> StaffSession | None:
    """The valid staff session of this request, or None (missing, expired, another browser's)."""
    try:
        return host.staff_sessions.resolve(request.headers.get(STAFF_HEADER), browser_id())
    except StaffSessionError:
        return None


def require_staff(host: StaffHost, *, supervisor: bool = False,
                  my_number: bool = False) -> StaffSession:
    """:raises StaffRequiredError: no valid session, or not the role/permission asked for."""
    staff = current_staff(host)
    if staff is None:
        raise StaffRequiredError("STAFF_REQUIRED", "staff sign-in required")
    if (supervisor and staff.role is not Role.SUPERVISOR) or (my_number and not staff.my_number):
        raise StaffRequiredError("STAFF_FORBIDDEN", "this staff account may not do that")
    return staff


def register_staff_routes(app: Flask, host: StaffHost, body: Any, as_json: Any,
                          error: Any) -> None:
    """Add the staff routes; ``body``, ``as_json`` and ``error`` are the API's own helpers."""
    sessions, auth, store, audit = (host.staff_sessions, host.staff_auth, host.staff_store,
                                    host.audit)

    def login_refused(e: LoginFailedError, staff_id: str) -> Response:
        known = store.get(staff_id) is not None
        # An unknown ID is not written down: it may be a password typed into the wrong field.
        audit.event("staff_sign_in_failed", staff_id=staff_id if known else None,
                    reason=e.code)
        if isinstance(e, LoginLockedError) and known:
            sessions.end_staff(staff_id, "locked")
        resp = error(429 if isinstance(e, LoginRetryLaterError) else 403, e.code,
                     "sign-in refused")
        if isinstance(e, LoginRetryLaterError):
            resp.headers["Retry-After"] = str(max(1, round(e.retry_after_s)))
        return resp

    @app.post("/v1/staff/login")
    def staff_login() -> Response:
        data = body({"staff_id": str, "password": str}, ("staff_id", "password"))
        staff_id, password = data.pop("staff_id"), data.pop("password")
        try:
            account = auth.authenticate(staff_id, password)
        except LoginFailedError as e:
            return login_refused(e, staff_id)
        finally:
            del password
        token, session = sessions.start(account, browser_id())
        audit.event("staff_signed_in", staff_id=account.staff_id, staff_session=session.ref)
        logger.info("staff %s signed in", account.staff_id)
        return as_json({"token": token, "staff": session.to_json(sessions.idle_s)})

    @app.post("/v1/staff/login/card")
    def staff_login_card() -> Response:
        """Sign in with one's own My Number card: the ``auth`` flow (PIN, chain, possession)
        just succeeded on this tap, and its card reference is registered to an account."""
        data = body({"session_id": str}, ("session_id",))
        ref = host.controller.card_reference_of(data["session_id"])
        account = store.find_card(ref) if ref else None
        if account is None or not account.enabled or account.failed >= MAX_FAILURES:
            audit.event("staff_sign_in_failed", staff_id=account.staff_id if account else None,
                        reason="CARD")
            return error(403, "STAFF_LOGIN_FAILED", "sign-in refused")
        token, session = sessions.start(account, browser_id())
        with contextlib.suppress(BusyError):  # the card may have left already
            host.controller.cancel(data["session_id"])  # nothing of the staff card stays
        audit.event("staff_signed_in", staff_id=account.staff_id, staff_session=session.ref,
                    method="card")
        return as_json({"token": token, "staff": session.to_json(sessions.idle_s)})

    @app.post("/v1/staff/logout")
    def staff_logout() -> Response:
        body({}, ())
        sessions.end(request.headers.get(STAFF_HEADER), browser_id())
        return as_json({"ok": True})

    @app.get("/v1/staff/me")
    def staff_me() -> Response:
        return as_json(require_staff(host).to_json(sessions.idle_s))

    @app.post("/v1/staff/touch")
    def staff_touch() -> Response:
        body({}, ())
        return as_json(require_staff(host).to_json(sessions.idle_s))

    @app.get("/v1/staff/accounts")
    def staff_accounts() -> Response:
        require_staff(host, supervisor=True)
        return as_json([a.to_json() for a in store.list()])

    @app.post("/v1/staff/unlock")
    def staff_unlock() -> Response:
        staff = require_staff(host, supervisor=True)
        data = body({"staff_id": str}, ("staff_id",))
        if store.get(data["staff_id"]) is None:
            return error(404, "NOT_FOUND", "no such staff ID")
        store.unlock(data["staff_id"])
        audit.event("staff_unlocked", staff_id=data["staff_id"], by=staff.staff_id,
                    staff_session=staff.ref)
        return as_json({"ok": True})

    @app.get("/v1/staff/report")
    def staff_report() -> Response:
        require_staff(host, supervisor=True)
        try:
            since = parse_since(request.args.get("since", "")[:40])
        except ValueError:
            return error(400, "BAD_REQUEST", "since wants YYYY-MM-DD")
        return as_json(build_report(audit.path, since).to_json())

    @app.post("/v1/reveal")
    def reveal() -> Response:
        staff = require_staff(host, my_number=True)
        data = body({"session_id": str, "password": str}, ("session_id", "password"))
        password = data.pop("password")
        account = store.get(staff.staff_id)
        try:
            ok = account is not None and auth.check_password(account, password)
        except LoginLockedError as e:
            return login_refused(e, staff.staff_id)
        finally:
            del password
        if not ok:
            audit.event("staff_sign_in_failed", staff_id=staff.staff_id, reason="REVEAL_PASSWORD")
            return error(403, "STAFF_PASSWORD_WRONG", "wrong password")
        number = host.controller.reveal_my_number(data["session_id"], staff)
        audit.event("reveal", staff_id=staff.staff_id, staff_session=staff.ref,
                    session=data["session_id"])
        logger.info("My Number revealed to staff %s", staff.staff_id)  # never the number
        return as_json({"my_number": number})
