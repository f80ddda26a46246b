"""The transport seam: ``CardConnection`` and ``Reader`` ABCs, and reader locators.

Locators name a reader the same way in config, CLI and tests: ``pcsc``, ``pcsc:<name substring>``,
``nfc:usb``, ``nfc:usb:054c:06c1``, ``nfc:udp:HOST:PORT``, ``emulator:<persona>``.
Only this package imports pyscard or nfcpy, lazily, inside the adapter modules.
"""

from __future__ import annotations

import abc
from enum import StrEnum

# Not `from typing import …`: typing costs every `myna` command a tenth of a bare Python start,
# and mypy takes any name TYPE_CHECKING as true.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from types import TracebackType
    from typing import ClassVar, Self


class Transport(StrEnum):
    PCSC = "pcsc"
    NFC = "nfc"
    EMULATOR = "emulator"
    REPLAY = "replay"


class Interface(StrEnum):
    CONTACT = "contact"
    CONTACTLESS = "contactless"


class CardConnection(abc.ABC):
    """An open link to one card. Moves bytes; leaves status words to the caller.

    Not thread-safe: one connection belongs to one thread for a whole select-verify-read
    sequence, because PIN state belongs to the connection.
    """

    transport: ClassVar[Transport]

    @property
    @abc.abstractmethod
    def interface(self) -> Interface: ...

    @abc.abstractmethod
    def transmit(self, apdu: bytes) -> tuple[bytes, int]:
        """Send one command APDU; return (response data, SW as an int).

        :raises CardRemovedError: the card left during the exchange.
        :raises TransportError: any other link failure.
        """

    @property
    def atr(self) -> bytes:
        return b""

    @property
    def extended_apdus(self) -> bool:
        """True when the link carries extended-length APDUs (a whole object in one READ)."""
        return False

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release the card (PC/SC: leave it powered; the agent decides about reset)."""

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class Reader(abc.ABC):
    """A reader slot that may hold a card."""

    transport: ClassVar[Transport]

    @property
    @abc.abstractmethod
    def name(self) -> str: ...

    @property
    @abc.abstractmethod
    def locator(self) -> str:
        """The locator that names exactly this reader."""

    @abc.abstractmethod
    def has_card(self) -> bool: ...

    @abc.abstractmethod
    def connect(self, exclusive: bool = False) -> CardConnection:
        """Open a connection to the card in this reader.

        :raises NoCardError: no card present.
        :raises TransportError: the reader failed.
        """


# -- locators ------------------------------------------------------------------------------------
# scheme -> "module:callable" taking the whole locator and returning a Reader. Adding a transport
# is one line here; modules are imported only when their scheme is used.
_OPENERS: dict[str, str] = {
    "pcsc": "card.transports.pcsc:open_locator",
    "emulator": "card.transports.emulated:open_locator",
    "nfc": "card.transports.nfc:NfcReader",
}
# Transports whose readers `list_readers()` enumerates ("module:function" -> list[Reader]).
_LISTERS: tuple[str, ...] = (
    "card.transports.pcsc:list_pcsc_readers",
    "card.transports.nfc:list_nfc_readers",
)


def _resolve(target: str):  # type: ignore[no-untyped-def]
    import importlib

    module_name, _, attr = target.partition(":")
    module = importlib.import_module(module_name)
    return getattr(module, attr)


def open_reader(locator: str) -> Reader:
    """Return the reader named by ``locator`` (``pcsc``, ``pcsc:<name>``, ``emulator:<persona>``).

    :raises NoReaderError: unknown scheme, transport not available, or no matching reader.
    """
    from card.errors import NoReaderError

    locator = locator.strip()
    scheme = locator.partition(":")[0]
    target = _OPENERS.get(scheme)
    if target is None:
        raise NoReaderError(f"unknown reader locator scheme {scheme!r}")
    try:
        opener = _resolve(target)
    except ModuleNotFoundError as e:
        raise NoReaderError(f"the {scheme} transport is not available ({e.name})") from e
    reader: Reader = opener(locator)
    return reader


def list_readers() -> list[Reader]:
    """Return the readers every installed transport can see right now (may be empty)."""
    from card.errors import CardError

    readers: list[Reader] = []
    for target in _LISTERS:
        try:
            readers.extend(_resolve(target)())
        except ModuleNotFoundError:
            continue  # that transport's library is not installed
        except CardError:
            continue  # e.g. pcscd not running: no readers from that transport
    return readers
