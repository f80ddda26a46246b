"""Staff accounts: the password store, sign-in with lockout, and the agent's staff sessions.

The agent, not the page, decides who may run the staff-only flows (``face``, ``number``) and
reveal a My Number: ``store`` keeps accounts (SQLite, 0600, argon2id hashes only),
``authenticator`` signs staff in with the same answer and timing for an unknown ID and a wrong
password, ``sessions`` issues the short-lived tokens the kiosk server forwards, and ``report``
counts audit lines per staff member without any identity.
"""

from agent.staff.authenticator import (
    LoginFailedError,
    LoginLockedError,
    LoginRetryLaterError,
    StaffAuthenticator,
)
from agent.staff.passwords import PasswordPolicyError, check_password_policy
from agent.staff.sessions import StaffSession, StaffSessionError, StaffSessions
from agent.staff.store import Account, Role, StaffStore, StaffStoreError

__all__ = [
    "Account",
    "LoginFailedError",
    "LoginLockedError",
    "LoginRetryLaterError",
    "PasswordPolicyError",
    "Role",
    "StaffAuthenticator",
    "StaffSession",
    "StaffSessionError",
    "StaffSessions",
    "StaffStore",
    "StaffStoreError",
    "check_password_policy",
]
