"""Reader events from the watcher and the snapshot fan-out behind SSE (issue 4 §1, §3).

``ReaderEvent`` values are what ``watcher`` sees change (a reader or a card appearing or
leaving). ``EventHub`` fans snapshots out to SSE subscribers: each subscriber has a bounded
queue, and a subscriber that does not keep up loses its *oldest* snapshots rather than
blocking the session thread (a snapshot is a full state, so the newest one is all that matters).
"""

from __future__ import annotations

import logging
import queue
import threading
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

logger = logging.getLogger(__name__)

SUBSCRIBER_QUEUE = 32
MAX_SUBSCRIBERS = 16


class ReaderEventKind(StrEnum):
    READER_ADDED = "reader_added"
    READER_REMOVED = "reader_removed"
    CARD_INSERTED = "card_inserted"
    CARD_REMOVED = "card_removed"
    WATCH_FAILED = "watch_failed"  # the reader service is gone (pcscd down): no readers


@dataclass(frozen=True, slots=True)
class ReaderEvent:
    kind: ReaderEventKind
    reader: str  # reader name ("" for WATCH_FAILED)


class TooManySubscribersError(RuntimeError):
    """The hub already serves ``MAX_SUBSCRIBERS`` streams."""


class Subscription:
    """One SSE stream's bounded queue of snapshot dicts (``None`` = hub closed)."""

    def __init__(self, hub: EventHub, maxsize: int) -> None:
        self._hub = hub
        self.queue: queue.Queue[dict[str, Any] | None] = queue.Queue(maxsize=maxsize)

    def put(self, item: dict[str, Any] | None) -> None:
        while True:
            try:
                self.queue.put_nowait(item)
                return
            except queue.Full:
                try:
                    self.queue.get_nowait()  # drop the oldest; the newest snapshot wins
                except queue.Empty:
                    pass

    def get(self, timeout: float) -> dict[str, Any] | None:
        """Next snapshot; raises ``queue.Empty`` after ``timeout`` seconds."""
        return self.queue.get(timeout=timeout)

    def close(self) -> None:
        self._hub.unsubscribe(self)


class EventHub:
    """Thread-safe fan-out of snapshots to SSE subscribers."""

    def __init__(self, maxsize: int = SUBSCRIBER_QUEUE, max_subscribers: int = MAX_SUBSCRIBERS):
        self._lock = threading.Lock()
        self._subs: list[Subscription] = []
        self._maxsize = maxsize
        self._max = max_subscribers
        self._closed = False

    def subscribe(self, first: dict[str, Any]) -> Subscription:
        """Add a subscriber whose first item is ``first`` (the current snapshot)."""
        with self._lock:
            if len(self._subs) >= self._max:
                raise TooManySubscribersError
            sub = Subscription(self, self._maxsize)
            sub.put(first)
            if self._closed:
                sub.put(None)
            self._subs.append(sub)
            return sub

    def unsubscribe(self, sub: Subscription) -> None:
        with self._lock:
            if sub in self._subs:
                self._subs.remove(sub)

    def publish(self, snapshot: dict[str, Any]) -> None:
        with self._lock:
            subs = list(self._subs)
        for sub in subs:
            sub.put(snapshot)

    @property
    def subscriber_count(self) -> int:
        with self._lock:
            return len(self._subs)

    def close(self) -> None:
        """Wake every subscriber with ``None`` so SSE generators end."""
        with self._lock:
            self._closed = True
            subs = list(self._subs)
        for sub in subs:
            sub.put(None)
