"""nfcpy's real Type 4B stack over its udp driver against NfcUdpCard: ISO-DEP and bad links."""

from __future__ import annotations

import random
import re
import socket
import time

import pytest

from card.errors import CardRemovedError, NoCardError, NoReaderError, TransportError
from card.transports import Interface, open_reader
from card.transports.nfc import NfcReader, list_nfc_readers, nfcpy_path
from tests.support.nfc import EF_DATA, ScriptedCard, nfc_card_reader

pytestmark = pytest.mark.nfc

SELECT_JPKI = bytes.fromhex("00A4040C0AD392F000260100000001")


def wait_for(predicate, timeout: float = 1.0) -> bool:
    """The card runs in its own thread: give it a moment to handle a datagram."""
    end = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > end:
            return False
        time.sleep(0.005)
    return True


def read_ext(offset: int, le: int) -> bytes:
    return bytes([0x00, 0xB0]) + offset.to_bytes(2, "big") + b"\x00" + le.to_bytes(2, "big")


def test_select_passes_bytes_unchanged(link, scripted: ScriptedCard) -> None:
    reader, _card = link
    with reader.connect() as conn:
        assert conn.interface is Interface.CONTACTLESS
        assert conn.transmit(SELECT_JPKI) == (b"", 0x9000)
    assert scripted.commands == [SELECT_JPKI]


def test_atr_is_synthesised_from_atqb_without_pupi(link) -> None:
    reader, card = link
    with reader.connect() as conn:
        # Reference §6.3: the PC/SC Part 3 ATR of a real card with AppData 00 00 05 E0.
        assert conn.atr == bytes.fromhex("3B88800100 0005E0B381A1007F".replace(" ", ""))
        assert card.pupi not in conn.atr


def test_short_le_and_paged_reads(link) -> None:
    reader, card = link
    with reader.connect() as conn:
        data, sw = conn.transmit(bytes.fromhex("00B0000000"))
        assert (len(data), sw) == (256, 0x9000)
        assert data == EF_DATA[:256]
        data, sw = conn.transmit(bytes.fromhex("00B00100FF"))
        assert data == EF_DATA[256:511]
    # a 258-byte R-APDU needs response chaining at FSD 256 (253 INF bytes per frame)
    assert card.stats.frames_out >= 4


def test_extended_le_response_chaining(link) -> None:
    reader, card = link
    with reader.connect() as conn:
        card.stats.frames.clear()
        data, sw = conn.transmit(read_ext(0, 2000))
    assert (data, sw) == (EF_DATA[:2000], 0x9000)
    picc = [n for who, n in card.stats.frames if who == "picc"]
    assert len(picc) == 8  # ceil(2002 / 253)
    assert max(picc) == 254  # PCB + 253 INF bytes


def test_extended_command_chaining(link, scripted: ScriptedCard) -> None:
    reader, card = link
    payload = bytes(i & 0xFF for i in range(3000))
    apdu = bytes.fromhex("80EE000000") + len(payload).to_bytes(2, "big") + payload + b"\x00\x00"
    with reader.connect() as conn:
        card.stats.frames.clear()
        assert conn.transmit(apdu) == (payload, 0x9000)
    assert scripted.commands[-1] == apdu
    pcd_frames = [n for who, n in card.stats.frames if who == "pcd"]
    assert len(pcd_frames) >= 12  # 3009 bytes in 253-byte pieces, then R(ACK)s for the answer


def test_slow_signature_gets_wtx_and_succeeds(link, scripted: ScriptedCard) -> None:
    reader, card = link
    scripted.latency_s = 1.2  # FWT at FWI 10 is ~309 ms: the card must ask for more time
    with reader.connect() as conn:
        data, sw = conn.transmit(bytes.fromhex("802A00801100") + bytes(0x11) + b"\x00")
    assert (data, sw) == (bytes(range(256)), 0x9000)
    assert card.stats.wtx >= 2


def test_corrupted_frame_is_recovered_without_reexecuting(link, scripted: ScriptedCard) -> None:
    reader, card = link
    with reader.connect() as conn:
        card.faults.corrupt_frame = card.stats.frames_out  # the very next answer frame
        assert conn.transmit(read_ext(0, 600)) == (EF_DATA[:600], 0x9000)
        assert conn.transmit(SELECT_JPKI) == (b"", 0x9000)
    assert sum(1 for c in scripted.commands if c[1] == 0xB0) == 1  # R(NAK) → resend, rule 11


def test_duplicated_frame_is_a_typed_error_then_reconnect(link) -> None:
    reader, card = link
    with reader.connect() as conn:
        card.faults.duplicate_frame = card.stats.frames_out
        assert conn.transmit(SELECT_JPKI) == (b"", 0x9000)
        with pytest.raises(TransportError):
            conn.transmit(SELECT_JPKI)  # the stale copy carries the wrong block number
        with pytest.raises(TransportError):
            conn.transmit(SELECT_JPKI)  # a broken connection stays broken
    with reader.connect() as conn:  # back to idle: a new activation works
        assert conn.transmit(SELECT_JPKI) == (b"", 0x9000)


