"""The operator's side: kiosks, pull tokens, export, show, retention."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, TextIO

from sqlalchemy import delete, or_, select

from receiver import jws_check
from receiver.models import ApiToken, Deletion, Kiosk, Record
from receiver.service import Receiver
from receiver.store import utc_text

EXPORT_FORMATS = ("jsonl", "csv")
CSV_COLUMNS = ("record_id", "kiosk_id", "time", "received_at", "flow", "kiosk_ok", "state",
               "reason", "staff_id", "test_trust", "assurance", "error_code", "name", "address",
               "birth_date", "sex", "card_reference", "card_expiry")


class AdminError(Exception):
    """An operator command cannot do what was asked; the message says why."""


def _now() -> datetime:
    return datetime.now(UTC)


def add_kiosk(rx: Receiver, kiosk_id: str, jwk_text: str) -> str:
    try:
        jwk = json.loads(jwk_text)
    except json.JSONDecodeError as e:
        raise AdminError("the JWK file is not JSON") from e
    if not isinstance(jwk, dict):
        raise AdminError("the JWK file is not a JSON object")
    try:
        thumb = jws_check.thumbprint(jwk)
    except jws_check.JwsRejected as e:
        raise AdminError(str(e)) from e
    public = {k: jwk[k] for k in ("kty", "crv", "x")}
    with rx.sessions() as s:
        if s.get(Kiosk, kiosk_id) is not None:
            raise AdminError(f"kiosk {kiosk_id!r} is registered already")
        if s.scalars(select(Kiosk).where(Kiosk.thumbprint == thumb)).first() is not None:
            raise AdminError("this key is registered for another kiosk")
        s.add(Kiosk(kiosk_id=kiosk_id, jwk_json=json.dumps(public), thumbprint=thumb,
                    enabled=True, added_at=_now()))
        s.commit()
    return thumb


def set_kiosk_enabled(rx: Receiver, kiosk_id: str, enabled: bool) -> None:
    with rx.sessions() as s:
        kiosk = s.get(Kiosk, kiosk_id)
        if kiosk is None:
            raise AdminError(f"no kiosk {kiosk_id!r}")
        kiosk.enabled = enabled
        s.commit()


def list_kiosks(rx: Receiver) -> list[dict[str, Any]]:
    with rx.sessions() as s:
        return [{"kiosk_id": k.kiosk_id, "enabled": k.enabled, "thumbprint": k.thumbprint,
                 "added_at": utc_text(k.added_at)}
                for k in s.scalars(select(Kiosk).order_by(Kiosk.kiosk_id))]


def add_token(rx: Receiver, name: str) -> str:
    token = secrets.token_urlsafe(32)
    with rx.sessions() as s:
        if s.get(ApiToken, name) is not None:
            raise AdminError(f"token {name!r} exists already")
        s.add(ApiToken(name=name, token_sha256=hashlib.sha256(token.encode()).hexdigest(),
                       created_at=_now(), enabled=True))
        s.commit()
    return token


def _rows(rx: Receiver, since: datetime | None, state: str | None) -> Iterator[Record]:
    with rx.sessions() as s:
        query = select(Record).order_by(Record.seq)
        if since is not None:
            query = query.where(Record.record_time >= since)
        if state is not None:
            query = query.where(Record.state == state)
        yield from s.scalars(query.execution_options(yield_per=200))


def export(rx: Receiver, out: TextIO, *, fmt: str, since: datetime | None = None,
           state: str | None = None) -> int:
    """Write records (decrypted) for the business's import; returns how many."""
    if fmt not in EXPORT_FORMATS:
        raise AdminError(f"format is one of {', '.join(EXPORT_FORMATS)}")
    writer = csv.DictWriter(out, CSV_COLUMNS, extrasaction="ignore") if fmt == "csv" else None
    if writer:
        writer.writeheader()
    count = 0
    for row in _rows(rx, since, state):
        record = rx.store.open_record(row)
        if writer:
            writer.writerow(_flat(row, record))
        else:
            out.write(json.dumps(_envelope(row, record), ensure_ascii=False) + "\n")
        count += 1
    return count


def _envelope(row: Record, record: dict[str, Any]) -> dict[str, Any]:
    return {"record_id": row.record_id, "kiosk_id": row.kiosk_id, "state": row.state,
            "reason": row.reason, "received_at": utc_text(row.received_at), "record": record}


def _csv_safe(value: Any) -> str:
    text = "" if value is None else str(value)
    # A cell a spreadsheet would run as a formula is quoted as text (CSV injection).
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def _flat(row: Record, record: dict[str, Any]) -> dict[str, str]:
    identity = record.get("identity") or {}
    sex = identity.get("sex")
    flat: dict[str, Any] = {
        "record_id": row.record_id, "kiosk_id": row.kiosk_id, "time": record.get("time"),
        "received_at": utc_text(row.received_at), "flow": row.flow, "kiosk_ok": row.kiosk_ok,
        "state": row.state, "reason": row.reason, "staff_id": row.staff_id,
        "test_trust": row.test_trust, "assurance": " ".join(record.get("assurance") or []),
        "error_code": record.get("error_code"),
        "sex": sex.get("code") if isinstance(sex, dict) else sex,
    }
    for key in ("name", "address", "birth_date", "card_reference", "card_expiry"):
        flat[key] = identity.get(key)
    return {k: _csv_safe(v) for k, v in flat.items()}


def show(rx: Receiver, record_id: str) -> dict[str, Any]:
    with rx.sessions() as s:
        row = s.scalars(select(Record).where(Record.record_id == record_id)).first()
        if row is None:
            raise AdminError(f"no record {record_id!r}")
        return _envelope(row, rx.store.open_record(row)) | {
            "verify_ms": row.verify_ms, "test_trust": row.test_trust}


@dataclass(frozen=True, slots=True)
class PurgeResult:
    deleted: int
    my_number_deleted: int


def purge(rx: Receiver, *, older_than: timedelta, my_number_older_than: timedelta,
          now: datetime | None = None) -> PurgeResult:
    """Delete records past retention (My Number records past their own, shorter one), each
    deletion logged with id and times only, in the same transaction as the delete."""
    now = now or _now()
    cutoff, mn_cutoff = now - older_than, now - my_number_older_than
    with rx.sessions() as s:
        victims = s.scalars(select(Record).where(or_(
            Record.record_time < cutoff,
            Record.has_my_number.is_(True) & (Record.record_time < mn_cutoff)))).all()
        mn = 0
        for row in victims:
            reason = "retention" if row.record_time.replace(
                tzinfo=row.record_time.tzinfo or UTC) < cutoff else "my_number_retention"
            mn += reason == "my_number_retention"
            s.add(Deletion(record_id=row.record_id, kiosk_id=row.kiosk_id,
                           record_time=row.record_time, deleted_at=now, reason=reason))
        if victims:
            s.execute(delete(Record).where(Record.seq.in_([r.seq for r in victims])))
        s.commit()
    return PurgeResult(len(victims), mn)


def deletion_log(rx: Receiver) -> str:
    buf = io.StringIO()
    with rx.sessions() as s:
        for d in s.scalars(select(Deletion).order_by(Deletion.seq)):
            buf.write(f"{utc_text(d.deleted_at)} {d.record_id} {d.kiosk_id} "
                      f"{utc_text(d.record_time)} {d.reason}\n")
    return buf.getvalue()
