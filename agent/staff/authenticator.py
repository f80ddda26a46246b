"""Staff sign-in: one argon2id verification per attempt, growing delays, lockout after five.

An unknown staff ID and a wrong password get the same error and cost the same time (the
password is verified against a dummy hash of the same parameters). Unknown IDs keep their own
failure counters in memory, keyed by an HMAC under a per-process key so no typed string is
kept, and so lock and delay exactly like real accounts: the answers never tell whether an ID
exists. After failure *n* the next attempt is accepted only after ``2**(n-1)`` seconds (1, 2,
4, 8); after ``MAX_FAILURES`` the account stays locked until a supervisor unlocks it. Attempts
are verified one at a time, which bounds the CPU a flood can take.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable

from agent.staff.passwords import dummy_hash, verify_password
from agent.staff.store import Account, StaffStore, valid_staff_id

MAX_FAILURES = 5
MAX_UNKNOWN_TRACKED = 4096


class LoginFailedError(Exception):
    """Unknown staff ID, wrong password or disabled account (deliberately one error)."""

    code = "STAFF_LOGIN_FAILED"


class LoginLockedError(LoginFailedError):
    """Too many wrong passwords: a supervisor must unlock the account."""

    code = "STAFF_LOCKED"


class LoginRetryLaterError(LoginFailedError):
    """The delay after the last failure has not passed; nothing was checked."""

    code = "STAFF_RETRY_LATER"

    def __init__(self, retry_after_s: float) -> None:
        super().__init__(f"try again in {retry_after_s:.0f} s")
        self.retry_after_s = retry_after_s


def delay_after(failures: int) -> float:
    """Seconds to wait before the next attempt after ``failures`` wrong passwords."""
    return 0.0 if failures <= 0 else float(2 ** (failures - 1))


class StaffAuthenticator:
    """Checks staff ID + password against the store. Thread-safe."""

    def __init__(self, store: StaffStore, *, clock: Callable[[], float] = time.time,
                 verifier: Callable[[str, str], bool] = verify_password) -> None:
        self._store = store
        self._clock = clock
        self._verify = verifier
        self._lock = threading.Lock()
        self._key = secrets.token_bytes(32)
        self._unknown: OrderedDict[bytes, tuple[int, float]] = OrderedDict()
        self.verifications = 0  # argon2 verifications done (tests bound brute force with it)

    def authenticate(self, staff_id: str, password: str) -> Account:
        """Return the enabled account whose password this is.

        :raises LoginRetryLaterError: too soon after a failure (nothing verified).
        :raises LoginLockedError: five failures already (verified anyway, for equal timing).
        :raises LoginFailedError: unknown ID, wrong password or disabled account.
        """
        with self._lock:
            account = self._store.get(staff_id) if valid_staff_id(staff_id) else None
            failures, last = self._failures(staff_id, account)
            now = self._clock()
            if 0 < failures < MAX_FAILURES and last is not None:
                wait = last + delay_after(failures) - now
                if wait > 0:
                    raise LoginRetryLaterError(wait)
            self.verifications += 1
            matches = self._verify(account.password_hash if account else dummy_hash(), password)
            del password
            if failures >= MAX_FAILURES:
                raise LoginLockedError("account locked")
            if account is not None and matches and account.enabled:
                if failures:
                    self._store.record_success(account.staff_id)
                return account
            if self._record_failure(staff_id, account) >= MAX_FAILURES:
                raise LoginLockedError("account locked")
            raise LoginFailedError("wrong staff ID or password")

    def check_password(self, account: Account, password: str) -> bool:
        """Re-check a signed-in member's password (before a reveal); a wrong one counts as a
        failed sign-in, so guessing here locks the account too.

        :raises LoginLockedError: this failure (or an earlier one) locked the account.
        """
        try:
            self.authenticate(account.staff_id, password)
        except LoginRetryLaterError:
            return False
        except LoginLockedError:
            raise
        except LoginFailedError:
            return False
        return True

    def _key_for(self, staff_id: str) -> bytes:
        return hmac.new(self._key, staff_id.encode("utf-8", "replace"), hashlib.sha256).digest()

    def _failures(self, staff_id: str, account: Account | None) -> tuple[int, float | None]:
        if account is not None:
            return account.failed, account.last_failed
        return self._unknown.get(self._key_for(staff_id), (0, None))  # type: ignore[return-value]

    def _record_failure(self, staff_id: str, account: Account | None) -> int:
        if account is not None:
            return self._store.record_failure(account.staff_id)
        key = self._key_for(staff_id)
        count = self._unknown.get(key, (0, 0.0))[0] + 1
        self._unknown[key] = (count, self._clock())
        self._unknown.move_to_end(key)
        while len(self._unknown) > MAX_UNKNOWN_TRACKED:
            self._unknown.popitem(last=False)
        return count
