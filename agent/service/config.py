"""The agent's configuration: one TOML file loaded into a frozen ``AgentConfig`` (issue 4 §5).

The keys are those of docs/architecture.md "Config". Every key has a default that runs the demo,
unknown keys are rejected, and every problem raises ``ConfigError`` naming the dotted key and what
is wrong with it, so an operator can fix a kiosk from the message alone.
"""

from __future__ import annotations

import dataclasses
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

FLOWS = ("sign", "auth", "face", "number")
TRUST_MODES = ("jlis", "test")
MAX_CONFIG_BYTES = 256 * 1024


class ConfigError(ValueError):
    """The configuration file is unreadable or a key has a bad value."""

    def __init__(self, key: str, problem: str) -> None:
        self.key = key
        self.problem = problem
        super().__init__(f"{key}: {problem}" if key else problem)


@dataclass(frozen=True, slots=True)
class ReaderConfig:
    locator: str = "pcsc"
    # Polling is the fallback when pcscd cannot notify (and the non-PC/SC transports' rate).
    poll_interval_s: float = 0.25
    # Accept software readers (vpcd "Virtual PCD" and friends): demo and test configs only.
    allow_virtual: bool = False


@dataclass(frozen=True, slots=True)
class FlowsConfig:
    enabled: tuple[str, ...] = ("sign", "auth", "face")
    default: str = "sign"


@dataclass(frozen=True, slots=True)
class TrustConfig:
    mode: str = "jlis"
    test_dir: str = ""
    extra_roots: tuple[str, ...] = ()
    crl_file: str = ""
    crl_url: str = ""
    ocsp_url: str = ""
    cvc_issuer_keys: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class PinConfig:
    allow_last_try: bool = False


@dataclass(frozen=True, slots=True)
class TimeoutsConfig:
    credential_s: float = 30.0
    result_s: float = 60.0
    card_s: float = 20.0
    # The staff flows (face, number): a clerk types a 14-digit 照合番号B and compares the
    # photo with the person, so their windows are longer.
    staff_credential_s: float = 120.0
    staff_result_s: float = 180.0


@dataclass(frozen=True, slots=True)
class ApiConfig:
    host: str = "127.0.0.1"
    port: int = 8765
    token_file: str = "~/.local/state/myna/agent.token"  # noqa: S105 - a path
    # A Unix-domain socket (mode 0600, in a directory only the agent's user may enter): no other
    # local user can reach it or take its place. TCP on loopback (tcp = true, no socket) is for
    # development.
    socket: str = ""
    # With the kiosk server running as its own user, the one group (besides the agent's user)
    # allowed to connect: the socket becomes 0660 and its directory 0750, both of this group.
    socket_group: str = ""
    tcp: bool = True


@dataclass(frozen=True, slots=True)
class LogConfig:
    audit_file: str = "~/.local/state/myna/audit.jsonl"
    hmac_key_file: str = "~/.local/state/myna/audit.key"
    level: str = "INFO"


@dataclass(frozen=True, slots=True)
class RecordsConfig:
    """Verification records (確認記録) and their outbox; docs/architecture.md "Records"."""

    enabled: bool = False
    kiosk_id: str = ""
    identity_fields: tuple[str, ...] = ("name", "address", "birth_date", "sex", "card_reference")
    my_number: bool = False  # only for My Number procedures (番号法): see the README
    photo: bool = False
    max_pending: int = 10_000
    max_bytes: int = 256 * 1024 * 1024
    state_dir: str = "~/.local/state/myna/records"
    # The receiver's page for one record, "{record_id}" standing for the id: the signed-in
    # staff screen links the record panel to it ("" = no link). myna demo --receiver sets it.
    viewer_url: str = ""


@dataclass(frozen=True, slots=True)
class HandoffConfig:
    """Where records go: the operator's receiver over HTTPS (records.enabled turns it on)."""

    url: str = ""
    ca_file: str = ""
    client_cert: str = ""
    client_key: str = ""
    timeout: float = 10.0


@dataclass(frozen=True, slots=True)
class StaffConfig:
    store_file: str = ""  # "" = staff.db beside the token file, in the agent's state directory
    idle_lock_s: float = 300.0


