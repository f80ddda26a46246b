"""HTTP client for the agent's local API (docs/architecture.md, "Agent local API").

The kiosk UI talks to the agent only through this module. The bearer token is read on the
server side from the agent's token file (re-read when the file changes, so an agent restart
with a new token is picked up) and never reaches the browser. Every answer is parsed into
frozen dataclasses with bounded sizes; anything the agent cannot answer becomes
``AgentUnavailableError``, and a refused request becomes ``AgentRequestError`` carrying the
agent's stable error code (never its free-text message, which the UI does not show).
"""

from __future__ import annotations

import http.client
import json
import logging
import os
import socket
import threading
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

MAX_BODY = 4 * 1024 * 1024  # a face verdict carries a photo and two images (base64)
MAX_EVENT = 4 * 1024 * 1024
MAX_LINE = 4 * 1024 * 1024
STATES = frozenset(
    {
        "idle",
        "no_reader",
        "card_present",
        "awaiting_credential",
        "reading",
        "result",
        "error",
        "awaiting_removal",
    }
)


class AgentUnavailableError(Exception):
    """The agent did not answer (not running, restarting, wrong URL, malformed answer)."""


class AgentRequestError(Exception):
    """The agent answered but refused the request (4xx/5xx)."""

    def __init__(self, status: int, code: str) -> None:
        super().__init__(f"agent refused: HTTP {status} {code}")
        self.status = status
        self.code = code


@dataclass(frozen=True, slots=True)
class CredentialSpec:
    kind: str
    tries_left: int | None
    max_tries: int | None
    needs_confirmation: bool
    min_length: int
    max_length: int
    charset: str


@dataclass(frozen=True, slots=True)
class Step:
    name: str
    status: str
    ms: float | None


@dataclass(frozen=True, slots=True)
class ErrorInfo:
    code: str
    tries_left: int | None


@dataclass(frozen=True, slots=True)
class Snapshot:
    seq: int
    state: str
    session_id: str | None
    flow: str | None
    flows_enabled: tuple[str, ...]
    credential: CredentialSpec | None
    steps: tuple[Step, ...]
    verdict: dict[str, Any] | None = field(repr=False)
    error: ErrorInfo | None
    test_trust: bool
    demo: bool
    reader: str | None = None
    timeout_s: float | None = None  # the waiting state's window, restarted by activity
    ended: str | None = None  # why the last session ended ("timeout", "card_removed", ...)
    record_id: str | None = None  # the verification record of this check (staff reference)

    @classmethod
    def from_json(cls, data: object) -> Snapshot:
        """Parse one Snapshot; raises ``AgentUnavailableError`` on anything malformed."""
        try:
            return _parse_snapshot(data)
        except (KeyError, TypeError, ValueError, AttributeError) as e:
            raise AgentUnavailableError("malformed snapshot from agent") from e


def _opt_int(v: object) -> int | None:
    if v is None:
        return None
    if isinstance(v, bool) or not isinstance(v, int):
        raise TypeError("expected int")
    return v


def _opt_str(v: object, limit: int = 256) -> str | None:
    if v is None:
        return None
    if not isinstance(v, str) or len(v) > limit:
        raise TypeError("expected short str")
    return v


def _parse_snapshot(data: object) -> Snapshot:
    if not isinstance(data, dict):
        raise TypeError("snapshot is not an object")
    state = data["state"]
    if state not in STATES:
        raise ValueError("unknown state")
    cred = data.get("credential")
    spec = None
    if cred is not None:
        spec = CredentialSpec(
            kind=str(_opt_str(cred["kind"], 32)),
            tries_left=_opt_int(cred.get("tries_left")),
            max_tries=_opt_int(cred.get("max_tries")),
            needs_confirmation=bool(cred.get("needs_confirmation", False)),
            min_length=_opt_int(cred.get("min_length")) or 0,
            max_length=_opt_int(cred.get("max_length")) or 16,
            charset=_opt_str(cred.get("charset"), 32) or "",
        )
    steps = []
    for s in (data.get("steps") or [])[:32]:
        ms = s.get("ms")
        steps.append(
            Step(
                name=str(_opt_str(s["name"], 64)),
                status=str(_opt_str(s.get("status", "pending"), 16)),
                ms=float(ms) if isinstance(ms, int | float) and not isinstance(ms, bool) else None,
            )
        )
    err = data.get("error")
    error = None
    if err is not None:
        error = ErrorInfo(
            code=str(_opt_str(err["code"], 64)), tries_left=_opt_int(err.get("tries_left"))
        )
    verdict = data.get("verdict")
    if verdict is not None and not isinstance(verdict, dict):
        raise TypeError("verdict is not an object")
    flows = data.get("flows_enabled") or []
    return Snapshot(
        seq=_opt_int(data["seq"]) or 0,
        state=state,
        session_id=_opt_str(data.get("session_id"), 128),
        flow=_opt_str(data.get("flow"), 16),
        flows_enabled=tuple(str(f) for f in flows[:8]),
        credential=spec,
        steps=tuple(steps),
        verdict=verdict,
        error=error,
        test_trust=bool(data.get("test_trust", False)),
        demo=bool(data.get("demo", False)),
        reader=_opt_str(data.get("reader"), 256),
        timeout_s=_opt_seconds(data.get("timeout_s")),
        ended=_opt_str(data.get("ended"), 32),
        record_id=_opt_str(data.get("record_id"), 64),
    )


