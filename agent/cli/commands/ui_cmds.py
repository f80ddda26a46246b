"""``myna kiosk`` and ``myna demo``: the kiosk UI server, alone or with a demo agent.

``myna kiosk`` runs the kiosk UI (``python -m kiosk_ui``) in its own process against an agent
that is already running. ``myna demo`` starts an agent on the in-process emulator and the
kiosk UI (see ``agent.cli.demo``). The UI process never shares memory with the agent (design §3).
"""

from __future__ import annotations

import argparse
import subprocess
import sys


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    k = sub.add_parser("kiosk", help="the kiosk UI server, pointed at a running agent")
    k.add_argument("--agent-url", default="http://127.0.0.1:8765")
    k.add_argument("--token-file", default="~/.local/state/myna/agent.token")
    k.add_argument("--host", default="127.0.0.1", help="bind address (default: localhost only)")
    k.add_argument("--port", type=int, default=8080)
    k.add_argument(
        "--pairing-file",
        default=None,
        help="file the browser launcher writes each launch's one-time pairing secret to "
        "(default: make one up and print the pairing URL)",
    )
    k.add_argument(
        "--pairing-state",
        default=None,
        help="file that keeps the browser's pairing across restarts of the kiosk server",
    )
    k.set_defaults(func=cmd_kiosk)

    d = sub.add_parser("demo", help="agent + kiosk UI + virtual card, no hardware needed")
    d.add_argument("--host", default="127.0.0.1")
    d.add_argument("--port", type=int, default=8080)
    d.add_argument("--persona", default="yamada-taro", help="persona preselected in the panel")
    d.set_defaults(func=cmd_demo)


def cmd_kiosk(args: argparse.Namespace) -> int:
    from agent.cli.demo import kiosk_command

    cmd = kiosk_command(args.agent_url, args.token_file, args.host, args.port, demo=False)
    if args.pairing_file:
        cmd += ["--pairing-file", args.pairing_file]
    if args.pairing_state:
        cmd += ["--pairing-state", args.pairing_state]
    proc = subprocess.Popen(cmd)  # noqa: S603 - our own interpreter and module
    try:
        return proc.wait()
    except KeyboardInterrupt:
        proc.terminate()
        proc.wait(5)
        return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from agent.cli.demo import run_demo

    return run_demo(args.host, args.port, args.persona, out=sys.stdout)
