"""The database: one engine per process, Alembic migrations, SQLite tuned for several workers."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, inspect
from sqlalchemy.engine import make_url
from sqlalchemy.orm import sessionmaker

MIGRATIONS = Path(__file__).with_name("migrations")
HEAD = "0001"


class DatabaseNotReady(RuntimeError):
    """The schema is missing or older than this receiver: run ``myna receiver db upgrade``."""


def make_engine(url: str) -> Engine:
    parsed = make_url(url)
    if parsed.drivername == "postgresql":  # psycopg 3, not the psycopg2 SQLAlchemy defaults to
        parsed = parsed.set(drivername="postgresql+psycopg")
    # No ping before every checkout (a round trip per request): after a PostgreSQL restart the
    # first statement on a dead pooled connection fails, that request is answered 503 (the
    # kiosk retries it), and SQLAlchemy drops every pooled connection made before the failure,
    # so the next request connects afresh.
    kwargs: dict[str, Any] = {"pool_pre_ping": False}
    if parsed.get_backend_name() == "sqlite":
        if parsed.database:
            Path(parsed.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        kwargs["connect_args"] = {"timeout": 30}
    else:
        kwargs.update(pool_size=5, max_overflow=5, pool_timeout=5,
                      connect_args={"connect_timeout": 5})
    engine = create_engine(parsed, **kwargs)
    if parsed.get_backend_name() == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cur = dbapi_connection.cursor()
    cur.execute("PRAGMA journal_mode=WAL")  # readers never wait for the one writer
    cur.execute("PRAGMA synchronous=FULL")  # a 2xx means the record survives a power cut
    cur.execute("PRAGMA busy_timeout=30000")
    cur.close()


def upgrade(engine: Engine) -> str:
    """Bring the schema to the newest revision; returns it."""
    from alembic import command
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")
    return HEAD


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        if not inspect(conn).has_table("alembic_version"):
            return None
        row = conn.exec_driver_sql("SELECT version_num FROM alembic_version").first()
        return row[0] if row else None


def require_current(engine: Engine) -> None:
    rev = current_revision(engine)
    if rev != HEAD:
        raise DatabaseNotReady(
            f"database schema is {rev or 'missing'}, this receiver needs {HEAD}: "
            "run `myna receiver db upgrade --db URL`")


def session_factory(engine: Engine) -> sessionmaker[Any]:
    return sessionmaker(engine, expire_on_commit=False)
