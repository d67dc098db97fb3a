"""Dashboard sessions kept across page reloads: one row per browser cookie, by its hash."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, delete, insert, or_, select, update

from timeutil import naive_utc, utc
from vigia.storage.schema import dashboard_sessions


@dataclass(frozen=True)
class SessionRow:
    user_name: str
    started_at: datetime  # aware UTC
    last_seen_at: datetime


def open_session(conn: Connection, token_hash: str, user_name: str, now: datetime) -> None:
    conn.execute(
        insert(dashboard_sessions).values(
            token_hash=token_hash,
            user_name=user_name,
            started_at=naive_utc(now),
            last_seen_at=naive_utc(now),
        )
    )


def find_session(conn: Connection, token_hash: str) -> SessionRow | None:
    """The session with this token hash, unless it was ended."""
    s = dashboard_sessions.c
    row = conn.execute(
        select(s.user_name, s.started_at, s.last_seen_at).where(
            s.token_hash == token_hash, s.ended_at.is_(None)
        )
    ).first()
    return SessionRow(row.user_name, utc(row.started_at), utc(row.last_seen_at)) if row else None


def touch_session(conn: Connection, token_hash: str, now: datetime) -> None:
    s = dashboard_sessions.c
    conn.execute(
        update(dashboard_sessions)
        .where(s.token_hash == token_hash)
        .values(last_seen_at=naive_utc(now))
    )


def end_session(conn: Connection, token_hash: str, now: datetime) -> None:
    s = dashboard_sessions.c
    conn.execute(
        update(dashboard_sessions)
        .where(s.token_hash == token_hash, s.ended_at.is_(None))
        .values(ended_at=naive_utc(now))
    )


def delete_finished_sessions(conn: Connection, idle_since: datetime) -> None:
    """Forget sessions that were ended, or unused since `idle_since` (so expired for sure)."""
    s = dashboard_sessions.c
    conn.execute(
        delete(dashboard_sessions).where(
            or_(s.ended_at.is_not(None), s.last_seen_at < naive_utc(idle_since))
        )
    )
