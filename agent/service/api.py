"""The agent's local JSON API and live events for the kiosk UI (issue 4 §3, docs/architecture.md).

``create_api(service)`` is the one place the Flask app is built. Every request must name the
agent by a loopback name and its own port in ``Host`` (a DNS-rebound name is refused), must not
come from a browser page of another origin (``Origin``, ``Sec-Fetch-Site``), and needs
``Authorization: Bearer <token>`` (constant-time comparison); bodies are at most 4 KiB (413),
must be a JSON object (400) with only the documented fields (400). Refused requests change
nothing. ``/v1/events`` streams snapshots as Server-Sent Events: the first event is the current
snapshot, then one per change, with ``: keepalive`` comments while idle. Credentials are read
from one POST body, handed to the session worker and not kept here.
"""

from __future__ import annotations

import hmac
import json
import logging
import queue
from collections.abc import Callable, Iterator
from typing import Any, Protocol

from flask import Flask, Response, request
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from agent import __version__
from agent.service.events import TooManySubscribersError
from agent.service.session import (
    BusyError,
    FlowNotEnabledError,
    SessionController,
    StaffRequiredError,
    StaleScreenError,
)
from agent.service.staff_api import StaffHost, current_staff, register_staff_routes

logger = logging.getLogger(__name__)

MAX_BODY = 4096
LOOPBACK_NAMES = ("127.0.0.1", "localhost", "[::1]")
MAX_FIELD = 128
KEEPALIVE_S = 5.0  # well inside any relay's or proxy's read timeout


class DemoControl(Protocol):
    """What the demo endpoints drive (an ``EmulatedReader`` and its virtual card)."""

    def insert(self, persona: str) -> None: ...
    def remove(self) -> None: ...
    def fault(self, **faults: Any) -> None: ...
    def personas(self) -> list[dict[str, Any]]: ...


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        self.status = status
        self.code = code
        self.message = message
        super().__init__(message)


def _json(body: Any, status: int = 200) -> Response:
    resp = Response(json.dumps(body, ensure_ascii=False), status=status,
                    mimetype="application/json")
    resp.headers["Cache-Control"] = "no-store"
    return resp


def _error(status: int, code: str, message: str) -> Response:
    return _json({"error": {"code": code, "message": message}}, status)


def _foreign_request() -> bool:
    """True unless the request names this agent (loopback name, own port) and no other origin.

    The agent's only client is the kiosk server, which sends no ``Origin``; a browser's
    request always carries one, or at least ``Sec-Fetch-Site``, so either must say it is this
    very origin.
    """
    host = request.headers.get("Host", "").lower()
    port = str(request.environ.get("SERVER_PORT", ""))
    names = {f"{name}:{port}" for name in LOOPBACK_NAMES}
    if port == "80":  # HTTP clients leave the default port out of Host
        names.update(LOOPBACK_NAMES)
    if not port.isdigit():  # the Unix socket (its path): clients name it "localhost"
        names = {"localhost"}
    if host not in names:
        return True
    origin = request.headers.get("Origin")
    if origin is not None and origin.lower() != "http://" + host:
        return True
    return request.headers.get("Sec-Fetch-Site", "same-origin") != "same-origin"


