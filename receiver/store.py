"""Taking in one record: check the kiosk's JWS, re-verify the evidence, store exactly once.

The unique ``record_id`` column decides "exactly once" across any number of receiver processes
on one database: a second insert of the same id fails inside the database, and the loser reads
the winner's row. A 2xx is answered only after the transaction has committed.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from sqlalchemy import Connection, Table, bindparam, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from agent.records.evidence import EvidenceVerdict, verify_evidence
from agent.verification.flows import FlowConfig
from receiver import jws_check
from receiver.models import Kiosk, Record
from receiver.sealing import Sealer

FLOWS = ("sign", "auth", "face", "number")
MAX_FUTURE_SKEW = timedelta(minutes=5)
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_KIOSK_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")
_TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,6})?Z")

# The ingest path runs on SQLAlchemy Core with statements built once: the ORM's unit of work
# (identity map, flush plan, object state) cost more CPU per record than the two selects and
# the insert it issued. Same statements, same one transaction, same commit-before-answer.
_KIOSKS, _RECORDS = cast(Table, Kiosk.__table__), cast(Table, Record.__table__)
_KIOSK_BY_KID = select(_KIOSKS.c.kiosk_id, _KIOSKS.c.jwk_json, _KIOSKS.c.enabled).where(
    _KIOSKS.c.thumbprint == bindparam("kid"))
_STORED = select(_RECORDS.c.record_id, _RECORDS.c.state, _RECORDS.c.reason,
                 _RECORDS.c.received_at, _RECORDS.c.payload_sha256).where(
    _RECORDS.c.record_id == bindparam("record_id"))
_INSERT = insert(_RECORDS)
# With the record id a kiosk claims in its Idempotency-Key, its registration and any record
# already stored under that id come back in one round trip. Nothing is decided on the claim
# before the signed record has confirmed it.
_KIOSK_AND_STORED = select(
    _KIOSKS.c.kiosk_id, _KIOSKS.c.jwk_json, _KIOSKS.c.enabled, _RECORDS.c.record_id,
    _RECORDS.c.state, _RECORDS.c.reason, _RECORDS.c.received_at, _RECORDS.c.payload_sha256,
).select_from(_KIOSKS.outerjoin(_RECORDS, _RECORDS.c.record_id == bindparam("record_id"))
              ).where(_KIOSKS.c.thumbprint == bindparam("kid"))


class Refused(Exception):
    """The request is refused as a whole (nothing stored): HTTP status and a typed code."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code = status, code


@dataclass(frozen=True, slots=True)
class IngestResult:
    status: int  # 201 stored now, 200 stored before
    body: dict[str, Any]
    outcome: str  # accepted | rejected | duplicate
    verify_s: float = 0.0


def parse_time(text: Any) -> datetime:
    if not isinstance(text, str) or not _TIME.fullmatch(text):
        raise Refused(400, "malformed_record", "record time is not UTC ISO 8601 (…Z)")
    return datetime.fromisoformat(text)


def _check_shape(record: dict[str, Any]) -> datetime:
    if not _UUID.fullmatch(str(record.get("record_id", ""))):
        raise Refused(400, "malformed_record", "record_id is not a lower-case UUID")
    if not _KIOSK_ID.fullmatch(str(record.get("kiosk_id", ""))):
        raise Refused(400, "malformed_record", "kiosk_id malformed")
    if record.get("flow") not in FLOWS:
        raise Refused(400, "malformed_record", "unknown flow")
    if not isinstance(record.get("ok"), bool):
        raise Refused(400, "malformed_record", "ok is not a boolean")
    staff = record.get("staff_id")
    if staff is not None and not (isinstance(staff, str) and _KIOSK_ID.fullmatch(staff)):
        raise Refused(400, "malformed_record", "staff_id malformed")
    return parse_time(record.get("time"))


def utc_text(value: datetime) -> str:
    if value.tzinfo is None:  # SQLite hands back naive datetimes; they were stored as UTC
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def stored_body(row: Any) -> dict[str, Any]:  # a row of _STORED
    return {"record_id": row.record_id, "state": row.state, "reason": row.reason,
            "received_at": utc_text(row.received_at)}


