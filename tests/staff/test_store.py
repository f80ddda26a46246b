"""The staff store and sign-in: argon2id hashes only, file mode 0600, lockout and delays that
treat an unknown ID exactly like a wrong password (time injected, never slept)."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from agent.staff import (
    LoginFailedError,
    LoginLockedError,
    LoginRetryLaterError,
    PasswordPolicyError,
    Role,
    StaffAuthenticator,
    StaffStore,
    StaffStoreError,
)
from agent.staff.authenticator import MAX_FAILURES, delay_after
from tests.support.clock import ManualClock

PASSWORD = "Desk-2026-pw"  # noqa: S105 - test data


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(1_800_000_000.0)


@pytest.fixture
def store(tmp_path: Path, clock: ManualClock) -> StaffStore:
    s = StaffStore(tmp_path / "state" / "staff.db", clock=clock)
    s.add("sato", PASSWORD, Role.CLERK)
    return s


def test_store_file_is_private_and_holds_only_argon2id(store: StaffStore) -> None:
    assert stat.S_IMODE(store.path.stat().st_mode) == 0o600
    assert stat.S_IMODE(store.path.parent.stat().st_mode) == 0o700
    raw = store.path.read_bytes()
    assert PASSWORD.encode() not in raw
    assert store.get("sato").password_hash.startswith("$argon2id$")  # type: ignore[union-attr]
    assert b"$argon2id$v=19$m=19456,t=2,p=1$" in raw


def test_store_reopens_a_widened_file_as_0600(store: StaffStore) -> None:
    store.path.chmod(0o644)
    StaffStore(store.path)
    assert stat.S_IMODE(store.path.stat().st_mode) == 0o600


@pytest.mark.parametrize("bad", ["short1!", "with space 123", "ｆｕｌｌｗｉｄｔｈ123", "x" * 65])
def test_password_policy(store: StaffStore, bad: str) -> None:
    with pytest.raises(PasswordPolicyError) as e:
        store.add("kato", bad, Role.CLERK)
    assert bad not in str(e.value)
    assert store.get("kato") is None


def test_ids_are_checked_and_unique(store: StaffStore) -> None:
    with pytest.raises(StaffStoreError):
        store.add("sato", PASSWORD, Role.CLERK)
    with pytest.raises(StaffStoreError):
        store.add("Bad ID", PASSWORD, Role.CLERK)
    with pytest.raises(StaffStoreError):
        store.set_enabled("nobody", False)


def test_sign_in_and_account_changes(store: StaffStore, clock: ManualClock) -> None:
    auth = StaffAuthenticator(store, clock=clock)
    assert auth.authenticate("sato", PASSWORD).role is Role.CLERK
    store.set_enabled("sato", False)
    with pytest.raises(LoginFailedError) as disabled:
        auth.authenticate("sato", PASSWORD)
    assert type(disabled.value) is LoginFailedError
    store.set_enabled("sato", True)
    store.set_password("sato", "Another-pass-1")
    clock.now += 60
    assert auth.authenticate("sato", "Another-pass-1").staff_id == "sato"


def _fail(auth: StaffAuthenticator, staff_id: str, clock: ManualClock) -> Exception:
    with pytest.raises(LoginFailedError) as e:
        auth.authenticate(staff_id, "wrong-password")
    clock.now += 3600  # past any delay
    return e.value


@pytest.mark.parametrize("staff_id", ["sato", "nobody", "Not An ID"], ids=["known", "unknown",
                                                                          "malformed"])
def test_unknown_id_and_wrong_password_answer_alike(store: StaffStore, clock: ManualClock,
                                                    staff_id: str) -> None:
    auth = StaffAuthenticator(store, clock=clock)
    answers = []
    for _ in range(MAX_FAILURES + 1):
        e = _fail(auth, staff_id, clock)
        answers.append((type(e).__name__, str(e)))
    # One argon2 verification per attempt whether or not the ID exists: the same time.
    assert auth.verifications == MAX_FAILURES + 1
    assert answers == [("LoginFailedError", "wrong staff ID or password")] * (MAX_FAILURES - 1) \
        + [("LoginLockedError", "account locked")] * 2


def test_growing_delays_then_lock_then_unlock(store: StaffStore, clock: ManualClock) -> None:
    auth = StaffAuthenticator(store, clock=clock)
    for failures in range(1, MAX_FAILURES):
        with pytest.raises(LoginFailedError):
            auth.authenticate("sato", "wrong-password")
        # Too soon: refused without checking anything, even with the right password.
        before = auth.verifications
        with pytest.raises(LoginRetryLaterError) as e:
            auth.authenticate("sato", PASSWORD)
        assert e.value.retry_after_s == pytest.approx(delay_after(failures))
        assert auth.verifications == before
        clock.now += delay_after(failures)
    assert [delay_after(n) for n in range(1, MAX_FAILURES)] == [1, 2, 4, 8]
    with pytest.raises(LoginLockedError):
        auth.authenticate("sato", "wrong-password")
    clock.now += 86400
    with pytest.raises(LoginLockedError):
        auth.authenticate("sato", PASSWORD)  # the right password does not unlock
    store.unlock("sato")
    assert auth.authenticate("sato", PASSWORD).staff_id == "sato"


def test_success_resets_the_counter(store: StaffStore, clock: ManualClock) -> None:
    auth = StaffAuthenticator(store, clock=clock)
    _fail(auth, "sato", clock)
    auth.authenticate("sato", PASSWORD)
    assert store.get("sato").failed == 0  # type: ignore[union-attr]
