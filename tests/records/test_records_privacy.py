"""Privacy of records on the kiosk: after every persona's taps through the agent process, with
records waiting in the outbox and after delivery, no name, address, birth date, PIN or My Number
is in plaintext anywhere in the records state directory, the agent's log, its temporary files or
the receiver's log; and the scan does catch a plaintext copy of a record."""

from __future__ import annotations

import base64

import pytest

from agent.records.outbox import Outbox
from card.emulator import PERSONAS
from tests.hardening.rig import credential
from tests.support.privacy import files_under, scan
from tests.support.records import wait_for

pytestmark = [pytest.mark.emulator_only, pytest.mark.slow]


def pending(state_dir):
    outbox = Outbox(state_dir, max_pending=10**6, max_bytes=10**12)
    try:
        return outbox.stats().pending
    finally:
        outbox.close()


def test_no_personal_data_in_plaintext_anywhere(agent_process, receiver, state_dir, tmp_path):
    receiver.stop()
    agent_process.start()
    results = 0
    for persona in sorted(PERSONAS):
        for flow in ("sign", "face", "number"):
            results += agent_process.tap(persona, flow, credential(persona, flow))[
                "state"] == "result"
    assert results >= 10  # records with identities exist: the scan is not vacuous
    agent_process.kill()  # SIGKILL: WAL and all as a crash leaves them
    waiting = pending(state_dir)
    assert waiting >= 3 * len(PERSONAS) - 5
    assert scan(files_under(tmp_path)) == []
    receiver.start()
    agent_process.start()
    wait_for(lambda: pending(state_dir) == 0, what="drained")
    agent_process.terminate()
    assert len(receiver.ids()) == waiting
    assert scan(files_under(tmp_path)) == []


def test_the_scan_catches_a_plaintext_copy_of_a_record(agent_process, receiver, state_dir):
    receiver.stop()
    agent_process.start()
    agent_process.tap("yamada-taro", "sign", credential("yamada-taro", "sign"))
    agent_process.kill()
    outbox = Outbox(state_dir, max_pending=10**6, max_bytes=10**12)
    try:
        due = outbox.next_due()
    finally:
        outbox.close()
    assert due is not None
    assert scan(files_under(state_dir)) == []
    payload = due.jws.split(".")[1]
    plain = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
    (state_dir / "leaked-copy.json").write_bytes(plain)
    leaks = scan(files_under(state_dir))
    assert any(leak.startswith("yamada-taro name in ") for leak in leaks), leaks
    assert any(leak.startswith("yamada-taro address in ") for leak in leaks), leaks
