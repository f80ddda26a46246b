"""PC/SC transport: a thin adapter over pyscard's ``smartcard.scard`` (architecture.md, ref. §6.4).

pyscard is imported lazily, so ``card`` imports without pcsc-lite. The adapter converts formats
at the edge (``list[int]`` ↔ ``bytes``, SW1/SW2 → one int) and turns every PC/SC result code into
``NoReaderError``, ``NoCardError``, ``CardRemovedError`` or ``TransportError``. Connections try
``SCARD_SHARE_EXCLUSIVE`` when asked, because PIN state survives a reconnect and another process
could use it (ref. §6.4, SOL transport/pcsc.rs).
"""

from __future__ import annotations

from card.errors import (
    CardBusyError,
    CardRemovedError,
    NoCardError,
    NoReaderError,
    TransportError,
)
from card.transports import CardConnection, Interface, Reader, Transport

TYPE_CHECKING = False  # as in card.transports: no typing import at run time
if TYPE_CHECKING:
    import logging
    from typing import Any, ClassVar


def _logger() -> logging.Logger:
    """This module's logger; logging is imported on first use, so `myna readers` goes without."""
    import logging

    return logging.getLogger(__name__)


_EXTENSION = "smartcard.scard._scard"


def _scard() -> Any:
    """pyscard's PC/SC extension module, ``smartcard.scard._scard``, loaded by itself.

    ``from smartcard import scard`` first runs ``smartcard/__init__.py`` (sessions, readers, card
    connections) and then the generated wrapper ``smartcard.scard.scard``, which imports typing and
    only forwards each call to the extension: together a third of a bare Python start, on every
    `myna readers`. The extension has the same functions and constants; if pyscard's layout ever
    changes, the public import is used.
    """
    import sys

    module = sys.modules.get(_EXTENSION)
    if module is None:
        module = _load_extension_alone()
    if module is None:
        try:
            from smartcard import scard
        except ImportError as e:  # pyscard or libpcsclite missing
            raise NoReaderError("PC/SC support (pyscard) is not installed") from e
        return scard
    return module


def _load_extension_alone() -> Any:
    import importlib.machinery
    import importlib.util
    import os
    import sys

    package = importlib.util.find_spec("smartcard")  # finds it without running its __init__
    if package is None or not package.submodule_search_locations:
        return None
    for location in package.submodule_search_locations:
        for suffix in importlib.machinery.EXTENSION_SUFFIXES:
            path = os.path.join(location, "scard", "_scard" + suffix)
            if not os.path.isfile(path):
                continue
            spec = importlib.util.spec_from_file_location(_EXTENSION, path)
            if spec is None or spec.loader is None:
                return None
            module = importlib.util.module_from_spec(spec)
            try:
                spec.loader.exec_module(module)
            except ImportError:  # libpcsclite missing: the public import says so
                return None
            # The wrapper's own `from . import _scard` then finds this one, if anything imports it.
            sys.modules[_EXTENSION] = module
            return module
    return None


# A short APDU is at most 261 bytes (5 header + 255 data + Le); a reader taking more does
# extended APDUs (vpcd does, test-stack §4.1).
SHORT_APDU_MAX_INPUT = 261

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


# Readers that are software, not hardware: vsmartcard's vpcd ("Virtual PCD"), its Android and
# relay front ends, and friends. A kiosk accepts only physical readers unless told otherwise,
# because a virtual reader lets anyone who reaches its port play a card (vpcd binds 0.0.0.0).
VIRTUAL_READER_MARKERS = ("virtual", "vpcd", "vsmartcard", "pcsc-relay", "remote reader")
VIRTUAL_DRIVER_MARKERS = ("vpcd", "vsmartcard", "pcsc-relay")
READER_CONF_DIR = "/etc/reader.conf.d"


