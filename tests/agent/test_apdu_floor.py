"""The protocol floor of a tap, from the card's own APDU log: the flow continues from the
identification on the same connection (no second SELECT AP, SELECT PIN or retry query), nothing
is selected after the signature, whole objects come in one extended READ BINARY when the link
carries extended APDUs (short reads when it refuses them), and what needs no credential is read
before the credential is asked for. In-process and through real pcscd + vpcd."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from test_service_rig import AT, CREDENTIAL_FOR

from agent.service.agent_service import CardFlowBackend
from card.emulator import PERSONAS, VirtualMynaCard
from card.ids import InputHelperEF, JpkiEF, SurfaceEF
from card.transports import CardConnection
from card.transports.emulated import EmulatedReader
from tests.support.configs import service_config
from tests.support.links import ShortApduLink
from tests.support.pcscd import VpcdSlot

pytestmark = pytest.mark.emulator_only
PERSONA = PERSONAS["yamada-taro"]
VPCD_READER = "Virtual PCD 00 00"


def _ef(fid: int) -> str:
    return f"SELECT {fid:04X}"


# (before the credential, after it), as ``describe`` names the commands.
FLOOR = {
    "sign": (["SELECT AP", _ef(JpkiEF.CERT_PRESENCE), "READ", _ef(JpkiEF.SIGN_PIN), "TRIES?"],
             ["VERIFY", _ef(JpkiEF.SIGN_CERT), "READ ext", _ef(JpkiEF.SIGN_KEY), "SIGN"]),
    "auth": (["SELECT AP", _ef(JpkiEF.AUTH_CERT), "READ ext", _ef(JpkiEF.AUTH_PIN), "TRIES?"],
             ["VERIFY", _ef(JpkiEF.AUTH_KEY), "SIGN"]),
    "face": (["SELECT AP", _ef(SurfaceEF.CVC), "READ ext", _ef(SurfaceEF.MATCH_B), "TRIES?"],
             ["VERIFY", _ef(SurfaceEF.FACE), "READ ext", "GET CHALLENGE", "SIGN",
              # name and address as text: the text AP's 照合番号B (counter first), EF 0002
              # and EF 0003 and that AP's CVC; never EF 0001
              "SELECT AP", _ef(InputHelperEF.MATCH_B), "TRIES?", "VERIFY",
              _ef(InputHelperEF.BASIC_INFO), "READ ext", _ef(InputHelperEF.INTEGRITY),
              "READ ext", _ef(InputHelperEF.CVC), "READ ext"]),
    "number": (["SELECT AP", _ef(InputHelperEF.CVC), "READ ext", _ef(InputHelperEF.PIN),
                "TRIES?"],
               ["VERIFY", _ef(InputHelperEF.MY_NUMBER), "READ", _ef(InputHelperEF.BASIC_INFO),
                "READ ext", _ef(InputHelperEF.INTEGRITY), "READ ext",
                _ef(InputHelperEF.SIGNED_KEY), "READ ext", "GET CHALLENGE", "SIGN"]),
}


def describe(logged: Any) -> str:
    """A logged command APDU as a short name (VERIFY data is masked in the log)."""
    c = logged.command
    if c[:4] == bytes.fromhex("00A4040C"):
        return "SELECT AP"
    if c[:4] == bytes.fromhex("00A4020C"):
        return _ef(int.from_bytes(c[5:7], "big"))
    if c[:2] == bytes.fromhex("00B0"):
        return "READ ext" if len(c) == 7 and c[4] == 0 else "READ"
    if c[:4] == bytes.fromhex("00200080"):
        return "VERIFY" if logged.masked_length else "TRIES?"
    if c[:2] == bytes.fromhex("0084"):
        return "GET CHALLENGE"
    if c[:2] == bytes.fromhex("802A"):
        return "SIGN"
    return c.hex()


def _until_present(present: bool) -> None:
    """Wait (pcscd's events, bounded) until the vpcd reader's card is in or out."""
    from card.transports.pcsc import PcscMonitor

    monitor = PcscMonitor()
    try:
        for _ in range(20):
            if monitor.scan().get(VPCD_READER, False) is present:
                return
            monitor.wait(0.5)  # pcscd notices a card at its next vpcd poll
        raise TimeoutError(f"pcscd did not see the card {'arrive' if present else 'leave'}")
    finally:
        monitor.close()


@pytest.fixture(params=["emulator", "pcsc"])
def link(request: pytest.FixtureRequest) -> Iterator[Any]:
    """``open_card() -> (connection, card)`` over the in-process reader or pcscd + vpcd."""
    opened: list[Any] = []

    def open_card() -> tuple[CardConnection, VirtualMynaCard]:
        card = VirtualMynaCard(PERSONA)
        if request.param == "emulator":
            connection = EmulatedReader("floor", card).connect(exclusive=True)
        else:
            from card.transports.pcsc import PcscReader

            pcscd = request.getfixturevalue("pcscd")
            slot = VpcdSlot(pcscd.port)
            _until_present(False)  # the last test's card must be gone first
            slot.insert(card)
            opened.append(slot)
            _until_present(True)
            connection = PcscReader(VPCD_READER).connect(exclusive=True)
        opened.append(connection)
        card.apdu_log.clear()  # power-on chatter is not the tap's
        return connection, card

    yield open_card
    for thing in reversed(opened):
        (thing.remove if isinstance(thing, VpcdSlot) else thing.close)()
    if request.param == "pcsc" and opened:
        _until_present(False)  # the next test's card must not meet this one


def _tap(tmp_path: Path, trust_dir: Path, connection: CardConnection, card: VirtualMynaCard,
         flow: str) -> tuple[list[str], list[str], Any]:
    backend = CardFlowBackend(service_config(tmp_path, trust_dir), at=lambda: AT)
    status = backend.identify(connection, flow)
    assert status.tries_left > 0
    before = [describe(a) for a in card.apdu_log]
    credential = getattr(PERSONA.credentials, CREDENTIAL_FOR[flow])
    outcome = backend.run(connection, flow, credential, confirm_last_try=False,
                          on_step=lambda *a: None)
    after = [describe(a) for a in card.apdu_log][len(before):]
    return before, after, outcome


@pytest.mark.parametrize("flow", list(FLOOR))
def test_each_command_once_per_tap(flow, link, tmp_path, trust_dir):
    connection, card = link()
    before, after, outcome = _tap(tmp_path, trust_dir, connection, card, flow)
    assert outcome.ok, outcome.verdict
    assert (before, after) == FLOOR[flow]
    # The targets of the floor: sign ≤ 10 (≤ 5 after the credential), auth ≤ 3 after the PIN.
    assert flow != "sign" or (len(before + after) <= 10 and len(after) <= 5)
    assert flow != "auth" or len(after) <= 3


def test_wrong_credential_then_right_one_asks_the_counter_once(link, tmp_path, trust_dir):
    connection, card = link()
    backend = CardFlowBackend(service_config(tmp_path, trust_dir), at=lambda: AT)
    backend.identify(connection, "auth")
    wrong = backend.run(connection, "auth", "0000", confirm_last_try=False,
                        on_step=lambda *a: None)
    assert wrong.error_code == "PIN_INVALID"
    ok = backend.run(connection, "auth", PERSONA.credentials.auth_pin, confirm_last_try=False,
                     on_step=lambda *a: None)
    assert ok.ok, ok.verdict
    names = [describe(a) for a in card.apdu_log]
    # The counter came from the card twice (retry query, then the refused VERIFY's 63Cx),
    # and no SELECT of the AP or PIN was repeated between the two attempts.
    assert names.count("TRIES?") == 1 and names.count("VERIFY") == 2
    assert names.count("SELECT AP") == 1 and names.count(_ef(JpkiEF.AUTH_PIN)) == 1


def test_short_reads_when_the_link_refuses_extended(tmp_path, trust_dir):
    card = VirtualMynaCard(PERSONA)
    connection = ShortApduLink(EmulatedReader("short", card).connect(exclusive=True))
    before, after, outcome = _tap(tmp_path, trust_dir, connection, card, "sign")
    assert outcome.ok, outcome.verdict
    assert "READ ext" not in before + after  # refused by the link, never reached the card
    cert_reads = after[after.index(_ef(JpkiEF.SIGN_CERT)) + 1:after.index(_ef(JpkiEF.SIGN_KEY))]
    assert len(cert_reads) >= 2 and set(cert_reads) == {"READ"}  # header probe, then pages
