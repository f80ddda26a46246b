"""AgentConfig: defaults run the demo, unknown keys and bad values are refused by name."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.service.config import AgentConfig, ConfigError, config_from_mapping, load_config


def test_defaults_match_architecture():
    c = load_config(None)
    assert c.reader.locator == "pcsc"
    assert c.flows.enabled == ("sign", "auth", "face")
    assert c.flows.default == "sign"
    assert c.trust.mode == "jlis"
    assert (c.timeouts.credential_s, c.timeouts.result_s, c.timeouts.card_s) == (30, 60, 20)
    assert (c.api.host, c.api.port) == ("127.0.0.1", 8765)
    assert c.pin.allow_last_try is False
    assert not c.test_trust


def test_full_file_loads(tmp_path: Path):
    f = tmp_path / "myna.toml"
    f.write_text(
        """
[reader]
locator = "emulator:yamada-taro"
[flows]
enabled = ["sign", "auth", "face", "number"]
default = "auth"
[trust]
mode = "test"
test_dir = "/srv/trust"
extra_roots = []
crl_file = ""
crl_url = ""
ocsp_url = ""
cvc_issuer_keys = ["/srv/a.pem"]
[pin]
allow_last_try = true
[timeouts]
credential_s = 30
result_s = 60
card_s = 20
[api]
host = "127.0.0.1"
port = 0
token_file = "~/t.token"
[log]
audit_file = "~/a.jsonl"
hmac_key_file = "~/a.key"
""",
        encoding="utf-8",
    )
    c = load_config(f)
    assert isinstance(c, AgentConfig)
    assert c.flows.enabled == ("sign", "auth", "face", "number")
    assert c.trust.cvc_issuer_keys == ("/srv/a.pem",)
    assert c.test_trust
    assert c.api.port == 0
    assert c.token_path == Path("~/t.token").expanduser()
    with pytest.raises(AttributeError):
        c.api.port = 1  # type: ignore[misc]


@pytest.mark.parametrize(
    ("data", "key"),
    [
        ({"nonsense": {}}, "nonsense"),
        ({"api": {"prot": 1}}, "api.prot"),
        ({"api": {"port": "8765"}}, "api.port"),
        ({"api": {"port": True}}, "api.port"),
        ({"api": {"port": 70000}}, "api.port"),
        ({"api": {"host": "0.0.0.0"}}, "api.host"),  # noqa: S104 - the value under test
        ({"flows": {"enabled": ["sign", "teleport"]}}, "flows.enabled"),
        ({"flows": {"enabled": []}}, "flows.enabled"),
        ({"flows": {"enabled": ["sign", "sign"]}}, "flows.enabled"),
        ({"flows": {"default": "number"}}, "flows.default"),
        ({"flows": {"enabled": "sign"}}, "flows.enabled"),
        ({"trust": {"mode": "anything"}}, "trust.mode"),
        ({"trust": {"mode": "test"}}, "trust.test_dir"),
        ({"trust": {"ocsp_url": "ftp://x"}}, "trust.ocsp_url"),
        ({"timeouts": {"credential_s": 0}}, "timeouts.credential_s"),
        ({"timeouts": {"result_s": "60"}}, "timeouts.result_s"),
        ({"pin": {"allow_last_try": 1}}, "pin.allow_last_try"),
        ({"reader": {"locator": "usb"}}, "reader.locator"),
        ({"reader": 3}, "reader"),
        ({"log": {"level": "LOUD"}}, "log.level"),
    ],
    ids=lambda v: v if isinstance(v, str) else None,
)
def test_bad_values_name_the_key(data, key):
    with pytest.raises(ConfigError) as info:
        config_from_mapping(data)
    assert info.value.key == key
    assert str(info.value).startswith(key)


def test_bad_toml_and_missing_file(tmp_path: Path):
    f = tmp_path / "bad.toml"
    f.write_text("[api\nport = ", encoding="utf-8")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(f)
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path / "missing.toml")
    f.write_bytes(b"\xff\xfe")
    with pytest.raises(ConfigError, match="not UTF-8"):
        load_config(f)
