"""Agent configurations for tests: the emulator's test trust, every flow enabled, files in tmp."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from agent.service.config import AgentConfig, config_from_mapping


def service_config(tmp: Path, trust_dir: Path, **sections: Any) -> AgentConfig:
    """An ``AgentConfig`` over ``trust_dir`` (``export_trust``) with every flow enabled, a fast
    reader poll, an ephemeral API port and the token/audit files under ``tmp``. Keyword
    arguments update whole sections, e.g. ``reader={"locator": "pcsc"}``."""
    base: dict[str, Any] = {
        "reader": {"poll_interval_s": 0.05, "allow_virtual": True},
        "flows": {"enabled": ["sign", "auth", "face", "number"]},
        "trust": {"mode": "test", "test_dir": str(trust_dir),
                  "crl_file": str(trust_dir / "test.crl"),
                  "cvc_issuer_keys": [str(trust_dir / "cvc_issuer_surface.pem"),
                                      str(trust_dir / "cvc_issuer_input_helper.pem")]},
        "api": {"port": 0, "token_file": str(tmp / "state" / "agent.token")},
        "log": {"audit_file": str(tmp / "audit.jsonl"), "hmac_key_file": str(tmp / "audit.key")},
    }
    for k, v in sections.items():
        base.setdefault(k, {}).update(v)
    return config_from_mapping(base)
