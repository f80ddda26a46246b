"""Fixtures for the records tests: a test CA, the kiosk key, a receiver process, and the agent
in-process over the demo (emulated) reader with records on."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from agent.records.keeper import RecordKeeper
from agent.service.agent_service import AgentService, CardFlowBackend
from card.transports.emulated import EmulatedReader
from tests.hardening.rig import AT, SessionDriver
from tests.support.configs import service_config
from tests.support.pcscd import VpcdSlot
from tests.support.records import (
    AgentProcess,
    Receiver,
    TestPki,
    config_mapping,
    init_key,
    make_pki,
    records_sections,
)

VPCD_READER = "Virtual PCD 00 00"


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory) -> TestPki:
    return make_pki(tmp_path_factory.mktemp("records-pki"))


@pytest.fixture
def state_dir(tmp_path: Path) -> Path:
    d = tmp_path / "records-state"
    init_key(d)
    return d


@pytest.fixture
def receiver(tmp_path: Path, pki: TestPki, state_dir: Path,
             trust_dir: Path) -> Iterator[Receiver]:
    r = Receiver(tmp_path / "receiver", pki, init_key(state_dir).public_jwk(),
                 trust_dir=trust_dir).start()
    yield r
    r.stop()


class InProcessAgent:
    """The agent service with records on, over the demo reader or (``vpcd_port``) a vpcd slot
    of the private pcscd."""

    def __init__(self, tmp: Path, trust_dir: Path, sections: dict[str, Any],
                 max_page_count: int | None = None, vpcd_port: int | None = None) -> None:
        if vpcd_port is not None:
            sections = {**sections, "reader": {"locator": f"pcsc:{VPCD_READER}",
                                               "poll_interval_s": 0.1}}
        self.config = service_config(tmp, trust_dir, **sections)
        self.keeper = RecordKeeper(self.config, max_page_count=max_page_count)
        backend = CardFlowBackend(self.config, at=lambda: AT, records=self.keeper)
        self.reader: Any
        if vpcd_port is None:
            self.reader = EmulatedReader("Myna demo reader")
            self.svc = AgentService(self.config, demo_reader=self.reader, records=self.keeper,
                                    backend=backend)
        else:
            self.reader = VpcdSlot(vpcd_port)
            self.svc = AgentService(self.config, records=self.keeper, backend=backend)
        self.svc.start()
        self.driver = SessionDriver(self.svc)

    def tap(self, persona: str, flow: str, cred: str) -> dict[str, Any]:
        from card.emulator import PERSONAS, VirtualMynaCard

        final = self.driver.tap(self.reader, VirtualMynaCard(PERSONAS[persona]), flow, cred)
        self.driver.remove(self.reader)
        return final

    def stop(self) -> None:
        self.driver.close()
        self.svc.stop()


@pytest.fixture
def agent_factory(tmp_path: Path, trust_dir: Path, state_dir: Path,
                  pki: TestPki) -> Iterator[Any]:
    made: list[InProcessAgent] = []

    def make(url: str, *, max_page_count: int | None = None, ca_file: Path | None = None,
             vpcd_port: int | None = None, **records: Any) -> InProcessAgent:
        sections = records_sections(state_dir, url, ca_file or pki.ca_file, **records)
        agent = InProcessAgent(tmp_path, trust_dir, sections, max_page_count, vpcd_port)
        made.append(agent)
        return agent

    yield make
    for agent in made:
        agent.stop()


@pytest.fixture
def agent_process(tmp_path: Path, trust_dir: Path, state_dir: Path, pki: TestPki,
                  receiver: Receiver) -> Iterator[AgentProcess]:
    """``myna agent`` as its own process, records on, delivering to ``receiver``."""
    config_file = tmp_path / "agent.json"
    sections = records_sections(state_dir, receiver.url, pki.ca_file)
    config_file.write_text(json.dumps(config_mapping(tmp_path, trust_dir, sections)))
    proc = AgentProcess(config_file, tmp_path / "agent.log", tmp_path / "agent-tmp")
    yield proc
    proc.terminate()
