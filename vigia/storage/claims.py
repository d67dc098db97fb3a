"""Claims that let any number of workers share one database without doing a poll twice.

A worker claims a due source with one UPDATE over a ``SELECT … FOR UPDATE SKIP LOCKED``
subquery (PostgreSQL: a row another worker is claiming is skipped, and the lock re-checks the
row as committed; SQLite ignores the locking clause, and its single writer makes the UPDATE
atomic). A claim lasts a lease that its worker renews while it polls; a worker killed mid-poll
stops renewing, its lease runs out and another worker takes the source over. Jobs run once per
period (the weekly export, the daily digest) are claimed the same way, by (job, period).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import or_, select, update
from sqlalchemy.engine import Connection

from timeutil import naive_utc
from vigia.storage.engine import upsert
from vigia.storage.schema import period_runs, source_state
from vigia.storage.sources import SourceHealth, load_health


def claim_source(
    conn: Connection,
    source: str,
    worker: str,
    now: datetime,
    lease: timedelta,
    *,
    ignore_schedule: bool = False,
) -> SourceHealth | None:
    """Take `source` for one poll; its state, or None when it is not due or another worker has it.

    A source is due at its `next_poll_at` (the last poll's start plus its interval, or the end
    of its back-off after a failure); `ignore_schedule` takes it early, never from another worker.
    """
    moment = naive_utc(now)
    s = source_state.c
    # A worker may retake its own claim: one left behind when the database went away mid-poll.
    free = or_(s.claimed_until.is_(None), s.claimed_until <= moment, s.claimed_by == worker)
    conditions = [s.source == source, free]
    if not ignore_schedule:
        conditions.append(or_(s.next_poll_at.is_(None), s.next_poll_at <= moment))
    due = select(s.source).where(*conditions).with_for_update(skip_locked=True)
    claim = (
        update(source_state)
        .where(s.source.in_(due.scalar_subquery()))
        .values(claimed_by=worker, claimed_until=moment + lease)
    )
    claimed = conn.execute(claim).rowcount == 1
    if not claimed and _add_state_row(conn, source):  # a source never polled before
        claimed = conn.execute(claim).rowcount == 1
    return load_health(conn, source) if claimed else None


def _add_state_row(conn: Connection, source: str) -> bool:
    """Give `source` its state row if it has none (another worker may add it first)."""
    added = conn.execute(
        upsert(conn, source_state)
        .values(source=source, consecutive_failures=0, skipped_items=0)
        .on_conflict_do_nothing()
        .returning(source_state.c.source)
    ).first()
    return added is not None


def claim_period(
    conn: Connection, job: str, period: str, worker: str, now: datetime, lease: timedelta
) -> bool:
    """True when this worker is the one to run `job` for `period` (not done, no live claim)."""
    moment = naive_utc(now)
    inserted = conn.execute(
        upsert(conn, period_runs)
        .values(job=job, period=period, claimed_by=worker, claimed_until=moment + lease)
        .on_conflict_do_nothing()
        .returning(period_runs.c.job)
    ).first()
    if inserted is not None:
        return True
    p = period_runs.c
    taken_over = conn.execute(
        update(period_runs)
        .where(p.job == job, p.period == period, p.done_at.is_(None), p.claimed_until <= moment)
        .values(claimed_by=worker, claimed_until=moment + lease)
    )
    return taken_over.rowcount == 1


def finish_period(conn: Connection, job: str, period: str, now: datetime) -> None:
    """`job` ran for `period`: no worker runs it again."""
    p = period_runs.c
    conn.execute(
        update(period_runs).where(p.job == job, p.period == period).values(done_at=naive_utc(now))
    )


def renew_claims(conn: Connection, worker: str, now: datetime, lease: timedelta) -> int:
    """Extend every live claim of `worker` by `lease`; how many claims it holds."""
    until = naive_utc(now) + lease
    sources = conn.execute(
        update(source_state).where(source_state.c.claimed_by == worker).values(claimed_until=until)
    )
    periods = conn.execute(
        update(period_runs)
        .where(period_runs.c.claimed_by == worker, period_runs.c.done_at.is_(None))
        .values(claimed_until=until)
    )
    return sources.rowcount + periods.rowcount


def release_source(conn: Connection, source: str, worker: str) -> None:
    """End `worker`'s claim on `source` (a claim another worker took over is left alone)."""
    s = source_state.c
    conn.execute(
        update(source_state)
        .where(s.source == source, s.claimed_by == worker)
        .values(claimed_by=None, claimed_until=None)
    )
