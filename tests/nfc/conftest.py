"""Fixtures for the NFC tests: a scripted ISO 7816 card behind nfcpy's udp driver."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from card.emulator.nfc_udp import NfcUdpCard
from card.transports.nfc import NfcReader
from tests.support.nfc import ScriptedCard, nfc_card_reader


@pytest.fixture
def scripted() -> ScriptedCard:
    return ScriptedCard()


@pytest.fixture
def link(scripted: ScriptedCard) -> Iterator[tuple[NfcReader, NfcUdpCard]]:
    with nfc_card_reader(scripted, deadline_s=2.0, slow_deadline_s=6.0) as pair:
        yield pair
