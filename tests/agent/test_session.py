"""The per-tap state machine over fake readers and a fake flow backend (issue 4 §2)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from test_session_rig import FakeBackend, FakeReader, Rig, make_config

from agent.service.audit import AuditLog
from agent.service.session import BusyError, StaleScreenError
from agent.verification.errors import ErrorCode
from card.errors import NoReaderError


@pytest.fixture
def rig():
    r = Rig()
    yield r
    r.stop()


def test_happy_path_then_removal_goes_idle(rig: Rig):
    rig.wait("idle", reader="fake 0")
    rig.reader.insert()
    snap = rig.wait("awaiting_credential")
    assert snap["credential"]["tries_left"] == 5
    assert snap["credential"]["kind"] == "sign_password"
    sid = snap["session_id"]
    assert rig.reader.connections[-1].exclusive  # type: ignore[attr-defined]
    reading = rig.controller.submit_credential(sid, "PASS123", False)
    assert reading["state"] == "reading"
    snap = rig.wait("result")
    assert snap["verdict"]["ok"] is True
    assert [s["status"] for s in snap["steps"]] == ["done"] * 4
    assert all(isinstance(s["ms"], float) for s in snap["steps"])
    rig.reader.remove()
    snap = rig.wait("idle")
    assert snap["verdict"] is None and snap["session_id"] is None and snap["steps"] == []
    assert rig.reader.connections[-1].closed
    # One line when the verdict is reached (before it is shown), one when the session ends.
    assert [a[1] for a in rig.audits] == ["result", "card_removed"]


def test_seq_increases_and_events_are_published(rig: Rig):
    sub = rig.controller.subscribe()
    first = sub.get(timeout=1)
    assert first is not None
    rig.reader.insert()
    rig.wait("awaiting_credential")
    seen = []
    while True:
        try:
            seen.append(sub.get(timeout=0.2))
        except Exception:  # noqa: BLE001 - queue.Empty ends the drain
            break
    states = [s["state"] for s in seen if s]
    assert "card_present" in states and states[-1] == "awaiting_credential"
    seqs = [s["seq"] for s in seen if s]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
    sub.close()


def test_wrong_credential_goes_back_with_tries_and_never_resends(rig: Rig):
    rig.reader.insert()
    sid = rig.wait("awaiting_credential")["session_id"]
    rig.controller.submit_credential(sid, "WRONG1", False)
    snap = rig.wait("awaiting_credential", session_id=sid)
    deadline = time.monotonic() + 2
    while snap["error"] is None and time.monotonic() < deadline:
        snap = rig.snap()
    assert snap["error"]["code"] == "PIN_INVALID"
    assert snap["error"]["tries_left"] == 4
    assert snap["credential"]["tries_left"] == 4
    time.sleep(0.2)
    assert rig.backend.sent == [1]  # one VERIFY, nothing re-sent by itself
    rig.controller.submit_credential(sid, "PASS123", False)
    assert rig.wait("result")["verdict"]["ok"]


def test_second_credential_while_reading_is_busy(rig: Rig):
    rig.backend.gate.clear()
    rig.reader.insert()
    sid = rig.wait("awaiting_credential")["session_id"]
    rig.controller.submit_credential(sid, "PASS123", False)
    with pytest.raises(BusyError):
        rig.controller.submit_credential(sid, "PASS123", False)
    with pytest.raises(BusyError):
        rig.controller.set_flow("auth")
    rig.backend.gate.set()
    rig.wait("result")
    assert rig.backend.sent == [1]


def test_wrong_session_id_is_busy(rig: Rig):
    rig.reader.insert()
    rig.wait("awaiting_credential")
    with pytest.raises(BusyError):
        rig.controller.submit_credential("not-the-session", "PASS123", False)
    assert rig.snap()["state"] == "awaiting_credential"


@pytest.mark.parametrize("step", ["select", "verify", "read_certificate", "verify_chain"])
def test_removal_during_each_step_aborts_and_purges(rig: Rig, step: str):
    def pull(name: str) -> None:
        if name == step:
            rig.reader.remove()
            time.sleep(0.1)  # let the watcher see it

    rig.backend.on_step_hook = pull
    rig.reader.insert()
    sid = rig.wait("awaiting_credential")["session_id"]
    rig.controller.submit_credential(sid, "PASS123", False)
    snap = rig.wait("idle")
    assert snap["verdict"] is None and snap["error"] is None and snap["session_id"] is None
    assert "山田" not in str(snap)
    assert rig.audits[-1][1] in ("aborted", "card_removed")


def test_unknown_card_is_unsupported(rig: Rig):
    rig.reader.insert(kind="other")
    snap = rig.wait("error")
    assert snap["error"]["code"] == ErrorCode.UNSUPPORTED_CARD
    rig.reader.remove()
    rig.wait("idle")


def test_blocked_card_is_error_without_asking(rig: Rig):
    rig.reader.insert(tries=0)
    assert rig.wait("error")["error"]["code"] == "PIN_BLOCKED"


def test_last_try_refused_unless_allowed_and_confirmed():
    r = Rig(make_config(pin={"allow_last_try": True}))
    try:
        r.reader.insert(tries=1)
        snap = r.wait("awaiting_credential")
        assert snap["credential"]["needs_confirmation"] is True
        r.controller.submit_credential(snap["session_id"], "PASS123", False)
        time.sleep(0.2)
        snap = r.wait("awaiting_credential")
        assert snap["error"]["code"] == "PIN_LAST_TRY_NEEDS_CONFIRMATION"
        assert r.backend.sent == []
        r.controller.submit_credential(snap["session_id"], "PASS123", True)
        assert r.wait("result")["verdict"]["ok"]
    finally:
        r.stop()


def test_last_try_refused_when_not_allowed(rig: Rig):
    rig.reader.insert(tries=1)
    sid = rig.wait("awaiting_credential")["session_id"]
    rig.controller.submit_credential(sid, "PASS123", True)
    assert rig.wait("error")["error"]["code"] == "PIN_LAST_TRY_NEEDS_CONFIRMATION"
    assert rig.backend.sent == []


def test_credential_timeout_purges_to_awaiting_removal():
    r = Rig(make_config(timeouts={"credential_s": 1}))
    try:
        r.reader.insert()
        r.wait("awaiting_credential")
        snap = r.wait("awaiting_removal", timeout=3)
        assert snap["session_id"] is None and snap["credential"] is None
        assert r.audits[-1][1] == "timeout"
        r.reader.remove()
        r.wait("idle")
    finally:
        r.stop()


def test_result_timeout_drops_identity():
    r = Rig(make_config(timeouts={"result_s": 1}))
    try:
        r.reader.insert()
        sid = r.wait("awaiting_credential")["session_id"]
        r.controller.submit_credential(sid, "PASS123", False)
        assert r.wait("result")["verdict"]["identity"]
        snap = r.wait("awaiting_removal", timeout=3)
        assert snap["verdict"] is None
    finally:
        r.stop()


def test_reading_timeout_is_an_error():
    backend = FakeBackend()
    backend.step_delay = 0.6
    r = Rig(make_config(timeouts={"card_s": 1}), backend=backend)
    try:
        r.reader.insert()
        sid = r.wait("awaiting_credential")["session_id"]
        r.controller.submit_credential(sid, "PASS123", False)
        assert r.wait("error", timeout=5)["error"]["code"] == "TIMEOUT"
    finally:
        r.stop()


def test_cancel_purges(rig: Rig):
    rig.reader.insert()
    sid = rig.wait("awaiting_credential")["session_id"]
    rig.controller.cancel(sid)
    snap = rig.wait("awaiting_removal")
    assert snap["session_id"] is None
    with pytest.raises(BusyError):
        rig.controller.cancel(sid)


def test_a_credential_typed_on_another_screen_never_reaches_the_card(rig: Rig):
    rig.reader.insert()
    snap = rig.wait("awaiting_credential")
    sid, kind, seq = snap["session_id"], snap["credential"]["kind"], snap["seq"]
    other = "match_b" if kind != "match_b" else "sign_password"
    with pytest.raises(StaleScreenError):
        rig.controller.submit_credential(sid, "12345678901234", False, kind=other, seq=seq)
    with pytest.raises(StaleScreenError):  # a screen older than this credential request
        rig.controller.submit_credential(sid, "PASS123", False, kind=kind, seq=seq - 1)
    with pytest.raises(StaleScreenError):  # a screen the agent never showed
        rig.controller.submit_credential(sid, "PASS123", False, kind=kind, seq=seq + 1)
    assert rig.backend.sent == []
    assert rig.controller.snapshot()["state"] == "awaiting_credential"
    rig.controller.submit_credential(sid, "PASS123", False, kind=kind, seq=seq)
    rig.wait("result")
    assert rig.backend.sent == [1]


def test_flow_changes_only_when_no_card_is_in_use(rig: Rig):
    """The flow belongs to the screen that started the tap: another page cannot switch it (and
    with it the credential kind) under a card in use; once the card is gone it can."""
    rig.reader.insert()
    waiting = rig.wait("awaiting_credential")
    with pytest.raises(BusyError):
        rig.controller.set_flow("auth")
    assert rig.controller.snapshot()["flow"] == waiting["flow"]
    assert rig.controller.snapshot()["credential"] == waiting["credential"]
    rig.reader.remove()
    rig.wait("idle")
    assert rig.controller.set_flow("auth")["flow"] == "auth"


def test_reader_service_failure_then_recovery(rig: Rig):
    rig.reader.insert()
    rig.wait("awaiting_credential")
    rig.source_error = NoReaderError("pcscd gone")
    snap = rig.wait("no_reader")
    assert snap["session_id"] is None
    rig.source_error = None
    rig.wait("awaiting_credential")  # card still there: a fresh session


def test_second_reader_waits_for_the_first():
    readers = [FakeReader("fake 0"), FakeReader("fake 1")]
    r = Rig(readers=readers)
    try:
        readers[0].insert()
        first = r.wait("awaiting_credential")
        readers[1].insert()
        time.sleep(0.2)
        assert r.snap()["session_id"] == first["session_id"]
        readers[0].remove()
        snap = r.wait("awaiting_credential", reader="fake 1")
        assert snap["session_id"] != first["session_id"]
    finally:
        r.stop()


def test_events_arrive_in_seq_order_under_concurrent_requests(rig: Rig):
    import threading

    sub = rig.controller.subscribe()
    rig.reader.insert()
    rig.wait("awaiting_credential")

    def flip() -> None:
        for flow in ("auth", "sign") * 10:
            try:
                rig.controller.set_flow(flow)
            except BusyError:
                pass

    threads = [threading.Thread(target=flip) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    rig.wait("awaiting_credential")
    seqs = []
    while True:
        try:
            item = sub.get(timeout=0.3)
        except Exception:  # noqa: BLE001 - queue.Empty ends the drain
            break
        if item is not None:
            seqs.append(item["seq"])
    assert seqs == sorted(seqs)
    sub.close()


def test_the_audit_records_the_flow_that_ran_even_after_a_flow_change(tmp_path):
    log_path = tmp_path / "audit.jsonl"
    log = AuditLog(log_path, b"k" * 32)
    r = Rig(audit=lambda s, o, why: log.record(
        session_id=s.session_id, reader=s.reader, flow=s.ran_flow or s.flow, started=0.0,
        ended=1.0, end=why, attempts=s.attempts, steps=s.steps,
        verdict=o.verdict if o else None, certificate_der=None))
    try:
        r.reader.insert()
        sid = r.wait("awaiting_credential")["session_id"]
        r.controller.submit_credential(sid, "WRONG1", False)
        r.wait("awaiting_credential", session_id=sid, flow="sign")
        with pytest.raises(BusyError):  # the card in use keeps the flow it started with
            r.controller.set_flow("auth")
        r.reader.remove()
        r.wait("idle")
        r.controller.set_flow("auth")  # the next holder's flow; the tap that ended ran sign
        r.wait("idle", flow="auth")
    finally:
        r.stop()
    lines = [json.loads(line) for line in log_path.read_text().splitlines()]
    assert [(ln["ended_by"], ln["flow"], ln["result"]) for ln in lines] == [
        ("result", "sign", "PIN_INVALID"), ("card_removed", "sign", None)]


def test_a_failed_audit_write_hides_the_verdict_and_refuses_new_taps():
    log = AuditLog(Path("/dev/full"), b"k" * 32)  # every write fails with ENOSPC
    r = Rig(audit=lambda s, o, why: log.record(
        session_id=s.session_id, reader=s.reader, flow=s.flow, started=0.0, ended=1.0, end=why,
        attempts=s.attempts, steps=s.steps, verdict=o.verdict if o else None,
        certificate_der=None))
    try:
        r.reader.insert()
        sid = r.wait("awaiting_credential")["session_id"]
        r.controller.submit_credential(sid, "PASS123", False)
        snap = r.wait("error", session_id=sid)
        assert snap["error"]["code"] == "AUDIT_UNAVAILABLE"
        assert snap["verdict"] is None  # no check without a trace
        r.reader.remove()
        r.wait("idle")
        connections = len(r.reader.connections)
        r.reader.insert()
        snap = r.wait("error")
        assert snap["error"]["code"] == "AUDIT_UNAVAILABLE"
        assert len(r.reader.connections) == connections  # the card was not even touched
        assert r.backend.sent == [1]
    finally:
        r.stop()
