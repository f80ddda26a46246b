"""Commands that start at once: `myna --help`, `myna status` and `myna readers` import only what
they need when they need it. The heavy stack (certificate validation, HTTP, Flask, the card
applications, PC/SC and NFC libraries) must not load just to build the command line."""

from __future__ import annotations

import subprocess
import sys

import pytest

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
