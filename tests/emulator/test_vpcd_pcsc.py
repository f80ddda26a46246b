"""The emulator behind a REAL pcscd through the vpcd bridge, driven by raw pyscard ``transmit``
(no project host code): read the auth certificate exactly as reference §7.2 describes, read the
retry counters, pull the card. Uses the session ``pcscd`` fixture of tests/conftest.py, which
configures the client socket before pyscard is imported (test-stack §3.3)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from cryptography import x509

from card.emulator import Faults, VirtualMynaCard
from card.emulator.vpcd import VpcdBridge, parse_hostport
from tests.emulator.conftest import JPKI, h

pytestmark = pytest.mark.pcsc
READER = "Virtual PCD 00 00"


def _release(conn: Any) -> None:
    try:
        conn.release()  # free the PC/SC context now, not in __del__ after pcscd has stopped
    except Exception:  # noqa: BLE001, S110 - already released or daemon gone
        pass


def _wait_card(present: bool, timeout_s: float = 6.0) -> None:
    from smartcard.System import readers

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        reader = next(r for r in readers() if str(r) == READER)
        conn = reader.createConnection()
        try:
            conn.connect()
            conn.disconnect()
            if present:
                return
        except Exception:  # noqa: BLE001 - NoCardException & co: not there (yet)
            if not present:
                return
        finally:
            _release(conn)
        time.sleep(0.1)
    raise TimeoutError(f"pcscd never saw the card {'arrive' if present else 'leave'}")


@pytest.fixture
def bridged(pcscd: Any) -> Iterator[tuple[VirtualMynaCard, VpcdBridge, Any]]:
    from smartcard.System import readers

    card = VirtualMynaCard.for_persona("yamada-taro")
    bridge = VpcdBridge(card, port=pcscd.port).start()
    assert bridge.wait_connected(10)
    _wait_card(True)
    conn = next(r for r in readers() if str(r) == READER).createConnection()
    conn.connect()
    yield card, bridge, conn
    try:
        conn.disconnect()
    except Exception:  # noqa: BLE001, S110 - the card may be gone already
        pass
    _release(conn)
    bridge.remove()
    _wait_card(False)


def tx(conn: Any, apdu: str) -> tuple[bytes, int]:
    data, sw1, sw2 = conn.transmit(list(h(apdu)))
    return bytes(data), sw1 << 8 | sw2


def test_read_auth_certificate_as_in_reference_7_2(bridged: Any) -> None:
    card, _, conn = bridged
    assert bytes(conn.getATR()) == card.atr
    assert tx(conn, f"00 A4 04 0C 0A {JPKI}") == (b"", 0x9000)
    assert tx(conn, "00 A4 02 0C 02 00 0A") == (b"", 0x9000)
    head, sw = tx(conn, "00 B0 00 00 04")
    assert sw == 0x9000 and head[:2] == b"\x30\x82"
    total = int.from_bytes(head[2:4], "big") + 4
    der = b""
    while len(der) < total:
        n = min(total - len(der), 256)
        chunk, sw = tx(conn, f"00 B0 {len(der) >> 8:02X} {len(der) & 0xFF:02X} {n & 0xFF:02X}")
        assert sw == 0x9000 and chunk
        der += chunk
    cert = x509.load_der_x509_certificate(der)
    assert "JPKI-TEST" in cert.issuer.rfc4514_string()


def test_retry_counters_3_5_3(bridged: Any) -> None:
    _, _, conn = bridged
    tx(conn, f"00 A4 04 0C 0A {JPKI}")
    tx(conn, "00 A4 02 0C 02 00 18")
    assert tx(conn, "00 20 00 80")[1] == 0x63C3
    tx(conn, "00 A4 02 0C 02 00 1B")
    assert tx(conn, "00 20 00 80")[1] == 0x63C5
    tx(conn, "00 A4 04 0C 0A D3 92 10 00 31 00 01 01 04 08")
    tx(conn, "00 A4 02 0C 02 00 11")
    assert tx(conn, "00 20 00 80")[1] == 0x63C3


def test_extended_read_through_pcscd(bridged: Any) -> None:
    _, _, conn = bridged
    tx(conn, f"00 A4 04 0C 0A {JPKI}")
    tx(conn, "00 A4 02 0C 02 00 0A")
    data, sw = tx(conn, "00 B0 00 00 00 08 00")  # extended Le 2048 > certificate size
    assert sw == 0x9000 and len(data) == int.from_bytes(data[2:4], "big") + 4 > 256


def test_fault_pull_closes_socket(bridged: Any) -> None:
    card, bridge, conn = bridged
    card.faults = Faults(remove_after_apdus=1)
    card.power_on()
    tx(conn, f"00 A4 04 0C 0A {JPKI}")
    from smartcard.Exceptions import CardConnectionException

    with pytest.raises(CardConnectionException):
        tx(conn, "00 A4 02 0C 02 00 0A")
    deadline = time.monotonic() + 5
    while bridge.running and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not bridge.running
    card.faults = Faults()
    bridge.insert()
    assert bridge.wait_connected(10)
    _wait_card(True)


def _status(context: int, wait_ms: int = 0) -> int:
    """The reader's event state; with ``wait_ms``, after waiting that long for a change."""
    from smartcard import scard

    def now() -> int:
        hresult, states = scard.SCardGetStatusChange(
            context, 0, [(READER, scard.SCARD_STATE_UNAWARE)])
        assert hresult == scard.SCARD_S_SUCCESS, scard.SCardGetErrorMessage(hresult)
        return int(states[0][1])

    if wait_ms:
        scard.SCardGetStatusChange(
            context, wait_ms, [(READER, now() & ~scard.SCARD_STATE_CHANGED)])
    return now()