def _virtual_friendly_names(conf_dir: str = READER_CONF_DIR) -> set[str]:
    """FRIENDLYNAMEs that pcscd's reader.conf.d gives to virtual drivers (a renamed vpcd)."""
    import os

    names: set[str] = set()
    try:
        entries = sorted(os.listdir(conf_dir))
    except OSError:
        return names
    for entry in entries:
        try:
            with open(os.path.join(conf_dir, entry), encoding="utf-8", errors="replace") as f:
                text = f.read(65536)
        except OSError:
            continue
        friendly, virtual = "", False
        for line in text.splitlines():
            key, _, value = line.strip().partition(" ")
            value = value.strip().strip('"')
            if key == "FRIENDLYNAME":
                friendly = value
            elif key == "LIBPATH":
                virtual = any(m in value.lower() for m in VIRTUAL_DRIVER_MARKERS)
            if friendly and virtual:
                names.add(friendly.lower())
                friendly, virtual = "", False
    return names


def is_virtual_reader(name: str, conf_dir: str = READER_CONF_DIR) -> bool:
    """True for a software reader, by name or by its reader.conf.d driver."""
    lowered = name.lower()
    if any(marker in lowered for marker in VIRTUAL_READER_MARKERS):
        return True
    return any(lowered.startswith(friendly) for friendly in _virtual_friendly_names(conf_dir))


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
        # Disconnect with a card reset (clearing its security state) instead of leaving it.
        self.reset_on_close = False
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
        self._extended = is_virtual_reader(name) or self._max_input() > SHORT_APDU_MAX_INPUT

    def _max_input(self) -> int:
        """The reader's largest APDU (SCARD_ATTR_MAXINPUT, from the CCID descriptor); 0 unknown."""
        attr = getattr(self._scard, "SCARD_ATTR_MAXINPUT", 0x0007A007)
        try:
            hresult, value = self._scard.SCardGetAttrib(self._hcard, attr)
        except Exception:  # noqa: BLE001 - an optional attribute; unknown means short APDUs
            return 0
        if hresult != self._scard.SCARD_S_SUCCESS or not value:
            return 0
        return int.from_bytes(bytes(value[:4]), "little")

    @property
    def extended_apdus(self) -> bool:
        return self._extended

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
            disposition = (self._scard.SCARD_RESET_CARD if self.reset_on_close
                           else self._scard.SCARD_LEAVE_CARD)
            self._scard.SCardDisconnect(self._hcard, disposition)
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


# pcsc-lite's pseudo-reader that changes state when readers come and go.
PNP_NOTIFICATION = "\\\\?PnP?\\Notification"


def _card_swapped(old: int, new: int, present: int) -> bool:
    """Present before and after, yet pcscd counted card events in between (its counter wraps
    at 0xFFFF): the card left and one came back."""
    return bool(old & new & present) and ((new >> 16) - (old >> 16)) & 0xFFFF != 0


