"""A small fake of the agent's local API (docs/architecture.md, "Agent local API").

It implements the documented contract (bearer token, Snapshot JSON, SSE events, demo
endpoints) with a toy state machine and canned verdicts, so that the kiosk UI's unit tests run
fast and do not depend on the card stack. The browser tests use the real ``AgentService``.
"""

from __future__ import annotations

import base64
import io
import json
import queue
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from flask import Flask, Response, jsonify, request
from PIL import Image
from werkzeug.serving import make_server

TOKEN = "fake-token-0123456789"  # noqa: S105 - test fixture


def _jp2_b64() -> str:
    im = Image.new("RGB", (48, 64), (200, 160, 120))
    out = io.BytesIO()
    im.save(out, format="JPEG2000")
    return base64.b64encode(out.getvalue()).decode()


@dataclass
class FakePersona:
    name: str
    tries: int = 5
    outcome: str = "ok"  # ok | CERT_EXPIRED | CERT_REVOKED | POSSESSION_FAILED | UNSUPPORTED_CARD
    password: str = "MYNA2026"  # noqa: S105 - persona test data
    match_b: str = "55021720352285"


PERSONAS = {
    p.name: p
    for p in [
        FakePersona("yamada-taro"),
        FakePersona("sign-pin-1-left", tries=1),
        FakePersona("sign-pin-blocked", tries=0),
        FakePersona("expired-cert", outcome="CERT_EXPIRED"),
        FakePersona("revoked-cert", outcome="CERT_REVOKED"),
        FakePersona("cloned-card", outcome="POSSESSION_FAILED"),
        FakePersona("unknown-card", outcome="UNSUPPORTED_CARD"),
    ]
}

IDENTITY = {
    "name": "山田　太郎",
    "name_substitute": "00000",
    "address": "東京都千代田区霞が関二丁目1番2号",
    "address_substitute": "00000",
    "birth_date": "1980-02-17",
    "birth_era": {"code": 3, "name_ja": "昭和", "name_en": "Showa", "year": 55},
    "sex": {"code": "1", "label_ja": "男", "label_en": "male"},
    "extra": {},
}


