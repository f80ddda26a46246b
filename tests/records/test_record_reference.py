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


def test_the_staff_bar_sees_the_backlog_and_nothing_else(agent_factory):
    from kiosk_ui.agent_client import AgentClient
    from kiosk_ui.staff import records_view

    agent = agent_factory("https://127.0.0.1:9/none")  # the receiver never answers
    client = AgentClient(agent.svc.url, token_file=agent.svc.config.token_path)
    assert client.records_status()["pending"] == 0
    agent.tap("yamada-taro", "sign", credential("yamada-taro", "sign"))
    raw = client.records_status()
    assert raw["enabled"] is True and raw["pending"] == 1 and raw["oldest_age_s"] >= 0
    shown = records_view(raw)
    assert shown == {"enabled": True, "pending": 1, "dead": 0, "quarantined": 0,
                     "oldest_age_min": 0}
    # whatever the agent sends, only bounded counts reach the page
    assert records_view({"enabled": True, "pending": "1; drop", "name": "x"}) == {
        "enabled": True, "pending": 0, "dead": 0, "quarantined": 0, "oldest_age_min": None}
    assert records_view(None) == {"enabled": False}


def test_the_staff_bar_learns_the_receivers_record_page(agent_factory):
    from kiosk_ui.agent_client import AgentClient
    from kiosk_ui.staff import records_view

    page = "https://receiver.example:8443/records/{record_id}"
    agent = agent_factory("https://127.0.0.1:9/none", viewer_url=page)
    client = AgentClient(agent.svc.url, token_file=agent.svc.config.token_path)
    raw = client.records_status()
    assert raw["viewer_url"] == page and records_view(raw)["viewer_url"] == page
    # only an https template with one {record_id} reaches the page
    for bad in ("javascript:alert(1)//{record_id}", "http://receiver/{record_id}",
                "https://receiver/records/", "https://r/{record_id}{record_id}", 7,
                "https://r/{record_id}" + "x" * 600):
        assert "viewer_url" not in records_view({"enabled": True, "viewer_url": bad}), bad
