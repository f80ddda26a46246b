"""The audit trail: one JSON line per session, with no personal data (issue 4 §4, design §2).

A line carries times, flow, step timings, result code, assurance, reader, how the session ended,
and an HMAC-SHA256 of the certificate under a key kept in a file (created 0600 when missing), so
repeated taps of one card correlate without identifying it. Names, addresses, birth dates,
photos, My Numbers and credentials never reach this module: it copies only whitelisted fields.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import secrets
import threading
import time
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

KEY_BYTES = 32
MAX_KEY_FILE = 4096


def load_or_create_key(path: Path) -> bytes:
    """Read the HMAC key, or create a random one readable only by the owner."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    except FileNotFoundError:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        key = secrets.token_bytes(KEY_BYTES)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            return load_or_create_key(path)  # another process won the race
        with os.fdopen(fd, "wb") as f:
            f.write(key.hex().encode())
        logger.info("created audit HMAC key %s", path)
        return key
    with os.fdopen(fd, "rb") as f:
        raw = f.read(MAX_KEY_FILE + 1)
    if len(raw) > MAX_KEY_FILE:
        raise ValueError(f"audit key file {path} is too large")
    text = raw.strip()
    try:
        key = bytes.fromhex(text.decode("ascii"))
    except (UnicodeDecodeError, ValueError):
        key = text  # an operator-provided binary or passphrase key is fine too
    if len(key) < 16:
        raise ValueError(f"audit key file {path} holds fewer than 16 bytes")
    return key


def _iso(t: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + f".{int(t * 1000) % 1000:03d}Z"


class AuditLog:
    """Append-only JSON-lines writer; thread-safe. ``path=None`` keeps lines in memory only."""

    def __init__(self, path: Path | None, key: bytes) -> None:
        self._path = path
        self._key = key
        self._lock = threading.Lock()
        self.lines_written = 0
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)

    @property
    def path(self) -> Path | None:
        return self._path

    def card_ref(self, certificate_der: bytes | None, fallback: str | None = None) -> str | None:
        """Keyed hash that correlates taps of one card without identifying it."""
        material = certificate_der if certificate_der else (fallback or "").encode()
        if not material:
            return None
        return hmac.new(self._key, material, hashlib.sha256).hexdigest()

    def record(
        self,
        *,
        session_id: str,
        reader: str,
        flow: str,
        started: float,
        ended: float,
        end: str,
        attempts: int,
        steps: list[dict[str, Any]],
        verdict: dict[str, Any] | None,
        certificate_der: bytes | None,
        staff_id: str | None = None,
        staff_session: str | None = None,
    ) -> dict[str, Any]:
        """Build and append one line; returns it (tests inspect it)."""
        verdict = verdict or {}
        error = verdict.get("error") if isinstance(verdict.get("error"), dict) else None
        cert = verdict.get("certificate") if isinstance(verdict.get("certificate"), dict) else None
        serial = cert.get("serial") if cert else None
        raw_timings = verdict.get("timings_ms")
        timings: dict[str, Any] = raw_timings if isinstance(raw_timings, dict) else {}
        line = {
            "v": 1,
            "session": session_id,
            "start": _iso(started),
            "end": _iso(ended),
            "duration_ms": round((ended - started) * 1000, 1),
            "reader": reader,
            "flow": flow,
            "ended_by": end,
            "attempts": attempts,
            "ok": verdict.get("ok") if verdict else None,
            "result": (error or {}).get("code") if error else ("OK" if verdict.get("ok") else None),
            "tries_left": (error or {}).get("tries_left") if error else None,
            "assurance": [str(a) for a in verdict.get("assurance") or []][:8],
            "test_trust": bool(verdict.get("test_trust", False)),
            "card_ref": self.card_ref(certificate_der, serial if isinstance(serial, str) else None),
            "steps": {
                str(s.get("name"))[:40]: s.get("ms")
                for s in steps[:32]
                if isinstance(s.get("ms"), int | float)
            },
            "timings_ms": {
                str(k)[:40]: v for k, v in list(timings.items())[:32] if isinstance(v, int | float)
            },
            "staff_id": staff_id,  # who ran a staff-mode check (None on the unattended screen)
            "staff_session": staff_session,
        }
        self._append(line)
        return line

    def event(self, event: str, *, at: float | None = None, **fields: str | int | None
              ) -> dict[str, Any]:
        """Append one staff event line (sign-in, sign-out, lockout, unlock, My Number reveal):
        the event, the time and the given IDs only; never a password or a My Number."""
        line: dict[str, Any] = {"v": 1, "event": event, "time": _iso(time.time() if at is None
                                                                     else at)}
        line.update(fields)
        self._append(line)
        return line

    def _append(self, line: dict[str, Any]) -> None:
        text = json.dumps(line, ensure_ascii=False, separators=(",", ":"))
        with self._lock:
            if self._path is not None:
                fd = os.open(self._path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
                with os.fdopen(fd, "a", encoding="utf-8") as f:
                    f.write(text + "\n")
            self.lines_written += 1
