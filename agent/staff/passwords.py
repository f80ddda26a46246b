"""Staff password hashing with argon2id (argon2-cffi) and the password policy.

The parameters are OWASP's argon2id baseline (19 MiB, 2 passes, 1 lane); one verification
takes 50–250 ms on the 2-core kiosk PC (``bench/staff.py`` prints the figure), slow enough to
make an offline guess expensive and fast enough for a sign-in. Each hash string carries its own
parameters, so a later change of these constants still verifies older hashes. Passwords are
never logged, stored or returned; only the encoded hash is.
"""

from __future__ import annotations

import functools
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

TIME_COST = 2
MEMORY_COST_KIB = 19 * 1024
PARALLELISM = 1
MIN_LENGTH = 8
MAX_LENGTH = 64

_HASHER = PasswordHasher(time_cost=TIME_COST, memory_cost=MEMORY_COST_KIB,
                         parallelism=PARALLELISM)


class PasswordPolicyError(ValueError):
    """A new password does not meet the policy (length, printable ASCII)."""


def check_password_policy(password: str) -> None:
    """Refuse a new password the on-screen keyboard could not type or that is too short.

    :raises PasswordPolicyError: with a message that never contains the password.
    """
    if not MIN_LENGTH <= len(password) <= MAX_LENGTH:
        raise PasswordPolicyError(f"a staff password has {MIN_LENGTH}–{MAX_LENGTH} characters")
    if not all(" " < c <= "~" for c in password):
        raise PasswordPolicyError("a staff password uses printable ASCII without spaces")


def hash_password(password: str) -> str:
    """Return the argon2id hash string (salt and parameters included)."""
    return _HASHER.hash(password)


def verify_password(encoded: str, password: str) -> bool:
    """True when ``password`` matches ``encoded``; a damaged hash simply does not match."""
    try:
        return _HASHER.verify(encoded, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


@functools.cache
def dummy_hash() -> str:
    """A hash of a random secret with the same parameters, verified for unknown staff IDs so
    that an unknown ID costs the same time as a wrong password."""
    return hash_password(secrets.token_urlsafe(24))
