"""The demo panel (``/demo``): insert/remove the virtual card, pick a persona, inject faults.

Registered only when the app runs with ``DEMO=True`` (``myna demo``), and kept visually and
structurally apart from the kiosk screen. It relays to the agent's ``/v1/demo/*`` endpoints,
which a non-demo agent answers with 404. Personas are the emulator's fictional test people,
so showing their credentials here is the point of the panel, not a leak.
"""

from __future__ import annotations

import re
from typing import Any

from flask import Blueprint, Response, current_app, jsonify, render_template, request

from kiosk_ui.agent_client import (
    AgentClient,
    AgentRequestError,
    AgentUnavailableError,
    Snapshot,
)
from kiosk_ui.viewmodel import view

bp = Blueprint("demo", __name__, url_prefix="/demo")

_PERSONA = re.compile(r"^[a-z0-9-]{1,64}$")
# Faults fields (docs/architecture.md, emulator API) and their accepted types.
_FAULTS: dict[str, type] = {
    "remove_after_apdus": int,
    "latency_s": float,
    "bitrate": int,
    "garbage_after_apdus": int,
    "truncate_after_apdus": int,
    "internal_error_after_power_on": bool,
}


def _agent() -> AgentClient:
    return current_app.extensions["myna_agent"]


def _relay(method: str, action: str, body: dict[str, Any] | None = None) -> tuple[Response, int]:
    try:
        answer = _agent().demo(method, action, body)
        if action != "personas":
            # The agent answers with its full snapshot: the panel gets the kiosk's own view of
            # it, never more (no My Number, nothing the kiosk screen would not show).
            answer = view(Snapshot.from_json(answer))
        return jsonify(answer), 200
    except AgentUnavailableError:
        return jsonify({"ok": False, "code": "UNAVAILABLE"}), 503
    except AgentRequestError as e:
        return jsonify({"ok": False, "code": e.code}), e.status


@bp.get("/")
def panel() -> str:
    return render_template("demo.html", persona=current_app.config["DEMO_PERSONA"])


@bp.get("/api/personas")
def personas() -> tuple[Response, int]:
    return _relay("GET", "personas")


@bp.post("/api/insert")
def insert() -> tuple[Response, int]:
    body = request.get_json(silent=True)
    name = body.get("persona") if isinstance(body, dict) else None
    if not isinstance(name, str) or not _PERSONA.match(name):
        return jsonify({"ok": False, "code": "INPUT"}), 400
    return _relay("POST", "insert", {"persona": name})


@bp.post("/api/remove")
def remove() -> tuple[Response, int]:
    return _relay("POST", "remove", {})


@bp.post("/api/fault")
def fault() -> tuple[Response, int]:
    body = request.get_json(silent=True)
    if not isinstance(body, dict) or not body:
        return jsonify({"ok": False, "code": "INPUT"}), 400
    clean: dict[str, Any] = {}
    for key, value in body.items():
        kind = _FAULTS.get(key)
        if kind is None:
            return jsonify({"ok": False, "code": "INPUT"}), 400
        if value is None:
            clean[key] = None
        elif (
            kind is bool
            and isinstance(value, bool)
            or (
                kind is int
                and isinstance(value, int)
                and not isinstance(value, bool)
                and 0 <= value <= 100000
            )
        ):
            clean[key] = value
        elif (
            kind is float
            and isinstance(value, int | float)
            and not isinstance(value, bool)
            and 0 <= value <= 10
        ):
            clean[key] = float(value)
        else:
            return jsonify({"ok": False, "code": "INPUT"}), 400
    return _relay("POST", "fault", clean)
