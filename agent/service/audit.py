"""The audit trail: one JSON line per event, chained and keyed so that tampering shows.

A line carries times, flow, step timings, result code, assurance, reader, how the session ended,
and an HMAC-SHA256 of the certificate under a secret key, so repeated taps of one card
correlate without identifying it. Names, addresses, birth dates, photos, My Numbers and
credentials never reach this module: it copies only whitelisted fields.

Tamper evidence: every line has a sequence number ``seq`` (1, 2, 3, ...) and ends with
``"mac":"<hex>"``, the HMAC of the previous line's MAC followed by the exact bytes of this line
without its MAC. Editing, deleting, inserting or reordering a line breaks the chain at that line,
and ``verify_log`` (``myna audit verify``) names the first one that does not check. The key must
live apart from the log (a systemd credential, or a file only the agent can read), so that
whoever can write the log cannot forge a chain. Each line is fsynced before ``record`` returns;
a failed write raises ``AuditWriteError`` and the session machine then refuses new taps.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import re
import secrets
import stat
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

KEY_BYTES = 32
MAX_KEY_FILE = 4096
MAX_LINE_BYTES = 64 * 1024
CHAIN_START = bytes(32)  # the "previous MAC" of line 1
# systemd's LoadCredential= puts the key here; it wins over the configured key file.
CREDENTIAL_NAME = "myna-audit-key"
_TAIL_BYTES = 4 * MAX_LINE_BYTES
_MAC_SUFFIX = re.compile(rb'^(?P<body>\{.*),"mac":"(?P<mac>[0-9a-f]{64})"\}$')


class AuditWriteError(OSError):
    """The line could not be made durable: nothing may be shown without its trace."""


def key_path_for(configured: Path, environ: dict[str, str] | None = None) -> Path:
    """The systemd credential when the unit passes one, else the configured key file."""
    env = os.environ if environ is None else environ
    cred_dir = env.get("CREDENTIALS_DIRECTORY")
    if cred_dir:
        candidate = Path(cred_dir) / CREDENTIAL_NAME
        if candidate.is_file():
            return candidate
    return configured


def load_or_create_key(path: Path) -> bytes:
    """Read the HMAC key, or create a random one readable only by the owner."""
    try:
        return read_key(path)
    except FileNotFoundError:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        key = secrets.token_bytes(KEY_BYTES)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            return load_or_create_key(path)  # another process won the race
        with os.fdopen(fd, "wb") as f:
            f.write(key.hex().encode())
            f.flush()
            os.fsync(f.fileno())
        logger.info("created audit HMAC key %s", path)
        return key


def read_key(path: Path) -> bytes:
    """Read an existing HMAC key (hex, or raw bytes of at least 16)."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
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


def _chain_mac(key: bytes, previous_mac: bytes, body: bytes) -> bytes:
    return hmac.new(key, previous_mac + body, hashlib.sha256).digest()


def _seal(key: bytes, previous_mac: bytes, body: bytes) -> tuple[bytes, bytes]:
    """``body`` is a JSON object's bytes; returns (the full line without newline, its MAC)."""
    mac = _chain_mac(key, previous_mac, body)
    return body[:-1] + b',"mac":"' + mac.hex().encode() + b'"}', mac


@dataclass(frozen=True, slots=True)
class ChainReport:
    """What ``verify_log`` found: ``ok`` with the line count, or the first broken line."""

    lines: int
    broken_line: int | None = None
    reason: str = ""

    @property
    def ok(self) -> bool:
        return self.broken_line is None


def _lines(data: bytes) -> Iterator[tuple[int, bytes, bool]]:
    """(line number, bytes without newline, whether the newline was there)."""
    number = 0
    start = 0
    while start < len(data):
        number += 1
        end = data.find(b"\n", start)
        if end < 0:
            yield number, data[start:], False
            return
        yield number, data[start:end], True
        start = end + 1


def verify_log(path: Path, key: bytes) -> ChainReport:
    """Check every line's sequence number and chained MAC; stop at the first that fails."""
    data = path.read_bytes()
    previous = CHAIN_START
    count = 0
    for number, raw, complete in _lines(data):
        if not complete:
            return ChainReport(count, number, "last line is incomplete (write interrupted?)")
        m = _MAC_SUFFIX.match(raw)
        if m is None:
            return ChainReport(count, number, "not an audit line (no MAC)")
        body = m.group("body") + b"}"
        try:
            seq = json.loads(body).get("seq")
        except (ValueError, AttributeError):
            return ChainReport(count, number, "not valid JSON")
        if seq != number:
            return ChainReport(count, number, f"sequence number {seq!r}, expected {number}")
        mac = _chain_mac(key, previous, body)
        if not hmac.compare_digest(mac.hex().encode(), m.group("mac")):
            return ChainReport(count, number, "MAC does not match (line changed, or one before "
                                              "it removed or reordered, or wrong key)")
        previous = mac
        count += 1
    return ChainReport(count)