def _opt_seconds(v: object) -> float | None:
    if v is None:
        return None
    if isinstance(v, bool) or not isinstance(v, int | float) or not 0 <= v <= 86400:
        raise TypeError("expected seconds")
    return float(v)


class _UnixHTTPConnection(http.client.HTTPConnection):
    """HTTP over the agent's Unix-domain socket (``Host: localhost``)."""

    def __init__(self, path: str, timeout: float) -> None:
        super().__init__("localhost", timeout=timeout)
        self.path = path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        try:
            sock.connect(self.path)
        except OSError:
            sock.close()
            raise
        self.sock = sock


class AgentClient:
    """Talks to one agent at ``base_url`` (``unix:///run/myna-agent/agent.sock``, or
    ``http://127.0.0.1:8765`` in development); thread-safe."""

    def __init__(
        self,
        base_url: str,
        token_file: str | os.PathLike[str] | None = None,
        token: str | None = None,
        timeout_s: float = 5.0,
    ) -> None:
        url = urllib.parse.urlsplit(base_url)
        self.unix_path: str | None = None
        if url.scheme == "unix" and url.path.startswith("/"):
            self.unix_path, self.host, self.port, self.prefix = url.path, "localhost", 80, ""
        elif url.scheme == "http" and url.hostname:
            self.host = url.hostname
            self.port = url.port or 80
            self.prefix = url.path.rstrip("/")
        else:
            raise ValueError("agent URL must be unix:///path/to/socket or http://host:port")
        self.timeout_s = timeout_s
        self._token_file = Path(token_file).expanduser() if token_file else None
        self._token = token
        self._token_mtime: float | None = None
        self._lock = threading.Lock()

    # -- token ------------------------------------------------------------------------------
    def _bearer(self) -> str:
        if self._token_file is None:
            return self._token or ""
        with self._lock:
            try:
                mtime = self._token_file.stat().st_mtime
                if self._token is None or mtime != self._token_mtime:
                    self._token = self._token_file.read_text(encoding="ascii").strip()[:512]
                    self._token_mtime = mtime
            except (OSError, UnicodeDecodeError) as e:
                raise AgentUnavailableError("agent token file unreadable") from e
            return self._token or ""

    def _headers(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        h = {"Authorization": "Bearer " + self._bearer(), "Accept": "application/json"}
        if extra:
            h.update(extra)
        return h

    # -- plumbing ---------------------------------------------------------------------------
    def _connection(self) -> http.client.HTTPConnection:
        if self.unix_path is not None:
            return _UnixHTTPConnection(self.unix_path, self.timeout_s)
        return http.client.HTTPConnection(self.host, self.port, timeout=self.timeout_s)

    def _request(self, method: str, path: str, body: dict[str, Any] | None = None,
                 staff: dict[str, str] | None = None) -> Any:
        payload = None if body is None else json.dumps(body).encode()
        headers = self._headers(
            {"Content-Type": "application/json"} if payload is not None else None
        )
        headers.update(staff or {})  # the staff session and paired browser (kiosk_ui.staff)
        conn = self._connection()
        try:
            conn.request(method, self.prefix + path, body=payload, headers=headers)
            resp = conn.getresponse()
            raw = resp.read(MAX_BODY + 1)
        except (OSError, http.client.HTTPException) as e:
            raise AgentUnavailableError("agent not reachable") from e
        finally:
            conn.close()
        if len(raw) > MAX_BODY:
            raise AgentUnavailableError("agent answer too large")
        try:
            data = json.loads(raw) if raw else None
        except ValueError as e:
            raise AgentUnavailableError("agent answer is not JSON") from e
        if resp.status >= 400:
            code = "INTERNAL"
            if isinstance(data, dict):
                err = data.get("error", data)
                if isinstance(err, dict) and isinstance(err.get("code"), str):
                    code = err["code"][:64]
            if resp.status == 401:
                # A restarted agent writes a new token; force a re-read next time.
                self._token_mtime = None
                raise AgentUnavailableError("agent rejected the token")
            raise AgentRequestError(resp.status, code)
        return data

    # -- API --------------------------------------------------------------------------------
    def health(self) -> bool:
        data = self._request("GET", "/v1/health")
        return isinstance(data, dict) and data.get("ok") is True

    def state(self) -> Snapshot:
        return Snapshot.from_json(self._request("GET", "/v1/state"))

    def set_flow(self, flow: str, staff: dict[str, str] | None = None) -> Snapshot:
        return Snapshot.from_json(self._request("POST", "/v1/flow", {"flow": flow}, staff))

    def submit_credential(
        self, session_id: str, credential: str, confirm_last_try: bool, kind: str, seq: int,
        staff: dict[str, str] | None = None,
    ) -> Snapshot:
        """Send one credential typed on the entry screen for ``kind`` at snapshot ``seq``."""
        body = {
            "session_id": session_id,
            "credential": credential,
            "confirm_last_try": confirm_last_try,
            "kind": kind,
            "seq": seq,
        }
        return Snapshot.from_json(self._request("POST", "/v1/credential", body, staff))

    def staff_call(self, method: str, path: str, body: dict[str, Any] | None,
                   staff: dict[str, str]) -> Any:
        """One call to the agent's staff endpoints (``/v1/staff/*``, ``/v1/reveal``); raises
        ``AgentRequestError`` with the agent's code on a refusal (403, 429)."""
        if not (path.startswith("/v1/staff/") or path == "/v1/reveal"):
            raise ValueError("not a staff endpoint")
        return self._request(method, path, body, staff)

    def records_status(self) -> Any:
        """The agent's verification-record backlog (counts, oldest age); parsed by the caller."""
        return self._request("GET", "/v1/records/status")

    def activity(self, session_id: str) -> float:
        """The person is still there: restart the session's timer; returns seconds left."""
        data = self._request("POST", "/v1/activity", {"session_id": session_id})
        left = data.get("timeout_s") if isinstance(data, dict) else None
        try:
            seconds = _opt_seconds(left)
        except TypeError as e:
            raise AgentUnavailableError("malformed activity answer") from e
        if seconds is None:
            raise AgentUnavailableError("malformed activity answer")
        return seconds

    def cancel(self, session_id: str) -> Snapshot:
        return Snapshot.from_json(self._request("POST", "/v1/cancel", {"session_id": session_id}))

    def demo(self, method: str, action: str, body: dict[str, Any] | None = None) -> Any:
        if action not in {"insert", "remove", "fault", "personas"}:
            raise ValueError("unknown demo action")
        return self._request(method, "/v1/demo/" + action, body)

    def events(self, read_timeout_s: float = 40.0) -> Iterator[Snapshot | None]:
        """Yield snapshots from ``GET /v1/events``; ``None`` for each keepalive comment.

        The agent sends a keepalive every 5 s, so a read timeout well beyond that means the
        agent is gone: ``AgentUnavailableError``.
        """
        conn = self._connection()
        try:
            try:
                conn.connect()
                # The short timeout is for connecting only. Set the read timeout on the socket
                # now: once the agent's answer says "Connection: close", http.client hands the
                # socket to the response and ``conn.sock`` is None, so it can't be set later.
                conn.sock.settimeout(read_timeout_s)
                conn.request(
                    "GET",
                    self.prefix + "/v1/events",
                    headers=self._headers({"Accept": "text/event-stream"}),
                )
                resp = conn.getresponse()
            except (OSError, http.client.HTTPException) as e:
                raise AgentUnavailableError("agent not reachable") from e
            if resp.status != 200:
                if resp.status == 401:
                    self._token_mtime = None
                raise AgentUnavailableError("agent refused the event stream")
            data_lines: list[bytes] = []
            size = 0
            while True:
                try:
                    line = resp.readline(MAX_LINE + 1)
                except (OSError, http.client.HTTPException) as e:
                    raise AgentUnavailableError("event stream broken") from e
                if not line:
                    raise AgentUnavailableError("event stream ended")
                if len(line) > MAX_LINE:
                    raise AgentUnavailableError("event line too long")
                line = line.rstrip(b"\r\n")
                if not line:
                    if data_lines:
                        try:
                            obj = json.loads(b"\n".join(data_lines))
                        except ValueError as e:
                            raise AgentUnavailableError("event is not JSON") from e
                        data_lines, size = [], 0
                        yield Snapshot.from_json(obj)
                    continue
                if line.startswith(b":"):
                    yield None
                elif line.startswith(b"data:"):
                    chunk = line[5:].lstrip(b" ")
                    size += len(chunk)
                    if size > MAX_EVENT:
                        raise AgentUnavailableError("event too large")
                    data_lines.append(chunk)
                # "event:", "id:", "retry:" lines carry nothing we need.
        finally:
            conn.close()