@dataclass(frozen=True, slots=True)
class AgentConfig:
    reader: ReaderConfig = field(default_factory=ReaderConfig)
    flows: FlowsConfig = field(default_factory=FlowsConfig)
    trust: TrustConfig = field(default_factory=TrustConfig)
    pin: PinConfig = field(default_factory=PinConfig)
    timeouts: TimeoutsConfig = field(default_factory=TimeoutsConfig)
    api: ApiConfig = field(default_factory=ApiConfig)
    log: LogConfig = field(default_factory=LogConfig)
    records: RecordsConfig = field(default_factory=RecordsConfig)
    handoff: HandoffConfig = field(default_factory=HandoffConfig)
    staff: StaffConfig = field(default_factory=StaffConfig)

    @property
    def token_path(self) -> Path:
        return Path(self.api.token_file).expanduser()

    @property
    def audit_path(self) -> Path | None:
        return Path(self.log.audit_file).expanduser() if self.log.audit_file else None

    @property
    def hmac_key_path(self) -> Path:
        return Path(self.log.hmac_key_file).expanduser()

    @property
    def staff_store_path(self) -> Path:
        if self.staff.store_file:
            return Path(self.staff.store_file).expanduser()
        return self.token_path.parent / "staff.db"

    @property
    def test_trust(self) -> bool:
        return self.trust.mode == "test" or bool(self.trust.extra_roots)

    def flow_config(self) -> Any:
        """Build the verifier's ``agent.verification.flows.FlowConfig`` from this config."""
        from agent.verification import (
            flows,  # lazy: the service and its tests run without the verifier
        )

        return flows.FlowConfig.from_agent_config(self)


# ---- loading -------------------------------------------------------------------------------

_SECTIONS: dict[str, type] = {
    "reader": ReaderConfig,
    "flows": FlowsConfig,
    "trust": TrustConfig,
    "pin": PinConfig,
    "timeouts": TimeoutsConfig,
    "api": ApiConfig,
    "log": LogConfig,
    "records": RecordsConfig,
    "handoff": HandoffConfig,
    "staff": StaffConfig,
}


def load_config(path: str | Path | None = None) -> AgentConfig:
    """Load and check a TOML file; ``None`` gives the defaults.

    :raises ConfigError: unreadable file, bad TOML, unknown key or bad value.
    """
    if path is None:
        return AgentConfig()
    p = Path(path).expanduser()
    try:
        raw = p.read_bytes()
    except OSError as e:
        raise ConfigError("", f"cannot read config file {p}: {e.strerror}") from e
    if len(raw) > MAX_CONFIG_BYTES:
        raise ConfigError("", f"config file {p} is larger than {MAX_CONFIG_BYTES} bytes")
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as e:
        raise ConfigError("", f"config file {p} is not UTF-8") from e
    except tomllib.TOMLDecodeError as e:
        raise ConfigError("", f"config file {p} is not valid TOML: {e}") from e
    return config_from_mapping(data)


def config_from_mapping(data: Mapping[str, Any]) -> AgentConfig:
    """Build an ``AgentConfig`` from parsed TOML (tests pass dicts)."""
    sections: dict[str, Any] = {}
    for name, value in data.items():
        if name not in _SECTIONS:
            raise ConfigError(name, f"unknown section (known: {', '.join(_SECTIONS)})")
        if not isinstance(value, Mapping):
            raise ConfigError(name, "must be a table")
        sections[name] = _build_section(name, _SECTIONS[name], value)
    config = AgentConfig(**sections)
    _check(config)
    return config


def _build_section(section: str, cls: type, values: Mapping[str, Any]) -> Any:
    defaults = cls()
    kwargs: dict[str, Any] = {}
    for key, value in values.items():
        dotted = f"{section}.{key}"
        if not hasattr(defaults, key):
            known = ", ".join(f.name for f in dataclasses.fields(cls))
            raise ConfigError(dotted, f"unknown key (known: {known})")
        kwargs[key] = _coerce(dotted, getattr(defaults, key), value)
    return cls(**kwargs)


def _coerce(key: str, default: Any, value: Any) -> Any:
    # bool before int: bool is an int subclass, and `port = true` must not pass.
    if isinstance(default, bool):
        if not isinstance(value, bool):
            raise ConfigError(key, f"must be true or false, not {type(value).__name__}")
        return value
    if isinstance(default, int):
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(key, f"must be an integer, not {type(value).__name__}")
        return value
    if isinstance(default, float):
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(key, f"must be a number, not {type(value).__name__}")
        return float(value)
    if isinstance(default, str):
        if not isinstance(value, str):
            raise ConfigError(key, f"must be a string, not {type(value).__name__}")
        return value
    if isinstance(default, tuple):
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ConfigError(key, "must be a list of strings")
        return tuple(value)
    raise ConfigError(key, "unsupported value")  # pragma: no cover - every default is covered