def _tail_state(path: Path) -> tuple[int, bytes, bool]:
    """(last seq, last MAC, ends with newline) of an existing log, to continue its chain."""
    try:
        if not stat.S_ISREG(os.stat(path).st_mode):
            return 0, CHAIN_START, True  # a device or pipe (a log collector) has no tail to read
        with open(path, "rb") as f:
            size = f.seek(0, os.SEEK_END)
            f.seek(max(0, size - _TAIL_BYTES))
            tail = f.read(_TAIL_BYTES)
    except FileNotFoundError:
        return 0, CHAIN_START, True
    if not tail:
        return 0, CHAIN_START, True
    for raw in reversed(tail.splitlines()):
        m = _MAC_SUFFIX.match(raw)
        if m is None:
            continue
        try:
            seq = json.loads(m.group("body") + b"}").get("seq")
        except (ValueError, AttributeError):
            continue
        if isinstance(seq, int):
            return seq, bytes.fromhex(m.group("mac").decode()), tail.endswith(b"\n")
    raise AuditWriteError(f"audit log {path} has no chained line to continue from")


class AuditLog:
    """Append-only JSON-lines writer; thread-safe. ``path=None`` keeps lines in memory only."""

    def __init__(self, path: Path | None, key: bytes) -> None:
        self._path = path
        self._key = key
        self._lock = threading.Lock()
        self.lines_written = 0
        self._seq = 0
        self._previous_mac = CHAIN_START
        self._needs_newline = False
        self._failed: AuditWriteError | None = None
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            self._seq, self._previous_mac, complete = _tail_state(path)
            self._needs_newline = not complete

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
        """Build, chain and durably append one line; returns it (tests inspect it).

        :raises AuditWriteError: the line is not on disk (disk full, read-only, removed dir).
        """
        verdict = verdict or {}
        error = verdict.get("error") if isinstance(verdict.get("error"), dict) else None
        cert = verdict.get("certificate") if isinstance(verdict.get("certificate"), dict) else None
        serial = cert.get("serial") if cert else None
        raw_timings = verdict.get("timings_ms")
        timings: dict[str, Any] = raw_timings if isinstance(raw_timings, dict) else {}
        line: dict[str, Any] = {
            "v": 2,
            "seq": 0,  # set under the lock
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
        return self._write_line(line)

    def event(self, event: str, *, at: float | None = None, **fields: str | int | None
              ) -> dict[str, Any]:
        """Append one staff event line (sign-in, sign-out, lockout, unlock, My Number reveal):
        the event, the time and the given IDs only; never a password or a My Number."""
        line: dict[str, Any] = {"v": 2, "seq": 0, "event": event,
                                "time": _iso(time.time() if at is None else at)}
        line.update(fields)
        return self._write_line(line)

    def _write_line(self, line: dict[str, Any]) -> dict[str, Any]:
        """Number, chain and durably append ``line``; returns it with its ``seq`` and ``mac``.

        :raises AuditWriteError: the line is not on disk (disk full, read-only, removed dir).
        """
        with self._lock:
            line["seq"] = self._seq + 1
            body = json.dumps(line, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
            sealed, mac = _seal(self._key, self._previous_mac, body)
            if self._path is not None:
                self._append(sealed)
            self._seq += 1
            self._previous_mac = mac
            self.lines_written += 1
        line["mac"] = mac.hex()
        return line

    def _append(self, sealed: bytes) -> None:
        assert self._path is not None
        if self._failed is not None:
            # A failed write may have left part of a line: never glue a new one onto it.
            raise self._failed
        prefix = b"\n" if self._needs_newline else b""  # close a line cut by a crash
        data = prefix + sealed + b"\n"
        try:
            fd = os.open(self._path, os.O_WRONLY | os.O_APPEND | os.O_CREAT
                         | getattr(os, "O_NOFOLLOW", 0), 0o600)
            try:
                written = os.write(fd, data)
                if written != len(data):
                    raise OSError(f"short write ({written} of {len(data)} bytes)")
                os.fsync(fd)
            finally:
                os.close(fd)
        except OSError as e:
            self._failed = AuditWriteError(f"audit line not written to {self._path}: {e}")
            raise self._failed from e
        self._needs_newline = False
