"""Reader watching: one thread polls readers, diffs added/removed sets, reports events (issue 4 §1).

The watcher asks a *reader source* (a callable returning the current ``Reader`` list) at a modest
interval and compares names and card presence with the previous poll, in the manner of pyscard's
monitors that hand observers two sets, added and removed. A ``TransportError`` (pcscd gone,
``SCARD_E_NO_SERVICE``, last reader unplugged) is treated as "no reader": every known reader is
reported removed and polling continues with exponential backoff, so the agent re-establishes
itself after a pcscd restart without being restarted. Only ``card.transports`` touches pyscard.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from agent.service.events import ReaderEvent, ReaderEventKind
from card.errors import CardError
from card.transports import Reader

logger = logging.getLogger(__name__)

ReaderSource = Callable[[], list[Reader]]
MAX_BACKOFF_S = 2.0


def source_for_locator(locator: str) -> ReaderSource:
    """Build a reader source for a config locator (``pcsc``, ``pcsc:<substring>``, ``emulator:…``).

    PC/SC readers are listed afresh on every poll (a new PC/SC context each time, so a restarted
    pcscd is picked up); any other locator names one fixed reader opened once.
    """
    from card import transports

    kind, _, rest = locator.partition(":")
    if kind == "pcsc":
        from card.transports.pcsc import list_pcsc_readers  # imports pyscard lazily itself

        def pcsc_readers() -> list[Reader]:
            # Raises NoReaderError when pcscd is gone: the watcher then backs off.
            found: list[Reader] = list(list_pcsc_readers())
            return [r for r in found if rest.lower() in r.name.lower()] if rest else found

        return pcsc_readers
    fixed: list[Reader] = []

    def fixed_reader() -> list[Reader]:
        if not fixed:
            fixed.append(transports.open_reader(locator))
        return list(fixed)

    return fixed_reader


class ReaderWatcher:
    """Poll a reader source from one thread and report ``ReaderEvent`` changes.

    ``on_event`` runs on the watcher thread and must not block for long.
    ``readers()`` is thread-safe and returns the readers seen at the last poll.
    """

    def __init__(
        self,
        source: ReaderSource,
        on_event: Callable[[ReaderEvent], None],
        *,
        interval_s: float = 0.25,
        max_backoff_s: float = MAX_BACKOFF_S,
    ) -> None:
        self._source = source
        self._on_event = on_event
        self._interval = interval_s
        self._max_backoff = max(max_backoff_s, interval_s)
        self._lock = threading.Lock()
        self._readers: dict[str, Reader] = {}
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
        if self._thread is not None:
            self._thread.join(timeout)

    def poke(self) -> None:
        """Poll now instead of waiting for the interval (demo insert/remove)."""
        self._wake.set()

    def readers(self) -> dict[str, Reader]:
        with self._lock:
            return dict(self._readers)

    def has_card(self, name: str) -> bool:
        with self._lock:
            return name in self._cards

    def poll_once(self) -> bool:
        """Poll once, report changes; return False if the reader service failed."""
        self.polls += 1
        try:
            readers = {r.name: r for r in self._source()}
            cards = set()
            for name, reader in readers.items():
                try:
                    if reader.has_card():
                        cards.add(name)
                except CardError as e:
                    # One flaky reader (vpcd vanishing mid-poll) should not hide the others.
                    logger.debug("reader %s: presence check failed: %s", name, type(e).__name__)
            ok = True
        except CardError as e:
            if not self._failed:
                logger.warning("reader service unavailable (%s); retrying", type(e).__name__)
            readers, cards, ok = {}, set(), False
        except Exception:
            # Never let an unexpected driver error kill the watcher: kiosks run for months.
            logger.exception("reader poll failed")
            readers, cards, ok = {}, set(), False
        self._diff(readers, cards, failed=not ok)
        return ok

    def _diff(self, readers: dict[str, Reader], cards: set[str], *, failed: bool) -> None:
        with self._lock:
            old_readers, old_cards = set(self._readers), set(self._cards)
            self._readers, self._cards = readers, cards
        events: list[ReaderEvent] = []
        for name in sorted(old_cards - cards):
            events.append(ReaderEvent(ReaderEventKind.CARD_REMOVED, name))
        for name in sorted(old_readers - set(readers)):
            events.append(ReaderEvent(ReaderEventKind.READER_REMOVED, name))
        if failed and not self._failed:
            events.append(ReaderEvent(ReaderEventKind.WATCH_FAILED, ""))
        for name in sorted(set(readers) - old_readers):
            events.append(ReaderEvent(ReaderEventKind.READER_ADDED, name))
        for name in sorted(cards - old_cards):
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
            backoff = self._interval if ok else min(backoff * 2, self._max_backoff)
            self._wake.wait(backoff)
            self._wake.clear()