class RecordStore:
    def __init__(self, sessions: sessionmaker[Session], sealer: Sealer, flow_config: FlowConfig,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        # Autocommit: the lookups need no transaction, and the one INSERT commits by itself
        # before it returns (a 2xx still follows the commit), which spares PostgreSQL the
        # BEGIN and COMMIT round trips of every record.
        self._engine = sessions.kw["bind"].execution_options(isolation_level="AUTOCOMMIT")
        self._sealer = sealer
        self._flow_config = flow_config
        self._clock = clock

    def _kiosk_for(self, conn: Connection, token: str,
                   claimed_id: str | None) -> tuple[Any, dict[str, Any]]:
        """The JWS header and the kiosk's row; with ``claimed_id``, the row is joined with the
        record stored under it (its columns None when there is none)."""
        try:
            header = jws_check.read_header(token)
        except jws_check.JwsRejected as e:
            status = 400 if e.reason == "malformed_jws" else 401
            raise Refused(status, e.reason, str(e)) from e
        kiosk: Any
        if claimed_id is not None:
            kiosk = conn.execute(_KIOSK_AND_STORED,
                                 {"kid": header["kid"], "record_id": claimed_id}).first()
        else:
            kiosk = conn.execute(_KIOSK_BY_KID, {"kid": header["kid"]}).first()
        if kiosk is None:
            raise Refused(401, "unknown_kid", "no registered kiosk has this key")
        if not kiosk.enabled:
            raise Refused(401, "kiosk_disabled", "this kiosk is disabled")
        return kiosk, header

    def _existing(self, conn: Connection, record_id: str, digest: str) -> IngestResult | None:
        return self._judge_stored(conn.execute(_STORED, {"record_id": record_id}).first(),
                                  digest)

    @staticmethod
    def _judge_stored(row: Any, digest: str) -> IngestResult | None:
        """None for no stored record; the stored answer for the same content; 409 otherwise."""
        if row is None or row.record_id is None:
            return None
        if row.payload_sha256 != digest:
            raise Refused(409, "conflict", "this record id was stored with other content")
        return IngestResult(200, stored_body(row), "duplicate")

    def ingest(self, token: str, idempotency_key: str | None = None) -> IngestResult:
        claimed = idempotency_key if idempotency_key and _UUID.fullmatch(idempotency_key) else None
        with self._engine.connect() as conn:
            kiosk, header = self._kiosk_for(conn, token, claimed)
            try:
                signed = jws_check.verify(token, json.loads(kiosk.jwk_json), header)
            except jws_check.JwsRejected as e:
                status = 400 if e.reason.startswith("malformed") else 401
                raise Refused(status, e.reason, str(e)) from e
            record = signed.record
            at = _check_shape(record)
            if record["kiosk_id"] != kiosk.kiosk_id:
                raise Refused(401, "kiosk_mismatch", "record names another kiosk than its key")
            if idempotency_key is not None and idempotency_key != record["record_id"]:
                raise Refused(400, "idempotency_key", "Idempotency-Key is not the record id")
            digest = hashlib.sha256(signed.payload).hexdigest()
            if claimed is not None:
                found = self._judge_stored(kiosk, digest)  # the claim is the signed record's id
            else:
                found = self._existing(conn, record["record_id"], digest)
            if found is not None:
                return found
            now = self._clock()
            started = time.perf_counter()
            if at > now + MAX_FUTURE_SKEW:
                verdict = EvidenceVerdict("rejected", "time_in_future")
            else:
                verdict = verify_evidence(record, self._flow_config, at)
            state, reason, rechecked = verdict.state, verdict.reason, verdict.rechecked
            verify_s = time.perf_counter() - started
            identity = record.get("identity") or {}
            row = {
                "record_id": record["record_id"], "kiosk_id": kiosk.kiosk_id,
                "flow": record["flow"], "kiosk_ok": record["ok"], "state": state,
                "reason": reason, "record_time": at, "received_at": now,
                "payload_sha256": digest,
                "has_my_number": isinstance(identity, dict) and "my_number" in identity,
                "test_trust": bool(record.get("test_trust")), "staff_id": record.get("staff_id"),
                "verify_ms": round(verify_s * 1000, 3),
                "sealed_jws": self._sealer.seal(token.encode("ascii"), record["record_id"])}
            try:
                conn.execute(_INSERT, row)
            except IntegrityError:
                # Another receiver stored the same id first: answer with what it stored.
                found = self._existing(conn, record["record_id"], digest)
                if found is None:
                    raise
                return found
            body = {"record_id": row["record_id"], "state": state, "reason": reason,
                    "received_at": utc_text(now), "rechecked": list(rechecked)}
            return IngestResult(201, body, state, verify_s)

    def open_record(self, row: Record) -> dict[str, Any]:
        """The record as the kiosk signed it (decrypted), for export and pull integrations."""
        token = self._sealer.open(row.sealed_jws, row.record_id).decode("ascii")
        payload = token.split(".")[1]
        data = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
        record: dict[str, Any] = json.loads(data)
        return record
