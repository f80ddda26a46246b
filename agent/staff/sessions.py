"""Staff sessions: the short-lived tokens the agent issues at sign-in.

A token is 32 random bytes, kept here only as its SHA-256. A session may be bound to the id of
the browser the kiosk server has paired; every use must then name the same browser. It ends on
sign-out, after ``idle_s`` without a request (the clock is injected, so tests move time
instead of sleeping), when its account is disabled or locked, or when the same browser signs in
again. ``on_end(session, why)`` runs after a session ends, outside the lock, so the agent can
purge a card session that staff member started.
"""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from agent.staff.authenticator import MAX_FAILURES
from agent.staff.store import Account, Role, StaffStore


class StaffSessionError(Exception):
    """No valid staff session (missing, unknown, expired, another browser's) or not allowed."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(slots=True)
class StaffSession:
    ref: str  # public handle for audit lines; the token itself is never stored
    staff_id: str
    role: Role
    my_number: bool
    browser: str | None
    started: float
    last_seen: float

    def may_run(self, flow: str) -> bool:
        """Any staff member may run the face check; the number flow needs ``my_number``."""
        return flow != "number" or self.my_number

    def to_json(self, idle_s: float) -> dict[str, object]:
        return {"staff_id": self.staff_id, "role": str(self.role), "my_number": self.my_number,
                "session": self.ref, "idle_lock_s": idle_s}


def _digest(token: str) -> bytes:
    return hashlib.sha256(token.encode("utf-8", "replace")).digest()


class StaffSessions:
    """The agent's live staff sessions. Thread-safe."""

    def __init__(self, store: StaffStore, *, idle_s: float,
                 clock: Callable[[], float] = time.monotonic,
                 on_end: Callable[[StaffSession, str], None] | None = None) -> None:
        self._store = store
        self.idle_s = idle_s
        self._clock = clock
        self._on_end = on_end
        self._lock = threading.Lock()
        self._by_digest: dict[bytes, StaffSession] = {}

    def start(self, account: Account, browser: str | None) -> tuple[str, StaffSession]:
        """Open a session for a signed-in account; the same browser's older session ends."""
        token = secrets.token_urlsafe(32)
        now = self._clock()
        session = StaffSession(secrets.token_urlsafe(9), account.staff_id, account.role,
                               account.my_number, browser, now, now)
        ended: list[StaffSession] = []
        with self._lock:
            if browser is not None:
                for digest, old in list(self._by_digest.items()):
                    if old.browser == browser:
                        ended.append(self._by_digest.pop(digest))
            self._by_digest[_digest(token)] = session
        self._ended(ended, "replaced")
        return token, session

    def resolve(self, token: str | None, browser: str | None, *, touch: bool = True
                ) -> StaffSession:
        """The live session for this token and browser.

        :raises StaffSessionError: ``STAFF_REQUIRED`` when there is none (missing, unknown,
            expired, bound to another browser, account disabled or locked meanwhile).
        """
        if not token:
            raise StaffSessionError("STAFF_REQUIRED", "staff sign-in required")
        digest = _digest(token)
        ended: list[tuple[StaffSession, str]] = []
        try:
            with self._lock:
                session = self._by_digest.get(digest)
                if session is None or session.browser != browser:
                    raise StaffSessionError("STAFF_REQUIRED", "staff sign-in required")
                now = self._clock()
                if now - session.last_seen > self.idle_s:
                    ended.append((self._by_digest.pop(digest), "idle"))
                    raise StaffSessionError("STAFF_REQUIRED", "staff session expired")
                account = self._store.get(session.staff_id)
                if account is None or not account.enabled or account.failed >= MAX_FAILURES:
                    ended.append((self._by_digest.pop(digest), "account"))
                    raise StaffSessionError("STAFF_REQUIRED", "staff account no longer active")
                if touch:
                    session.last_seen = now
                return session
        finally:
            for s, why in ended:
                self._ended([s], why)

    def end(self, token: str | None, browser: str | None, why: str = "signed_out"
            ) -> StaffSession | None:
        """Sign out (a token that is unknown or another browser's ends nothing)."""
        if not token:
            return None
        with self._lock:
            session = self._by_digest.get(_digest(token))
            if session is None or session.browser != browser:
                return None
            del self._by_digest[_digest(token)]
        self._ended([session], why)
        return session

    def end_staff(self, staff_id: str, why: str) -> None:
        """End every session of one staff member (locked or disabled)."""
        with self._lock:
            gone = [d for d, s in self._by_digest.items() if s.staff_id == staff_id]
            ended = [self._by_digest.pop(d) for d in gone]
        self._ended(ended, why)

    def sweep(self) -> int:
        """End the sessions idle for longer than ``idle_s``; return how many ended."""
        now = self._clock()
        with self._lock:
            gone = [d for d, s in self._by_digest.items() if now - s.last_seen > self.idle_s]
            ended = [self._by_digest.pop(d) for d in gone]
        self._ended(ended, "idle")
        return len(ended)

    def active(self) -> list[StaffSession]:
        with self._lock:
            return list(self._by_digest.values())

    def _ended(self, sessions: list[StaffSession], why: str) -> None:
        if self._on_end is None:
            return
        for s in sessions:
            self._on_end(s, why)
