"""Time to type: activity restarts the waiting timer, staff flows wait longer, and a snapshot
says why the last session ended. The controller runs on an injected clock (no sleeps)."""

from __future__ import annotations

import pytest
from test_session_rig import Rig, make_config

from agent.service.session import BusyError
from tests.support.clock import ManualClock
from tests.support.staff import desk_staff


def test_activity_extends_the_credential_window_and_the_timeout_is_reported() -> None:
    clock = ManualClock(1000.0)
    rig = Rig(make_config(timeouts={"credential_s": 30}), clock=clock)
    try:
        rig.reader.insert()
        snap = rig.wait("awaiting_credential")
        assert snap["timeout_s"] == 30 and snap["ended"] is None
        sid = snap["session_id"]
        clock.now += 25
        assert rig.controller.extend(sid) == 30
        clock.now += 20  # 45 s after the card came: past the first window, inside the new one
        rig.controller._on_timeout()  # what the worker does when its wait ends
        assert rig.snap()["state"] == "awaiting_credential"
        clock.now += 11
        rig.controller._on_timeout()
        snap = rig.wait("awaiting_removal")
        assert snap["ended"] == "timeout" and snap["session_id"] is None
        with pytest.raises(BusyError):
            rig.controller.extend(sid)  # the session is gone: nothing to extend
        rig.reader.remove()
        assert rig.wait("idle")["ended"] == "timeout"
        rig.reader.insert()
        assert rig.wait("awaiting_credential")["ended"] is None  # a new session, a clean slate
    finally:
        rig.stop()


def test_staff_flows_have_their_own_longer_windows() -> None:
    rig = Rig(make_config(timeouts={"credential_s": 30, "staff_credential_s": 120},
                          flows={"enabled": ["sign", "face"], "default": "sign"}))
    try:
        rig.controller.set_flow("face", staff=desk_staff())  # face runs only for staff
        rig.reader.insert()
        assert rig.wait("awaiting_credential")["timeout_s"] == 120
    finally:
        rig.stop()


def test_extend_needs_the_waiting_session() -> None:
    rig = Rig()
    try:
        rig.wait("idle")
        with pytest.raises(BusyError):
            rig.controller.extend("nobody")
    finally:
        rig.stop()
