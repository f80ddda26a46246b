"""What privacy tests look for: a log handler that keeps every record, and the patterns of a
persona's personal data in every form it could leak in (plain, without spaces, word by word,
several date formats, and as the hex of an APDU dump)."""

from __future__ import annotations

import collections
import logging
import re
import traceback
from pathlib import Path
from typing import Any


class LogCapture(logging.Handler):
    """Keep every record's text (exception tracebacks included), at every level; only the last
    ``keep`` when given (a soak of thousands of taps must not grow with its own log)."""

    def __init__(self, keep: int | None = None) -> None:
        super().__init__(level=1)
        self.lines: collections.deque[str] = collections.deque(maxlen=keep)

    def emit(self, record: logging.LogRecord) -> None:
        text = f"{record.name} {record.levelname} {record.getMessage()}"
        if record.exc_info:
            text += "".join(traceback.format_exception(*record.exc_info))
        self.lines.append(text)


def _hex_forms(value: str) -> list[str]:
    h = value.encode("utf-8").hex()
    spaced = " ".join(h[i:i + 2] for i in range(0, len(h), 2))
    return ["(?i)" + h, "(?i)" + re.escape(spaced)]


def forbidden_patterns(persona: Any) -> list[tuple[str, re.Pattern[str]]]:
    """(label, pattern) for every form of the persona's personal data and credentials."""
    ident, cred = persona.identity, persona.credentials
    out: list[tuple[str, str]] = []
    for label, value in (("name", ident.name), ("address", ident.address)):
        out.append((label, re.escape(value)))
        out += [(label + "-hex", p) for p in _hex_forms(value)]
        compact = re.sub(r"\s|\u3000", "", value)
        if len(compact) >= 4:
            out.append((label, re.escape(compact)))
        for part in re.split(r"[\s\u3000]+", value):
            if len(part) >= 2:  # any word of the name/address on its own
                out.append((label, re.escape(part)))
    b = ident.birth_date
    out += [("birth", f"{b:%Y-%m-%d}"), ("birth", f"{b:%Y%m%d}"), ("birth", f"{b:%Y/%m/%d}"),
            ("birth", f"{b.year}年{b.month}月{b.day}日"),
            ("birth", rf"(?<!\d){ident.printed_birth_yymmdd}(?!\d)")]
    out += [("my_number", rf"(?<!\d){ident.my_number}(?!\d)")]
    out += [("my_number-hex", p) for p in _hex_forms(ident.my_number)]
    out += [("match_b", cred.match_b)] + [("match_b-hex", p) for p in _hex_forms(cred.match_b)]
    for label in ("auth_pin", "sign_password", "input_helper_pin", "birth_key"):
        secret = getattr(cred, label)
        # A whole token: a short PIN such as 1234 otherwise turns up inside any number, as in
        # the audit line's "duration_ms":1234.8, which is a timing, not a leak.
        token = rf"(?<![0-9A-Za-z])(?<![0-9]\.){re.escape(secret)}(?![0-9A-Za-z])(?!\.[0-9])"
        out.append((label, token))
        out += [(label + "-hex", p) for p in _hex_forms(secret)]
    return [(label, re.compile(p)) for label, p in out]


def scan(texts: dict[str, str]) -> list[str]:
    """Every persona's personal data found in ``texts`` (where -> text), one line per leak."""
    from card.emulator import PERSONAS

    leaks = []
    for p in PERSONAS.values():
        for label, pattern in forbidden_patterns(p):
            for where, text in texts.items():
                m = pattern.search(text)
                if m:
                    near = text[max(0, m.start() - 60):m.end() + 10]
                    leaks.append(f"{p.name} {label} in {where}: …{near}…")
    return leaks


def files_under(*dirs: Path) -> dict[str, str]:
    """The text of every file under ``dirs`` (binary files decoded leniently)."""
    out = {}
    for d in dirs:
        for f in d.rglob("*"):
            if f.is_file():
                out[str(f)] = f.read_bytes().decode("utf-8", "replace")
    return out
def secret_patterns(label: str, secret: str) -> list[tuple[str, re.Pattern[str]]]:
    """(label, pattern) for one secret (a staff password) as text and as hex."""
    out = [(label, re.escape(secret))] + [(label + "-hex", p) for p in _hex_forms(secret)]
    return [(name, re.compile(p)) for name, p in out]
