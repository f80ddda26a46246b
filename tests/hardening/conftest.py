"""Fixtures for the hardening tests: a flow config over the exported test trust (``trust_dir``
comes from tests/conftest.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.verification.flows import FlowConfig
from tests.hardening.rig import make_config


@pytest.fixture(scope="session")
def config(trust_dir: Path) -> FlowConfig:
    return make_config(trust_dir)
