"""The outbox and the sender under faults, through the real agent (demo reader) and a real
HTTPS receiver process: receiver down then up, 500 / hang / close / garbage 2xx / 4xx, bad TLS
(doctor says why), outbox and disk full (refused before any PIN), a flipped row."""

from __future__ import annotations

import sqlite3
import time

import pytest

from agent.cli.doctor import Status, check_records
from agent.records.outbox import Outbox, OutboxFullError
from card.emulator import PERSONAS, VirtualMynaCard
from tests.hardening.rig import credential, pin_verifies
from tests.support.records import Receiver, wait_for

pytestmark = pytest.mark.emulator_only
SIGN = ("yamada-taro", "sign", credential("yamada-taro", "sign"))


def pending_ids(agent) -> list[str]:
    return [r.record_id for r in agent.keeper.outbox.rows()]


def wait_drained(agent, timeout: float = 60.0) -> None:
    wait_for(lambda: agent.keeper.stats().pending == 0, timeout, "outbox drained")


def test_receiver_down_then_up_drains_in_order(agent_factory, receiver):
    receiver.stop()  # same port later: down for the whole run
    agent = agent_factory(receiver.url)
    for _ in range(4):
        assert agent.tap(*SIGN)["state"] == "result"
    committed = pending_ids(agent)
    assert len(committed) == 4
    wait_for(lambda: all(r.attempts >= 1 for r in agent.keeper.outbox.rows()[:1]),
             what="a failed attempt")
    assert "refused" in (agent.keeper.outbox.rows()[0].last_error or "")
    receiver.start()
    wait_drained(agent)
    assert receiver.ids() == committed  # every record, oldest first, once


@pytest.mark.parametrize("mode", ["500", "hang", "close"])
def test_transient_failures_retry_until_delivered(agent_factory, receiver, mode):
    receiver.set_mode(mode)
    agent = agent_factory(receiver.url)
    agent.tap(*SIGN)
    (record_id,) = pending_ids(agent)
    wait_for(lambda: agent.keeper.outbox.rows()[0].attempts >= 1, what="a failed attempt")
    row = agent.keeper.outbox.rows()[0]
    assert row.state == "pending" and row.last_error
    assert receiver.ids() == []
    receiver.set_mode("ok")
    wait_drained(agent)
    assert receiver.ids() == [record_id]


def test_garbage_2xx_body_counts_as_delivered(agent_factory, receiver):
    receiver.set_mode("garbage")
    agent = agent_factory(receiver.url)
    agent.tap(*SIGN)
    wait_for(lambda: agent.keeper.sender.delivered_count == 1, what="delivered")
    assert len(receiver.ids()) == 1 and agent.keeper.stats().pending == 0


def test_4xx_is_a_dead_letter_kept_until_retry_or_purge(agent_factory, receiver):
    receiver.set_mode("400")
    agent = agent_factory(receiver.url)
    agent.tap(*SIGN)
    wait_for(lambda: agent.keeper.stats().dead == 1, what="dead letter")
    assert agent.keeper.stats().pending == 0
    receiver.set_mode("ok")
    time.sleep(0.5)
    assert receiver.ids() == []  # a dead letter is not retried by itself
    assert agent.keeper.outbox.retry_dead() == 1  # myna records retry
    agent.keeper.sender.wake()
    wait_drained(agent)
    assert len(receiver.ids()) == 1
    receiver.set_mode("400")
    agent.tap(*SIGN)
    wait_for(lambda: agent.keeper.stats().dead == 1, what="dead letter")
    assert agent.keeper.outbox.purge_dead() == 1  # myna records purge --dead
    assert agent.keeper.stats().dead == 0


