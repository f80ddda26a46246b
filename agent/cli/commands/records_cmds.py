"""``myna keys init|show`` (the kiosk's record-signing key) and ``myna records
list|status|retry|purge --dead`` (the outbox). Never prints identity: rows are id, age, state,
attempts, size and the last delivery error."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from agent.service.config import AgentConfig, ConfigError, load_config


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = subparsers.add_parser("keys", help="the kiosk's record-signing key")
    sub = p.add_subparsers(dest="keys_command", metavar="ACTION", required=True)
    k = sub.add_parser("init", help="create the Ed25519 key (0600, records state dir)")
    k.add_argument("--config", metavar="FILE", help="TOML configuration (default: built-in)")
    k.add_argument("--force", action="store_true", help="replace an existing key")
    k.set_defaults(func=cmd_keys_init)
    k = sub.add_parser("show", help="print the public JWK and its RFC 7638 thumbprint")
    k.add_argument("--config", metavar="FILE", help="TOML configuration (default: built-in)")
    k.add_argument("--jwk", action="store_true",
                   help="only the public JWK (for: myna receiver kiosk add --jwk FILE)")
    k.set_defaults(func=cmd_keys_show)

    p = subparsers.add_parser("records", help="verification records waiting in the outbox")
    sub = p.add_subparsers(dest="records_command", metavar="ACTION", required=True)
    for name, func, text in (("list", cmd_records_list, "id, age, state, size of each row"),
                             ("status", cmd_records_status, "backlog, oldest age, dead"),
                             ("retry", cmd_records_retry, "send dead letters again now")):
        r = sub.add_parser(name, help=text)
        r.add_argument("--config", metavar="FILE", help="TOML configuration (default: built-in)")
        r.add_argument("--json", action="store_true", help="machine-readable output")
        r.set_defaults(func=func)
    r = sub.add_parser("purge", help="delete dead letters (the receiver refused them)")
    r.add_argument("--config", metavar="FILE", help="TOML configuration (default: built-in)")
    r.add_argument("--dead", action="store_true", required=True, help="only dead letters")
    r.set_defaults(func=cmd_records_purge)


def _config(args: argparse.Namespace) -> AgentConfig | None:
    try:
        return load_config(args.config)
    except ConfigError as e:
        print(f"myna: configuration error: {e}", file=sys.stderr)
        return None


def cmd_keys_init(args: argparse.Namespace) -> int:
    from agent.records.keeper import key_path_of
    from agent.records.signing import KioskKey

    config = _config(args)
    if config is None:
        return 2
    path = key_path_of(config)
    existed = path.exists()
    key = KioskKey.init(path, force=args.force)
    print(f"{'kept existing' if existed and not args.force else 'created'} kiosk key {path}")
    print(f"thumbprint {key.kid}")
    return 0


def cmd_keys_show(args: argparse.Namespace) -> int:
    import json

    from agent.records.keeper import key_path_of
    from agent.records.signing import KeyMissingError, KioskKey

    config = _config(args)
    if config is None:
        return 2
    try:
        key = KioskKey.load(key_path_of(config))
    except KeyMissingError as e:
        print(f"myna keys show: {e}", file=sys.stderr)
        return 1
    print(json.dumps(key.public_jwk(), indent=2))
    if not args.jwk:
        print(f"thumbprint {key.kid}")
    return 0


@contextmanager
def _outbox(config: AgentConfig) -> Iterator[Any]:
    """The outbox for one command, closed afterwards (the running agent keeps its own)."""
    from agent.records.keeper import state_dir_of
    from agent.records.outbox import Outbox

    r = config.records
    outbox = Outbox(state_dir_of(config), max_pending=r.max_pending, max_bytes=r.max_bytes)
    try:
        yield outbox
    finally:
        outbox.close()


def status_line(config: AgentConfig) -> str:
    """One line for ``myna status`` and ``myna doctor``: backlog and oldest age."""
    with _outbox(config) as outbox:
        s = outbox.stats().to_json()
    age = "-" if s["oldest_age_s"] is None else f"{s['oldest_age_s']:.0f}s"
    return (f"{s['pending']} pending, oldest {age}, {s['dead']} dead, "
            f"{s['quarantined']} quarantined, {s['bytes']} bytes")


def cmd_records_list(args: argparse.Namespace) -> int:
    import json

    config = _config(args)
    if config is None:
        return 2
    with _outbox(config) as outbox:
        rows = [r.to_json() for r in outbox.rows()]
    if args.json:
        print(json.dumps(rows))
        return 0
    for r in rows:
        print(f"{r['record_id']}\t{r['age_s']:.0f}s\t{r['state']}\t{r['size']}B\t"
              f"{r['attempts']} tries\t{r['last_error'] or ''}")
    return 0


def cmd_records_status(args: argparse.Namespace) -> int:
    import json

    config = _config(args)
    if config is None:
        return 2
    if args.json:
        with _outbox(config) as outbox:
            print(json.dumps(outbox.stats().to_json()))
        return 0
    print(f"records: {status_line(config)}")
    return 0


def cmd_records_retry(args: argparse.Namespace) -> int:
    config = _config(args)
    if config is None:
        return 2
    with _outbox(config) as outbox:
        n = outbox.retry_dead()
    print(f"{n} record(s) queued to send again (the running agent picks them up)")
    return 0


def cmd_records_purge(args: argparse.Namespace) -> int:
    config = _config(args)
    if config is None:
        return 2
    with _outbox(config) as outbox:
        n = outbox.purge_dead()
    print(f"{n} dead record(s) deleted")
    return 0
