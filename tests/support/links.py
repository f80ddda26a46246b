"""Reader links with the limits real readers have, around any ``CardConnection``."""

from __future__ import annotations

from typing import ClassVar

from card.sw import SW
from card.transports import CardConnection, Interface, Reader, Transport


class ShortApduLink(CardConnection):
    """A link that cannot carry extended APDUs (ACR122U-class readers): it answers 6700 to
    them itself, as such a reader does, and passes everything else to the card.
    ``claims_extended`` models a reader whose descriptor says otherwise."""

    transport: ClassVar[Transport] = Transport.EMULATOR

    def __init__(self, inner: CardConnection, *, claims_extended: bool = True) -> None:
        self.inner = inner
        self._claims_extended = claims_extended

    @property
    def interface(self) -> Interface:
        return self.inner.interface

    @property
    def extended_apdus(self) -> bool:
        return self._claims_extended

    def transmit(self, apdu: bytes) -> tuple[bytes, int]:
        if len(apdu) > 5 and apdu[4] == 0:  # the extended length marker
            return b"", SW.WRONG_LENGTH
        return self.inner.transmit(apdu)

    def close(self) -> None:
        self.inner.close()


class ShortApduReader(Reader):
    """A reader whose connections are ``ShortApduLink``s (honest: no extended APDUs)."""

    transport: ClassVar[Transport] = Transport.EMULATOR

    def __init__(self, inner: Reader) -> None:
        self.inner = inner

    @property
    def name(self) -> str:
        return self.inner.name

    @property
    def locator(self) -> str:
        return self.inner.locator

    def has_card(self) -> bool:
        return self.inner.has_card()

    def connect(self, exclusive: bool = False) -> CardConnection:
        return ShortApduLink(self.inner.connect(exclusive), claims_extended=False)
