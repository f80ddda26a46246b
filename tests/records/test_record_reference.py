"""The result the staff screen shows names the verification record kept for it: the snapshot's
``record_id`` is the id of the record committed to the outbox for that very check."""

from __future__ import annotations

import pytest

from tests.hardening.rig import credential

pytestmark = pytest.mark.emulator_only


def test_the_result_names_its_record(agent_factory):
    agent = agent_factory("https://127.0.0.1:9/none")  # nothing delivered: the row stays
    final = agent.tap("yamada-taro", "sign", credential("yamada-taro", "sign"))
    rows = [r.record_id for r in agent.keeper.outbox.rows()]
    assert final["state"] == "result" and len(rows) == 1
    assert final["record_id"] == rows[0]
    # once the card is gone, the snapshot names no record any more
    assert agent.svc.snapshot()["record_id"] is None