def _body(allowed: dict[str, type | tuple[type, ...]], required: tuple[str, ...]) -> dict[str, Any]:
    """Read, bound and strictly check the JSON object body of this request."""
    length = request.content_length
    if length is not None and length > MAX_BODY:
        raise ApiError(413, "TOO_LARGE", f"request body larger than {MAX_BODY} bytes")
    try:
        raw = request.get_data(cache=False)
    except RequestEntityTooLarge as e:
        raise ApiError(413, "TOO_LARGE", f"request body larger than {MAX_BODY} bytes") from e
    if len(raw) > MAX_BODY:
        raise ApiError(413, "TOO_LARGE", f"request body larger than {MAX_BODY} bytes")
    try:
        data = json.loads(raw.decode("utf-8")) if raw else {}
    except (UnicodeDecodeError, ValueError, RecursionError) as e:
        # RecursionError: nested deeper than the interpreter's limit; still only bad JSON.
        raise ApiError(400, "BAD_REQUEST", "body is not valid JSON") from e
    if not isinstance(data, dict):
        raise ApiError(400, "BAD_REQUEST", "body must be a JSON object")
    unknown = sorted(set(data) - set(allowed))
    if unknown:
        raise ApiError(400, "BAD_REQUEST", f"unknown field(s): {', '.join(unknown)[:200]}")
    for name in required:
        if name not in data:
            raise ApiError(400, "BAD_REQUEST", f"missing field: {name}")
    for name, value in data.items():
        kinds = allowed[name]
        # bool is an int: never accept true where a number is meant, or 1 where a bool is.
        wants_bool = kinds is bool or (isinstance(kinds, tuple) and bool in kinds)
        if isinstance(value, bool) != wants_bool:
            raise ApiError(400, "BAD_REQUEST", f"field {name} has the wrong type")
        if not isinstance(value, kinds):
            raise ApiError(400, "BAD_REQUEST", f"field {name} has the wrong type")
        if isinstance(value, str) and len(value) > MAX_FIELD:
            raise ApiError(400, "BAD_REQUEST", f"field {name} is too long")
    return data


class ApiHost(StaffHost, Protocol):
    controller: SessionController
    token: str
    demo: DemoControl | None


