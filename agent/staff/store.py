"""The staff account store: one SQLite file in the agent's state directory, mode 0600.

A row holds the staff ID, role (``clerk`` or ``supervisor``), the ``my_number`` permission,
whether the account is enabled, the argon2id hash, the failed sign-in counter with the time of
the last failure, and an optional card reference for card sign-in. No password is ever stored.
The agent and the ``myna staff`` command both open it, one short connection per operation, so
a change made on the command line (disable, unlock) holds at the agent's next request.
"""

from __future__ import annotations

import os
import re
import sqlite3
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

from agent.staff.passwords import check_password_policy, hash_password

STAFF_ID = re.compile(r"[a-z0-9][a-z0-9._-]{0,31}")
_SCHEMA = """
CREATE TABLE IF NOT EXISTS accounts (
    staff_id TEXT PRIMARY KEY,
    role TEXT NOT NULL CHECK (role IN ('clerk', 'supervisor')),
    my_number INTEGER NOT NULL DEFAULT 0,
    enabled INTEGER NOT NULL DEFAULT 1,
    password_hash TEXT NOT NULL,
    failed INTEGER NOT NULL DEFAULT 0,
    last_failed REAL,
    card_ref TEXT,
    created REAL NOT NULL
)
"""


class Role(StrEnum):
    CLERK = "clerk"
    SUPERVISOR = "supervisor"


class StaffStoreError(Exception):
    """A store operation was refused (unknown or duplicate ID, bad ID, unreadable file)."""


@dataclass(frozen=True, slots=True)
class Account:
    staff_id: str
    role: Role
    my_number: bool
    enabled: bool
    password_hash: str
    failed: int
    last_failed: float | None
    card_ref: str | None

    def to_json(self) -> dict[str, object]:
        """The account as the API and ``myna staff list`` show it (no hash)."""
        from agent.staff.authenticator import MAX_FAILURES

        return {"staff_id": self.staff_id, "role": str(self.role), "my_number": self.my_number,
                "enabled": self.enabled, "locked": self.failed >= MAX_FAILURES,
                "failed": self.failed, "card": self.card_ref is not None}


def valid_staff_id(staff_id: str) -> bool:
    return bool(STAFF_ID.fullmatch(staff_id))


class StaffStore:
    """Accounts in ``path`` (created 0600 in a 0700 directory). Thread-safe: one connection per
    call; SQLite serialises writers."""

    def __init__(self, path: Path, *, clock: Callable[[], float] = time.time) -> None:
        self.path = path
        self._clock = clock
        self._create()

    def _create(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0), 0o600)
        except OSError as e:
            raise StaffStoreError(f"cannot open the staff store {self.path}: {e.strerror}") from e
        try:
            os.fchmod(fd, 0o600)  # an older file or the umask must not widen it
        finally:
            os.close(fd)
        with self._db() as db:
            db.execute(_SCHEMA)

    @contextmanager
    def _db(self) -> Iterator[sqlite3.Connection]:
        db = sqlite3.connect(self.path, timeout=5.0, isolation_level=None)
        try:
            db.execute("BEGIN IMMEDIATE")
            yield db
            db.execute("COMMIT")
        except BaseException:
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise
        finally:
            db.close()

    # ---- reading -------------------------------------------------------------------------
    def get(self, staff_id: str) -> Account | None:
        if not valid_staff_id(staff_id):
            return None
        with self._db() as db:
            row = db.execute("SELECT staff_id, role, my_number, enabled, password_hash, failed, "
                             "last_failed, card_ref FROM accounts WHERE staff_id = ?",
                             (staff_id,)).fetchone()
        return _account(row) if row else None

    def list(self) -> list[Account]:
        with self._db() as db:
            rows = db.execute("SELECT staff_id, role, my_number, enabled, password_hash, failed, "
                              "last_failed, card_ref FROM accounts ORDER BY staff_id").fetchall()
        return [_account(r) for r in rows]

    def find_card(self, card_ref: str) -> Account | None:
        with self._db() as db:
            row = db.execute("SELECT staff_id, role, my_number, enabled, password_hash, failed, "
                             "last_failed, card_ref FROM accounts WHERE card_ref = ?",
                             (card_ref,)).fetchone()
        return _account(row) if row else None

    # ---- changing ------------------------------------------------------------------------
    def add(self, staff_id: str, password: str, role: Role, *, my_number: bool = False,
            card_ref: str | None = None) -> Account:
        """Create an account.

        :raises StaffStoreError: bad or duplicate ID.
        :raises PasswordPolicyError: the password does not meet the policy.
        """
        if not valid_staff_id(staff_id):
            raise StaffStoreError("a staff ID is 1–32 of a-z 0-9 . _ - (starting with a-z 0-9)")
        check_password_policy(password)
        encoded = hash_password(password)
        with self._db() as db:
            if db.execute("SELECT 1 FROM accounts WHERE staff_id = ?", (staff_id,)).fetchone():
                raise StaffStoreError(f"staff ID {staff_id} already exists")
            db.execute("INSERT INTO accounts (staff_id, role, my_number, password_hash, card_ref, "
                       "created) VALUES (?, ?, ?, ?, ?, ?)",
                       (staff_id, str(Role(role)), int(my_number), encoded, card_ref,
                        self._clock()))
        account = self.get(staff_id)
        assert account is not None
        return account

    def set_password(self, staff_id: str, password: str) -> None:
        check_password_policy(password)
        self._update(staff_id, "password_hash = ?, failed = 0, last_failed = NULL",
                     hash_password(password))

    def set_enabled(self, staff_id: str, enabled: bool) -> None:
        self._update(staff_id, "enabled = ?", int(enabled))

    def unlock(self, staff_id: str) -> None:
        self._update(staff_id, "failed = 0, last_failed = NULL")

    def record_failure(self, staff_id: str) -> int:
        """Count one failed sign-in now; return the new count."""
        with self._db() as db:
            db.execute("UPDATE accounts SET failed = failed + 1, last_failed = ? "
                       "WHERE staff_id = ?", (self._clock(), staff_id))
            row = db.execute("SELECT failed FROM accounts WHERE staff_id = ?",
                             (staff_id,)).fetchone()
        return int(row[0]) if row else 0

    def record_success(self, staff_id: str) -> None:
        self._update(staff_id, "failed = 0, last_failed = NULL")

    def _update(self, staff_id: str, assignments: str, *values: object) -> None:
        with self._db() as db:
            cur = db.execute(f"UPDATE accounts SET {assignments} WHERE staff_id = ?",  # noqa: S608 - fixed column lists
                             (*values, staff_id))
            if cur.rowcount != 1:
                raise StaffStoreError(f"no staff ID {staff_id}")


def _account(row: tuple[Any, ...]) -> Account:
    staff_id, role, my_number, enabled, encoded, failed, last_failed, card_ref = row
    return Account(str(staff_id), Role(str(role)), bool(my_number), bool(enabled), str(encoded),
                   int(failed), float(last_failed) if last_failed is not None else None,
                   str(card_ref) if card_ref is not None else None)