@pytest.mark.parametrize("case, reason", [
    ("wrong_ca", "unable to get local issuer certificate"),
    ("expired", "certificate has expired"),
    ("wrong_host", "mismatch"),
])
def test_bad_tls_delivers_nothing_loses_nothing_and_doctor_says_why(
        agent_factory, pki, state_dir, tmp_path, case, reason):
    from agent.records.signing import KioskKey

    cert, key = {"expired": (pki.expired_cert, pki.expired_key),
                 "wrong_host": (pki.wrong_host_cert, pki.wrong_host_key)}.get(
        case, (pki.cert, pki.key))
    jwk = KioskKey.load(state_dir / "kiosk-signing.jwk").public_jwk()
    bad = Receiver(tmp_path / "bad-receiver", pki, jwk, cert=cert, key=key).start()
    try:
        ca = pki.other_ca_file if case == "wrong_ca" else pki.ca_file
        agent = agent_factory(bad.url, ca_file=ca)
        agent.tap(*SIGN)
        wait_for(lambda: agent.keeper.outbox.rows()[0].attempts >= 1, what="a failed attempt")
        row = agent.keeper.outbox.rows()[0]
        assert reason in (row.last_error or ""), row.last_error
        assert row.state == "pending" and bad.ids() == []
        checks = {c.name: c for c in check_records(agent.config)}
        assert checks["handoff"].status is Status.FAIL
        assert reason in checks["handoff"].detail, checks["handoff"].detail
        assert checks["records outbox"].status is Status.WARN
    finally:
        bad.stop()


def test_outbox_full_refuses_the_tap_before_any_pin(agent_factory, receiver):
    receiver.stop()
    agent = agent_factory(receiver.url, max_pending=2)
    for _ in range(2):
        assert agent.tap(*SIGN)["state"] == "result"
    card = VirtualMynaCard(PERSONAS["yamada-taro"])
    final = agent.driver.tap(agent.reader, card, "sign", SIGN[2])
    agent.driver.remove(agent.reader)
    assert final["state"] == "error" and final["error"]["code"] == "RECORDS_BACKLOG"
    assert pin_verifies(card) == []  # no PIN was asked for, none sent
    assert agent.keeper.stats().pending == 2  # nothing dropped
    receiver.start()
    wait_drained(agent)
    assert len(receiver.ids()) == 2
    assert agent.tap(*SIGN)["state"] == "result"  # room again


def test_disk_full_refuses_before_any_pin_and_loses_nothing(agent_factory, receiver):
    receiver.stop()
    # A database that may not grow past ~1.1 MiB: the headroom check trips first.
    agent = agent_factory(receiver.url, max_page_count=280)
    taps = 0
    while True:
        card = VirtualMynaCard(PERSONAS["yamada-taro"])
        final = agent.driver.tap(agent.reader, card, "face", credential("yamada-taro", "face"))
        agent.driver.remove(agent.reader)
        if final["state"] == "error":
            break
        taps += 1
        assert taps < 200
    assert final["error"]["code"] == "RECORDS_BACKLOG"
    assert pin_verifies(card) == []
    assert agent.keeper.stats().pending == taps >= 1
    assert agent.keeper.outbox.integrity_check() == "ok"
    receiver.start()
    wait_drained(agent)
    assert len(receiver.ids()) == taps


def test_sqlite_full_on_commit_is_a_typed_refusal_not_a_loss(tmp_path):
    outbox = Outbox(tmp_path / "o", max_pending=10_000, max_bytes=10**9, max_page_count=12)
    added = 0
    with pytest.raises(OutboxFullError):
        for i in range(10_000):
            outbox.add(f"id-{i}", "x" * 3000)
            added += 1
    assert outbox.stats().pending == added > 0
    assert outbox.integrity_check() == "ok"
    assert outbox.refusal() is not None


def test_a_flipped_row_is_quarantined_and_the_rest_delivered(agent_factory, receiver):
    receiver.stop()
    agent = agent_factory(receiver.url)
    for _ in range(3):
        agent.tap(*SIGN)
    ids = pending_ids(agent)
    with sqlite3.connect(agent.keeper.outbox.path) as db:  # another process's view of the file
        (payload,) = db.execute("SELECT payload FROM outbox WHERE record_id = ?",
                                (ids[1],)).fetchone()
        flipped = bytes([payload[0] ^ 0xFF]) + payload[1:]
        db.execute("UPDATE outbox SET payload = ? WHERE record_id = ?", (flipped, ids[1]))
    receiver.start()
    wait_for(lambda: agent.keeper.stats().pending == 0, what="drained")
    assert receiver.ids() == [ids[0], ids[2]]
    stats = agent.keeper.stats()
    assert stats.quarantined == 1
    (row,) = agent.keeper.outbox.rows()
    assert row.record_id == ids[1] and row.state == "quarantined"
    assert agent.tap(*SIGN)["state"] == "result"  # the agent is still working
