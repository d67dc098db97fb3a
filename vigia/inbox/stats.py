"""Response times of inbox items: each item against its target, and one week's figures.

An item's first response is its first answer or escalation; both it and closing are measured
from when the item was opened, in working time (`inbox.hours`). An item is *within target* when
its first response came within its target; one still open past its due time without a response
has missed it; the others (not yet due, or dismissed unanswered) are not counted either way.
*Close to target*: open, not yet due, less than a quarter of its target left. *Overdue*: open
and past its due time.

A week's figures cover the items opened in it (one query, bounded by the week), by brand,
channel (source), topic and agent (the assignee or, for an unassigned item, whoever answered it
first in the audit trail); medians and p90s are taken here, the open backlog is counted in SQL.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, case, func, select

from timeutil import naive_utc, utc
from vigia.config import InboxConfig
from vigia.inbox.targets import DUE_SOON_SHARE, target, working_time
from vigia.storage.inbox import OPEN_STATES
from vigia.storage.schema import audit_log, inbox_items

DIMENSIONS = ("brand", "channel", "topic", "agent")
ALL = "*"  # the value of the one row over every item, as in the weekly summary
_ANSWER = "inbox.answer"
_CHUNK = 500  # item ids per audit query (SQLite's bound-parameter limit is far above)


class Timeline(Protocol):
    """What timing an item needs (an ItemRow, or a WeekItem below)."""

    @property
    def state(self) -> str: ...
    @property
    def urgent(self) -> bool: ...
    @property
    def opened_at(self) -> datetime: ...
    @property
    def due_at(self) -> datetime: ...
    @property
    def first_response_at(self) -> datetime | None: ...
    @property
    def closed_at(self) -> datetime | None: ...


@dataclass(frozen=True)
class Timing:
    """One item's times (working time) and where it stands against its target."""

    first_response: timedelta | None
    to_close: timedelta | None
    within_target: bool | None  # None: not decided yet, or closed without a response
    close_to_target: bool
    overdue: bool


def timing(item: Timeline, config: InboxConfig, zone: ZoneInfo, now: datetime) -> Timing:
    """Where `item` stands at `now` (see the module docstring)."""
    allowed = target(config, item.urgent)
    opened = utc(item.opened_at)
    first = _span(opened, item.first_response_at, config, zone)
    is_open = item.state in OPEN_STATES
    overdue = is_open and utc(item.due_at) <= utc(now)
    close = (
        is_open
        and not overdue
        and working_time(utc(now), utc(item.due_at), config, zone) <= allowed * DUE_SOON_SHARE
    )
    within = first <= allowed if first is not None else (False if overdue else None)
    return Timing(first, _span(opened, item.closed_at, config, zone), within, close, overdue)


def _span(
    opened: datetime, moment: datetime | None, config: InboxConfig, zone: ZoneInfo
) -> timedelta | None:
    return working_time(opened, utc(moment), config, zone) if moment is not None else None


@dataclass(frozen=True)
class WeekItem:
    """An item as the weekly figures read it: its timeline and the values it is grouped by."""

    id: int
    brand: str
    channel: str
    topic: str | None
    agent: str | None
    state: str
    urgent: bool
    opened_at: datetime
    due_at: datetime
    first_response_at: datetime | None
    closed_at: datetime | None


@dataclass(frozen=True)
class Figures:
    """One row of a week's figures: every item (`dimension` "all", value `ALL`), or the items
    of one brand, channel, topic or agent (value None: no topic, or nobody)."""

    dimension: str
    value: str | None
    items: int
    answered: int  # with a first response (answered or escalated)
    open: int
    overdue: int
    median_first_response: timedelta | None
    p90_first_response: timedelta | None
    within_target: float | None  # share of the items decided (see the module docstring)


def week_items(
    conn: Connection, start: datetime, end: datetime, brands: Sequence[str] = ()
) -> list[WeekItem]:
    """The items opened in [start, end), optionally of some brands only, oldest first."""
    i = inbox_items.c
    query = (
        select(i.id, i.brand, i.source, i.topic, i.assignee, i.state, i.urgent, i.opened_at,
               i.due_at, i.first_response_at, i.closed_at)
        .where(i.opened_at >= naive_utc(start), i.opened_at < naive_utc(end))
        .order_by(i.opened_at, i.id)
    )  # fmt: skip
    if brands:
        query = query.where(i.brand.in_(list(brands)))
    rows = conn.execute(query).all()
    unowned = [r.id for r in rows if r.assignee is None and r.first_response_at is not None]
    answered_by = _first_answerers(conn, unowned, start)
    return [
        WeekItem(
            id=r.id,
            brand=r.brand,
            channel=r.source,
            topic=r.topic,
            agent=r.assignee or answered_by.get(r.id),
            state=r.state,
            urgent=bool(r.urgent),
            opened_at=utc(r.opened_at),
            due_at=utc(r.due_at),
            first_response_at=utc(r.first_response_at) if r.first_response_at else None,
            closed_at=utc(r.closed_at) if r.closed_at else None,
        )
        for r in rows
    ]


