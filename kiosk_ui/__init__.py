"""The Flask kiosk UI: screens for the holder and for staff, fed by the agent's local API.

``create_app(test_config=None)`` is the one place the app is built (the Flask tutorial's
shape): defaults, then ``MYNA_KIOSK_*`` environment, then the test config; then the agent
client goes into ``app.extensions["myna_agent"]``; then the security hooks and blueprints.
This package imports nothing from ``card`` or ``agent`` (docs/architecture.md, Rules): the
agent is reached over HTTP only and its bearer token stays on this server. Only the one
paired browser is served (``kiosk_ui.pairing``).
"""

from __future__ import annotations

import secrets
from typing import Any

from flask import Flask

from kiosk_ui.agent_client import AgentClient


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    app = Flask(__name__)
    app.config.from_mapping(
        SECRET_KEY=secrets.token_bytes(32),  # per process: a restart invalidates old tabs
        AGENT_URL="http://127.0.0.1:8765",
        AGENT_TOKEN_FILE="~/.local/state/myna/agent.token",  # noqa: S106 - a path
        AGENT_TOKEN=None,
        UNATTENDED_FLOW="sign",  # the flow the unattended screen asks the agent for (design §1)
        DEMO=False,
        DEMO_PERSONA="yamada-taro",
        SSE_RETRY_MS=1000,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Strict",
        SESSION_COOKIE_NAME="kiosk_csrf",
        MAX_CONTENT_LENGTH=8 * 1024,
        PAIRING_SECRET=None,  # the one-time secret of /pair (kiosk_ui/pairing.py) ...
        PAIRING_FILE=None,  # ... or the file the launcher writes it to
        PAIRING_STATE=None,  # where the pairing (digests only) survives a restart
        STAFF_CALLS_STATE=None,  # where open calls for staff survive a restart (None: memory)
        VOICE_DIR=None,  # built by `myna voice build DIR` (kiosk_ui/voice.py); None = no voice
        VOICE_VOLUME=1.0,  # 0 turns voice off
    )
    app.config.from_prefixed_env("MYNA_KIOSK")
    if test_config:
        app.config.from_mapping(test_config)
    client = app.config.get("AGENT_CLIENT")
    if client is None:
        client = AgentClient(
            app.config["AGENT_URL"],
            token_file=None if app.config["AGENT_TOKEN"] else app.config["AGENT_TOKEN_FILE"],
            token=app.config["AGENT_TOKEN"],
        )
    app.extensions["myna_agent"] = client

    from kiosk_ui import demo_panel, pairing, screens, security, staff, voice

    security.init_app(app)
    app.config["PAIRING_SECRET_MADE_UP"] = pairing.init_app(app)
    app.register_blueprint(screens.bp)
    app.register_blueprint(staff.bp)
    voice.init_app(app)
    if app.config["DEMO"]:
        app.register_blueprint(demo_panel.bp)
    return app
