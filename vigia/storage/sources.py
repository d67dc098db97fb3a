"""Per-source state: cursor and validators for incremental fetching, and the source's health."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.engine import Connection

from collectors.base import FetchState
from timeutil import naive_utc
from vigia.storage.engine import upsert
from vigia.storage.schema import source_state


@dataclass(frozen=True, slots=True)
class SourceHealth:
    """A source's stored state, as the pipeline and the dashboard see it."""

    source: str
    cursor: str | None = None
    etag: str | None = None
    last_modified: str | None = None
    last_attempt_at: datetime | None = None
    last_success_at: datetime | None = None
    last_error: str | None = None
    last_error_at: datetime | None = None
    consecutive_failures: int = 0
    next_poll_at: datetime | None = None
    skipped_items: int = 0
    claimed_by: str | None = None
    claimed_until: datetime | None = None

    def fetch_state(self) -> FetchState:
        return FetchState(cursor=self.cursor, etag=self.etag, last_modified=self.last_modified)

    def is_stale(self, interval: timedelta, now: datetime) -> bool:
        """No success for twice the poll interval (or never, once a poll has been tried)."""
        if self.last_attempt_at is None:
            return False
        reference = self.last_success_at or self.last_attempt_at
        return naive_utc(now) - reference > 2 * interval


def load_health(conn: Connection, source: str) -> SourceHealth:
    row = (
        conn.execute(select(source_state).where(source_state.c.source == source)).mappings().first()
    )
    return SourceHealth(**row) if row else SourceHealth(source=source)


def all_health(conn: Connection) -> list[SourceHealth]:
    rows = conn.execute(select(source_state).order_by(source_state.c.source)).mappings()
    return [SourceHealth(**row) for row in rows]


def _save(conn: Connection, source: str, values: dict) -> None:
    statement = upsert(conn, source_state).values(source=source, **values)
    conn.execute(statement.on_conflict_do_update(index_elements=["source"], set_=values))


def record_success(
    conn: Connection,
    source: str,
    state: FetchState,
    now: datetime,
    skipped: int,
    next_poll_at: datetime,
) -> None:
    """The poll committed: move the cursor and validators on, clear the failures, set the next poll."""
    previous = load_health(conn, source)
    moment = naive_utc(now)
    _save(
        conn,
        source,
        {
            "cursor": state.cursor,
            "etag": state.etag,
            "last_modified": state.last_modified,
            "last_attempt_at": moment,
            "last_success_at": moment,
            "consecutive_failures": 0,
            "next_poll_at": naive_utc(next_poll_at),
            "skipped_items": previous.skipped_items + skipped,
        },
    )


def record_failure(
    conn: Connection, source: str, error: str, now: datetime, retry_at: datetime
) -> int:
    """The poll failed: keep the cursor, note the error, return the new consecutive-failure count."""
    failures = load_health(conn, source).consecutive_failures + 1
    moment = naive_utc(now)
    _save(
        conn,
        source,
        {
            "last_attempt_at": moment,
            "last_error": error[:2000],
            "last_error_at": moment,
            "consecutive_failures": failures,
            "next_poll_at": naive_utc(retry_at),
        },
    )
    return failures