def create_api(host: ApiHost, *, keepalive_s: float = KEEPALIVE_S,
               test_config: dict[str, Any] | None = None) -> Flask:
    """Build the API app for one running service."""
    app = Flask("agent.service.api")
    app.config.update(MAX_CONTENT_LENGTH=MAX_BODY, JSON_AS_ASCII=False)
    if test_config:
        app.config.update(test_config)
    expected = f"Bearer {host.token}".encode()
    controller = host.controller

    @app.before_request
    def authenticate() -> Response | None:
        if _foreign_request():
            return _error(403, "FOREIGN_ORIGIN", "not this agent's host or origin")
        given = request.headers.get("Authorization", "").encode("utf-8", "replace")
        if not hmac.compare_digest(given, expected):
            return _error(401, "UNAUTHORIZED", "missing or wrong token")
        return None

    @app.errorhandler(ApiError)
    def api_error(e: ApiError) -> Response:
        return _error(e.status, e.code, e.message)

    @app.errorhandler(HTTPException)
    def http_error(e: HTTPException) -> Response:
        code = {404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED", 413: "TOO_LARGE"}.get(
            e.code or 500, "BAD_REQUEST")
        return _error(e.code or 500, code, e.name)

    @app.errorhandler(BusyError)
    def busy(e: BusyError) -> Response:
        return _error(409, "BUSY", str(e))

    @app.errorhandler(StaffRequiredError)
    def staff_required(e: StaffRequiredError) -> Response:
        return _error(403, e.code, str(e))

    @app.errorhandler(StaleScreenError)
    def stale_screen(e: StaleScreenError) -> Response:
        return _error(409, "STALE_SESSION", str(e))

    @app.errorhandler(FlowNotEnabledError)
    def flow_disabled(e: FlowNotEnabledError) -> Response:
        return _error(400, "FLOW_DISABLED", "that flow is not enabled on this kiosk")

    @app.get("/v1/health")
    def health() -> Response:
        return _json({"ok": True, "version": __version__})

    @app.get("/v1/state")
    def state() -> Response:
        return _json(controller.snapshot())

    @app.get("/v1/records/status")
    def records_status() -> Response:
        """The outbox's backlog for the staff screen: counts and the oldest age, never a
        record's content."""
        keeper = getattr(host, "records", None)
        if keeper is None:
            return _json({"enabled": False})
        viewer = {"viewer_url": keeper.viewer_url} if keeper.viewer_url else {}
        return _json({"enabled": True, **keeper.stats().to_json(), **viewer})

    @app.get("/v1/events")
    def events() -> Response:
        if request.method == "HEAD":  # headers only: a stream nobody reads must hold no slot
            return Response(mimetype="text/event-stream", headers={"Cache-Control": "no-store"})
        try:
            sub = controller.subscribe()
        except TooManySubscribersError:
            return _error(503, "BUSY", "too many event streams")

        # waitress tells a stream its client has gone (it keeps reading the connection): the
        # slot is freed within a second instead of at the next failed write.
        gone: Callable[[], bool] = request.environ.get(
            "waitress.client_disconnected", lambda: False)

        def stream() -> Iterator[str]:
            try:
                yield "retry: 1000\n\n"
                quiet = 0.0
                while True:
                    tick = min(1.0, keepalive_s)
                    try:
                        snap = sub.get(timeout=tick)
                    except queue.Empty:
                        if gone():
                            return
                        quiet += tick
                        if quiet >= keepalive_s:
                            quiet = 0.0
                            yield ": keepalive\n\n"
                        continue
                    quiet = 0.0
                    if snap is None:
                        return
                    yield f"event: snapshot\ndata: {json.dumps(snap, ensure_ascii=False)}\n\n"
            finally:
                sub.close()

        resp = Response(stream(), mimetype="text/event-stream")
        resp.headers["Cache-Control"] = "no-store"
        resp.headers["X-Accel-Buffering"] = "no"
        return resp

    @app.post("/v1/flow")
    def set_flow() -> Response:
        data = _body({"flow": str}, ("flow",))
        return _json(controller.set_flow(data["flow"], staff=current_staff(host)))

    @app.post("/v1/credential")
    def credential() -> Response:
        data = _body({"session_id": str, "credential": str, "confirm_last_try": bool,
                      "kind": str, "seq": int}, ("session_id", "credential"))
        snap = controller.submit_credential(
            data.pop("session_id"), data.pop("credential"), bool(data.get("confirm_last_try")),
            staff=current_staff(host), kind=data.get("kind"), seq=data.get("seq"))
        data.clear()  # design §2: nothing here keeps the credential
        return _json(snap, 202)

    @app.post("/v1/activity")
    def activity() -> Response:
        data = _body({"session_id": str}, ("session_id",))
        return _json({"ok": True, "timeout_s": controller.extend(data["session_id"])})

    @app.post("/v1/cancel")
    def cancel() -> Response:
        data = _body({"session_id": str}, ("session_id",))
        return _json(controller.cancel(data["session_id"]))

    register_staff_routes(app, host, _body, _json, _error)

    def demo_only() -> DemoControl:
        if host.demo is None:
            raise ApiError(404, "NOT_FOUND", "not a demo agent")
        return host.demo

    @app.post("/v1/demo/insert")
    def demo_insert() -> Response:
        demo = demo_only()
        data = _body({"persona": str}, ("persona",))
        _demo_call(lambda: demo.insert(data["persona"]))
        return _json(controller.snapshot())

    @app.post("/v1/demo/remove")
    def demo_remove() -> Response:
        demo = demo_only()
        _body({}, ())
        _demo_call(demo.remove)
        return _json(controller.snapshot())

    @app.post("/v1/demo/fault")
    def demo_fault() -> Response:
        demo = demo_only()
        data = _body(
            {"remove_after_apdus": (int, type(None)), "latency_s": (int, float),
             "bitrate": (int, type(None)), "garbage_after_apdus": (int, type(None)),
             "truncate_after_apdus": (int, type(None)), "internal_error_after_power_on": bool},
            (),
        )
        for name, value in data.items():
            if isinstance(value, int | float) and not isinstance(value, bool) and not (
                    0 <= value <= 1_000_000):
                raise ApiError(400, "BAD_REQUEST", f"field {name} is out of range")
        if float(data.get("latency_s", 0)) > 5:
            raise ApiError(400, "BAD_REQUEST", "field latency_s is out of range (max 5 s)")
        _demo_call(lambda: demo.fault(**data))
        return _json(controller.snapshot())

    @app.get("/v1/demo/personas")
    def demo_personas() -> Response:
        return _json(demo_only().personas())

    return app


def _demo_call(fn: Callable[[], None]) -> None:
    try:
        fn()
    except KeyError as e:
        raise ApiError(400, "BAD_REQUEST", "unknown persona") from e
    except (ValueError, TypeError) as e:
        raise ApiError(400, "BAD_REQUEST", "bad demo request") from e