def test_garbled_block_is_a_typed_error(link) -> None:
    reader, card = link
    with reader.connect() as conn:
        card.faults.garble_frame = card.stats.frames_out
        started = time.monotonic()
        with pytest.raises(TransportError):
            conn.transmit(SELECT_JPKI)
        assert time.monotonic() - started < 3.0


def test_card_removed_between_i_blocks(link, scripted: ScriptedCard) -> None:
    reader, card = link
    with reader.connect() as conn:
        card.faults.remove_after_frames = card.stats.frames_out + 3  # mid response chain
        started = time.monotonic()
        with pytest.raises(CardRemovedError):
            conn.transmit(read_ext(0, 3000))
        assert time.monotonic() - started < 0.5
        with pytest.raises(CardRemovedError):
            conn.transmit(SELECT_JPKI)
        assert not conn.is_present()
    assert wait_for(lambda: not scripted.powered)
    assert not reader.has_card()
    with pytest.raises(NoCardError):
        reader.connect()
    card.insert()
    with reader.connect() as conn:
        assert conn.transmit(SELECT_JPKI) == (b"", 0x9000)


def test_card_removed_from_outside_while_idle(link) -> None:
    reader, card = link
    with reader.connect() as conn:
        assert conn.is_present()
        assert reader.has_card()  # presence check on the open connection, no re-activation
        card.remove()
        with pytest.raises(CardRemovedError):
            conn.transmit(SELECT_JPKI)


def test_card_that_never_answers_is_bounded(link) -> None:
    reader, card = link
    with reader.connect() as conn:
        card.faults.silent_after_frames = card.stats.frames_out
        started = time.monotonic()
        with pytest.raises(TransportError):
            conn.transmit(SELECT_JPKI)
        assert time.monotonic() - started < reader.deadline_s + 1.5


def test_silent_card_during_signature_is_bounded(link, scripted: ScriptedCard) -> None:
    reader, card = link
    reader.slow_deadline_s = 2.0
    with reader.connect() as conn:
        card.faults.silent_after_frames = card.stats.frames_out
        started = time.monotonic()
        with pytest.raises(TransportError):
            conn.transmit(bytes.fromhex("802A0080020000"))
        assert time.monotonic() - started < 2.0 + 1.5


def test_wtx_storm_is_bounded(link) -> None:
    reader, card = link
    reader.slow_deadline_s = 1.5
    with reader.connect() as conn:
        card.faults.wtx_storm = True
        started = time.monotonic()
        with pytest.raises(TransportError) as info:
            conn.transmit(bytes.fromhex("802A0080020000"))
        assert time.monotonic() - started < 1.5 + 1.5
        assert not isinstance(info.value, CardRemovedError) or "field" in str(info.value)
    assert card.stats.wtx > 3
    card.faults.wtx_storm = False
    with reader.connect() as conn:  # the reader's RFOFF stopped the storm; back to idle
        assert conn.transmit(SELECT_JPKI) == (b"", 0x9000)


def test_fresh_pupi_and_power_cycle_per_activation(link, scripted: ScriptedCard) -> None:
    reader, card = link
    seen = set()
    for _ in range(3):
        with reader.connect() as conn:
            conn.transmit(SELECT_JPKI)
            seen.add(card.pupi)
        assert wait_for(lambda: not scripted.powered)  # closing switches the field off (RFOFF)
    assert len(seen) == 3 and all(len(p) == 4 for p in seen)
    assert card.stats.activations == 3


def test_no_card_in_field() -> None:
    card = ScriptedCard()
    with nfc_card_reader(card) as (reader, bridge):
        bridge.remove()
        started = time.monotonic()
        assert not reader.has_card()
        with pytest.raises(NoCardError):
            reader.connect()
        assert time.monotonic() - started < 3.0


def test_garbage_datagrams_do_not_kill_the_card(link) -> None:
    reader, card = link
    junk = [b"", b"RFOF", b"106B", b"106B zz", b"106B 0", b"999Z 0500", b"106B " + b"00" * 600,
            b"\xff\xfe", b"106B 1d00000000000801 00", b"106B 02" + b"41" * 10]
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        for datagram in junk:
            s.sendto(datagram, ("127.0.0.1", card.port))
    time.sleep(0.1)
    with reader.connect() as conn:
        assert conn.transmit(SELECT_JPKI) == (b"", 0x9000)


def test_nfc_usb_without_usb_bus_is_no_reader() -> None:
    # The reader opens lazily (so a watcher can wait for one to be plugged in); first use fails.
    for locator in ("nfc:usb", "nfc:usb:054c:06c1"):
        reader = open_reader(locator)
        assert reader.locator == locator
        with pytest.raises(NoReaderError, match="no nfcpy reader at usb"):
            reader.has_card()
        with pytest.raises(NoReaderError, match="no reader attached"):
            reader.connect()
    assert list_nfc_readers() == []


