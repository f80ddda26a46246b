"""Time-ordered record ids: UUID version 7 (RFC 9562 §5.7), monotonic within one process.

Python 3.11 has no ``uuid.uuid7``; the layout is 48 bits of Unix milliseconds, the version,
12 bits used as a counter within the same millisecond (RFC 9562 §6.2 method 1), the variant and
62 random bits, so ids sort in creation order even when many are made in one millisecond.
"""

from __future__ import annotations

import secrets
import threading
import time
import uuid

_lock = threading.Lock()
_last_ms = -1
_counter = 0


def uuid7(now_ms: int | None = None) -> uuid.UUID:
    global _last_ms, _counter
    with _lock:
        ms = time.time_ns() // 1_000_000 if now_ms is None else now_ms
        if ms <= _last_ms:
            ms = _last_ms
            _counter += 1
            if _counter > 0xFFF:  # 4096 ids in one millisecond: borrow the next one
                ms, _counter = ms + 1, secrets.randbits(8)
        else:
            _counter = secrets.randbits(8)  # random start leaves room to count upwards
        _last_ms = ms
        value = ((ms & 0xFFFF_FFFF_FFFF) << 80) | (0x7 << 76) | (_counter << 64)
        value |= (0b10 << 62) | secrets.randbits(62)
    return uuid.UUID(int=value)


def uuid7_ms(value: uuid.UUID | str) -> int:
    """The Unix milliseconds an id was made at."""
    return (uuid.UUID(str(value)).int >> 80) & 0xFFFF_FFFF_FFFF
