"""Storage: the schema, the engine and the queries every other part goes through."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError

from vigia.storage.engine import masked, open_engine
from vigia.storage.migrate import Upgrade, upgrade

__all__ = [
    "DatabaseError",
    "connect",
    "database_errors",
    "describe_db_error",
    "is_missing_table",
    "migrate",
    "open_engine",
]

log = logging.getLogger(__name__)


class DatabaseError(Exception):
    """The database cannot be used; the message names it (password masked) and the error."""


def describe_db_error(exc: BaseException) -> str:
    """The driver's own first line for a database error, without SQLAlchemy's SQL echo."""
    cause = exc.orig if isinstance(exc, DBAPIError) and exc.orig is not None else exc
    lines = str(cause).strip().splitlines() or [type(cause).__name__]
    return lines[0]


def is_missing_table(exc: DBAPIError) -> bool:
    """The error says a table does not exist (PostgreSQL's 42P01, SQLite's "no such table")."""
    return getattr(exc.orig, "sqlstate", None) == "42P01" or "no such table" in str(exc.orig)


@contextmanager
def database_errors(url: str) -> Iterator[None]:
    """Turn a driver error in the block into one DatabaseError line naming the database."""
    try:
        yield
    except DBAPIError as exc:
        raise DatabaseError(f"database {masked(url)}: {describe_db_error(exc)}") from exc


def migrate(url: str) -> tuple[Engine, Upgrade]:
    """Open the database at `url` and migrate it to the current schema."""
    engine = open_engine(url)
    try:
        with database_errors(url):
            return engine, upgrade(engine)
    except DatabaseError:
        engine.dispose()
        raise


def connect(url: str) -> Engine:
    """Open the database at `url`, migrated to the current schema, and say so in one log line."""
    engine, done = migrate(url)
    log.info("database %s: %s", masked(url), done.describe())
    return engine
