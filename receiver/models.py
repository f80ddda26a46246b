"""Tables. Indexes only on columns that say nothing about a person (ids, times, states)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Boolean, DateTime, Float, Integer, LargeBinary, String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

# SQLite gives INTEGER PRIMARY KEY its rowid (auto-increment); PostgreSQL gets a BIGINT identity.
SEQ = BigInteger().with_variant(Integer(), "sqlite")


class Base(DeclarativeBase):
    pass


class Kiosk(Base):
    __tablename__ = "kiosks"

    kiosk_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    jwk_json: Mapped[str] = mapped_column(String(2048))  # the kiosk's public key, nothing secret
    thumbprint: Mapped[str] = mapped_column(String(64), unique=True)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    added_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class Record(Base):
    __tablename__ = "records"

    seq: Mapped[int] = mapped_column(SEQ, primary_key=True, autoincrement=True)
    record_id: Mapped[str] = mapped_column(String(36), unique=True)
    kiosk_id: Mapped[str] = mapped_column(String(64), index=True)
    flow: Mapped[str] = mapped_column(String(16))
    kiosk_ok: Mapped[bool] = mapped_column(Boolean)
    state: Mapped[str] = mapped_column(String(16), index=True)  # accepted | rejected
    reason: Mapped[str | None] = mapped_column(String(64), nullable=True)
    record_time: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    payload_sha256: Mapped[str] = mapped_column(String(64))
    has_my_number: Mapped[bool] = mapped_column(Boolean, default=False)
    test_trust: Mapped[bool] = mapped_column(Boolean, default=False)
    staff_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    verify_ms: Mapped[float] = mapped_column(Float)
    sealed_jws: Mapped[bytes] = mapped_column(LargeBinary)


class Deletion(Base):
    """The deletion log: which record went when, and why (never what it said)."""

    __tablename__ = "deletions"

    seq: Mapped[int] = mapped_column(SEQ, primary_key=True, autoincrement=True)
    record_id: Mapped[str] = mapped_column(String(36), index=True)
    kiosk_id: Mapped[str] = mapped_column(String(64))
    record_time: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    deleted_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    reason: Mapped[str] = mapped_column(String(32))


class ApiToken(Base):
    """Bearer tokens for pull integrations; only their SHA-256 is stored."""

    __tablename__ = "api_tokens"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