def _first_answerers(conn: Connection, item_ids: Sequence[int], since: datetime) -> dict[int, str]:
    """Who first marked each item answered, from the audit trail (at or after `since`, when
    the items were opened: the trail's time index bounds the read)."""
    a = audit_log.c
    found: dict[int, str] = {}
    for offset in range(0, len(item_ids), _CHUNK):
        targets = {f"inbox item {i}": i for i in item_ids[offset : offset + _CHUNK]}
        rows = conn.execute(
            select(a.target, a.actor)
            .where(a.action == _ANSWER, a.at >= naive_utc(since), a.target.in_(list(targets)))
            .order_by(a.at.desc(), a.id.desc())
        )
        found |= {targets[row.target]: row.actor for row in rows}  # the earliest wins
    return found


def figures(
    items: Iterable[WeekItem], config: InboxConfig, zone: ZoneInfo, now: datetime
) -> list[Figures]:
    """The figures over every item, then by brand, channel, topic and agent (values sorted,
    None last)."""
    groups: dict[tuple[str, str | None], list[tuple[WeekItem, Timing]]] = defaultdict(list)
    groups["all", ALL] = []
    for item in items:
        pair = (item, timing(item, config, zone, now))
        groups["all", ALL].append(pair)
        for dimension in DIMENSIONS:
            groups[dimension, _value(item, dimension)].append(pair)
    order = ("all", *DIMENSIONS)
    keys = sorted(groups, key=lambda k: (order.index(k[0]), k[1] is None, k[1] or ""))
    return [_figures(dimension, value, groups[dimension, value]) for dimension, value in keys]


def _value(item: WeekItem, dimension: str) -> str | None:
    return {"brand": item.brand, "channel": item.channel, "topic": item.topic,
            "agent": item.agent}[dimension]  # fmt: skip


def _figures(
    dimension: str, value: str | None, pairs: Sequence[tuple[WeekItem, Timing]]
) -> Figures:
    times = sorted(t.first_response for _, t in pairs if t.first_response is not None)
    decided = [t.within_target for _, t in pairs if t.within_target is not None]
    return Figures(
        dimension=dimension,
        value=value,
        items=len(pairs),
        answered=len(times),
        open=sum(item.state in OPEN_STATES for item, _ in pairs),
        overdue=sum(t.overdue for _, t in pairs),
        median_first_response=median(times),
        p90_first_response=percentile(times, 0.9),
        within_target=sum(decided) / len(decided) if decided else None,
    )


def median(ordered: Sequence[timedelta]) -> timedelta | None:
    """The middle of sorted values (the mean of the two middle ones for an even count)."""
    if not ordered:
        return None
    middle = len(ordered) // 2
    if len(ordered) % 2:
        return ordered[middle]
    return (ordered[middle - 1] + ordered[middle]) / 2


def percentile(ordered: Sequence[timedelta], share: float) -> timedelta | None:
    """The nearest-rank percentile of sorted values: the smallest value with at least `share`
    of them at or below it (p90 of ten values is the ninth)."""
    if not ordered:
        return None
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


def week_figures(
    conn: Connection,
    config: InboxConfig,
    zone: ZoneInfo,
    start: datetime,
    end: datetime,
    now: datetime,
    brands: Sequence[str] = (),
) -> list[Figures]:
    """The figures of the items opened in [start, end) (one ISO week), at `now`."""
    return figures(week_items(conn, start, end, brands), config, zone, now)


@dataclass(frozen=True)
class Backlog:
    """The open items now, those past their due time, and when the longest-waiting of those
    was opened."""

    open: int
    overdue: int
    oldest_overdue: datetime | None


def backlog(conn: Connection, now: datetime, brands: Sequence[str] = ()) -> Backlog:
    """Every open item, whatever week it was opened in, counted at `now`."""
    i = inbox_items.c
    overdue = i.due_at <= naive_utc(now)
    query = select(
        func.count(),
        func.coalesce(func.sum(case((overdue, 1), else_=0)), 0),
        func.min(case((overdue, i.opened_at))),
    ).where(i.state.in_(OPEN_STATES))
    if brands:
        query = query.where(i.brand.in_(list(brands)))
    total, late, oldest = conn.execute(query).one()
    return Backlog(int(total), int(late), utc(oldest) if oldest is not None else None)
