"""Fixtures shared by the agent tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from test_service_rig import AT, Http, SseReader, service_config

from agent.service.agent_service import AgentService, CardFlowBackend
from tests.support.staff import sign_in_staff

VPCD_READER = "Virtual PCD 00 00"


@pytest.fixture
def pcsc_agent(pcscd: Any, tmp_path: Path, trust_dir: Path) -> Iterator[tuple[Any, ...]]:
    """An AgentService on the private pcscd's vpcd reader, idle with no card:
    ``svc, http_, sse, pcscd = pcsc_agent``."""
    config = service_config(tmp_path, trust_dir, reader={"locator": f"pcsc:{VPCD_READER}",
                                                          "poll_interval_s": 0.1})
    svc = AgentService(config, backend=CardFlowBackend(config, at=lambda: AT))
    svc.start()
    http_ = Http(svc.url, svc.token)
    sign_in_staff(svc, http_)  # face and number need a signed-in staff member
    sse = SseReader(http_)
    sse.wait(lambda s: s["state"] == "idle" and s["reader"] == VPCD_READER, timeout=10)
    yield svc, http_, sse, pcscd
    sse.close()
    svc.stop()
    if pcscd.proc.poll() is not None:  # leave the shared daemon running for other tests
        pcscd.restart()
