"""``myna demo --receiver`` wiring: the demo agent's record arrives at a local receiver over
HTTPS pinned to that receiver's own CA, and is re-verified there."""

from __future__ import annotations

import io
import json
import ssl
import time
import urllib.request
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow


def test_a_demo_tap_arrives_at_the_demo_receiver(tmp_path: Path, trust_dir: Path):
    from agent.cli.demo import demo_agent
    from agent.cli.demo_receiver import demo_receiver
    from card.emulator import VirtualMynaCard
    from receiver import admin
    from receiver.service import open_receiver
    from receiver.settings import load_settings
    from tests.hardening.rig import SessionDriver

    with demo_receiver(tmp_path, trust_dir) as rx, \
            demo_agent(tmp_path, extra_sections=rx.agent_sections) as agent:
        driver = SessionDriver(agent.service)
        final = driver.tap(agent.reader, VirtualMynaCard.for_persona("yamada-taro"), "sign",
                           "MYNA2026")
        driver.remove(agent.reader)
        driver.close()
        assert final["state"] == "result"
        receiver = open_receiver(load_settings(rx.config_file))
        try:
            deadline = time.monotonic() + 60
            out = io.StringIO()
            while not admin.export(receiver, out, fmt="jsonl") and time.monotonic() < deadline:
                time.sleep(0.2)
        finally:
            receiver.engine.dispose()
        record_id = json.loads(out.getvalue())["record_id"]
        # The signed-in staff screen links the record panel to the receiver's page for it.
        template = agent.service.records.viewer_url
        assert template == rx.url + "/records/{record_id}"
        ca = ssl.create_default_context(cafile=rx.agent_sections["handoff"]["ca_file"])
        with urllib.request.urlopen(template.replace("{record_id}", record_id),  # noqa: S310
                                    context=ca, timeout=30) as res:
            page = res.read().decode()
        assert record_id in page and "accepted" in page
    stored = json.loads(out.getvalue())
    assert stored["state"] == "accepted" and stored["kiosk_id"] == "demo-kiosk"
    assert stored["record"]["flow"] == "sign" and stored["record"]["ok"] is True