def _check(c: AgentConfig) -> None:
    locator = c.reader.locator
    if not locator or locator.split(":", 1)[0] not in ("pcsc", "nfc", "emulator", "replay"):
        raise ConfigError("reader.locator", f"unknown reader locator {locator!r}")
    if not 0.02 <= c.reader.poll_interval_s <= 10:
        raise ConfigError("reader.poll_interval_s", "must be between 0.02 and 10 seconds")
    if not c.flows.enabled:
        raise ConfigError("flows.enabled", "must name at least one flow")
    for flow in c.flows.enabled:
        if flow not in FLOWS:
            raise ConfigError("flows.enabled", f"unknown flow {flow!r} (known: {', '.join(FLOWS)})")
    if len(set(c.flows.enabled)) != len(c.flows.enabled):
        raise ConfigError("flows.enabled", "lists a flow twice")
    if c.flows.default not in c.flows.enabled:
        raise ConfigError("flows.default", f"{c.flows.default!r} is not in flows.enabled")
    if c.flows.default in ("face", "number"):
        # The staff-only flows start only from a signed-in staff session, never by default.
        raise ConfigError("flows.default", f"{c.flows.default!r} is a staff-only flow")
    if c.trust.mode not in TRUST_MODES:
        raise ConfigError("trust.mode", f"must be one of {', '.join(TRUST_MODES)}")
    if c.trust.mode == "test" and not c.trust.test_dir:
        raise ConfigError(
            "trust.test_dir", "required when trust.mode = \"test\" (myna emulator --export-trust)"
        )
    if c.trust.crl_url and not c.trust.crl_url.startswith(("http://", "https://")):
        raise ConfigError("trust.crl_url", "must be an http(s) URL")
    if c.trust.ocsp_url and not c.trust.ocsp_url.startswith(("http://", "https://")):
        raise ConfigError("trust.ocsp_url", "must be an http(s) URL")
    for name in ("credential_s", "result_s", "card_s", "staff_credential_s", "staff_result_s"):
        value = getattr(c.timeouts, name)
        if not 1 <= value <= 3600:
            raise ConfigError(f"timeouts.{name}", "must be between 1 and 3600 seconds")
    if c.api.host not in ("127.0.0.1", "::1", "localhost"):
        # design §5: localhost-only binding; the API hands out identity data.
        raise ConfigError("api.host", "must be a loopback address (127.0.0.1, ::1 or localhost)")
    if not 0 <= c.api.port <= 65535:
        raise ConfigError("api.port", "must be between 0 and 65535 (0 = any free port)")
    if not c.api.token_file:
        raise ConfigError("api.token_file", "must not be empty")
    if c.api.tcp == bool(c.api.socket):
        raise ConfigError("api.tcp", "the API listens on one of: api.socket, or TCP (tcp = true)")
    if c.api.socket and not Path(c.api.socket).expanduser().is_absolute():
        raise ConfigError("api.socket", "must be an absolute path")
    if c.api.socket_group and not c.api.socket:
        raise ConfigError("api.socket_group", "needs api.socket")
    if not c.log.hmac_key_file:
        raise ConfigError("log.hmac_key_file", "must not be empty")
    if c.log.level.upper() not in ("TRAFFIC", "DEBUG", "INFO", "WARNING", "ERROR"):
        raise ConfigError("log.level", "must be TRAFFIC, DEBUG, INFO, WARNING or ERROR")
    if not 10 <= c.staff.idle_lock_s <= 3600:
        raise ConfigError("staff.idle_lock_s", "must be between 10 and 3600 seconds")
    _check_records(c)


RECORD_IDENTITY_FIELDS = ("name", "address", "birth_date", "sex", "card_reference",
                          "card_expiry")


def _check_records(c: AgentConfig) -> None:
    r, h = c.records, c.handoff
    for name in r.identity_fields:
        if name not in RECORD_IDENTITY_FIELDS:
            known = ", ".join(RECORD_IDENTITY_FIELDS)
            raise ConfigError("records.identity_fields", f"unknown field {name!r} (known: {known})")
    if r.max_pending < 1:
        raise ConfigError("records.max_pending", "must be at least 1")
    if r.max_bytes < 64 * 1024:
        raise ConfigError("records.max_bytes", "must be at least 65536")
    if not r.state_dir:
        raise ConfigError("records.state_dir", "must not be empty")
    if r.enabled and not r.kiosk_id:
        raise ConfigError("records.kiosk_id", "required when records.enabled = true")
    if len(r.kiosk_id) > 128:
        raise ConfigError("records.kiosk_id", "must be at most 128 characters")
    if r.viewer_url and (not r.viewer_url.startswith("https://") or len(r.viewer_url) > 512
                         or r.viewer_url.count("{record_id}") != 1):
        raise ConfigError("records.viewer_url",
                          "must be an https:// URL with {record_id} once, at most 512 characters")
    if h.url and not h.url.startswith("https://"):
        # Records carry identity: never in clear text, not even on a "trusted" LAN.
        raise ConfigError("handoff.url", "must be an https:// URL")
    if bool(h.client_cert) != bool(h.client_key):
        raise ConfigError("handoff.client_key", "client_cert and client_key go together")
    if not 0.1 <= h.timeout <= 300:
        raise ConfigError("handoff.timeout", "must be between 0.1 and 300 seconds")
