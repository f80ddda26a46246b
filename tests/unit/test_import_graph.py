"""Commands that start at once: `myna --help`, `myna status` and `myna readers` import only what
they need when they need it. The heavy stack (certificate validation, HTTP, Flask, the card
applications, PC/SC and NFC libraries) must not load just to build the command line."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from card.ids import AID

HEAVY_PACKAGES = ("pyhanko", "pyhanko_certvalidator", "flask", "werkzeug", "cryptography",
                  "asn1crypto", "smartcard", "nfc", "PIL", "jinja2")
HEAVY_MODULES = ("urllib.request", "http.client", "card.apps", "card.channel", "card.transports",
                 "agent.verification.flows", "agent.service.agent_service", "logging",
                 "tempfile", "subprocess", "json")


def _imported(code: str) -> set[str]:
    done = subprocess.run(  # noqa: S603 - our own interpreter and fixed snippets
        [sys.executable, "-X", "importtime", "-c", code], capture_output=True, text=True,
        timeout=60, check=True)
    return {line.rsplit("|", 1)[1].strip() for line in done.stderr.splitlines()
            if line.startswith("import time:") and "|" in line}


@pytest.mark.parametrize("code", [
    "import agent.cli",
    "from agent.cli.main import build_parser; build_parser()",  # what `myna --help` runs
    "from agent.cli.main import main; main(['--help'])",
])
def test_the_command_line_loads_no_heavy_module(code):
    modules = _imported(code) - _imported("pass")  # whatever site itself loads is not ours
    heavy = sorted(m for m in modules
                   if m.split(".")[0] in HEAVY_PACKAGES or m in HEAVY_MODULES)
    assert heavy == [], heavy


def test_a_tap_is_prepared_without_the_verifier():
    # The agent identifies the card (and prefetches) before the verifier is needed.
    modules = _imported("import agent.verification.tap")
    assert not {m for m in modules if m.split(".")[0] in ("pyhanko", "pyhanko_certvalidator")}
    assert "agent.verification.flows" not in modules and "urllib.request" not in modules


def test_listing_readers_loads_nfcpy_only_when_a_candidate_reader_is_attached():
    from card.transports.nfc import _no_candidate_usb_device

    if not _no_candidate_usb_device():
        pytest.skip("a USB device of an nfcpy reader vendor is attached")
    modules = _imported("from card.transports.nfc import list_nfc_readers; "
                        "assert list_nfc_readers() == []")
    assert not {m for m in modules if m.split(".")[0] == "nfc"}


# What no quick command loads: generating dataclasses (inspect, ast, dis and tokenize behind
# it) and logging were each a third to a half of a bare Python start.
NOT_AT_START = ("typing", "dataclasses", "inspect", "ast", "logging")
# Each quick command: (what it may not load either, what it needs although the lists above name it).
# `myna --help` loads no command module; `myna readers` needs only PC/SC's extension module, not
# pyscard's object layer, and no status-word or file-id enums; `myna status` needs the two card
# applications it asks, not the third.
QUICK_COMMANDS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "--help": (("agent.cli.commands", "card", "shutil", *NOT_AT_START), ()),
    "readers": (("card.apps", "card.channel", "card.sw", "card.ids", "threading", *NOT_AT_START),
                ("card.transports", "smartcard.scard._scard")),
    "status": (("agent.verification", "agent.service", "card.apps.surface", *NOT_AT_START),
               ("card.apps", "card.channel", "card.transports", "smartcard.scard._scard")),
}


def _within(module: str, names: tuple[str, ...]) -> bool:
    return any(module == name or module.startswith(name + ".") for name in names)


def _loaded_by_main(argv: list[str], pcscd_socket: str = "/nonexistent/pcscd.comm",
                    output: list[str] | None = None) -> set[str]:
    """Modules in sys.modules after ``main(argv)``, beyond what a bare start loads. By default
    no PC/SC daemon is reachable (the socket does not exist), so no card is touched. The
    command's stdout goes to ``output``."""
    code = ("import sys\nfrom agent.cli.main import main\ntry:\n    main(sys.argv[1:])\n"
            "except SystemExit:\n    pass\n"
            "sys.stderr.write('\\nMODULES ' + ' '.join(sys.modules))\n")
    env = {**os.environ, "PCSCLITE_CSOCK_NAME": pcscd_socket}
    done = subprocess.run(  # noqa: S603 - our own interpreter and a fixed snippet
        [sys.executable, "-c", code, *argv], capture_output=True, text=True, timeout=60,
        env=env, check=False)
    if output is not None:
        output.append(done.stdout)
    bare = subprocess.run(
        [sys.executable, "-c", "import sys; print(' '.join(sys.modules))"], capture_output=True,
        text=True, timeout=60, check=True)
    loaded = done.stderr.rpartition("\nMODULES ")[2].split()
    assert loaded, done.stderr
    return set(loaded) - set(bare.stdout.split())