class FakeAgent:
    def __init__(self, step_delay_s: float = 0.02) -> None:
        self.lock = threading.RLock()
        self.seq = 0
        self.state = "idle"
        self.flow = "sign"
        self.session_id: str | None = None
        self.persona: FakePersona | None = None
        self.tries = 0
        self.error: dict[str, Any] | None = None
        self.verdict: dict[str, Any] | None = None
        self.steps: list[dict[str, Any]] = []
        self.remove_after: int | None = None
        self.verify_count = 0
        self.step_delay_s = step_delay_s
        self.subscribers: list[queue.Queue[dict[str, Any] | None]] = []
        self.app = self._build()
        self.server: Any = None

    # ---- state -----------------------------------------------------------------------------
    def snapshot(self) -> dict[str, Any]:
        cred = None
        if self.state == "awaiting_credential":
            kind = "match_b" if self.flow == "face" else "sign_password"
            cred = {
                "kind": kind,
                "tries_left": self.tries,
                "max_tries": 5 if kind != "match_b" else 10,
                "needs_confirmation": self.tries == 1,
                "min_length": 14 if kind == "match_b" else 6,
                "max_length": 14 if kind == "match_b" else 16,
                "charset": "0-9",
            }
        return {
            "seq": self.seq,
            "state": self.state,
            "session_id": self.session_id,
            "reader": "fake",
            "flow": self.flow,
            "flows_enabled": ["sign", "auth", "face"],
            "credential": cred,
            "steps": self.steps,
            "verdict": self.verdict,
            "error": self.error,
            "test_trust": True,
            "demo": True,
        }

    def _set(self, state: str, **kw: Any) -> None:
        with self.lock:
            self.state = state
            for k, v in kw.items():
                setattr(self, k, v)
            self.seq += 1
            snap = self.snapshot()
            for q in list(self.subscribers):
                q.put(snap)

    def insert(self, name: str) -> None:
        p = PERSONAS[name]
        with self.lock:
            sid = f"s{self.seq + 1}"
            self._set("card_present", persona=p, session_id=sid, error=None, verdict=None, steps=[])
            if p.outcome == "UNSUPPORTED_CARD":
                self._set("error", error={"code": "UNSUPPORTED_CARD", "message": "x"})
            elif self.flow == "sign" and p.tries == 0:
                self._set("error", error={"code": "PIN_BLOCKED", "message": "x"})
            else:
                self.tries = p.tries if self.flow == "sign" else 10
                self._set("awaiting_credential")

    def remove(self) -> None:
        self._set("idle", persona=None, session_id=None, error=None, verdict=None, steps=[])

    def run(self, credential: str) -> None:
        p = self.persona
        assert p is not None
        names = ["select", "verify_pin", "read_certificate", "verify_chain", "possession"]
        for i in range(len(names)):
            if self.remove_after is not None and i >= self.remove_after:
                self.remove_after = None
                self.remove()
                return
            self._set(
                "reading",
                steps=[
                    {
                        "name": m,
                        "status": "done" if j < i else "running" if j == i else "pending",
                        "ms": 1.0,
                    }
                    for j, m in enumerate(names)
                ],
            )
            time.sleep(self.step_delay_s)
        good = credential == (p.match_b if self.flow == "face" else p.password)
        if not good:
            self.tries -= 1
            if self.tries == 0:
                self._set("error", error={"code": "PIN_BLOCKED", "message": "x"})
            else:
                self._set(
                    "awaiting_credential",
                    error={"code": "PIN_INVALID", "message": "x", "tries_left": self.tries},
                )
            return
        if p.outcome != "ok":
            self._set(
                "error",
                error={"code": p.outcome, "message": "x"},
                verdict={"ok": False, "identity": None, "error": {"code": p.outcome}},
            )
            return
        ident = dict(IDENTITY)
        if self.flow == "face":
            ident.update(
                photo_jp2_b64=_jp2_b64(),
                name_png_b64=None,
                address_png_b64=None,
                card_expiry="2035-02-17",
                verified=True,
            )
        self._set(
            "result",
            error=None,
            verdict={
                "ok": True,
                "flow": self.flow,
                "test_trust": True,
                "identity": ident,
                "assurance": ["chain", "possession"]
                + (["record-signature"] if self.flow == "face" else []),
                "certificate": {
                    "serial": "01",
                    "not_after": "2030-03-31T14:59:59Z",
                    "issuer_generation": "test",
                },
                "error": None,
                "timings_ms": {},
            },
        )

    # ---- HTTP ------------------------------------------------------------------------------
    def _build(self) -> Flask:
        app = Flask("fake_agent")

        @app.before_request
        def auth() -> Any:
            if request.headers.get("Authorization") != "Bearer " + TOKEN:
                return jsonify({"error": {"code": "UNAUTHORIZED", "message": "token"}}), 401
            return None

        @app.get("/v1/health")
        def health() -> Any:
            return jsonify({"ok": True, "version": "fake"})

        @app.get("/v1/state")
        def state() -> Any:
            with self.lock:
                return jsonify(self.snapshot())

        @app.get("/v1/events")
        def events() -> Response:
            q: queue.Queue[dict[str, Any] | None] = queue.Queue()
            with self.lock:
                q.put(self.snapshot())
                self.subscribers.append(q)

            def stream() -> Iterator[str]:
                try:
                    while True:
                        try:
                            snap = q.get(timeout=1.0)
                        except queue.Empty:
                            yield ": keepalive\n\n"
                            continue
                        if snap is None:
                            return
                        yield (
                            "event: snapshot\ndata: "
                            + json.dumps(snap, ensure_ascii=False)
                            + "\n\n"
                        )
                finally:
                    self.subscribers.remove(q)

            return Response(stream(), mimetype="text/event-stream")

        @app.post("/v1/flow")
        def flow() -> Any:
            body = request.get_json()
            with self.lock:
                if self.state not in ("idle", "awaiting_credential"):
                    return jsonify({"error": {"code": "BUSY", "message": "busy"}}), 409
                self._set(self.state, flow=body["flow"])
                return jsonify(self.snapshot())

        @app.post("/v1/credential")
        def credential() -> Any:
            body = request.get_json()
            with self.lock:
                if self.state != "awaiting_credential" or body["session_id"] != self.session_id:
                    return jsonify({"error": {"code": "BUSY", "message": "busy"}}), 409
                self.verify_count += 1
                self._set("reading", error=None, steps=[])
                threading.Thread(target=self.run, args=(body["credential"],), daemon=True).start()
                return jsonify(self.snapshot()), 202

        @app.post("/v1/cancel")
        def cancel() -> Any:
            with self.lock:
                if self.persona is not None:
                    self._set("awaiting_removal", verdict=None, error=None, steps=[])
                return jsonify(self.snapshot())

        @app.post("/v1/demo/insert")
        def demo_insert() -> Any:
            self.insert(request.get_json()["persona"])
            return jsonify(self.snapshot())  # as the real agent answers

        @app.post("/v1/demo/remove")
        def demo_remove() -> Any:
            self.remove()
            return jsonify(self.snapshot())  # as the real agent answers

        @app.post("/v1/demo/fault")
        def demo_fault() -> Any:
            self.remove_after = request.get_json().get("remove_after_apdus")
            return jsonify(self.snapshot())  # as the real agent answers

        @app.get("/v1/demo/personas")
        def demo_personas() -> Any:
            return jsonify(
                [
                    {
                        "name": p.name,
                        "description": "",
                        "credentials": {"sign_password": p.password, "match_b": p.match_b},
                    }
                    for p in PERSONAS.values()
                ]
            )

        return app

    def start(self) -> FakeAgent:
        self.server = make_server("127.0.0.1", 0, self.app, threaded=True)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_port}"

    def stop(self) -> None:
        with self.lock:
            for q in self.subscribers:
                q.put(None)
        self.server.shutdown()
        self.server.server_close()
