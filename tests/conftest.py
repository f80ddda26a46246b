"""Shared test fixtures: a private pcscd per test process, and the ``card_reader`` factory.

At import time, when pcscd and the vpcd driver are installed, this module creates a work
directory and points the PC/SC client library at it (``configure_client_socket``) *before*
anything imports pyscard: the socket name is latched at the first PC/SC call (test-stack §3.3).

Fixtures:

* ``trust_dir`` (session): a directory with the emulator's exported test trust
  (``export_trust``: test roots, test CRL, CVC issuer keys), for configs in test trust mode.
* ``pcscd`` (session): the private pcscd instance (``tests.support.pcscd.PcscdInstance``), or a
  skip when pcscd/vpcd are not installed.
* ``card_reader`` (factory, parametrized over backends ``emulator``, ``pcsc`` and ``nfc``)::

      def test_x(card_reader):
          reader, card = card_reader("yamada-taro")
          with reader.connect() as connection:
              channel = ApduChannel(connection)
              ...
          assert card.apdu_log  # the VirtualMynaCard behind the reader: inspect or inject faults

  ``reader`` is an ``open_reader``-style ``Reader``; ``card`` is a fresh ``VirtualMynaCard`` for
  the persona. For ``pcsc`` the card sits behind the emulator's vpcd bridge on the private
  pcscd, and the reader is ``open_reader("pcsc:Virtual PCD 00 00")``; teardown pulls the card and
  waits until pcscd sees it gone. pcsc params are skipped when pcscd is unavailable. For ``nfc``
  the card answers nfcpy's ``udp`` driver (``NfcUdpCard``) and the reader is
  ``open_reader("nfc:udp:127.0.0.1:<port>")``: nfcpy's real Type 4B tag stack on every card test.

Keyword options go to ``VirtualMynaCard``: ``card_reader("yamada-taro", cert_filler=True)``.

Options: ``--card LOCATOR`` runs card tests against that reader instead (a real card: tests
marked ``emulator_only`` are skipped, and ``card`` is None).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, settings

from tests.support import pcscd as pcscd_support

# Parallel runs (scripts/test.sh) share two cores among several workers: a property test's
# wall-clock deadline would measure the neighbours, not the code. Tests that need a deadline
# still set one in their own @settings.
settings.register_profile("suite", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("suite")

PCSCD_AVAILABLE = pcscd_support.pcscd_available()
_WORKDIR = pcscd_support.make_workdir() if PCSCD_AVAILABLE else None
if _WORKDIR is not None:
    pcscd_support.configure_client_socket(_WORKDIR)

VPCD_READER = "Virtual PCD 00 00"
PRESENCE_TIMEOUT_S = 5.0  # pcscd polls vpcd every 400 ms (test-stack §4.1)


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--card", action="store", default=None, metavar="LOCATOR",
        help="run card tests against this reader (e.g. pcsc:RC-S300) instead of the emulator",
    )


# Tests kept out of the xdist workers' mixed load: they kill and restart pcscd, bound
# whole-process resources (threads, fds, RSS) or assert sub-second wall-clock limits. They get
# the ``serial`` mark; scripts/test.sh runs everything else on parallel workers and, beside
# them, these in one process, one at a time (the soak, minutes long, in a process of its own).
SERIAL_FILES = (
    "tests/hardening/test_soak.py",  # threads / fds / RSS bounds over hundreds of taps
    "tests/hardening/test_fault_matrix_pcsc.py",  # SIGKILLs pcscd at every step
    "tests/agent/test_faults_pcsc.py",  # kills and restarts pcscd
    "tests/nfc/test_nfc_link.py",  # sub-second wall-clock bounds on link errors
    "tests/nfc/test_nfc_card.py",  # wall-clock bounds on removal
)


# Serial files minutes long: each gets a process ("lane") of its own in scripts/test.sh, named
# by this mark, so the serial lane does not outlast the parallel one.
OWN_LANES = {
    "tests/hardening/test_soak.py": "soak",
    "tests/hardening/test_fault_matrix_pcsc.py": "fault_matrix",
}


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "serial: must run alone (tests/conftest.py SERIAL_FILES)")
    for lane in OWN_LANES.values():
        config.addinivalue_line("markers", f"{lane}: a serial file with a process of its own")


def pytest_itemcollected(item: pytest.Item) -> None:
    path = item.nodeid.split("::", 1)[0]
    if path in SERIAL_FILES:
        item.add_marker(pytest.mark.serial)
    if path in OWN_LANES:
        item.add_marker(getattr(pytest.mark, OWN_LANES[path]))


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if not config.getoption("--card"):
        return
    skip = pytest.mark.skip(reason="emulator_only test skipped with --card")
    for item in items:
        if "emulator_only" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def trust_dir(tmp_path_factory: pytest.TempPathFactory) -> Any:
    from card.emulator import export_trust

    directory = tmp_path_factory.mktemp("trust")
    export_trust(directory)
    return directory


@pytest.fixture(scope="session")
def pcscd() -> Iterator[pcscd_support.PcscdInstance]:
    if _WORKDIR is None:
        pytest.skip("pcscd or the vpcd driver is not installed")
    instance = pcscd_support.start_pcscd(_WORKDIR, pcscd_support.free_port_pair())
    yield instance
    instance.cleanup()


@pytest.fixture(autouse=True)
def _vpcd_slots_left_empty(request: pytest.FixtureRequest) -> Iterator[None]:
    """Fail the test that leaves a card in its process's shared vpcd slots (a bridge never
    pulled), rather than the unrelated test that next waits for the slot to empty."""
    yield
    if "pcscd" not in request.fixturenames:
        return
    instance = request.getfixturevalue("pcscd")
    if instance.proc.poll() is not None:
        return
    for reader in instance.reader_names:
        try:
            pcscd_support.wait_until_slot_empty(reader, timeout_s=10.0)
        except TimeoutError as e:
            pytest.fail(f"this test left a card in the vpcd slot: {e}", pytrace=False)


def _wait_presence(reader: Any, present: bool) -> None:
    deadline = time.monotonic() + PRESENCE_TIMEOUT_S
    while reader.has_card() is not present:  # bounded polling, ~0.4 s per insertion
        if time.monotonic() > deadline:
            raise TimeoutError(f"pcscd did not see the card {'arrive' if present else 'leave'}")
        time.sleep(0.05)


def _start_bridge(card: Any, port: int) -> Any:
    from card.emulator.vpcd import VpcdBridge

    bridge = VpcdBridge(card, port=port)
    bridge.start()
    return bridge


CardReaderFactory = Callable[..., tuple[Any, Any]]


@pytest.fixture(params=["emulator", "pcsc", "nfc"])
def card_reader(request: pytest.FixtureRequest) -> Iterator[CardReaderFactory]:
    """Factory: ``reader, card = card_reader("yamada-taro")`` (see the module docstring)."""
    from card.transports import open_reader

    locator = request.config.getoption("--card")
    cleanups: list[Callable[[], None]] = []

    def make(persona: str, **card_options: Any) -> tuple[Any, Any]:
        if locator:
            return open_reader(locator), None
        from card.emulator import PERSONAS, VirtualMynaCard

        card = VirtualMynaCard(PERSONAS[persona], **card_options)
        if request.param == "emulator":
            from card.transports.emulated import EmulatedReader

            return EmulatedReader(persona, card), card
        if request.param == "nfc":
            from tests.support.nfc import open_nfc_backend

            nfc_reader, stop = open_nfc_backend(card)
            cleanups.append(stop)
            return nfc_reader, card
        instance = request.getfixturevalue("pcscd")
        reader = open_reader(f"pcsc:{VPCD_READER}")
        # Another test's card may have just left this process's pcscd: until pcscd has seen it
        # go, "present" below would be that card's stale state.
        _wait_presence(reader, False)
        bridge = _start_bridge(card, instance.port)

        def cleanup() -> None:
            bridge.remove()
            _wait_presence(reader, False)

        cleanups.append(cleanup)
        _wait_presence(reader, True)
        return reader, card

    if locator and request.param != "emulator":
        pytest.skip("--card given: one backend is enough")
    yield make
    for cleanup in reversed(cleanups):
        cleanup()
