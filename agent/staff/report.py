"""Per-staff counts from the audit log: checks by flow and outcome, and My Number reveals.

Reads only the fields a count needs (``staff_id``, ``flow``, ``result``, ``event``, the time);
no identity is in the audit log to begin with, and none is in the report. Damaged lines are
counted and skipped, never fatal.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

MAX_LINE = 64 * 1024


@dataclass
class StaffReport:
    since: str
    checks: dict[str, Counter[tuple[str, str]]] = field(
        default_factory=lambda: defaultdict(Counter))
    reveals: Counter[str] = field(default_factory=Counter)
    skipped: int = 0

    def to_json(self) -> dict[str, Any]:
        staff = sorted(set(self.checks) | set(self.reveals))
        return {
            "since": self.since,
            "staff": [
                {"staff_id": s,
                 "checks": [{"flow": f, "result": r, "count": n}
                            for (f, r), n in sorted(self.checks[s].items())],
                 "reveals": self.reveals[s]}
                for s in staff
            ],
            "skipped_lines": self.skipped,
        }

    def lines(self) -> list[str]:
        """The report as text for ``myna staff report``."""
        out = [f"staff report since {self.since}"]
        data = self.to_json()
        if not data["staff"]:
            out.append("  (no staff-mode checks)")
        for entry in data["staff"]:
            out.append(f"{entry['staff_id']}: {entry['reveals']} My Number reveal(s)")
            for c in entry["checks"]:
                out.append(f"  {c['flow']:<7} {c['result']:<28} {c['count']:>6}")
        if self.skipped:
            out.append(f"({self.skipped} unreadable audit line(s) skipped)")
        return out


def parse_since(text: str) -> datetime:
    """``YYYY-MM-DD`` (midnight UTC) or an ISO time.

    :raises ValueError: anything else.
    """
    try:
        return datetime.combine(date.fromisoformat(text), datetime.min.time(), tzinfo=UTC)
    except ValueError:
        moment = datetime.fromisoformat(text)
        return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def build_report(audit_file: Path | None, since: datetime) -> StaffReport:
    report = StaffReport(since=since.isoformat())
    if audit_file is None or not audit_file.exists():
        return report
    cutoff = since.timestamp()
    with audit_file.open("r", encoding="utf-8", errors="replace") as f:
        for raw in f:
            line = _parse(raw)
            if line is None:
                report.skipped += 1
                continue
            staff_id = line.get("staff_id")
            when = _time(line.get("end") or line.get("time"))
            if not isinstance(staff_id, str) or when is None or when < cutoff:
                continue
            if line.get("event") == "reveal":
                report.reveals[staff_id] += 1
            elif isinstance(line.get("flow"), str) and "event" not in line:
                result = line.get("result") if isinstance(line.get("result"), str) else None
                report.checks[staff_id][(line["flow"], result or str(line.get("ended_by")))] += 1
    return report


def _parse(raw: str) -> dict[str, Any] | None:
    if len(raw) > MAX_LINE or not raw.strip():
        return None
    try:
        data = json.loads(raw)
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def _time(value: object) -> float | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value).timestamp()
    except ValueError:
        return None