def test_the_next_card_after_a_pull_mid_apdu_and_a_reset_is_seen(pcscd: Any) -> None:
    """A card pulled mid-APDU, its holder letting go with SCARD_RESET_CARD (as the agent does),
    and the next card put in right after pcscd reports the reader empty: pcscd must power that
    card and report it (tests/support/pcscd.py wait_until_slot_empty says why it may not)."""
    from smartcard import scard

    from tests.support.pcscd import insert_card, wait_until_slot_empty

    pulled = VirtualMynaCard.for_persona("yamada-taro")
    pulled.faults = Faults(remove_after_apdus=0)
    hresult, context = scard.SCardEstablishContext(scard.SCARD_SCOPE_USER)
    assert hresult == scard.SCARD_S_SUCCESS
    bridges = [insert_card(pulled, pcscd.port)]
    try:
        deadline = time.monotonic() + 15
        while not _status(context, 500) & scard.SCARD_STATE_PRESENT:
            assert time.monotonic() < deadline, "pcscd never saw the first card"
        hresult, handle, protocol = scard.SCardConnect(
            context, READER, scard.SCARD_SHARE_EXCLUSIVE,
            scard.SCARD_PROTOCOL_T0 | scard.SCARD_PROTOCOL_T1)
        assert hresult == scard.SCARD_S_SUCCESS
        hresult, response = scard.SCardTransmit(handle, protocol, list(h(f"00 A4 04 0C 0A {JPKI}")))
        assert not response  # vpcd's answer for a card that left mid-APDU
        scard.SCardDisconnect(handle, scard.SCARD_RESET_CARD)
        assert not _status(context) & scard.SCARD_STATE_PRESENT  # "empty", straight away
        following = VirtualMynaCard.for_persona("yamada-taro")
        bridges.append(insert_card(following, pcscd.port))
        deadline = time.monotonic() + 15
        while not _status(context, 500) & scard.SCARD_STATE_PRESENT:
            assert time.monotonic() < deadline, (
                f"pcscd never reported the next card (vpcd took it: "
                f"{bridges[-1].connected.is_set()}, powered: {following._powered})")
        hresult, handle, protocol = scard.SCardConnect(
            context, READER, scard.SCARD_SHARE_SHARED,
            scard.SCARD_PROTOCOL_T0 | scard.SCARD_PROTOCOL_T1)
        assert hresult == scard.SCARD_S_SUCCESS, scard.SCardGetErrorMessage(hresult)
        hresult, response = scard.SCardTransmit(handle, protocol, list(h(f"00 A4 04 0C 0A {JPKI}")))
        assert hresult == scard.SCARD_S_SUCCESS and bytes(response) == b"\x90\x00"
        scard.SCardDisconnect(handle, scard.SCARD_LEAVE_CARD)
    finally:
        for bridge in bridges:
            bridge.remove()
        scard.SCardReleaseContext(context)
    wait_until_slot_empty(READER)


def test_parse_hostport() -> None:
    assert parse_hostport("127.0.0.1:35963") == ("127.0.0.1", 35963)
    assert parse_hostport("localhost") == ("localhost", 35963)
    with pytest.raises(ValueError):
        parse_hostport("host:99999")
