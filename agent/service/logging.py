"""Logging for the ``myna`` entry points: the TRAFFIC level, a redaction filter, ``setup_logging``.

Library modules only call ``logging.getLogger(__name__)``; handlers are configured here, by entry
points. TRAFFIC (5) carries hex APDUs and is emitted only by ``card.channel`` (house style
"Logging"); turning it on prints a boxed warning. The ``RedactionFilter`` is a last line of
defence: it masks digit runs that look like a My Number (12 digits) or a 照合番号B (14 digits)
and anything after ``pin=``/``password=``/``credential=`` should a caller ever slip one in.
"""

from __future__ import annotations

import logging
import re
import sys
from pathlib import Path

TRAFFIC = 5
logging.addLevelName(TRAFFIC, "TRAFFIC")

_TRAFFIC_WARNING = (
    "+--------------------------------------------------------------+\n"
    "| TRAFFIC logging is ON: raw APDUs are written to the log.     |\n"
    "| VERIFY data is redacted, but do not enable this on a kiosk.  |\n"
    "+--------------------------------------------------------------+"
)

_SECRET_KV = re.compile(
    r"(?i)\b(pin|password|passwd|credential|my_number|match_b)(\s*[=:]\s*)(\"[^\"]*\"|'[^']*'|\S+)"
)
# 12 (My Number) or 14 (照合番号B) digit runs not embedded in a longer number or hex string.
_NUMBER_RUN = re.compile(r"(?<![0-9A-Fa-f])(\d{12}|\d{14})(?![0-9A-Fa-f])")


def redact(text: str) -> str:
    """Mask credential-looking key/value pairs and My Number-like digit runs."""
    text = _SECRET_KV.sub(lambda m: f"{m.group(1)}{m.group(2)}<redacted>", text)
    return _NUMBER_RUN.sub("<redacted-number>", text)


class RedactionFilter(logging.Filter):
    """Rewrite each record's message through ``redact`` (attach to handlers)."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a broken format must not kill logging
            message = str(record.msg)
        cleaned = redact(message)
        if cleaned != message:
            record.msg = cleaned
            record.args = None
        return True


def setup_logging(
    level: int | str = logging.INFO,
    *,
    log_file: str | Path | None = None,
    stream: bool = True,
) -> None:
    """Configure the root logger for an entry point (idempotent: replaces earlier handlers)."""
    if isinstance(level, str):
        level = TRAFFIC if level.upper() == "TRAFFIC" else logging.getLevelName(level.upper())
        if not isinstance(level, int):
            level = logging.INFO
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
        handler.close()
    formatter = logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    handlers: list[logging.Handler] = []
    if stream:
        handlers.append(logging.StreamHandler(sys.stderr))
    if log_file is not None:
        path = Path(log_file).expanduser()
        path.parent.mkdir(parents=True, exist_ok=True)
        handlers.append(logging.FileHandler(path, encoding="utf-8"))
    for handler in handlers:
        handler.setFormatter(formatter)
        handler.addFilter(RedactionFilter())
        root.addHandler(handler)
    root.setLevel(level)
    if level <= TRAFFIC:
        logging.getLogger("myna").warning("\n%s", _TRAFFIC_WARNING)
