"""SIGKILL of the agent process at the three points of a delivery, and in the middle of a burst:
after a restart every record arrives at least once, duplicates only with the same id, none lost,
and the outbox database passes ``PRAGMA integrity_check``."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from agent.records.outbox import Outbox
from tests.hardening.rig import credential
from tests.support.records import (
    ROOT,
    wait_for,
)

pytestmark = [pytest.mark.emulator_only, pytest.mark.slow]
SIGN = ("yamada-taro", "sign", credential("yamada-taro", "sign"))


def outbox_ids(state_dir: Path) -> list[str]:
    outbox = Outbox(state_dir, max_pending=10**6, max_bytes=10**12)
    try:
        return [r.record_id for r in outbox.rows()]
    finally:
        outbox.close()


def test_sigkill_after_commit_before_send(agent_process, receiver, state_dir):
    receiver.stop()
    agent_process.start()
    for _ in range(3):
        assert agent_process.tap(*SIGN)["state"] == "result"
    agent_process.kill()
    committed = outbox_ids(state_dir)
    assert len(committed) == 3
    receiver.start()
    agent_process.start()
    wait_for(lambda: outbox_ids(state_dir) == [], what="drained after restart")
    assert receiver.ids() == committed


def test_sigkill_during_send(agent_process, receiver, state_dir):
    receiver.set_mode("hang")
    agent_process.start()
    agent_process.tap(*SIGN)
    (record_id,) = wait_for(receiver.hung, what="the POST in flight")
    agent_process.kill()
    assert outbox_ids(state_dir) == [record_id]
    receiver.set_mode("ok")
    agent_process.start()
    wait_for(lambda: outbox_ids(state_dir) == [], what="drained after restart")
    assert receiver.ids() == [record_id]


def test_sigkill_after_the_receivers_2xx_before_the_local_delete(agent_process, receiver,
                                                                 state_dir):
    receiver.set_mode("stall")  # commits, sends 200 and half a body, then hangs
    agent_process.start()
    agent_process.tap(*SIGN)
    (record_id,) = wait_for(receiver.ids, what="the receiver's commit")
    agent_process.kill()
    assert outbox_ids(state_dir) == [record_id]  # acknowledged but not yet deleted
    receiver.set_mode("ok")
    agent_process.start()
    wait_for(lambda: outbox_ids(state_dir) == [], what="drained after restart")
    assert receiver.all_ids()[:2] == [record_id, record_id]  # a duplicate, same id: none lost


def test_burst_of_100_with_sigkill_in_the_middle(agent_process, receiver, state_dir):
    proc = subprocess.Popen(  # noqa: S603
        [sys.executable, "-m", "tests.support.records_burst", str(agent_process.config_file),
         "100"], cwd=ROOT, stdout=subprocess.PIPE, stdin=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    printed = []
    for line in proc.stdout:
        printed.append(line.split()[1])
        if len(printed) == 50:
            os.kill(proc.pid, signal.SIGKILL)
            break
    proc.wait(10)
    # Commits that returned while the test read the first 50 lines are in the pipe already.
    printed += [line.split()[1] for line in proc.stdout
                if line.startswith("C ") and line.endswith("\n")]
    proc.stdout.close()
    proc.stdin.close()  # type: ignore[union-attr]
    outbox = Outbox(state_dir, max_pending=10**6, max_bytes=10**12)
    try:
        assert outbox.integrity_check() == "ok"
        kept = {r.record_id for r in outbox.rows()}
    finally:
        outbox.close()
    delivered = set(receiver.ids())
    known = kept | delivered
    assert set(printed) <= known  # every commit that returned survived the kill
    assert len(known - set(printed)) <= 1  # at most the one committed as the kill landed
    agent_process.start()
    wait_for(lambda: outbox_ids(state_dir) == [], what="drained after restart")
    assert set(receiver.ids()) == known  # duplicates, if any, only with the same id