@pytest.mark.parametrize(
    ("locator", "path"),
    [("nfc:usb", "usb"), ("nfc:usb:054C:06C1", "usb:054c:06c1"),
     ("nfc:udp:127.0.0.1:54321", "udp:127.0.0.1:54321"),
     ("nfc:udp:localhost:1", "udp:localhost:1")],
)
def test_locators(locator: str, path: str) -> None:
    assert nfcpy_path(locator) == path


@pytest.mark.parametrize(
    "locator",
    ["nfc:", "nfc:usb:054c", "nfc:usb:054c:06c1:01", "nfc:udp:host", "nfc:udp:host:0",
     "nfc:udp:host:70000", "nfc:tty:ttyUSB0", "pcsc:usb", "nfc:udp:a b:1", "nfc:usb:zzzz:06c1"],
)
def test_bad_locators(locator: str) -> None:
    with pytest.raises(NoReaderError):
        NfcReader(locator)


def test_open_reader_udp_is_registered(link) -> None:
    _reader, card = link
    reader = open_reader(f"nfc:udp:127.0.0.1:{card.port}")
    try:
        assert isinstance(reader, NfcReader)
        with reader.connect() as conn:
            assert conn.transmit(SELECT_JPKI)[1] == 0x9000
    finally:
        reader.close()


def test_random_iso_dep_frames_do_not_break_the_card(link) -> None:
    """Activate by hand, then throw random blocks at the card: it may answer or stay silent,
    but it never dies and every answer is a well-formed datagram."""
    reader, card = link
    rng = random.Random(6)  # noqa: S311 - reproducible junk, not secrets
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(0.2)
        s.sendto(b"106B 050010", ("127.0.0.1", card.port))
        _brty, sensb = s.recv(1024).split()
        pupi = bytes.fromhex(sensb.decode())[1:5]
        s.sendto(b"106B " + (b"\x1d" + pupi + b"\x00\x08\x01\x00").hex().encode(),
                 ("127.0.0.1", card.port))
        assert s.recv(1024) == b"106B 00"
        s.settimeout(0.02)
        answers = 0
        for _ in range(150):
            pcb = rng.choice([0x02, 0x03, 0x12, 0x13, 0xA2, 0xA3, 0xB2, 0xB3, 0xF2, 0x0A, 0x06,
                              rng.randrange(256)])
            frame = bytes([pcb]) + rng.randbytes(rng.randrange(0, 40))
            s.sendto(b"106B " + frame.hex().encode(), ("127.0.0.1", card.port))
            try:
                answer = s.recv(1024)
            except TimeoutError:
                continue
            assert answer == b"RFOFF" or re.fullmatch(rb"106B ([0-9a-f]{2})+", answer)
            answers += 1
        assert answers > 10  # the card did take part (R(ACK)s, I-blocks, retransmissions)
    with reader.connect() as conn:  # still serving
        assert conn.transmit(SELECT_JPKI) == (b"", 0x9000)


def test_failed_activation_is_retried(link) -> None:
    reader, card = link
    card.faults.ignore_attribs = 2  # ATTRIB lost twice (nfcpy allows it only 30 ms)
    with reader.connect() as conn:
        assert conn.transmit(SELECT_JPKI) == (b"", 0x9000)
    assert card.stats.activations == 1
    card.faults.ignore_attribs = 5  # a card that never activates: a typed, bounded failure
    started = time.monotonic()
    with pytest.raises(NoCardError):
        reader.connect()
    assert time.monotonic() - started < 3.0


def test_duplicated_reader_block_is_not_executed_twice(link, scripted: ScriptedCard) -> None:
    _reader, card = link
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(0.3)
        s.sendto(b"106B 050010", ("127.0.0.1", card.port))
        pupi = bytes.fromhex(s.recv(1024).split()[1].decode())[1:5]
        s.sendto(b"106B " + (b"\x1d" + pupi + b"\x00\x08\x01\x00").hex().encode(),
                 ("127.0.0.1", card.port))
        assert s.recv(1024) == b"106B 00"
        s.sendto(b"106B b2", ("127.0.0.1", card.port))  # presence check: R(ACK), rule 12
        assert s.recv(1024) == b"106B a3"
        block = b"106B 02" + SELECT_JPKI.hex().encode()
        s.sendto(block, ("127.0.0.1", card.port))
        assert s.recv(1024) == b"106B 029000"
        s.sendto(block, ("127.0.0.1", card.port))  # the same block again: silence (rule 10)
        with pytest.raises(TimeoutError):
            s.recv(1024)
        s.sendto(b"106B b2", ("127.0.0.1", card.port))  # R(NAK) of it: retransmit, rule 11
        assert s.recv(1024) == b"106B 029000"
    assert scripted.commands == [SELECT_JPKI]


def test_reader_name_is_stable(link) -> None:
    reader, card = link
    before = reader.name
    assert reader.has_card()
    assert reader.name == before == f"nfcpy udp:127.0.0.1:{card.port}"
    assert reader.device is not None and "UDP" in reader.device
