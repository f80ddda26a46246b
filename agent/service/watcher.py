"""Reader watching: one thread follows readers and cards and reports events (issue 4 §1).

For PC/SC the watcher is event-driven: one PC/SC context blocks in ``SCardGetStatusChange``
(with the PnP pseudo-reader for readers coming and going) and wakes the moment pcscd sees a
card land or leave; it polls, at ``interval_s``, only when pcscd cannot notify. Any other source
(a callable returning the current ``Reader`` list) is polled. Either way each look is diffed
with the previous one (added/removed sets, in the manner of pyscard's monitors). A
``TransportError`` (pcscd gone, ``SCARD_E_NO_SERVICE``, last reader unplugged) is treated as "no
reader": every known reader is reported removed and the watcher retries with exponential backoff,
so the agent re-establishes itself after a pcscd restart without being restarted.

A card in a PC/SC reader is held with an exclusive connection from the moment it is seen until
it leaves: pcscd has no access control by default, and a card released between sessions could
be used (its PIN locked, a verified PIN reused) by any local program. Sessions borrow the held
connection. Only ``card.transports`` touches pyscard.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import ClassVar, Protocol, runtime_checkable

from agent.service.events import ReaderEvent, ReaderEventKind
from card.errors import CardError
from card.transports import CardConnection, Interface, Reader, Transport

logger = logging.getLogger(__name__)

ReaderSource = Callable[[], list[Reader]]
MAX_BACKOFF_S = 2.0
# How long one SCardGetStatusChange may block. Events wake it at once; the timeout only bounds
# how stale the reader list can get if pcscd ever misses a PnP notification.
EVENT_WAIT_S = 2.0


@runtime_checkable
class ReaderMonitor(Protocol):
    """A reader source that can block until something changes (``card.transports.pcsc``)."""

    @property
    def can_notify(self) -> bool: ...

    def scan(self) -> dict[str, bool]: ...

    def take_swapped(self) -> set[str]: ...

    def wait(self, timeout_s: float) -> None: ...

    def interrupt(self) -> None: ...

    def close(self) -> None: ...


def source_for_locator(locator: str, *, allow_virtual: bool = True) -> ReaderSource | ReaderMonitor:
    """Build a reader source for a config locator (``pcsc``, ``pcsc:<substring>``, ``emulator:…``).

    PC/SC readers are followed by a ``PcscMonitor`` (event-driven, one context, re-established
    after a pcscd restart); virtual readers (vpcd) are ignored unless ``allow_virtual``. Any
    other locator names one fixed reader opened once.
    """
    from card import transports

    kind, _, rest = locator.partition(":")
    if kind == "pcsc":
        from card.transports.pcsc import PcscMonitor  # imports pyscard lazily itself

        return PcscMonitor(name_filter=rest, allow_virtual=allow_virtual)
    fixed: list[Reader] = []

    def fixed_reader() -> list[Reader]:
        if not fixed:
            fixed.append(transports.open_reader(locator))
        return list(fixed)

    return fixed_reader


class _Lease(CardConnection):
    """A session's view of a held connection: closing it hands the card back to the hold."""

    transport: ClassVar[Transport] = Transport.PCSC

    def __init__(self, held: HeldReader, connection: CardConnection) -> None:
        self._held = held
        self._connection: CardConnection | None = connection
        self._failed = False

    @property
    def interface(self) -> Interface:
        return self._live().interface

    @property
    def atr(self) -> bytes:
        return self._live().atr

    @property
    def extended_apdus(self) -> bool:
        return self._live().extended_apdus

    def _live(self) -> CardConnection:
        if self._connection is None:
            from card.errors import CardRemovedError

            raise CardRemovedError("connection closed")
        return self._connection

    def transmit(self, apdu: bytes) -> tuple[bytes, int]:
        try:
            return self._live().transmit(apdu)
        except CardError:
            self._failed = True
            raise

    def close(self) -> None:
        if self._connection is not None:
            self._connection = None
            self._held.returned(self._failed)


