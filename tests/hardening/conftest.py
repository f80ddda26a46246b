"""Fixtures for the hardening tests: exported test trust and a flow config over it."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.flows import FlowConfig
from tests.hardening.rig import make_config


@pytest.fixture(scope="session")
def trust_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from card.emulator import export_trust

    d = tmp_path_factory.mktemp("trust")
    export_trust(d)
    return d


@pytest.fixture(scope="session")
def config(trust_dir: Path) -> FlowConfig:
    return make_config(trust_dir)
