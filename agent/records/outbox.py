"""The durable, encrypted outbox: every record waits here until the receiver acknowledges it.

SQLite in the records state directory, WAL with ``synchronous=FULL`` so a committed row survives
power loss. Each payload (the record's JWS) is sealed with AES-256-GCM under a 0600 key file,
with the record id as associated data, so a row cannot be moved under another id and the file
alone reveals nobody. Rows are ``pending`` (to send, oldest first), ``dead`` (the receiver
refused it with a 4xx: kept, counted, retried only on ``myna records retry``) or ``quarantined``
(its bytes no longer decrypt: reported, never sent). Nothing is ever deleted except on the
receiver's 2xx or an explicit ``purge --dead``.
"""

from __future__ import annotations

import logging
import os
import shutil
import sqlite3
import threading
import time
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from agent.records.files import load_or_create_secret

logger = logging.getLogger(__name__)
KEY_BYTES = 32
NONCE_BYTES = 12
# Room a commit needs beyond the payload (pages for the index, WAL frames): a tap is refused
# before any PIN when less than this is left, so a finished check always finds room.
HEADROOM_BYTES = 1024 * 1024

_SCHEMA = """
CREATE TABLE IF NOT EXISTS outbox (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    record_id TEXT NOT NULL UNIQUE,
    created REAL NOT NULL,
    state TEXT NOT NULL DEFAULT 'pending'
        CHECK (state IN ('pending', 'dead', 'quarantined')),
    attempts INTEGER NOT NULL DEFAULT 0,
    next_try REAL NOT NULL DEFAULT 0,
    last_error TEXT,
    size INTEGER NOT NULL,
    nonce BLOB NOT NULL,
    payload BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS outbox_state_seq ON outbox (state, seq);
"""


class RowState(StrEnum):
    PENDING = "pending"
    DEAD = "dead"
    QUARANTINED = "quarantined"


class OutboxFullError(Exception):
    """No room for another record (max_pending, max_bytes or the disk): RECORDS_BACKLOG."""


@dataclass(frozen=True, slots=True)
class Row:
    """One row as ``myna records list`` shows it (no payload, no identity)."""

    seq: int
    record_id: str
    created: float
    state: str
    attempts: int
    next_try: float
    last_error: str | None
    size: int

    def to_json(self, now: float | None = None) -> dict[str, Any]:
        now = time.time() if now is None else now
        return {"record_id": self.record_id, "age_s": round(max(0.0, now - self.created), 1),
                "state": self.state, "attempts": self.attempts, "size": self.size,
                "last_error": self.last_error}


@dataclass(frozen=True, slots=True)
class Due:
    """The oldest pending row, decrypted: what the sender posts next."""

    record_id: str
    jws: str
    attempts: int
    next_try: float


@dataclass(frozen=True, slots=True)
class Stats:
    pending: int
    dead: int
    quarantined: int
    bytes: int
    oldest_created: float | None

    def to_json(self, now: float | None = None) -> dict[str, Any]:
        now = time.time() if now is None else now
        age = None if self.oldest_created is None else round(now - self.oldest_created, 1)
        return {"pending": self.pending, "dead": self.dead, "quarantined": self.quarantined,
                "bytes": self.bytes, "oldest_age_s": age}