@pytest.mark.parametrize("command", sorted(QUICK_COMMANDS))
def test_a_quick_command_loads_only_what_it_needs(command):
    from card.transports.nfc import _no_candidate_usb_device

    if command == "readers" and not _no_candidate_usb_device():
        pytest.skip("a USB device of an nfcpy reader vendor is attached: readers asks nfcpy")
    also_forbidden, needed = QUICK_COMMANDS[command]
    heavy = sorted(m for m in _loaded_by_main([command])
                   if (m.split(".")[0] in HEAVY_PACKAGES or _within(m, HEAVY_MODULES)
                       or _within(m, also_forbidden)) and not _within(m, needed))
    assert heavy == [], heavy


@pytest.mark.parametrize("card_reader", ["pcsc"], indirect=True)
def test_status_reads_a_card_through_pcscd_without_dataclasses_or_logging(card_reader):
    """The whole `myna status`, through pcscd + vpcd: three counters and the retry-query
    sequence, with no module the quick commands go without (the first test stops at no reader)."""
    reader, card = card_reader("yamada-taro")
    if card is None:
        pytest.skip("--card given: the APDU log is the emulator's")
    output: list[str] = []
    modules = _loaded_by_main(["status", "--reader", reader.locator],
                              os.environ["PCSCLITE_CSOCK_NAME"], output)
    assert [line.rpartition(": ")[2] for line in output[0].splitlines()] == [
        "3 / 3", "5 / 5", "3 / 3"]
    assert sorted(m for m in modules if _within(m, QUICK_COMMANDS["status"][0])) == []
    assert "smartcard.scard._scard" in modules
    # The retry query for each PIN (an empty VERIFY, which consumes no try), nothing else.
    assert [a.command.hex().upper() for a in card.apdu_log] == [
        "00A4040C0A" + AID.JPKI.hex().upper(), "00A4020C020018", "00200080",
        "00A4020C02001B", "00200080",
        "00A4040C0A" + AID.INPUT_HELPER.hex().upper(), "00A4020C020011", "00200080"]


def test_the_top_level_help_is_the_same_whatever_is_loaded():
    from agent.cli.main import COMMANDS_BY_MODULE, build_parser

    full = build_parser().format_help()
    assert build_parser(summary_only=True).format_help() == full
    for commands in COMMANDS_BY_MODULE.values():
        assert build_parser(commands[0]).format_help() == full, commands[0]


@pytest.mark.parametrize("argv", [["--help"], ["-h", "readers"], ["-vh", "status"],
                                  ["--he", "read", "cert"], ["-v", "--help", "staff"]], ids=str)
def test_the_top_level_help_lists_every_command_however_it_is_asked_for(argv, capsys):
    from agent.cli.main import build_parser, main

    with pytest.raises(SystemExit):
        main(argv)
    assert capsys.readouterr().out == build_parser().format_help()
