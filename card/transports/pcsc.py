"""PC/SC transport: a thin adapter over pyscard's ``smartcard.scard`` (architecture.md, ref. §6.4).

pyscard is imported lazily, so ``card`` imports without pcsc-lite. The adapter converts formats
at the edge (``list[int]`` ↔ ``bytes``, SW1/SW2 → one int) and turns every PC/SC result code into
``NoReaderError``, ``NoCardError``, ``CardRemovedError`` or ``TransportError``. Connections try
``SCARD_SHARE_EXCLUSIVE`` when asked, because PIN state survives a reconnect and another process
could use it (ref. §6.4, SOL transport/pcsc.rs).
"""

from __future__ import annotations

import logging
from typing import Any, ClassVar

from card.errors import (
    CardBusyError,
    CardRemovedError,
    NoCardError,
    NoReaderError,
    TransportError,
)
from card.transports import CardConnection, Interface, Reader, Transport

logger = logging.getLogger(__name__)


def _scard() -> Any:
    try:
        from smartcard import scard
    except ImportError as e:  # pyscard or libpcsclite missing
        raise NoReaderError("PC/SC support (pyscard) is not installed") from e
    return scard


# After a failed transmit, how long to wait for pcscd to notice a removal (its vpcd poll is
# 400 ms, test-stack §5.2); only on the error path.
REMOVAL_WAIT_MS = 600


def _error(scard: Any, hresult: int, what: str) -> TransportError:
    """Translate a PC/SC result code into the card error tree."""
    message = f"{what}: {scard.SCardGetErrorMessage(hresult)} (0x{hresult & 0xFFFFFFFF:08X})"
    if hresult in (scard.SCARD_E_NO_SERVICE, scard.SCARD_E_SERVICE_STOPPED):
        return NoReaderError(message)
    if hresult in (
        scard.SCARD_E_UNKNOWN_READER,
        scard.SCARD_E_READER_UNAVAILABLE,
        scard.SCARD_E_NO_READERS_AVAILABLE,
    ):
        return NoReaderError(message)
    if hresult in (scard.SCARD_E_NO_SMARTCARD,):
        return NoCardError(message)
    if hresult in (scard.SCARD_W_REMOVED_CARD, scard.SCARD_W_UNPOWERED_CARD):
        return CardRemovedError(message)
    return TransportError(message)


class _Context:
    """One PC/SC context; released on ``close``."""

    def __init__(self) -> None:
        self.scard = _scard()
        try:
            hresult, self.handle = self.scard.SCardEstablishContext(self.scard.SCARD_SCOPE_USER)
        except Exception as e:  # pyscard raises its own exceptions on some failures
            raise NoReaderError(f"PC/SC service unavailable: {e}") from e
        if hresult != self.scard.SCARD_S_SUCCESS:
            raise _error(self.scard, hresult, "establish PC/SC context")

    def list_readers(self) -> list[str]:
        hresult, names = self.scard.SCardListReaders(self.handle, [])
        if hresult == self.scard.SCARD_E_NO_READERS_AVAILABLE:
            return []
        if hresult != self.scard.SCARD_S_SUCCESS:
            raise _error(self.scard, hresult, "list readers")
        return [str(n) for n in names]

    def card_present(self, name: str) -> bool:
        hresult, states = self.scard.SCardGetStatusChange(
            self.handle, 0, [(name, self.scard.SCARD_STATE_UNAWARE)]
        )
        if hresult != self.scard.SCARD_S_SUCCESS:
            raise _error(self.scard, hresult, f"status of {name}")
        return bool(states and states[0][1] & self.scard.SCARD_STATE_PRESENT)

    def card_left(self, name: str, wait_ms: int) -> bool:
        """True when the card in ``name`` is gone now or leaves within ``wait_ms``.

        pcscd notices a removal only at its next presence poll (400 ms with vpcd), so a failed
        transmit may come before the reader's state says EMPTY: wait, bounded, for the change.
        """
        try:
            hresult, states = self.scard.SCardGetStatusChange(
                self.handle, 0, [(name, self.scard.SCARD_STATE_UNAWARE)])
            if hresult != self.scard.SCARD_S_SUCCESS or not states:
                return False
            state = states[0][1]
            if not state & self.scard.SCARD_STATE_PRESENT:
                return True
            hresult, states = self.scard.SCardGetStatusChange(
                self.handle, wait_ms, [(name, state & ~self.scard.SCARD_STATE_CHANGED)])
        except Exception:  # noqa: BLE001 - a diagnosis only; the caller has its own error
            return False
        return (hresult == self.scard.SCARD_S_SUCCESS and bool(states)
                and not states[0][1] & self.scard.SCARD_STATE_PRESENT)

    def close(self) -> None:
        if self.handle is not None:
            self.scard.SCardReleaseContext(self.handle)
            self.handle = None