class HeldReader(Reader):
    """A PC/SC reader whose card the agent holds exclusively while it is in the reader."""

    transport: ClassVar[Transport] = Transport.PCSC

    def __init__(self, inner: Reader) -> None:
        self._inner = inner
        self._lock = threading.Lock()
        self._connection: CardConnection | None = None
        self._lent = False
        self._release_when_returned = False

    @property
    def name(self) -> str:
        return self._inner.name

    @property
    def locator(self) -> str:
        return self._inner.locator

    @property
    def holding(self) -> bool:
        with self._lock:
            return self._connection is not None

    def has_card(self) -> bool:
        return self._inner.has_card()

    def hold(self) -> bool:
        """Take the card exclusively now (on insertion); False when it cannot be taken yet."""
        with self._lock:
            try:
                self._take()
            except CardError as e:
                logger.info("reader %s: cannot hold the card yet (%s)", self.name, type(e).__name__)
                return False
            return True

    def _take(self) -> CardConnection:
        if self._connection is None:
            connection = self._inner.connect(exclusive=True)
            # Letting go resets the card: no verified PIN outlives our hold (reference §6.4).
            if hasattr(connection, "reset_on_close"):
                connection.reset_on_close = True
            self._connection = connection
            self._release_when_returned = False
        return self._connection

    def connect(self, exclusive: bool = False) -> CardConnection:
        """Lend the held connection (taking the card first if needed); always exclusive."""
        with self._lock:
            if self._lent:
                from card.errors import CardBusyError

                raise CardBusyError(f"{self.name}: the held card is already lent")
            connection = self._take()
            self._lent = True
            return _Lease(self, connection)

    def returned(self, failed: bool) -> None:
        with self._lock:
            self._lent = False
            if failed or self._release_when_returned:
                # A failed link may be dead (card pulled, reader reset): drop it; the watcher
                # takes the card again if it is still there.
                self._close_locked()

    def release(self) -> None:
        """Let the card go (it left, the reader went, the agent stops)."""
        with self._lock:
            if self._lent:
                self._release_when_returned = True  # the session closes its lease first
                return
            self._close_locked()

    def _close_locked(self) -> None:
        connection, self._connection = self._connection, None
        self._release_when_returned = False
        if connection is not None:
            try:
                connection.close()
            except CardError:
                logger.debug("releasing reader %s failed", self.name, exc_info=True)


