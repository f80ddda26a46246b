"""The ``myna`` command: one argparse parser, one module per group of subcommands.

Each command module exposes ``register(subparsers)``, which adds its subcommands and sets
``func`` on each; ``func(args) -> int`` is the exit status. Modules are imported lazily by
name so that a missing optional dependency only disables the commands that need it.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys

from agent import __version__

# Not `from typing import TYPE_CHECKING`: importing typing costs `myna --help` a tenth of a bare
# Python start, and mypy treats any name TYPE_CHECKING as true.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

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
# Modules whose ``register(subparsers, only=command)`` adds just that command: the quick ones'.
REGISTERS_ONE = frozenset({"agent.cli.commands.card_cmds"})
# Each command's one-line help, as its module registers it: `myna --help` lists every command
# without importing a single command module (tests/unit/test_import_graph.py keeps them equal).
COMMAND_HELP: dict[str, str] = {
    "readers": "list card readers and whether a card is present",
    "status": "tries left for every PIN (consumes none)",
    "read": "read an object from the card",
    "emulator": "run a virtual My Number card (vpcd / nfc-udp)",
    "verify": "run one verification flow on a card",
    "verify-cert": "path-validate a certificate file offline",
    "agent": "run the agent service (local API for the kiosk UI)",
    "doctor": "diagnose pcscd, readers, trust config and clock",
    "audit": "check the audit log's chain",
    "kiosk": "the kiosk UI server, pointed at a running agent",
    "demo": "agent + kiosk UI + virtual card, no hardware needed",
    "keys": "the kiosk's record-signing key",
    "records": "verification records waiting in the outbox",
    "receiver": "the back office that takes verification records",
    "staff": "staff accounts and the staff report",
    "voice": "voice guidance: speak the fixed phrases into audio files",
}


def _command_in(argv: list[str]) -> str | None:
    """The subcommand named in ``argv`` when it is a known one (options come before it)."""
    first = next((arg for arg in argv if not arg.startswith("-")), None)
    known = {c for commands in COMMANDS_BY_MODULE.values() for c in commands}
    return first if first in known else None


def _only_verbosity_before(command: str, argv: list[str]) -> bool:
    """True when every option before ``command`` is -v, -vv… or --verbose: then the top-level
    help cannot be printed (-h, --help, its abbreviations and -vh all can)."""
    before = argv[: argv.index(command)]
    return all(arg == "--verbose" or (arg[:1] == "-" and arg[1:] and not arg[1:].strip("v"))
               for arg in before)


def _terminal_columns() -> int:
    """``shutil.get_terminal_size().columns``, without importing shutil (and bz2, lzma, zlib)."""
    try:
        columns = int(os.environ["COLUMNS"])
    except (KeyError, ValueError):
        columns = 0
    if columns > 0:
        return columns
    try:
        return os.get_terminal_size(sys.__stdout__.fileno()).columns or 80  # type: ignore[union-attr]
    except (AttributeError, ValueError, OSError):
        return 80


class _HelpFormatter(argparse.HelpFormatter):
    """argparse's formatter; argparse builds one for every ``add_argument``, and its own width
    lookup imports shutil."""

    def __init__(self, prog: str, indent_increment: int = 2, max_help_position: int = 24,
                 width: int | None = None) -> None:
        width = _terminal_columns() - 2 if width is None else width
        super().__init__(prog, indent_increment, max_help_position, width)


class _ArgumentParser(argparse.ArgumentParser):
    """The parser class of ``myna`` and, through ``add_subparsers``, of every subcommand."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", _HelpFormatter)
        super().__init__(*args, **kwargs)


def _translate_after_one_lookup() -> None:
    """Let argparse translate its strings after one catalogue lookup instead of one per string.

    argparse passes every title and help text through ``gettext.gettext``, which looks for the
    catalogue again on every call (normalising the locale and stat()ing its paths each time).
    The answer cannot change while one command runs: the same catalogue, or none, gives the
    same strings, for up to a tenth of a bare Python start less on every `myna` command.
    """
    import gettext

    if getattr(argparse, "_", None) is not gettext.gettext:
        return  # done already (or argparse no longer works this way)
    domain = gettext.textdomain()
    directory = gettext.bindtextdomain(domain)
    try:
        # gettext looks only inside this directory; without it, there is no catalogue to find
        # (and no need for the search, which imports locale and compiles its patterns).
        if not os.path.isdir(directory):
            raise FileNotFoundError(directory)
        catalogue = gettext.translation(domain, directory)
    except OSError:  # what gettext.gettext does without a catalogue: the string itself
        setattr(argparse, "_", str)  # noqa: B010 - a private name mypy does not know
        return
    setattr(argparse, "_", catalogue.gettext)  # noqa: B010 - as above


def build_parser(command: str | None = None, *, summary_only: bool = False,
                 list_others: bool = True) -> argparse.ArgumentParser:
    """The parser. With ``command``, only the module that registers it is loaded; with
    ``summary_only``, none is. Commands not loaded are listed from ``COMMAND_HELP``, so the
    top-level help is the same either way; ``list_others=False`` leaves them out, for a
    command line that cannot ask for that help."""
    _translate_after_one_lookup()
    parser = _ArgumentParser(prog="myna", description="My Number card kiosk and agent")
    parser.add_argument("--version", action="version", version=f"myna {__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more log output")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, commands in COMMANDS_BY_MODULE.items():
        listed_only = summary_only or (command is not None and command not in commands)
        if listed_only and not list_others:
            continue
        if listed_only and all(c in COMMAND_HELP for c in commands):
            for listed in commands:
                # Never parsed with: argv names another command or none (then argparse stops).
                sub.add_parser(listed, help=COMMAND_HELP[listed], add_help=False)
            continue
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as e:
            if e.name is not None and e.name.startswith("agent.cli.commands"):
                continue  # that group is not built yet
            raise
        if list_others or command is None or name not in REGISTERS_ONE:
            module.register(sub)
        else:  # argv can only be parsed with `command`'s parser: its module adds only that one
            module.register(sub, only=command)
    return parser


def configure_logging(verbose: int) -> None:
    """Log to stderr at WARNING, INFO with -v, DEBUG with -vv (once per process)."""
    import logging

    level = logging.WARNING - 10 * min(verbose, 2)
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")


def main(argv: list[str] | None = None) -> int:
    arguments = sys.argv[1:] if argv is None else argv
    command = _command_in(arguments)
    parser = build_parser(command, summary_only=command is None, list_others=(
        command is None or not _only_verbosity_before(command, arguments)))
    args = parser.parse_args(argv)
    # After parsing: `myna --help` exits before it is needed. A command that logs nothing above
    # DEBUG sets needs_logging=False and goes without (logging is a sixth of a bare Python start).
    if args.verbose or getattr(args, "needs_logging", True):
        configure_logging(args.verbose)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
