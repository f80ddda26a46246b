"""``myna audit verify [FILE]``: check the audit log's sequence numbers and chained MACs.

Exit 0 when every line checks, 1 with the first broken line's number and why, 2 when the log or
the key cannot be read. The key is the agent's (``--key``, else the systemd credential, else
``log.hmac_key_file`` of ``--config``), so run it as the agent's user or as root.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from agent.service.config import ConfigError, load_config


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = subparsers.add_parser("audit", help="check the audit log's chain")
    sub = p.add_subparsers(dest="audit_command", metavar="ACTION", required=True)
    v = sub.add_parser("verify", help="check sequence numbers and chained MACs of an audit log")
    v.add_argument("file", nargs="?", metavar="FILE", help="audit log (default: log.audit_file)")
    v.add_argument("--config", metavar="FILE", help="TOML configuration (default: built-in)")
    v.add_argument("--key", metavar="FILE", help="HMAC key file (default: the agent's key)")
    v.set_defaults(func=cmd_audit_verify)


def cmd_audit_verify(args: argparse.Namespace) -> int:
    from agent.service.audit import key_path_for, read_key, verify_log

    try:
        config = load_config(args.config)
    except ConfigError as e:
        print(f"myna audit verify: configuration error: {e}", file=sys.stderr)
        return 2
    log_path = Path(args.file) if args.file else config.audit_path
    if log_path is None:
        print("myna audit verify: no audit file configured (log.audit_file)", file=sys.stderr)
        return 2
    key_path = Path(args.key) if args.key else key_path_for(config.hmac_key_path)
    try:
        key = read_key(key_path)
        report = verify_log(log_path, key)
    except (OSError, ValueError) as e:
        print(f"myna audit verify: {e}", file=sys.stderr)
        return 2
    if report.ok:
        print(f"{log_path}: {report.lines} line(s), chain intact")
        return 0
    print(f"{log_path}: line {report.broken_line} is broken: {report.reason} "
          f"({report.lines} line(s) before it check)")
    return 1