class PcscConnection(CardConnection):
    """An open PC/SC connection (T=1 or T=0). Not thread-safe."""

    transport: ClassVar[Transport] = Transport.PCSC

    def __init__(self, context: _Context, name: str, exclusive: bool) -> None:
        scard = context.scard
        self._context = context
        self._scard = scard
        self.reader_name = name
        protocols = scard.SCARD_PROTOCOL_T0 | scard.SCARD_PROTOCOL_T1
        self.exclusive = exclusive
        mode = scard.SCARD_SHARE_EXCLUSIVE if exclusive else scard.SCARD_SHARE_SHARED
        hresult, hcard, protocol = scard.SCardConnect(context.handle, name, mode, protocols)
        if hresult == scard.SCARD_E_SHARING_VIOLATION:
            # Another program holds the card. No quiet fallback to shared mode: a PIN verified
            # on a shared connection could be used by that program (reference §6.4).
            raise CardBusyError(f"{name}: the card is in use by another program")
        if hresult != scard.SCARD_S_SUCCESS:
            raise _error(scard, hresult, f"connect to {name}")
        self._hcard = hcard
        self._protocol = protocol
        hresult, _, _, _, atr = scard.SCardStatus(hcard)
        self._atr = bytes(atr) if hresult == scard.SCARD_S_SUCCESS else b""

    @property
    def interface(self) -> Interface:
        # PC/SC Part 3 readers synthesize contactless ATRs as 3B 8x 80 01 … (reference §6.3).
        if len(self._atr) >= 4 and self._atr[0] == 0x3B and self._atr[2:4] == b"\x80\x01":
            return Interface.CONTACTLESS
        return Interface.CONTACT

    @property
    def atr(self) -> bytes:
        return self._atr

    def transmit(self, apdu: bytes) -> tuple[bytes, int]:
        if self._hcard is None:
            raise CardRemovedError("connection closed")
        try:
            hresult, response = self._scard.SCardTransmit(self._hcard, self._protocol, list(apdu))
        except Exception as e:  # pyscard's SWIG layer raises on bad handles
            raise TransportError(f"transmit failed: {e}") from e
        if hresult != self._scard.SCARD_S_SUCCESS:
            error = _error(self._scard, hresult, "transmit")
            if isinstance(error, NoCardError):  # the card was there at connect: it left
                raise CardRemovedError(str(error)) from None
            if type(error) is TransportError and self._context.card_left(
                    self.reader_name, REMOVAL_WAIT_MS):
                # "Transaction failed" from a pulled card: say what happened, so the kiosk
                # tells the person the card left rather than that the reader failed.
                raise CardRemovedError(str(error)) from None
            raise error
        if not response:
            # vpcd (and some CCID drivers) report a vanished card as an empty answer with
            # SCARD_S_SUCCESS; pcscd only notices the removal at its next poll.
            raise CardRemovedError("the reader returned nothing: card removed or link lost")
        if len(response) < 2:
            raise TransportError("reader returned a response shorter than a status word")
        raw = bytes(response)
        return raw[:-2], int.from_bytes(raw[-2:], "big")

    def close(self) -> None:
        if self._hcard is not None:
            self._scard.SCardDisconnect(self._hcard, self._scard.SCARD_LEAVE_CARD)
            self._hcard = None
        self._context.close()


class PcscReader(Reader):
    """One PC/SC reader, by its full name."""

    transport: ClassVar[Transport] = Transport.PCSC

    def __init__(self, name: str) -> None:
        self._name = name

    @property
    def name(self) -> str:
        return self._name

    @property
    def locator(self) -> str:
        return f"pcsc:{self._name}"

    def has_card(self) -> bool:
        context = _Context()
        try:
            return context.card_present(self._name)
        finally:
            context.close()

    def connect(self, exclusive: bool = False) -> PcscConnection:
        context = _Context()
        try:
            return PcscConnection(context, self._name, exclusive)
        except BaseException:
            context.close()
            raise


def list_pcsc_readers() -> list[PcscReader]:
    """All PC/SC readers (empty when none are attached).

    :raises NoReaderError: pcscd is not running or pyscard is missing.
    """
    context = _Context()
    try:
        return [PcscReader(name) for name in context.list_readers()]
    finally:
        context.close()


def open_locator(locator: str) -> PcscReader:
    """``pcsc`` → the first reader holding a card; ``pcsc:<substring>`` → the first name match."""
    rest = locator.partition(":")[2]
    context = _Context()
    try:
        names = context.list_readers()
        if not names:
            raise NoReaderError("no PC/SC reader attached")
        if rest:
            for name in names:
                if rest.lower() in name.lower():
                    return PcscReader(name)
            raise NoReaderError(f"no PC/SC reader matches {rest!r}")
        for name in names:
            if context.card_present(name):
                return PcscReader(name)
        # No card anywhere: hand back the first reader so callers can wait on it.
        return PcscReader(names[0])
    finally:
        context.close()
