"""Opening the database: SQLite (WAL mode, the embedded default) or PostgreSQL."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import Engine, Table, create_engine, event, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import URL, Connection, make_url

SUPPORTED = ("sqlite", "postgresql")


def check_url(url: str) -> URL:
    """`url` parsed, or a ValueError naming what is wrong (unreadable, unsupported scheme)."""
    try:
        parsed = make_url(url)
    except Exception as exc:  # SQLAlchemy raises ArgumentError for an unreadable URL
        raise ValueError("expected a database URL such as sqlite:///data/vigia.db") from exc
    if parsed.get_backend_name() not in SUPPORTED:
        raise ValueError(
            f"unsupported database {parsed.get_backend_name()!r}; use sqlite:///PATH or "
            "postgresql://USER@HOST/NAME"
        )
    return parsed


def masked(url: str) -> str:
    """`url` safe to print: the password replaced by ***."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return "(unreadable database URL)"


def open_engine(url: str) -> Engine:
    """An engine for `url`; for SQLite the folder is created and WAL mode switched on.

    The schema is not touched: `vigia.storage.connect` also brings it up to date.
    """
    parsed = check_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(parsed, connect_args={"timeout": 30})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    if parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    # A bounded connect, so an unreachable server is reported instead of hanging a worker.
    return create_engine(parsed, pool_pre_ping=True, connect_args={"connect_timeout": 10})


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def upsert(conn: Connection, table: Table) -> postgresql.Insert | sqlite.Insert:
    """An INSERT for `table` that supports ON CONFLICT in the connection's dialect."""
    if conn.dialect.name == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)


def lock_transaction(conn: Connection, key: int) -> None:
    """Serialise the transaction `conn` is in with every other one taking the same lock, in any
    process: PostgreSQL's transaction-scoped advisory lock `key`; SQLite's write lock, which is
    the whole database's (`key` unused), taken at once by ``BEGIN IMMEDIATE``.

    Call it as the transaction's first statement: pysqlite begins its own transaction lazily,
    before the first write, so none has begun yet (and SQLite refuses a second BEGIN loudly).
    Both locks are released at commit or rollback.
    """
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})
    elif conn.dialect.name == "sqlite":
        conn.exec_driver_sql("BEGIN IMMEDIATE")
