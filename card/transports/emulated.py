"""In-process transport to the software card: ``EmulatedReader`` and ``EmulatedConnection``.

The emulator sits behind the same ``CardConnection`` seam as PC/SC and NFC (architecture.md),
so apps cannot tell it from a card. A ``CardPulled`` fault or a removed card becomes
``CardRemovedError``; a connection to a card that has been pulled never works again.
"""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING, Any, ClassVar

from card.errors import BadResponseError, CardRemovedError, NoCardError, NoReaderError
from card.transports import CardConnection, Interface, Reader, Transport

if TYPE_CHECKING:
    from card.emulator import VirtualMynaCard

logger = logging.getLogger(__name__)


class EmulatedConnection(CardConnection):
    """A connection to one inserted ``VirtualMynaCard``; dead once the card leaves."""

    transport: ClassVar[Transport] = Transport.EMULATOR

    def __init__(self, reader: EmulatedReader, card: VirtualMynaCard, generation: int) -> None:
        self._reader = reader
        self._card = card
        self._generation = generation
        self._closed = False

    @property
    def interface(self) -> Interface:
        return Interface.CONTACT

    @property
    def atr(self) -> bytes:
        return bytes(self._card.atr)

    @property
    def extended_apdus(self) -> bool:
        return True  # the card itself takes extended Le (reference §6.5)

    @property
    def card(self) -> VirtualMynaCard:
        return self._card

    def transmit(self, apdu: bytes) -> tuple[bytes, int]:
        from card.emulator import CardPulled

        if self._closed:
            raise CardRemovedError("connection closed")
        if not self._reader.holds(self._card, self._generation):
            raise CardRemovedError("card removed")
        try:
            response = self._card.process(bytes(apdu))
        except CardPulled as e:
            self._reader.remove()
            raise CardRemovedError("card pulled during the exchange") from e
        if len(response) < 2:
            raise BadResponseError("response shorter than a status word")
        return bytes(response[:-2]), int.from_bytes(response[-2:], "big")

    def close(self) -> None:
        self._closed = True


class EmulatedReader(Reader):
    """A virtual reader slot: ``insert(card)``, ``remove()``, ``connect()``. Thread-safe."""

    transport: ClassVar[Transport] = Transport.EMULATOR

    def __init__(self, name: str = "emulator", card: VirtualMynaCard | None = None) -> None:
        self._name = name
        self._lock = threading.Lock()
        self._card: VirtualMynaCard | None = None
        self._generation = 0  # bumps on every insert/remove so old connections go stale
        if card is not None:
            self.insert(card)

    @property
    def name(self) -> str:
        return self._name

    @property
    def locator(self) -> str:
        return f"emulator:{self._name}"

    @property
    def card(self) -> VirtualMynaCard | None:
        return self._card

    def insert(self, card: VirtualMynaCard) -> None:
        with self._lock:
            self._card = card
            self._generation += 1

    def remove(self) -> None:
        with self._lock:
            if self._card is not None:
                self._card.power_off()
            self._card = None
            self._generation += 1

    def has_card(self) -> bool:
        return self._card is not None

    def holds(self, card: Any, generation: int) -> bool:
        return self._card is card and self._generation == generation

    def connect(self, exclusive: bool = False) -> EmulatedConnection:
        with self._lock:
            card = self._card
            if card is None:
                raise NoCardError(f"no card in {self._name}")
            card.power_on()  # a fresh connection is a cold start: no DF, no PIN state
            return EmulatedConnection(self, card, self._generation)


def open_locator(locator: str) -> EmulatedReader:
    """``emulator:<persona>`` → a reader holding a fresh in-process card for that persona."""
    persona = locator.partition(":")[2]
    from card.emulator import PERSONAS, VirtualMynaCard

    if not persona:
        return EmulatedReader("emulator")
    if persona not in PERSONAS:
        raise NoReaderError(f"unknown emulator persona {persona!r}")
    return EmulatedReader(persona, VirtualMynaCard(PERSONAS[persona]))
