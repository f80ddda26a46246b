"""``myna kiosk`` and ``myna demo``: the kiosk UI server, alone or with a demo agent.

``myna kiosk`` runs the kiosk UI (``python -m kiosk_ui``) in its own process against an agent
that is already running; stopping ``myna kiosk`` (Ctrl-C, SIGTERM, SIGHUP) stops that process.
``myna demo`` starts an agent on the in-process emulator and the
kiosk UI (see ``agent.cli.demo``). The UI process never shares memory with the agent (design §3).
"""

from __future__ import annotations

import argparse
import os
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
    k.add_argument("--staff-calls-state", default=None,
                   help="file that keeps open calls for staff across restarts of the kiosk server")
    k.add_argument("--voice-dir", default=None,
                   help="voice guidance built by `myna voice build DIR` (default: no voice)")
    k.set_defaults(func=cmd_kiosk)

    d = sub.add_parser("demo", help="agent + kiosk UI + virtual card, no hardware needed")
    d.add_argument("--host", default="127.0.0.1")
    d.add_argument("--port", type=int, default=8080)
    d.add_argument("--persona", default="yamada-taro", help="persona preselected in the panel")
    d.add_argument("--receiver", action="store_true",
                   help="also run a local receiver and hand it every verification record")
    d.set_defaults(func=cmd_demo)


def cmd_kiosk(args: argparse.Namespace) -> int:
    from agent.cli.demo import (
        KioskProcess,
        PortTakenError,
        check_port_free,
        kiosk_command,
        stop_on_signals,
    )

    cmd = kiosk_command(args.agent_url, args.token_file, args.host, args.port, demo=False)
    if args.pairing_file:
        cmd += ["--pairing-file", args.pairing_file]
    if args.pairing_state:
        cmd += ["--pairing-state", args.pairing_state]
    if args.voice_dir:
        cmd += ["--voice-dir", args.voice_dir]
    if args.staff_calls_state:
        cmd += ["--staff-calls-state", args.staff_calls_state]
    if os.environ.get("LISTEN_PID") == str(os.getpid()):
        # Socket activation: systemd handed THIS process the kiosk's listening socket (fd 3)
        # and named it by pid, so the kiosk server replaces this process instead of running
        # as a child (a child would have another pid and no fd 3).
        os.execv(sys.executable, cmd)  # noqa: S606 - our own interpreter and module
    try:
        with stop_on_signals():
            check_port_free(args.host, args.port)
            kiosk = KioskProcess(cmd)
            try:
                return kiosk.wait()
            finally:
                kiosk.stop()
    except KeyboardInterrupt:  # Ctrl-C, SIGTERM or SIGHUP: the child is stopped above
        return 0
    except PortTakenError as e:
        print(f"myna kiosk: {e}", file=sys.stderr)
        return 1


def cmd_demo(args: argparse.Namespace) -> int:
    from agent.cli.demo import run_demo

    return run_demo(args.host, args.port, args.persona, out=sys.stdout, receiver=args.receiver)
