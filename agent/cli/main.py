"""The ``myna`` command: one argparse parser, one module per group of subcommands.

Each command module exposes ``register(subparsers)``, which adds its subcommands and sets
``func`` on each; ``func(args) -> int`` is the exit status. Modules are imported lazily by
name so that a missing optional dependency only disables the commands that need it.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from agent import __version__

# module name -> the subcommands it registers (kept here so `myna --help` lists them all, and so
# `myna status` loads and builds only the module that registers `status`).
COMMANDS_BY_MODULE: dict[str, tuple[str, ...]] = {
    "agent.cli.commands.card_cmds": ("readers", "status", "read"),
    "agent.cli.commands.emulator_cmd": ("emulator",),
    "agent.cli.commands.verify_cmds": ("verify", "verify-cert"),
    "agent.cli.commands.service_cmds": ("agent", "doctor"),
    "agent.cli.commands.audit_cmd": ("audit",),
    "agent.cli.commands.ui_cmds": ("kiosk", "demo"),
    "agent.cli.commands.records_cmds": ("keys", "records"),
    "agent.cli.commands.receiver_cmds": ("receiver",),
    "agent.cli.commands.staff_cmds": ("staff",),
    "agent.cli.commands.voice_cmd": ("voice",),
}


def _command_in(argv: list[str]) -> str | None:
    """The subcommand named in ``argv`` when it is a known one (options come before it)."""
    first = next((arg for arg in argv if not arg.startswith("-")), None)
    known = {c for commands in COMMANDS_BY_MODULE.values() for c in commands}
    return first if first in known else None


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The parser; with ``command``, only the module that registers it is loaded."""
    parser = argparse.ArgumentParser(prog="myna", description="My Number card kiosk and agent")
    parser.add_argument("--version", action="version", version=f"myna {__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more log output")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, commands in COMMANDS_BY_MODULE.items():
        if command is not None and command not in commands:
            continue
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as e:
            if e.name is not None and e.name.startswith("agent.cli.commands"):
                continue  # that group is not built yet
            raise
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser(_command_in(sys.argv[1:] if argv is None else argv))
    args = parser.parse_args(argv)
    import logging  # after parsing: `myna --help` exits before it is needed

    level = logging.WARNING - 10 * min(args.verbose, 2)
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
