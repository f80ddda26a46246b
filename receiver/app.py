"""The receiver's HTTP API (a WSGI app; ``myna receiver serve`` runs it under gunicorn).

``POST /v1/records``  a kiosk's record (``application/jose``, compact JWS) → 201 / 200 / 4xx
``GET  /v1/records``  pull integration (bearer token): records after a cursor
``GET  /records/ID``  one record's verdict as a page, only with ``record_page = "loopback"``
``GET  /healthz``     the database answers
``GET  /metrics``     Prometheus
Contract: docs/receiver-openapi.json.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import html
from typing import Any

from flask import Flask, Response, jsonify, request
from sqlalchemy import select, text
from sqlalchemy.exc import OperationalError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from receiver import metrics
from receiver.models import ApiToken, Record
from receiver.store import RecordStore, Refused, parse_time, utc_text

JOSE_TYPES = ("application/jose", "application/jose; charset=us-ascii")
PAGE_MAX = 500


def _error(status: int, code: str, message: str) -> tuple[Response, int]:
    return jsonify({"error": {"code": code, "message": message}}), status


def _cursor(seq: int) -> str:
    return base64.urlsafe_b64encode(f"s{seq}".encode()).decode().rstrip("=")


def _from_cursor(value: str) -> int:
    try:
        raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)).decode("ascii")
    except (binascii.Error, ValueError) as e:
        raise Refused(400, "bad_request", "cursor malformed") from e
    if not raw.startswith("s") or not raw[1:].isdigit() or len(raw) > 20:
        raise Refused(400, "bad_request", "cursor malformed")
    return int(raw[1:])


def _bounded_body(limit: int) -> bytes | None:
    """The request body, or None when it is larger than ``limit``. A chunked body has no
    Content-Length, and Werkzeug then hands out an empty stream unless the server marks the
    input as terminated, so it is read from the server's de-chunked input, one byte past the
    limit at most."""
    if request.content_length is not None:
        if request.content_length > limit:
            return None
        return request.get_data(cache=False)
    data = request.environ["wsgi.input"].read(limit + 1)
    return None if len(data) > limit else bytes(data)


def _record_page(row: Record) -> str:
    """The receiver's verdict on one record and its non-personal columns. The sealed record
    (identity, evidence) is never opened here: that stays with ``myna receiver show`` and the
    bearer-token API."""
    facts = [("Record", row.record_id), ("Kiosk", row.kiosk_id), ("Check", row.flow),
             ("Receiver's verdict", row.state + (f" ({row.reason})" if row.reason else "")),
             ("Kiosk said", "ok" if row.kiosk_ok else "failed"),
             ("Checked at (kiosk)", utc_text(row.record_time)),
             ("Received", utc_text(row.received_at)),
             ("Re-verification", f"{row.verify_ms:.1f} ms"),
             ("Trust", "TEST roots" if row.test_trust else "J-LIS roots")]
    rows = "".join(f"<dt>{html.escape(k)}</dt><dd>{html.escape(v)}</dd>" for k, v in facts)
    return ("<!doctype html><html lang=en><meta charset=utf-8>"
            f"<title>Record {html.escape(row.record_id)}</title>"
            "<h1>Verification record at the receiver</h1>"
            f"<dl>{rows}</dl><p>Identity fields are stored encrypted and are not shown here.</p>"
            "</html>")


def create_app(store: RecordStore, sessions: sessionmaker[Session], *,
               max_body_bytes: int = 1024 * 1024, record_page: str = "off") -> Flask:
    app = Flask("receiver")
    app.config["MAX_CONTENT_LENGTH"] = max_body_bytes

    @app.errorhandler(Refused)
    def refused(e: Refused) -> tuple[Response, int]:
        if e.status == 409:
            metrics.RECORDS.labels("conflict").inc()
        elif e.status < 500:
            metrics.RECORDS.labels("refused").inc()
        return _error(e.status, e.code, str(e))

    @app.errorhandler(OperationalError)
    def database_down(_e: OperationalError) -> tuple[Response, int]:
        resp, status = _error(503, "database_unavailable", "the database does not answer")
        resp.headers["Retry-After"] = "5"
        return resp, status

    @app.errorhandler(413)
    def too_large(_e: Exception) -> tuple[Response, int]:
        return _error(413, "too_large", f"body larger than {max_body_bytes} bytes")

    @app.errorhandler(404)
    def not_found(_e: Exception) -> tuple[Response, int]:
        return _error(404, "not_found", "no such resource")

    @app.errorhandler(405)
    def not_allowed(_e: Exception) -> tuple[Response, int]:
        return _error(405, "method_not_allowed", "method not allowed here")

    @app.after_request
    def no_store(resp: Response) -> Response:
        resp.headers["Cache-Control"] = "no-store"
        resp.headers["X-Content-Type-Options"] = "nosniff"
        return resp

    @app.post("/v1/records")
    def post_record() -> tuple[Response, int]:
        ctype = (request.content_type or "").lower()
        if ctype not in JOSE_TYPES:
            raise Refused(415, "unsupported_media_type",
                          "send the record as application/jose (compact JWS)")
        body = _bounded_body(max_body_bytes)
        if body is None:
            return _error(413, "too_large", f"body larger than {max_body_bytes} bytes")
        try:
            token = body.decode("ascii").strip()
        except UnicodeDecodeError as e:
            raise Refused(400, "malformed_jws", "a compact JWS is ASCII") from e
        result = store.ingest(token, request.headers.get("Idempotency-Key"))
        metrics.RECORDS.labels(result.outcome).inc()
        if result.outcome != "duplicate":
            metrics.VERIFY_SECONDS.observe(result.verify_s)
        return jsonify(result.body), result.status

    def _token_ok(session: Session) -> bool:
        auth = request.headers.get("Authorization", "")
        if not auth.startswith("Bearer ") or len(auth) > 200:
            return False
        digest = hashlib.sha256(auth[7:].strip().encode()).hexdigest()
        row = session.scalars(select(ApiToken).where(ApiToken.token_sha256 == digest)).first()
        return row is not None and row.enabled

    @app.get("/v1/records")
    def list_records() -> tuple[Response, int]:
        with sessions() as session:
            if not _token_ok(session):
                return _error(401, "unauthorized", "a valid bearer token is needed")
            query = select(Record).order_by(Record.seq)
            args = request.args
            unknown = set(args) - {"since", "state", "cursor", "limit"}
            if unknown:
                raise Refused(400, "bad_request", f"unknown parameter {min(unknown)!r}")
            if "since" in args:
                query = query.where(Record.record_time >= parse_time(args["since"]))
            if "state" in args:
                if args["state"] not in ("accepted", "rejected"):
                    raise Refused(400, "bad_request", "state is accepted or rejected")
                query = query.where(Record.state == args["state"])
            if "cursor" in args:
                query = query.where(Record.seq > _from_cursor(args["cursor"]))
            limit_text = args.get("limit", "100")
            if not limit_text.isdigit() or not 1 <= int(limit_text) <= PAGE_MAX:
                raise Refused(400, "bad_request", f"limit is 1..{PAGE_MAX}")
            rows = session.scalars(query.limit(int(limit_text))).all()
            items = [_item(store, row) for row in rows]
            next_cursor = _cursor(rows[-1].seq) if len(rows) == int(limit_text) else None
            return jsonify({"items": items, "next_cursor": next_cursor}), 200

    @app.get("/records/<record_id>")
    def show_record(record_id: str) -> Response | tuple[Response, int]:
        if record_page != "loopback" or request.remote_addr not in ("127.0.0.1", "::1"):
            return _error(404, "not_found", "no such resource")
        with sessions() as session:
            row = session.scalars(select(Record).where(Record.record_id == record_id)).first()
        if row is None:
            return _error(404, "not_found", "no such record")
        resp = Response(_record_page(row), content_type="text/html; charset=utf-8")
        resp.headers["Content-Security-Policy"] = "default-src 'none'"
        resp.headers["Referrer-Policy"] = "no-referrer"
        resp.headers["X-Frame-Options"] = "DENY"
        return resp

    @app.get("/healthz")
    def healthz() -> tuple[Response, int]:
        try:
            with sessions() as session:
                session.execute(text("SELECT 1"))
        except SQLAlchemyError:
            return _error(503, "database_unavailable", "the database does not answer")
        return jsonify({"ok": True}), 200

    @app.get("/metrics")
    def prometheus() -> Response:
        data, ctype = metrics.exposition()
        return Response(data, content_type=ctype)

    return app


def _item(store: RecordStore, row: Record) -> dict[str, Any]:
    return {"record_id": row.record_id, "kiosk_id": row.kiosk_id, "flow": row.flow,
            "state": row.state, "reason": row.reason, "received_at": utc_text(row.received_at),
            "record": store.open_record(row)}
