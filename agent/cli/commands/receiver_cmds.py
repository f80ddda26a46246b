"""``myna receiver``: serve the back office and administer it (kiosks, tokens, export, purge).

Every subcommand takes ``--db URL`` (default: a SQLite file in the receiver's state directory)
and ``--config FILE`` (TOML with the keys of ``receiver.settings.ReceiverSettings``).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from datetime import datetime


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = subparsers.add_parser("receiver", help="the back office that takes verification records")
    sub = p.add_subparsers(dest="receiver_command", metavar="ACTION", required=True)

    def add(name: str, help_text: str, func: Any) -> argparse.ArgumentParser:
        q = sub.add_parser(name, help=help_text)
        q.add_argument("--db", metavar="URL", help="sqlite:///FILE or postgresql://… "
                       "(default: SQLite in the state directory)")
        q.add_argument("--config", metavar="FILE", help="receiver settings (TOML)")
        q.add_argument("--state-dir", metavar="DIR", help="keys and the default database")
        q.set_defaults(func=func)
        return q

    q = add("serve", "serve the records API under gunicorn", cmd_serve)
    q.add_argument("--bind", default="127.0.0.1:8443", metavar="HOST:PORT")
    q.add_argument("--workers", type=int, default=2, metavar="N")
    q.add_argument("--certfile", metavar="F", help="TLS certificate chain (PEM)")
    q.add_argument("--keyfile", metavar="F", help="TLS private key (PEM)")

    q = add("db", "database schema", cmd_db)
    q.add_argument("db_action", choices=["upgrade", "current"])

    q = add("kiosk", "register, list, disable or enable kiosks", cmd_kiosk)
    q.add_argument("kiosk_action", choices=["add", "list", "disable", "enable"])
    q.add_argument("kiosk_id", nargs="?", metavar="ID")
    q.add_argument("--jwk", metavar="FILE", help="the kiosk's public JWK (myna keys show --jwk)")

    q = add("token", "create a bearer token for pull integrations (GET /v1/records)", cmd_token)
    q.add_argument("token_action", choices=["add"])
    q.add_argument("name")

    q = add("export", "write records, decrypted, for the business's import", cmd_export)
    q.add_argument("--since", metavar="ISO-TIME", help="records checked at or after this time")
    q.add_argument("--state", choices=["accepted", "rejected"])
    q.add_argument("--format", choices=["jsonl", "csv"], default="jsonl")
    q.add_argument("--out", metavar="FILE", help="default: standard output")

    q = add("show", "one record, decrypted, with the receiver's verdict", cmd_show)
    q.add_argument("record_id")

    q = add("purge", "delete records past retention (with a deletion log)", cmd_purge)
    q.add_argument("--older-than", metavar="AGE", help="e.g. 7y (default: settings.retention)")
    q.add_argument("--my-number-older-than", metavar="AGE",
                   help="records carrying a My Number (default: settings.my_number_retention)")
    q.add_argument("--log", action="store_true", help="print the whole deletion log")


def _settings(args: argparse.Namespace) -> Any:
    from receiver.settings import load_settings

    return load_settings(args.config, db_url=args.db, state_dir=args.state_dir)


def _fail(message: str) -> int:
    print(f"myna receiver: {message}", file=sys.stderr)
    return 1


@contextmanager
def _open(args: argparse.Namespace) -> Iterator[Any]:
    from receiver.service import open_receiver

    rx = open_receiver(_settings(args))
    try:
        yield rx
    finally:
        rx.engine.dispose()


def _guarded(func: Any) -> Any:
    """Typed failures become one line on stderr and exit status 1, never a traceback."""
    def run(args: argparse.Namespace) -> int:
        from sqlalchemy.exc import SQLAlchemyError

        from receiver.admin import AdminError
        from receiver.db import DatabaseNotReady
        from receiver.sealing import SealError
        from receiver.settings import SettingsError

        try:
            return int(func(args) or 0)
        except (AdminError, DatabaseNotReady, SealError, SettingsError, OSError) as e:
            return _fail(str(e))
        except SQLAlchemyError as e:
            return _fail(f"database: {type(e).__name__}: {str(e).splitlines()[0][:200]}")
    return run


@_guarded
def cmd_serve(args: argparse.Namespace) -> int:
    from receiver.serve import serve

    if bool(args.certfile) != bool(args.keyfile):
        return _fail("--certfile and --keyfile go together")
    if args.workers < 1 or args.workers > 64:
        return _fail("--workers is 1..64")
    serve(_settings(args), bind=args.bind, workers=args.workers, certfile=args.certfile,
          keyfile=args.keyfile)
    return 0


@_guarded
def cmd_db(args: argparse.Namespace) -> int:
    from receiver import db

    settings = _settings(args)
    engine = db.make_engine(settings.database_url)
    try:
        if args.db_action == "upgrade":
            print(f"schema at {db.upgrade(engine)}")
        else:
            print(db.current_revision(engine) or "empty")
    finally:
        engine.dispose()
    return 0


@_guarded
def cmd_kiosk(args: argparse.Namespace) -> int:

    with _open(args) as rx:
        return _kiosk(args, rx)


def _kiosk(args: argparse.Namespace, rx: Any) -> int:
    from receiver import admin

    if args.kiosk_action == "list":
        for k in admin.list_kiosks(rx):
            state = "enabled" if k["enabled"] else "disabled"
            print(f"{k['kiosk_id']}\t{state}\t{k['thumbprint']}\t{k['added_at']}")
        return 0
    if not args.kiosk_id:
        return _fail(f"kiosk {args.kiosk_action} needs an ID")
    if args.kiosk_action == "add":
        if not args.jwk:
            return _fail("kiosk add needs --jwk FILE")
        thumb = admin.add_kiosk(rx, args.kiosk_id, Path(args.jwk).read_text(encoding="utf-8"))
        print(f"kiosk {args.kiosk_id} registered, key thumbprint {thumb}")
    else:
        admin.set_kiosk_enabled(rx, args.kiosk_id, args.kiosk_action == "enable")
        print(f"kiosk {args.kiosk_id} {args.kiosk_action}d")
    return 0


@_guarded
def cmd_token(args: argparse.Namespace) -> int:
    from receiver import admin

    with _open(args) as rx:
        token = admin.add_token(rx, args.name)
    print(token)  # shown once: only its SHA-256 is kept
    return 0


def _since(text: str | None) -> datetime | None:
    from datetime import UTC, datetime

    if text is None:
        return None
    from receiver.admin import AdminError

    try:
        value = datetime.fromisoformat(text)
    except ValueError as e:
        raise AdminError(f"--since is not an ISO time: {text!r}") from e
    return value if value.tzinfo else value.replace(tzinfo=UTC)


@_guarded
def cmd_export(args: argparse.Namespace) -> int:
    from receiver import admin

    since = _since(args.since)
    with _open(args) as rx:
        if args.out:
            with open(args.out, "w", encoding="utf-8", newline="") as out:
                n = admin.export(rx, out, fmt=args.format, since=since, state=args.state)
        else:
            n = admin.export(rx, sys.stdout, fmt=args.format, since=since, state=args.state)
    print(f"{n} records exported", file=sys.stderr)
    return 0


@_guarded
def cmd_show(args: argparse.Namespace) -> int:
    import json

    from receiver import admin

    with _open(args) as rx:
        shown = admin.show(rx, args.record_id)
    print(json.dumps(shown, ensure_ascii=False, indent=2))
    return 0


@_guarded
def cmd_purge(args: argparse.Namespace) -> int:
    from receiver import admin
    from receiver.settings import parse_duration

    with _open(args) as rx:
        settings = rx.settings
        result = admin.purge(
            rx, older_than=parse_duration(args.older_than or settings.retention),
            my_number_older_than=parse_duration(
                args.my_number_older_than or settings.my_number_retention))
        print(f"{result.deleted} records deleted ({result.my_number_deleted} for My Number "
              "retention)")
        if args.log:
            print(admin.deletion_log(rx), end="")
    return 0
