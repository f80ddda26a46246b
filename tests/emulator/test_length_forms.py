"""TLV lengths as real cards write them (reference §8.2, §13 item 12), checked on the raw bytes
every persona's card serves through a real pcscd + vpcd: one byte below 128, ``82 HH LL`` for
every length >= 128 (also 128-255), never ``81 xx``. Raw APDUs and a test-side TLV walker only;
no host parsing code."""

from __future__ import annotations

from typing import Any

import pytest

from card.emulator import PERSONAS
from tests.emulator.conftest import HELPER, SURFACE, h

pytestmark = [pytest.mark.pcsc, pytest.mark.emulator_only]
CARD_PERSONAS = sorted(n for n, p in PERSONAS.items() if p.card.my_number_card)
HELPER_TLV_EFS = (0x0002, 0x0003, 0x0004, 0x0005, 0x0006, 0x0007)  # reference §2.2
SURFACE_TLV_EFS = (0x0001, 0x0002, 0x0003, 0x0004, 0x0005)  # reference §2.3


def walk(data: bytes, pos: int, end: int, out: list[tuple[int, bytes, int]]) -> int:
    """Append (tag, length bytes, length) of the TLV at ``pos`` and of its constructed children;
    return the position after it."""
    tag = data[pos]
    pos += 1
    if tag & 0x1F == 0x1F:
        while True:
            tag = tag << 8 | data[pos]
            pos += 1
            if not tag & 0x80:
                break
    first = data[pos]
    octets = 1 + (first & 0x7F if first & 0x80 else 0)
    length_bytes = data[pos : pos + octets]
    length = int.from_bytes(length_bytes[1:], "big") if first & 0x80 else first
    pos += octets
    out.append((tag, bytes(length_bytes), length))
    value_end = pos + length
    assert value_end <= end, f"TLV {tag:X} runs past its parent"
    first_tag_byte = tag.to_bytes((tag.bit_length() + 7) // 8, "big")[0]
    if first_tag_byte & 0x20:  # constructed: its value is TLVs
        while pos < value_end:
            pos = walk(data, pos, value_end, out)
    return value_end


def lengths_of(record: bytes) -> list[tuple[int, bytes, int]]:
    out: list[tuple[int, bytes, int]] = []
    walk(record, 0, len(record), out)
    return out


def card_form(length: int) -> bytes:
    return bytes([length]) if length < 0x80 else b"\x82" + length.to_bytes(2, "big")


def send(conn: Any, apdu: str) -> bytes:
    data, sw = conn.transmit(h(apdu))
    assert sw == 0x9000, f"{apdu}: {sw:04X}"
    return data


def read_ef(conn: Any, fid: int) -> bytes:
    """SELECT EF ``fid`` and page READ BINARY through it until 6B00 (filler included)."""
    send(conn, f"00 A4 02 0C 02 {fid:04X}")
    out = b""
    while True:
        data, sw = conn.transmit(h(f"00 B0 {len(out) >> 8:02X} {len(out) & 0xFF:02X} 00"))
        if sw == 0x6B00:
            return out
        assert sw == 0x9000 and data, f"READ BINARY at {len(out)}: {sw:04X}"
        out += data
        assert len(out) < 0x8000


def verify(conn: Any, fid: int, secret: str) -> None:
    data = secret.encode("ascii")
    send(conn, f"00 20 00 {0x80 | fid:02X} {len(data):02X} {data.hex()}")


def raw_records(conn: Any, persona: str) -> dict[str, bytes]:
    """Every TLV record of both 券面 APs, as served (filler after the object included)."""
    c = PERSONAS[persona].credentials
    records = {}
    send(conn, f"00 A4 04 0C 0A {HELPER}")
    verify(conn, 0x0011, c.input_helper_pin)
    for fid in HELPER_TLV_EFS:
        records[f"input_helper/{fid:04X}"] = read_ef(conn, fid)
    send(conn, f"00 A4 04 0C 0A {SURFACE}")
    verify(conn, 0x0011, c.birth_key)
    verify(conn, 0x0013, c.match_a)
    for fid in SURFACE_TLV_EFS:
        records[f"surface/{fid:04X}"] = read_ef(conn, fid)
    return records


@pytest.mark.parametrize("card_reader", ["pcsc"], indirect=True)
@pytest.mark.parametrize("persona", CARD_PERSONAS)
def test_every_length_uses_the_real_cards_form(card_reader: Any, persona: str) -> None:
    reader, _card = card_reader(persona)
    with reader.connect() as conn:
        records = raw_records(conn, persona)
    long_forms = 0
    for where, record in records.items():
        for tag, length_bytes, length in lengths_of(record):
            assert length_bytes == card_form(length), (where, f"{tag:X}", length_bytes.hex(" "))
            long_forms += length >= 0x80
    assert long_forms  # every card has 256-byte signatures and moduli
    # Text AP basic info reads FF 40 82 00 9F … DF 43 82 00 80 on real cards (§8.2, §8.5).
    ap_info = records["input_helper/0005"]
    assert ap_info.startswith(h("FF 40 82 00 9F")) and h("DF 43 82 00 80") in ap_info


def test_building_address_has_the_common_real_card_shape(card_reader: Any) -> None:
    """基本4情報 content of 128-255 bytes with every field under 128 (``FF 20 82 00 xx``)."""
    reader, _card = card_reader("building-address")
    with reader.connect() as conn:
        send(conn, f"00 A4 04 0C 0A {HELPER}")
        verify(conn, 0x0011, PERSONAS["building-address"].credentials.input_helper_pin)
        basic = read_ef(conn, 0x0002)
    outer, *fields = lengths_of(basic)
    assert outer[:2] == (0xFF20, b"\x82\x00" + bytes([outer[2]])) and 128 <= outer[2] <= 255
    assert [tag for tag, _, _ in fields] == [0xDF21, 0xDF22, 0xDF23, 0xDF24, 0xDF25]
    assert all(length < 128 for _, _, length in fields)