class Outbox:
    """Thread-safe: the session thread adds, the sender thread reads and deletes."""

    def __init__(self, state_dir: Path, *, max_pending: int, max_bytes: int,
                 max_page_count: int | None = None) -> None:
        self.state_dir = Path(state_dir).expanduser()
        self.state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.path = self.state_dir / "outbox.sqlite3"
        self.max_pending = max_pending
        self.max_bytes = max_bytes
        self._aead = AESGCM(load_or_create_secret(self.state_dir / "outbox.key", KEY_BYTES))
        self._lock = threading.Lock()
        old_umask = os.umask(0o077)  # the database, its WAL and shm files: owner only
        try:
            self._db = sqlite3.connect(self.path, check_same_thread=False,
                                       isolation_level=None, timeout=10)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            if max_page_count is not None:  # tests: a "disk" that fills up
                self._db.execute(f"PRAGMA max_page_count={int(max_page_count)}")
            self._db.executescript(_SCHEMA)
        finally:
            os.umask(old_umask)
        self._page_size = int(self._db.execute("PRAGMA page_size").fetchone()[0])

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # ---- sealing -------------------------------------------------------------------------
    def _seal(self, record_id: str, jws: str) -> tuple[bytes, bytes]:
        nonce = os.urandom(NONCE_BYTES)
        return nonce, self._aead.encrypt(nonce, jws.encode("ascii"), record_id.encode("ascii"))

    def _open(self, record_id: str, nonce: bytes, payload: bytes) -> str:
        return self._aead.decrypt(nonce, payload, record_id.encode("ascii")).decode("ascii")

    # ---- capacity ------------------------------------------------------------------------
    def refusal(self) -> str | None:
        """Why a new tap must be refused now (None: there is room for one more record)."""
        with self._lock:
            count, size = self._db.execute(
                "SELECT COUNT(*), COALESCE(SUM(size), 0) FROM outbox").fetchone()
            page_count = int(self._db.execute("PRAGMA page_count").fetchone()[0])
            max_pages = int(self._db.execute("PRAGMA max_page_count").fetchone()[0])
            free_pages = int(self._db.execute("PRAGMA freelist_count").fetchone()[0])
        if count >= self.max_pending:
            return f"{count} records waiting (records.max_pending = {self.max_pending})"
        if size >= self.max_bytes:
            return f"{size} bytes waiting (records.max_bytes = {self.max_bytes})"
        room = (max_pages - page_count + free_pages) * self._page_size
        if room < HEADROOM_BYTES:
            return "the outbox database is full"
        if shutil.disk_usage(self.state_dir).free < HEADROOM_BYTES:
            return f"the disk holding {self.state_dir} is full"
        return None

    # ---- writing -------------------------------------------------------------------------
    def add(self, record_id: str, jws: str, *, now: float | None = None) -> None:
        """Commit one record durably; returns only once it is on disk.

        :raises OutboxFullError: over a limit, or SQLite/the disk is full (nothing written).
        """
        nonce, payload = self._seal(record_id, jws)
        created = time.time() if now is None else now
        with self._lock:
            count, size = self._db.execute(
                "SELECT COUNT(*), COALESCE(SUM(size), 0) FROM outbox").fetchone()
            if count >= self.max_pending or size + len(jws) > self.max_bytes:
                raise OutboxFullError("outbox is at its limit")
            try:
                self._db.execute(
                    "INSERT INTO outbox (record_id, created, size, nonce, payload) "
                    "VALUES (?, ?, ?, ?, ?)", (record_id, created, len(jws), nonce, payload))
            except sqlite3.OperationalError as e:
                if "full" in str(e):
                    raise OutboxFullError("outbox database or disk is full") from e
                raise

    # ---- the sender's side ---------------------------------------------------------------
    def next_due(self) -> Due | None:
        """The oldest pending row, decrypted. A row that no longer decrypts is quarantined on
        the spot (reported by ``stats``), and the next one is returned instead."""
        while True:
            with self._lock:
                row = self._db.execute(
                    "SELECT record_id, nonce, payload, attempts, next_try FROM outbox "
                    "WHERE state = 'pending' ORDER BY seq LIMIT 1").fetchone()
                if row is None:
                    return None
                record_id, nonce, payload, attempts, next_try = row
                try:
                    jws = self._open(record_id, nonce, payload)
                except (InvalidTag, ValueError, UnicodeDecodeError):
                    logger.error("outbox row %s does not decrypt: quarantined, not sent",
                                 record_id)
                    self._db.execute(
                        "UPDATE outbox SET state = 'quarantined', last_error = ? "
                        "WHERE record_id = ?", ("payload does not decrypt", record_id))
                    continue
            return Due(record_id, jws, attempts, next_try)

    def delivered(self, record_id: str) -> None:
        with self._lock:
            self._db.execute("DELETE FROM outbox WHERE record_id = ?", (record_id,))

    def dead_letter(self, record_id: str, why: str) -> None:
        with self._lock:
            self._db.execute(
                "UPDATE outbox SET state = 'dead', attempts = attempts + 1, last_error = ? "
                "WHERE record_id = ?", (why[:200], record_id))

    def retry_later(self, record_id: str, next_try: float, why: str) -> None:
        with self._lock:
            self._db.execute(
                "UPDATE outbox SET attempts = attempts + 1, next_try = ?, last_error = ? "
                "WHERE record_id = ?", (next_try, why[:200], record_id))

    # ---- operator commands ---------------------------------------------------------------
    def retry_dead(self) -> int:
        """Dead letters (and any backoff) back to pending, due now."""
        with self._lock:
            cur = self._db.execute(
                "UPDATE outbox SET state = 'pending', next_try = 0 WHERE state != 'quarantined' "
                "AND (state = 'dead' OR next_try > 0)")
            return cur.rowcount

    def purge_dead(self) -> int:
        with self._lock:
            return self._db.execute("DELETE FROM outbox WHERE state = 'dead'").rowcount

    def rows(self, limit: int = 1000) -> list[Row]:
        with self._lock:
            found = self._db.execute(
                "SELECT seq, record_id, created, state, attempts, next_try, last_error, size "
                "FROM outbox ORDER BY seq LIMIT ?", (limit,)).fetchall()
        return [Row(*r) for r in found]

    def stats(self) -> Stats:
        with self._lock:
            found = dict(self._db.execute(
                "SELECT state, COUNT(*) FROM outbox GROUP BY state").fetchall())
            size, oldest = self._db.execute(
                "SELECT COALESCE(SUM(size), 0), MIN(created) FROM outbox").fetchone()
        return Stats(found.get("pending", 0), found.get("dead", 0), found.get("quarantined", 0),
                     int(size), oldest)

    def integrity_check(self) -> str:
        with self._lock:
            return str(self._db.execute("PRAGMA integrity_check").fetchone()[0])
