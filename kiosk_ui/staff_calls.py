"""Calls for help from the unattended screen, shown on the staff screen until answered.

A call must not vanish because the kiosk server restarted (an update, a crash, the agent's
restart, which restarts this server): with ``STAFF_CALLS_STATE`` the open calls are kept in
that file (0600, written whole and replaced), beside the pairing state in the server's own
state directory. A call holds a number and a time, nothing about the person.
"""

from __future__ import annotations

import json
import threading
import time
from collections import OrderedDict
from pathlib import Path
from typing import Any

from kiosk_ui.private_state import write_private_json

MAX_OPEN_CALLS = 16


class StaffCalls:
    """Open calls (number -> epoch seconds). Thread-safe."""

    def __init__(self, state_file: str | Path | None = None) -> None:
        self._lock = threading.Lock()
        self._calls: OrderedDict[int, float] = OrderedDict()
        self._next = 1
        self._state = Path(state_file).expanduser() if state_file else None
        self._load()

    def _load(self) -> None:
        if self._state is None:
            return
        try:
            data = json.loads(self._state.read_text(encoding="ascii"))
            calls = [(int(n), float(at)) for n, at in data["calls"]][-MAX_OPEN_CALLS:]
            self._next = max([int(data["next"])] + [n + 1 for n, _ in calls])
        except (OSError, ValueError, TypeError, KeyError):
            return  # none kept yet, or unreadable: start with no open call
        self._calls = OrderedDict(calls)

    def _save(self) -> None:
        if self._state is None:
            return
        data = {"next": self._next, "calls": list(self._calls.items())}
        write_private_json(self._state, data)

    def call(self) -> int:
        with self._lock:
            number, self._next = self._next, self._next + 1
            self._calls[number] = time.time()
            while len(self._calls) > MAX_OPEN_CALLS:
                self._calls.popitem(last=False)
            self._save()
            return number

    def open_calls(self) -> list[dict[str, Any]]:
        with self._lock:
            return [{"id": n, "at": at} for n, at in self._calls.items()]

    def answer(self, number: int) -> None:
        with self._lock:
            if self._calls.pop(number, None) is not None:
                self._save()
