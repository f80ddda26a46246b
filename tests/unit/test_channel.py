"""ApduChannel against a scripted fake ``CardConnection``: exact command sequences, SW handling."""

from __future__ import annotations

import logging
from typing import ClassVar

import pytest

from card.apdu import CommandApdu
from card.channel import TRAFFIC, ApduChannel
from card.errors import (
    ApduError,
    ApplicationNotFoundError,
    BadResponseError,
    InvalidPinError,
    PinBlockedError,
    PinFormatError,
)
from card.ids import AID
from card.transports import CardConnection, Interface, Transport


def hx(text: str) -> bytes:
    return bytes.fromhex(text)


class ScriptedConnection(CardConnection):
    """Answers each command from a script of (expected command hex, response hex incl. SW)."""

    transport: ClassVar[Transport] = Transport.REPLAY

    def __init__(self, script: list[tuple[str, str]]) -> None:
        self.script = [(hx(c), hx(r)) for c, r in script]
        self.sent: list[bytes] = []

    @property
    def interface(self) -> Interface:
        return Interface.CONTACT

    def transmit(self, apdu: bytes) -> tuple[bytes, int]:
        assert self.script, f"unexpected extra command {apdu.hex(' ')}"
        expected, response = self.script.pop(0)
        assert apdu == expected, f"sent {apdu.hex(' ')}, expected {expected.hex(' ')}"
        self.sent.append(apdu)
        return response[:-2], int.from_bytes(response[-2:], "big")

    def done(self) -> bool:
        return not self.script


def channel(script: list[tuple[str, str]], **kw: bool) -> tuple[ApduChannel, ScriptedConnection]:
    conn = ScriptedConnection(script)
    return ApduChannel(conn, **kw), conn


def test_get_response_chain() -> None:
    ch, conn = channel([
        ("00 84 00 00 04", "01 02 61 02"),
        ("00 C0 00 00 02", "03 04 90 00"),
    ])
    assert ch.transmit(CommandApdu(0, 0x84, 0, 0, le=4)) == hx("01 02 03 04")
    assert conn.done() and ch.stats.apdus == 2


def test_get_response_is_bounded() -> None:
    script = [("00 84 00 00 04", "61 01")] + [("00 C0 00 00 01", "00 61 01")] * 64
    ch, _ = channel(script)
    with pytest.raises(BadResponseError):
        ch.transmit(CommandApdu(0, 0x84, 0, 0, le=4))


def test_wrong_le_resends_once() -> None:
    ch, conn = channel([
        ("00 B0 00 00 10", "6C 04"),
        ("00 B0 00 00 04", "AA BB CC DD 90 00"),
    ])
    assert ch.transmit(CommandApdu(0, 0xB0, 0, 0, le=16)) == hx("AA BB CC DD")
    assert conn.done()


def test_wrong_le_twice_is_an_error() -> None:
    ch, _ = channel([("00 B0 00 00 10", "6C 04"), ("00 B0 00 00 04", "6C 02")])
    with pytest.raises(ApduError) as e:
        ch.transmit(CommandApdu(0, 0xB0, 0, 0, le=16))
    assert e.value.sw == 0x6C02


def test_other_sw_is_apdu_error_with_name() -> None:
    ch, _ = channel([("00 A4 02 0C 02 00 09", "6A 82")])
    with pytest.raises(ApduError) as e:
        ch.select_ef(0x0009)
    assert e.value.sw == 0x6A82 and "SELECT EF 0009" in str(e.value)


def test_select_aid_failure() -> None:
    ch, _ = channel([("00 A4 04 0C 0A D3 92 F0 00 26 01 00 00 00 01", "6A 82")])
    with pytest.raises(ApplicationNotFoundError) as e:
        ch.select_aid(AID.JPKI)
    assert e.value.sw == 0x6A82 and ch.current_aid is None


def test_ensure_selected_selects_once() -> None:
    ch, conn = channel([("00 A4 04 0C 0A D3 92 F0 00 26 01 00 00 00 01", "90 00")])
    ch.ensure_selected(AID.JPKI)
    ch.ensure_selected(AID.JPKI)
    assert conn.done()


def test_read_binary_pages_at_256() -> None:
    ch, conn = channel([
        ("00 B0 00 00 00", "11" * 256 + " 90 00"),
        ("00 B0 01 00 00", "22" * 256 + " 90 00"),
        ("00 B0 02 00 0A", "33" * 10 + " 90 00"),
    ])
    assert ch.read_binary(0, 522) == b"\x11" * 256 + b"\x22" * 256 + b"\x33" * 10
    assert conn.done()


def test_read_binary_extended() -> None:
    ch, conn = channel([("00 B0 00 00 00 02 0A", "44" * 522 + " 90 00")], extended_reads=True)
    assert ch.read_binary(0, 522) == b"\x44" * 522
    assert conn.done()


