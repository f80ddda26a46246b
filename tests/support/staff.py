"""Staff sign-in for tests that drive the staff-only flows (``face``, ``number``) through the
agent's API: an account in the agent's own store and a real ``POST /v1/staff/login``."""

from __future__ import annotations

from typing import Any

TEST_STAFF_PASSWORD = "Staff-test-2026"  # noqa: S105 - test data


def add_staff(svc: Any, staff_id: str = "test-supervisor", role: str = "supervisor",
              my_number: bool = True, password: str = TEST_STAFF_PASSWORD) -> None:
    """Create the account in the service's store unless it exists."""
    from agent.staff import Role

    if svc.staff_store.get(staff_id) is None:
        svc.staff_store.add(staff_id, password, Role(role), my_number=my_number)


def sign_in_staff(svc: Any, http_: Any, staff_id: str = "test-supervisor",
                  role: str = "supervisor", my_number: bool = True,
                  browser: str | None = None) -> str:
    """Sign ``http_`` (tests' ``Http``) in as staff; later calls carry the session. Returns
    the staff session token."""
    add_staff(svc, staff_id, role, my_number)
    http_.staff = {"X-Myna-Browser": browser} if browser else {}
    status, body = http_.call("POST", "/v1/staff/login",
                              {"staff_id": staff_id, "password": TEST_STAFF_PASSWORD})
    assert status == 200, body
    http_.staff = {**http_.staff, "X-Myna-Staff": body["token"]}
    return str(body["token"])


def desk_staff(staff_id: str = "test-desk") -> Any:
    """A staff member for rigs that drive ``SessionController`` directly (not through the
    API): the same ``StaffSession`` type the API passes, kept outside the agent's session
    table so no idle sweep ends it in the middle of a long run."""
    from agent.staff import Role, StaffSession

    return StaffSession(ref=f"{staff_id}-session", staff_id=staff_id, role=Role.SUPERVISOR,
                        my_number=True, browser=None, started=0.0, last_seen=0.0)