class PcscMonitor:
    """Card and reader presence from one PC/SC context, woken by pcscd instead of polled.

    ``scan()`` lists the readers and their presence; ``wait(timeout_s)`` blocks in
    ``SCardGetStatusChange`` until a card or reader changes (or the timeout passes), with the
    PnP pseudo-reader so readers coming and going wake it too. ``interrupt()`` (any thread)
    wakes a waiting ``wait``. When pcscd goes away the context is dropped and ``scan`` raises
    ``NoReaderError``; the next ``scan`` establishes a fresh context, so a restarted pcscd is
    picked up. ``status_calls`` counts ``SCardGetStatusChange`` calls (bench and tests).

    A card pulled and another (or the same) put back while nobody was waiting shows as
    "present" both times; pcscd's event counter (the high word of the event state, one step per
    insertion or removal) still tells, and ``take_swapped()`` names those readers once.
    """

    def __init__(self, *, name_filter: str = "", allow_virtual: bool = True) -> None:
        self._name_filter = name_filter.lower()
        self._allow_virtual = allow_virtual
        self._context: _Context | None = None
        self._states: dict[str, int] = {}  # reader -> last event state (without CHANGED)
        self._pnp_supported = True
        import threading

        self._interrupted = threading.Event()
        self._swapped: set[str] = set()
        self.status_calls = 0

    @property
    def can_notify(self) -> bool:
        """False once pcscd refused the PnP pseudo-reader: the caller must poll for readers."""
        return self._pnp_supported

    def _open(self) -> _Context:
        if self._context is None:
            self._context = _Context()
            self._states = {}
        return self._context

    def _drop(self) -> None:
        context, self._context = self._context, None
        self._states = {}
        if context is not None:
            try:
                context.close()
            except Exception:  # noqa: BLE001 - the daemon is gone; nothing to release
                _logger().debug("releasing a dead PC/SC context failed", exc_info=True)

    def _status(self, context: _Context, timeout_ms: int,
                states: list[tuple[str, int]]) -> tuple[int, list[Any]]:
        self.status_calls += 1
        hresult, new_states = context.scard.SCardGetStatusChange(
            context.handle, timeout_ms, states)
        return hresult, list(new_states or [])

    def scan(self) -> dict[str, bool]:
        """Readers (after the name filter) and whether each holds a card.

        :raises NoReaderError: pcscd is not running (the context is dropped).
        """
        try:
            context = self._open()
            names = [n for n in context.list_readers() if self._wanted(n)]
            if set(names) != set(self._states):
                self._states = {}
                if names:
                    scard = context.scard
                    hresult, new = self._status(
                        context, 0, [(n, scard.SCARD_STATE_UNAWARE) for n in names])
                    if hresult != scard.SCARD_S_SUCCESS:
                        raise _error(scard, hresult, "reader status")
                    self._states = {
                        str(n): int(state) & ~scard.SCARD_STATE_CHANGED
                        for n, state, *_ in new
                    }
        except NoReaderError:
            self._drop()
            raise
        return {name: bool(state & context.scard.SCARD_STATE_PRESENT)
                for name, state in self._states.items()}

    def wait(self, timeout_s: float) -> None:
        """Block until a card or reader changes, ``interrupt()`` or ``timeout_s`` passes.

        :raises NoReaderError: pcscd went away while waiting.
        """
        if self._interrupted.is_set():
            self._interrupted.clear()
            return
        context = self._open()
        scard = context.scard
        watched = list(self._states.items())
        if self._pnp_supported:
            watched.append((PNP_NOTIFICATION, scard.SCARD_STATE_UNAWARE))
        if not watched:
            self._interrupted.wait(timeout_s)
            self._interrupted.clear()
            return
        hresult, new = self._status(context, max(0, int(timeout_s * 1000)), watched)
        self._interrupted.clear()
        if hresult in (scard.SCARD_E_TIMEOUT, scard.SCARD_E_CANCELLED):
            return
        if hresult == scard.SCARD_E_UNKNOWN_READER and self._pnp_supported:
            # Either a watched reader vanished or pcscd does not know the PnP reader: the next
            # scan re-lists; a pcscd without PnP support is then polled for readers.
            self._pnp_supported = self._knows_pnp(context)
            self._states = {}
            return
        if hresult != scard.SCARD_S_SUCCESS:
            error = _error(scard, hresult, "wait for card events")
            if isinstance(error, NoReaderError) and hresult in (
                    scard.SCARD_E_NO_SERVICE, scard.SCARD_E_SERVICE_STOPPED):
                self._drop()
                raise error
            self._states = {}  # re-list at the next scan
            return
        for name, state, *_ in new:
            if name == PNP_NOTIFICATION:
                if state & scard.SCARD_STATE_CHANGED:
                    self._states = {}  # the reader list changed: re-list at the next scan
                continue
            if name in self._states:
                new_state = int(state) & ~scard.SCARD_STATE_CHANGED
                if _card_swapped(self._states[name], new_state, scard.SCARD_STATE_PRESENT):
                    self._swapped.add(name)
                self._states[name] = new_state

    def take_swapped(self) -> set[str]:
        """Readers whose card was replaced between two looks (once each), see the class doc."""
        swapped, self._swapped = self._swapped, set()
        return swapped

    def _knows_pnp(self, context: _Context) -> bool:
        scard = context.scard
        hresult, _ = self._status(context, 0, [(PNP_NOTIFICATION, scard.SCARD_STATE_UNAWARE)])
        return hresult != scard.SCARD_E_UNKNOWN_READER

    def _wanted(self, name: str) -> bool:
        if self._name_filter and self._name_filter not in name.lower():
            return False
        return self._allow_virtual or not is_virtual_reader(name)

    def interrupt(self) -> None:
        self._interrupted.set()
        context = self._context
        if context is not None and context.handle is not None:
            try:
                context.scard.SCardCancel(context.handle)
            except Exception:  # noqa: BLE001 - waking a waiter is best effort
                _logger().debug("SCardCancel failed", exc_info=True)

    def close(self) -> None:
        self._drop()