@pytest.mark.parametrize("answer", ["11" * 9, "11" * 11], ids=["short", "long"])
def test_read_binary_wrong_size(answer: str) -> None:
    ch, _ = channel([("00 B0 00 00 0A", answer + " 90 00")])
    with pytest.raises(BadResponseError):
        ch.read_binary(0, 10)


def test_read_object_reads_header_then_body_only() -> None:
    body = bytes(range(256)) * 2 + bytes(10)  # 522 bytes of value
    obj = hx("30 82 02 0A") + body  # 526 bytes; the EF has filler after it
    ch, conn = channel([
        ("00 B0 00 00 08", obj[:8].hex() + " 90 00"),
        ("00 B0 00 08 00", obj[8:264].hex() + " 90 00"),
        ("00 B0 01 08 00", obj[264:520].hex() + " 90 00"),
        ("00 B0 02 08 06", obj[520:].hex() + " 90 00"),
    ])
    assert ch.read_object(4096) == obj
    assert conn.done() and ch.stats.apdus == 4


def test_read_object_small_object_in_one_apdu() -> None:
    ch, conn = channel([("00 B0 00 00 08", "FF 10 03 41 42 43 FF FF 90 00")])
    assert ch.read_object(100) == hx("FF 10 03 41 42 43")
    assert conn.done()


def test_read_object_enforces_max_len() -> None:
    ch, conn = channel([("00 B0 00 00 08", "30 82 FF F0 00 00 00 00 90 00")])
    with pytest.raises(BadResponseError):
        ch.read_object(4096)
    assert conn.done()  # nothing read after the header


@pytest.mark.parametrize(
    ("sw", "tries"), [("63 C3", 3), ("63 C0", 0), ("69 84", 0)],
    ids=["three", "zero", "blocked"],
)
def test_verify_status(sw: str, tries: int) -> None:
    ch, conn = channel([("00 20 00 80", sw)])
    assert ch.verify_status() == tries
    assert conn.done()


def test_verify_status_9000_is_not_a_count() -> None:
    # Some cards may answer 9000 ("already verified", reference §4): the counter is then
    # unknown, and guessing "full" could spend a holder's last try.
    ch, conn = channel([("00 20 00 80", "90 00")])
    with pytest.raises(BadResponseError):
        ch.verify_status()
    assert conn.done()


@pytest.mark.parametrize(
    ("sw", "error", "tries"),
    [("63 C2", InvalidPinError, 2), ("63 C0", PinBlockedError, None),
     ("69 84", PinBlockedError, None), ("69 82", ApduError, None)],
    ids=["wrong", "exhausted", "blocked", "other"],
)
def test_verify_errors(sw: str, error: type[Exception], tries: int | None) -> None:
    ch, conn = channel([("00 20 00 80 04 31 32 33 34", sw)])
    with pytest.raises(error) as e:
        ch.verify(b"1234")
    if tries is not None:
        assert e.value.tries_left == tries  # type: ignore[attr-defined]
    assert conn.done()  # never retried


def test_traffic_log_redacts_verify_and_personal_reads(caplog: pytest.LogCaptureFixture) -> None:
    ch, _ = channel([
        ("00 20 00 80 04 39 38 37 36", "90 00"),
        ("00 B0 00 00 03", "41 42 43 90 00"),
    ])
    with caplog.at_level(TRAFFIC, logger="card.channel"):
        ch.verify(b"9876")
        ch.read_binary(0, 3, personal=True)
    text = caplog.text
    assert "<redacted 4 bytes>" in text and "<3 bytes>" in text
    assert "39 38 37 36" not in text and "41 42 43" not in text
    assert all(r.levelno == TRAFFIC for r in caplog.records)


def test_no_traffic_logging_above_level(caplog: pytest.LogCaptureFixture) -> None:
    ch, _ = channel([("00 84 00 00 02", "01 02 90 00")])
    with caplog.at_level(logging.DEBUG, logger="card.channel"):
        ch.get_challenge(2)
    assert caplog.records == []


def test_pin_format_checked_before_any_apdu() -> None:
    from card.apps.jpki import JpkiApp, PinKind

    ch, conn = channel([])
    app = JpkiApp(ch)
    for kind, pin in [(PinKind.AUTH, "123"), (PinKind.AUTH, "12a4"), (PinKind.SIGN, "abc12"),
                      (PinKind.SIGN, "ABCDEFGHIJ1234567"), (PinKind.SIGN, "ABC-123")]:
        with pytest.raises(PinFormatError):
            app.verify_pin(kind, pin)
    assert conn.sent == []


def test_sign_password_is_upper_cased() -> None:
    from card.apps.jpki import JpkiApp, PinKind

    ch, conn = channel([
        ("00 A4 04 0C 0A D3 92 F0 00 26 01 00 00 00 01", "90 00"),
        ("00 A4 02 0C 02 00 1B", "90 00"),
        ("00 20 00 80 06 41 42 43 31 32 33", "90 00"),
    ])
    JpkiApp(ch).verify_pin(PinKind.SIGN, "abc123")
    assert conn.done()
