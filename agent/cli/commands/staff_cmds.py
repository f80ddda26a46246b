"""``myna staff``: staff accounts on this kiosk (add, list, disable, enable, passwd, unlock) and
the per-staff report from the audit log.

Run it as the agent's user: the store is the agent's (``staff.store_file``, by default
``staff.db`` beside the token file, mode 0600). A new password comes from a prompt (asked
twice, never echoed), or for scripts and tests from ``--password-file`` or
``MYNA_STAFF_PASSWORD``; it is never printed or logged. The running agent sees every change at
its next request, so ``disable`` ends that member's sign-in at once.
"""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from agent.service.config import AgentConfig, ConfigError, load_config

if TYPE_CHECKING:
    from agent.staff import StaffStore

PASSWORD_ENV = "MYNA_STAFF_PASSWORD"  # noqa: S105 - the variable's name


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--config", metavar="FILE", help="the agent's TOML configuration")
    p = subparsers.add_parser("staff", help="staff accounts and the staff report",
                              parents=[common])
    sub = p.add_subparsers(dest="staff_command", metavar="ACTION", required=True)

    a = sub.add_parser("add", help="create an account", parents=[common])
    a.add_argument("staff_id", metavar="NAME", help="staff ID used to sign in (a-z 0-9 . _ -)")
    a.add_argument("--role", required=True, choices=["clerk", "supervisor"])
    a.add_argument("--my-number", action="store_true",
                   help="may run the number flow and reveal a My Number")
    a.add_argument("--password-file", type=Path, help="read the password from this file")
    a.add_argument("--card", action="store_true",
                   help="also sign in with this member's own My Number card (auth flow)")
    a.add_argument("--reader", default="pcsc", metavar="LOC",
                   help="reader holding that card (default pcsc)")
    a.set_defaults(func=cmd_add)

    s = sub.add_parser("list", help="list accounts (no passwords, no hashes)", parents=[common])
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=cmd_list)

    for name, helptext, func in (("disable", "refuse sign-in (ends a live session)", cmd_disable),
                                 ("enable", "allow sign-in again", cmd_enable),
                                 ("unlock", "clear the failed sign-in counter", cmd_unlock)):
        c = sub.add_parser(name, help=helptext, parents=[common])
        c.add_argument("staff_id", metavar="NAME")
        c.set_defaults(func=func)

    w = sub.add_parser("passwd", help="set a new password (also unlocks)", parents=[common])
    w.add_argument("staff_id", metavar="NAME")
    w.add_argument("--password-file", type=Path, help="read the password from this file")
    w.set_defaults(func=cmd_passwd)

    r = sub.add_parser("report", help="per-staff counts by flow and outcome (no identity)",
                       parents=[common])
    r.add_argument("--since", required=True, metavar="DATE", help="YYYY-MM-DD or an ISO time")
    r.add_argument("--json", action="store_true")
    r.set_defaults(func=cmd_report)


def _fail(message: str, code: int = 1) -> int:
    print(f"myna staff: {message}", file=sys.stderr)
    return code


def _config(args: argparse.Namespace) -> AgentConfig:
    return load_config(args.config)


def _store(args: argparse.Namespace) -> StaffStore:
    from agent.staff import StaffStore

    return StaffStore(_config(args).staff_store_path)


def _new_password(args: argparse.Namespace) -> str | None:
    if args.password_file is not None:
        try:
            return args.password_file.read_text(encoding="utf-8").rstrip("\r\n")
        except (OSError, UnicodeDecodeError) as e:
            print(f"myna staff: cannot read {args.password_file}: {e}", file=sys.stderr)
            return None
    if PASSWORD_ENV in os.environ:
        return os.environ[PASSWORD_ENV]
    first = getpass.getpass("New staff password: ")
    if getpass.getpass("Again: ") != first:
        print("myna staff: the passwords differ", file=sys.stderr)
        return None
    return first


