"""Test helpers for the NFC backend: nfcpy's real tag stack over its udp driver to the emulator.

``nfc_card_reader(card)`` serves any card object (``power_on``/``power_off``/``process``) as an
ISO/IEC 14443-B card on a free UDP port and yields ``(NfcReader, NfcUdpCard)``;
``nfc_persona_reader(persona)`` does the same for a ``VirtualMynaCard`` and yields
``(NfcReader, VirtualMynaCard)``, the shape of the ``card_reader`` fixture's other backends.
``open_nfc_backend(card)`` is the same without a context manager, for fixture factories such as
``card_reader`` in tests/conftest.py. ``ScriptedCard`` is a small card for link tests.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from card.emulator.nfc_udp import CardLike, NfcUdpCard
from card.transports.nfc import NfcReader

# The other real contactless profile (card-protocol.md §6.3, ATR 3B 88 80 01 00 4B 51 FF B3 81
# D1 00 0F): FWI 13, about 2.48 s per frame. Functional card tests use it: with five pytest
# processes on two cores the card's thread is sometimes not scheduled within FWI 10's 309 ms,
# nfcpy then sends R(NAK), and the late answer plus the card's rule-11 repeat leave a stale
# frame that breaks the next APDU. The link tests keep FWI 10 and time it in the serial pass.
SLOW_FRAME_APP_DATA = bytes.fromhex("004B51FF")
SLOW_FRAME_PROTOCOL_INFO = bytes.fromhex("B381D1")


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def nfc_card_reader(
    card: CardLike, **reader_options: Any
) -> Iterator[tuple[NfcReader, NfcUdpCard]]:
    """``card`` behind an NfcUdpCard on a free port, and an NfcReader aimed at it."""
    bridge = NfcUdpCard(card, "127.0.0.1", 0)  # port 0: the kernel picks a free port
    bridge.start()
    reader = NfcReader(f"nfc:udp:127.0.0.1:{bridge.port}", **reader_options)
    try:
        yield reader, bridge
    finally:
        reader.close()
        bridge.stop()


def open_nfc_backend(card: CardLike, **reader_options: Any) -> tuple[NfcReader, Callable[[], None]]:
    """Non-context form for fixture factories: ``reader, cleanup = open_nfc_backend(card)``.

    The card answers with the FWI 13 profile (see ``SLOW_FRAME_PROTOCOL_INFO``)."""
    bridge = NfcUdpCard(card, "127.0.0.1", 0, app_data=SLOW_FRAME_APP_DATA,
                        protocol_info=SLOW_FRAME_PROTOCOL_INFO).start()
    reader = NfcReader(f"nfc:udp:127.0.0.1:{bridge.port}", **reader_options)

    def cleanup() -> None:
        reader.close()
        bridge.stop()

    return reader, cleanup


@contextmanager
def nfc_persona_reader(persona: str, **reader_options: Any) -> Iterator[tuple[NfcReader, Any]]:
    """``(reader, VirtualMynaCard)`` for ``persona`` over nfcpy → udp → NfcUdpCard."""
    from card.emulator import PERSONAS, VirtualMynaCard

    card = VirtualMynaCard(PERSONAS[persona])
    with nfc_card_reader(card, **reader_options) as (reader, _bridge):
        yield reader, card


EF_DATA = bytes((i * 7 + 3) & 0xFF for i in range(3000))


class ScriptedCard:
    """A small card for link tests: SELECT, READ BINARY (short and extended Le) of a 3000-byte
    EF, an ECHO command (INS 0xEE) returning its data, and a slow SIGN (INS 0x2A)."""

    def __init__(self) -> None:
        self.latency_s = 0.0
        self.commands: list[bytes] = []
        self.powered = False
        self.power_cycles = 0

    def power_on(self) -> None:
        self.powered = True
        self.power_cycles += 1

    def power_off(self) -> None:
        self.powered = False

    def process(self, capdu: bytes) -> bytes:
        if not self.powered:
            return b"\x6f\x00"  # a real card cannot answer without power: tests see it
        self.commands.append(capdu)
        ins = capdu[1]
        if ins == 0xA4:
            return b"\x90\x00"
        if ins == 0xB0:
            offset = int.from_bytes(capdu[2:4], "big")
            if len(capdu) == 5:
                le = capdu[4] or 256
            elif len(capdu) == 7 and capdu[4] == 0:
                le = int.from_bytes(capdu[5:7], "big") or 65536
            else:
                return b"\x67\x00"
            return EF_DATA[offset : offset + le] + b"\x90\x00"
        if ins == 0xEE:
            if len(capdu) > 7 and capdu[4] == 0:
                n = int.from_bytes(capdu[5:7], "big")
                return capdu[7 : 7 + n] + b"\x90\x00"
            return capdu[5 : 5 + capdu[4]] + b"\x90\x00"
        if ins == 0x2A:
            time.sleep(self.latency_s)
            return bytes(range(256)) + b"\x90\x00"
        return b"\x6d\x00"