class ReaderWatcher:
    """Follow a reader source from one thread and report ``ReaderEvent`` changes.

    ``on_event`` runs on the watcher thread and must not block for long.
    ``readers()`` is thread-safe and returns the readers seen at the last look.
    With a ``ReaderMonitor`` source the thread sleeps in the monitor until pcscd reports a
    change, and PC/SC cards are held exclusively from insertion to removal (``hold_cards``).
    """

    def __init__(
        self,
        source: ReaderSource | ReaderMonitor,
        on_event: Callable[[ReaderEvent], None],
        *,
        interval_s: float = 0.25,
        max_backoff_s: float = MAX_BACKOFF_S,
        event_wait_s: float = EVENT_WAIT_S,
        hold_cards: bool = True,
    ) -> None:
        self._monitor = source if isinstance(source, ReaderMonitor) else None
        self._source: ReaderSource = self._monitor_readers if self._monitor else source  # type: ignore[assignment]
        self._on_event = on_event
        self._interval = interval_s
        self._event_wait = event_wait_s
        self._hold_cards = hold_cards
        self._max_backoff = max(max_backoff_s, interval_s)
        self._lock = threading.Lock()
        self._readers: dict[str, Reader] = {}
        self._held: dict[str, HeldReader] = {}
        self._cards: set[str] = set()
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._failed = False
        self.polls = 0

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="myna-watcher", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._monitor is not None:
            self._monitor.interrupt()
        if self._thread is not None:
            self._thread.join(timeout)
        for held in list(self._held.values()):
            held.release()
        if self._monitor is not None:
            self._monitor.close()

    def poke(self) -> None:
        """Look now instead of waiting (demo insert/remove)."""
        self._wake.set()
        if self._monitor is not None:
            self._monitor.interrupt()

    @property
    def event_driven(self) -> bool:
        """True while presence comes from pcscd's notifications rather than polling."""
        return self._monitor is not None and self._monitor.can_notify

    def readers(self) -> dict[str, Reader]:
        with self._lock:
            return dict(self._readers)

    def has_card(self, name: str) -> bool:
        with self._lock:
            return name in self._cards

    def _monitor_readers(self) -> list[Reader]:
        from card.transports.pcsc import PcscReader

        assert self._monitor is not None
        readers: list[Reader] = []
        for name, present in self._monitor.scan().items():
            held = self._held.get(name)
            if held is None:
                held = self._held[name] = HeldReader(PcscReader(name))
            readers.append(_Presence(held, present))
        return readers

    def poll_once(self) -> bool:
        """Look once, report changes; return False if the reader service failed."""
        self.polls += 1
        try:
            found = self._source()
            readers: dict[str, Reader] = {}
            cards = set()
            for reader in found:
                name = reader.name
                try:
                    if reader.has_card():
                        cards.add(name)
                except CardError as e:
                    # One flaky reader (vpcd vanishing mid-poll) should not hide the others.
                    logger.debug("reader %s: presence check failed: %s", name, type(e).__name__)
                readers[name] = reader.reader if isinstance(reader, _Presence) else reader
            ok = True
        except CardError as e:
            if not self._failed:
                logger.warning("reader service unavailable (%s); retrying", type(e).__name__)
            readers, cards, ok = {}, set(), False
        except Exception:
            # Never let an unexpected driver error kill the watcher: kiosks run for months.
            logger.exception("reader poll failed")
            readers, cards, ok = {}, set(), False
        # A card replaced while this thread was busy elsewhere looks present all along: report
        # the removal and the insertion it was, or the new card would never start a session.
        swapped = self._monitor.take_swapped() if ok and self._monitor is not None else set()
        self._diff(readers, cards, failed=not ok, swapped=swapped)
        return ok

    def _update_holds(self, readers: dict[str, Reader], cards: set[str],
                      swapped: set[str]) -> None:
        """Hold every card that is in; let go of cards that left and readers that went."""
        for name, held in list(self._held.items()):
            if name not in readers:
                held.release()
                del self._held[name]
            elif name not in cards:
                held.release()
            else:
                if name in swapped:
                    held.release()  # the held connection is the old card's
                if self._hold_cards and not held.holding:
                    held.hold()

    def _diff(self, readers: dict[str, Reader], cards: set[str], *, failed: bool,
              swapped: set[str] | frozenset[str] = frozenset()) -> None:
        self._update_holds(readers, cards, set(swapped))
        with self._lock:
            old_readers, old_cards = set(self._readers), set(self._cards)
            self._readers, self._cards = readers, cards
        replaced = set(swapped) & old_cards & cards
        events: list[ReaderEvent] = []
        for name in sorted((old_cards - cards) | replaced):
            events.append(ReaderEvent(ReaderEventKind.CARD_REMOVED, name))
        for name in sorted(old_readers - set(readers)):
            events.append(ReaderEvent(ReaderEventKind.READER_REMOVED, name))
        if failed and not self._failed:
            events.append(ReaderEvent(ReaderEventKind.WATCH_FAILED, ""))
        for name in sorted(set(readers) - old_readers):
            events.append(ReaderEvent(ReaderEventKind.READER_ADDED, name))
        for name in sorted((cards - old_cards) | replaced):
            events.append(ReaderEvent(ReaderEventKind.CARD_INSERTED, name))
        if self._failed and not failed:
            logger.info("reader service is back")
        self._failed = failed
        for event in events:
            logger.debug("reader event %s %s", event.kind, event.reader)
            try:
                self._on_event(event)
            except Exception:
                logger.exception("reader event handler failed")

    def _run(self) -> None:
        backoff = self._interval
        while not self._stop.is_set():
            ok = self.poll_once()
            if not ok:
                backoff = min(backoff * 2, self._max_backoff)
                self._wake.wait(backoff)
            elif self._monitor is not None:
                backoff = self._interval
                # pcscd wakes us on every change; without its PnP notification the reader
                # list is re-read at the poll interval.
                timeout = self._event_wait if self._monitor.can_notify else self._interval
                if not self._stop.is_set():
                    self._wait_for_change(timeout)
            else:
                backoff = self._interval
                self._wake.wait(backoff)
            self._wake.clear()

    def _wait_for_change(self, timeout_s: float) -> None:
        assert self._monitor is not None
        try:
            self._monitor.wait(timeout_s)
        except CardError:
            pass  # the next look reports the failure and backs off
        except Exception:
            logger.exception("waiting for reader events failed")
            self._wake.wait(self._interval)


class _Presence(Reader):
    """A reader with its presence as the monitor saw it (no extra PC/SC call)."""

    transport: ClassVar[Transport] = Transport.PCSC

    def __init__(self, reader: Reader, present: bool) -> None:
        self.reader = reader
        self._present = present

    @property
    def name(self) -> str:
        return self.reader.name

    @property
    def locator(self) -> str:
        return self.reader.locator

    def has_card(self) -> bool:
        return self._present

    def connect(self, exclusive: bool = False) -> CardConnection:
        return self.reader.connect(exclusive)