def card_reference(locator: str) -> str:
    """The card reference the ``auth`` flow reports for the card in ``locator``: the SHA-256
    of its authentication certificate (no PIN needed to read it; sign-in runs the whole flow).

    :raises StaffStoreError: no card, or not a My Number card.
    """
    import hashlib

    from agent.staff import StaffStoreError
    from card.apps import CertificateKind, JpkiApp
    from card.channel import ApduChannel
    from card.errors import CardError
    from card.transports import open_reader

    try:
        with open_reader(locator).connect(exclusive=True) as connection:
            der = JpkiApp(ApduChannel(connection)).read_certificate(CertificateKind.AUTH)
    except CardError as e:
        raise StaffStoreError(f"cannot read the card in {locator}: {e}") from e
    return hashlib.sha256(der).hexdigest()


def _run(args: argparse.Namespace, action: Callable[[argparse.Namespace], int]) -> int:
    from agent.staff import PasswordPolicyError, StaffStoreError

    try:
        return action(args)
    except ConfigError as e:
        return _fail(f"configuration error: {e}", 2)
    except (StaffStoreError, PasswordPolicyError) as e:
        return _fail(str(e))


def cmd_add(args: argparse.Namespace) -> int:
    def add(a: argparse.Namespace) -> int:
        from agent.staff import Role

        store = _store(a)
        ref = card_reference(a.reader) if a.card else None
        password = _new_password(a)
        if password is None:
            return 1
        store.add(a.staff_id, password, Role(a.role), my_number=a.my_number, card_ref=ref)
        extra = (", may reveal My Numbers" if a.my_number else "") + (
            ", signs in with a card" if ref else "")
        print(f"added {a.staff_id} ({a.role}{extra})")
        return 0

    return _run(args, add)


def cmd_list(args: argparse.Namespace) -> int:
    import json

    def show(a: argparse.Namespace) -> int:
        rows = [acct.to_json() for acct in _store(a).list()]
        if a.json:
            print(json.dumps(rows, indent=2))
            return 0
        if not rows:
            print("no staff accounts (myna staff add NAME --role supervisor)")
        for r in rows:
            flags = [str(r["role"])] + (["my-number"] if r["my_number"] else [])
            flags += [] if r["enabled"] else ["DISABLED"]
            flags += ["LOCKED"] if r["locked"] else []
            print(f"{r['staff_id']:<32} {' '.join(flags)}")
        return 0

    return _run(args, show)


def _simple(args: argparse.Namespace, method: str, done: str, *values: object) -> int:
    def act(a: argparse.Namespace) -> int:
        getattr(_store(a), method)(a.staff_id, *values)
        print(f"{a.staff_id} {done}")
        return 0

    return _run(args, act)


def cmd_disable(args: argparse.Namespace) -> int:
    return _simple(args, "set_enabled", "disabled", False)


def cmd_enable(args: argparse.Namespace) -> int:
    return _simple(args, "set_enabled", "enabled", True)


def cmd_unlock(args: argparse.Namespace) -> int:
    return _simple(args, "unlock", "unlocked")


def cmd_passwd(args: argparse.Namespace) -> int:
    def passwd(a: argparse.Namespace) -> int:
        store = _store(a)
        if store.get(a.staff_id) is None:
            return _fail(f"no staff ID {a.staff_id}")
        password = _new_password(a)
        if password is None:
            return 1
        store.set_password(a.staff_id, password)
        print(f"{a.staff_id}: password changed")
        return 0

    return _run(args, passwd)


def cmd_report(args: argparse.Namespace) -> int:
    import json

    from agent.staff.report import build_report, parse_since

    try:
        since = parse_since(args.since)
    except ValueError:
        return _fail("--since wants YYYY-MM-DD or an ISO time", 2)
    try:
        config = _config(args)
    except ConfigError as e:
        return _fail(f"configuration error: {e}", 2)
    report = build_report(config.audit_path, since)
    if args.json:
        print(json.dumps(report.to_json(), indent=2))
    else:
        print("\n".join(report.lines()))
    return 0
