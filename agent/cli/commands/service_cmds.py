"""``myna agent`` (the long-running service) and ``myna doctor`` (kiosk diagnosis), issue 4 §6.

``myna agent [--config FILE]`` runs ``AgentService`` until SIGTERM or Ctrl-C and prints where it
listens and where the token file is (never the token). ``myna doctor`` prints one line per check
and exits 1 when any check fails.
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from types import FrameType


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = subparsers.add_parser("agent", help="run the agent service (local API for the kiosk UI)")
    p.add_argument("--config", metavar="FILE", help="TOML configuration (default: built-in)")
    p.set_defaults(func=cmd_agent)
    p = subparsers.add_parser("doctor", help="diagnose pcscd, readers, trust config and clock")
    p.add_argument("--config", metavar="FILE", help="TOML configuration (default: built-in)")
    p.set_defaults(func=cmd_doctor)


def cmd_agent(args: argparse.Namespace) -> int:
    import signal
    import threading

    from agent.service.agent_service import AgentService
    from agent.service.config import ConfigError, load_config
    from agent.service.logging import setup_logging

    try:
        config = load_config(args.config)
    except ConfigError as e:
        print(f"myna agent: configuration error: {e}", file=sys.stderr)
        return 2
    setup_logging(config.log.level if not args.verbose else "DEBUG")
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    from agent.records.signing import KeyMissingError
    from agent.service.http_server import SocketPathError

    try:
        service = AgentService(config)
    except KeyMissingError as e:  # records on without a kiosk key
        print(f"myna agent: {e}", file=sys.stderr)
        return 2
    where = config.api.socket or f"{config.api.host}:{config.api.port}"
    try:
        service.start()
    except SocketPathError as e:
        print(f"myna agent: cannot listen on {where}: {e}", file=sys.stderr)
        return 1
    except OSError as e:
        print(f"myna agent: cannot listen on {where}: {e.strerror}", file=sys.stderr)
        return 1
    print(f"myna agent listening on {service.url}/v1 (token in {service.token_file})", flush=True)
    try:
        while not stop.wait(1.0):
            pass
    finally:
        service.stop()
    return 0


def cmd_doctor(args: argparse.Namespace) -> int:
    from agent.cli.doctor import Status, run_checks
    from agent.service.config import ConfigError, load_config

    try:
        config = load_config(args.config)
    except ConfigError as e:
        print(f"[fail] config: {e}")
        return 1
    checks = run_checks(config)
    for check in checks:
        print(f"[{check.status}] {check.name}: {check.detail}")
    return 1 if any(c.status is Status.FAIL for c in checks) else 0
