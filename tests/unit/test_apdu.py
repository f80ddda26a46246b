"""CommandApdu encoding: ISO 7816-4 cases 1-4, short and extended, and the reference vectors."""

from __future__ import annotations

import pytest

from card.apdu import CommandApdu, ResponseApdu
from card.errors import BadResponseError
from card.ids import AID, INS


def hx(text: str) -> bytes:
    return bytes.fromhex(text)


@pytest.mark.parametrize(
    ("command", "encoded"),
    [
        (
            CommandApdu(0x00, INS.SELECT, 0x04, 0x0C, AID.JPKI),
            "00 A4 04 0C 0A D3 92 F0 00 26 01 00 00 00 01",
        ),
        (CommandApdu(0x00, INS.SELECT, 0x02, 0x0C, hx("00 1B")), "00 A4 02 0C 02 00 1B"),
        (CommandApdu(0x00, INS.VERIFY, 0x00, 0x80), "00 20 00 80"),
        (CommandApdu(0x00, INS.VERIFY, 0x00, 0x80, b"1234"), "00 20 00 80 04 31 32 33 34"),
        (CommandApdu(0x00, INS.READ_BINARY, 0x00, 0x00, le=17), "00 B0 00 00 11"),
        (CommandApdu(0x00, INS.READ_BINARY, 0x01, 0x00, le=256), "00 B0 01 00 00"),
        (CommandApdu(0x00, INS.READ_BINARY, 0x00, 0x00, le=255), "00 B0 00 00 FF"),
        (CommandApdu(0x00, INS.READ_BINARY, 0x00, 0x00, le=257), "00 B0 00 00 00 01 01"),
        (CommandApdu(0x00, INS.READ_BINARY, 0x00, 0x00, le=65536), "00 B0 00 00 00 00 00"),
        (
            CommandApdu(0x00, INS.READ_BINARY, 0x00, 0x00, le=256, extended=True),
            "00 B0 00 00 00 01 00",
        ),
        (
            CommandApdu(0x80, INS.COMPUTE_DIGITAL_SIGNATURE, 0x00, 0x80, hx("30 31") , le=256),
            "80 2A 00 80 02 30 31 00",
        ),
        (
            CommandApdu(0x80, INS.COMPUTE_DIGITAL_SIGNATURE, 0x00, 0x80, b"\xAA" * 300, le=256),
            "80 2A 00 80 00 01 2C" + " AA" * 300 + " 01 00",
        ),
        (
            CommandApdu(0x00, INS.GET_DATA, 0x00, 0xF8, le=65536),
            "00 CA 00 F8 00 00 00",
        ),
        (CommandApdu(0x00, 0xD6, 0x00, 0x00, b"\x01" * 256), "00 D6 00 00 00 01 00" + " 01" * 256),
        (
            CommandApdu(0x00, 0xD6, 0x00, 0x00, b"\x01" * 255, le=256),
            "00 D6 00 00 FF" + " 01" * 255 + " 00",
        ),
        (CommandApdu(0x00, INS.GET_RESPONSE, 0x00, 0x00, le=0x10), "00 C0 00 00 10"),
    ],
    ids=[
        "select-jpki",
        "select-ef-sign-pin",
        "verify-empty",
        "verify-auth-pin",
        "read-my-number-17",
        "read-256-is-00",
        "read-255",
        "read-257-extended",
        "read-65536-is-0000",
        "read-256-forced-extended",
        "sign-case4-short",
        "sign-case4-extended-lc",
        "get-data-extended-le",
        "case3-extended-lc-256",
        "case4-short-limits",
        "get-response",
    ],
)
def test_encode(command: CommandApdu, encoded: str) -> None:
    assert command.encode() == hx(encoded)


@pytest.mark.parametrize(
    "fields",
    [
        {"cla": 0x100, "ins": 0, "p1": 0, "p2": 0},
        {"cla": 0, "ins": -1, "p1": 0, "p2": 0},
        {"cla": 0, "ins": 0, "p1": 0, "p2": 0, "le": 0},
        {"cla": 0, "ins": 0, "p1": 0, "p2": 0, "le": 65537},
        {"cla": 0, "ins": 0, "p1": 0, "p2": 0, "data": b"\x00" * 65536},
        {"cla": 0, "ins": 0, "p1": 0, "p2": 0, "le": 257, "extended": False},
        {"cla": 0, "ins": 0, "p1": 0, "p2": 0, "data": b"\x00" * 256, "extended": False},
    ],
    ids=["cla-overflow", "ins-negative", "le-zero", "le-too-big", "lc-too-big",
         "short-le-impossible", "short-lc-impossible"],
)
def test_impossible_fields_raise_value_error(fields: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        CommandApdu(**fields)  # type: ignore[arg-type]


def test_case1_has_no_extended_form() -> None:
    with pytest.raises(ValueError):
        CommandApdu(0, 0xA4, 0, 0, extended=True).encode()


@pytest.mark.parametrize(
    ("raw", "data", "sw"),
    [("90 00", "", 0x9000), ("01 02 63 C2", "01 02", 0x63C2)],
    ids=["sw-only", "data-and-sw"],
)
def test_response_parse(raw: str, data: str, sw: int) -> None:
    response = ResponseApdu.parse(hx(raw))
    assert (response.data, response.sw) == (hx(data), sw)
    assert response.ok is (sw == 0x9000)


def test_response_too_short() -> None:
    with pytest.raises(BadResponseError):
        ResponseApdu.parse(b"\x90")


def test_apdus_are_values_as_the_dataclasses_were():
    import copy
    import dataclasses
    import pickle

    from card.channel import TrafficStats
    from card.tlv import Tlv

    command = CommandApdu(0x00, 0xB0, 0x00, 0x10, le=8)
    assert command == CommandApdu(0, 0xB0, 0, 0x10, b"", 8, None) != CommandApdu(0, 0xB0, 0, 0x11)
    assert hash(command) == hash(CommandApdu(0, 0xB0, 0, 0x10, le=8))
    assert repr(command) == ("CommandApdu(cla=0, ins=176, p1=0, p2=16, data=b'', le=8, "
                             "extended=None)")
    copied = pickle.loads(pickle.dumps(command))  # noqa: S301 - our own bytes
    assert copied == copy.deepcopy(command) == command
    with pytest.raises(dataclasses.FrozenInstanceError):
        command.le = 9  # type: ignore[misc]
    match ResponseApdu.parse(hx("01 90 00")):
        case ResponseApdu(data, sw):
            assert (data, sw) == (b"\x01", 0x9000)
    assert repr(Tlv(0x80, b"", b"\x80\x00", 2)) == (
        "Tlv(tag=128, value=b'', raw=b'\\x80\\x00', end=2)")
    stats = TrafficStats()
    stats.apdus += 1
    assert stats == TrafficStats(apdus=1) and repr(stats) == (
        "TrafficStats(apdus=1, bytes_sent=0, bytes_received=0)")
    with pytest.raises(TypeError):
        hash(stats)
