"""The receiver's settings: command-line values over an optional TOML file over defaults."""

from __future__ import annotations

import os
import re
import tomllib
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

MAX_SETTINGS_BYTES = 64 * 1024
_DURATION = re.compile(r"(\d{1,4})([ydh])")


class SettingsError(ValueError):
    """A setting has a bad value; the message names it."""


def parse_duration(text: str) -> timedelta:
    """``7y``, ``90d`` or ``12h`` as a timedelta (a year counts 366 days: keep, never cut short)."""
    m = _DURATION.fullmatch(text.strip())
    if not m:
        raise SettingsError(f"not a duration (e.g. 7y, 90d, 12h): {text!r}")
    n, unit = int(m.group(1)), m.group(2)
    return {"y": timedelta(days=366 * n), "d": timedelta(days=n), "h": timedelta(hours=n)}[unit]


def default_state_dir() -> Path:
    # systemd's StateDirectory= sets STATE_DIRECTORY; by hand it is the user's state dir.
    env = os.environ.get("STATE_DIRECTORY")
    if env:
        return Path(env.split(":")[0])
    return Path.home() / ".local" / "state" / "myna" / "receiver"


@dataclass(frozen=True, slots=True)
class ReceiverSettings:
    state_dir: Path = field(default_factory=default_state_dir)
    db_url: str = ""  # "" = SQLite file in the state dir
    retention: str = "7y"
    my_number_retention: str = "90d"
    max_body_bytes: int = 1024 * 1024
    trust_mode: str = "jlis"
    test_dir: str = ""
    cvc_issuer_keys: tuple[str, ...] = ()
    crl_file: str = ""
    # "loopback": GET /records/ID shows one record's verdict (never identity) to a browser on
    # this machine (myna demo --receiver links the staff screen to it). Behind a reverse proxy
    # on the same host every request is from loopback: leave it "off" there.
    record_page: str = "off"

    @property
    def database_url(self) -> str:
        return self.db_url or f"sqlite:///{self.state_dir / 'receiver.sqlite3'}"

    @property
    def data_key_file(self) -> Path:
        # A systemd credential (LoadCredential=receiver.key:...) wins over the state dir's file.
        creds = os.environ.get("CREDENTIALS_DIRECTORY")
        if creds and (Path(creds) / "receiver.key").exists():
            return Path(creds) / "receiver.key"
        return self.state_dir / "receiver.key"

    @property
    def retention_delta(self) -> timedelta:
        return parse_duration(self.retention)

    @property
    def my_number_retention_delta(self) -> timedelta:
        return parse_duration(self.my_number_retention)


_KEYS = {"db_url": str, "retention": str, "my_number_retention": str, "max_body_bytes": int,
         "trust_mode": str, "test_dir": str, "cvc_issuer_keys": list, "crl_file": str,
         "state_dir": str, "record_page": str}


def load_settings(path: str | Path | None = None, **overrides: Any) -> ReceiverSettings:
    """Settings from ``path`` (TOML, keys of ``ReceiverSettings``) with non-None ``overrides``."""
    values: dict[str, Any] = {}
    if path:
        data = Path(path).read_bytes()
        if len(data) > MAX_SETTINGS_BYTES:
            raise SettingsError(f"{path}: larger than {MAX_SETTINGS_BYTES} bytes")
        try:
            values = tomllib.loads(data.decode("utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
            raise SettingsError(f"{path}: {e}") from e
    values.update({k: v for k, v in overrides.items() if v is not None})
    for key, value in values.items():
        kind = _KEYS.get(key)
        if kind is None:
            raise SettingsError(f"unknown setting {key!r}")
        if not isinstance(value, kind) or isinstance(value, bool):
            raise SettingsError(f"{key}: expected {kind.__name__}")
    if "state_dir" in values:
        values["state_dir"] = Path(values["state_dir"]).expanduser()
    if "cvc_issuer_keys" in values:
        values["cvc_issuer_keys"] = tuple(str(v) for v in values["cvc_issuer_keys"])
    if values.get("trust_mode", "jlis") not in ("jlis", "test"):
        raise SettingsError("trust_mode: 'jlis' or 'test'")
    if values.get("record_page", "off") not in ("off", "loopback"):
        raise SettingsError("record_page: 'off' or 'loopback'")
    settings = ReceiverSettings(**values)
    parse_duration(settings.retention)
    parse_duration(settings.my_number_retention)
    return settings
