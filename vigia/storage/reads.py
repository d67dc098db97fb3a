"""Read queries for the dashboard, as pandas DataFrames; trends come from the rollups only.

Every trend, KPI and breakdown reads `hourly_rollup` or `topic_rollup` (a few thousand rows),
never a GROUP BY over `mentions` (hundreds of thousands): see bench/dashboard_queries.py. The
`mentions` table is read only for lists of individual mentions, newest first, through its
(brand, published_at) index. Times in and out are naive UTC, as stored.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import pandas as pd
from sqlalchemy import ColumnElement, Select, and_, func, literal, or_, select, true
from sqlalchemy.engine import Connection

from timeutil import naive_utc
from vigia.storage.schema import (
    alerts,
    hourly_rollup,
    inbox_items,
    mentions,
    source_state,
    topic_rollup,
)

ROLLUP_COUNTS = ("mentions", "negative", "neutral", "positive", "scored", "compound_sum")
MENTION_COLUMNS = (
    "id",
    "published_at",
    "brand",
    "source",
    "language",
    "sentiment",
    "compound",
    "topics",
    "author",
    "text",
    "url",
    "reply_count",
    "repost_count",
    "like_count",
    "score",
    "rating",
)


def _frame(conn: Connection, query: Select[Any]) -> pd.DataFrame:
    result = conn.execute(query)
    columns = list(result.keys())
    # From plain tuples: pandas builds a frame from SQLAlchemy Row objects ~5x slower.
    return pd.DataFrame.from_records([tuple(row) for row in result], columns=columns)


def _within(column: Any, values: Sequence[str]) -> ColumnElement[bool]:
    """`column IN values`, or no condition when `values` is empty (meaning: all)."""
    return column.in_(list(values)) if values else true()


def _rollup_cells(
    start: datetime,
    end: datetime,
    brands: Sequence[str],
    sources: Sequence[str],
    languages: Sequence[str],
) -> tuple[ColumnElement[bool], ...]:
    """The hourly_rollup rows of [start, end) for the given brands, sources and languages."""
    r = hourly_rollup.c
    return (
        r.hour >= naive_utc(start),
        r.hour < naive_utc(end),
        _within(r.brand, brands),
        _within(r.source, sources),
        _within(r.language, languages),
    )


def rollup_series(
    conn: Connection,
    start: datetime,
    end: datetime,
    brands: Sequence[str] = (),
    sources: Sequence[str] = (),
    languages: Sequence[str] = (),
) -> pd.DataFrame:
    """Hourly counts in [start, end) by hour, source and language, summed over `brands`.

    Columns: hour, source, language ('' when unknown), mentions, negative, neutral, positive,
    scored (mentions with a sentiment score) and compound_sum (average = compound_sum / scored).
    """
    r = hourly_rollup.c
    keys = (r.hour, r.source, r.language)
    conditions = _rollup_cells(start, end, brands, sources, languages)
    if len(brands) == 1:
        # One brand's rollup rows are already one per (hour, source, language): no GROUP BY,
        # so no temporary B-tree (a third of the query's time over 90 days).
        query = select(*keys, *(r[name] for name in ROLLUP_COUNTS)).where(*conditions)
    else:
        sums = (func.sum(r[name]).label(name) for name in ROLLUP_COUNTS)
        query = select(*keys, *sums).where(*conditions).group_by(*keys)
    return _frame(conn, query.order_by(r.hour))


def rollup_totals(
    conn: Connection,
    start: datetime,
    end: datetime,
    brands: Sequence[str] = (),
    sources: Sequence[str] = (),
    languages: Sequence[str] = (),
) -> dict[str, float]:
    """The sums of the rollup counts in [start, end) (zeros when there is nothing)."""
    r = hourly_rollup.c
    query = select(
        *(func.coalesce(func.sum(r[name]), 0).label(name) for name in ROLLUP_COUNTS)
    ).where(*_rollup_cells(start, end, brands, sources, languages))
    row = conn.execute(query).mappings().one()
    return {name: float(row[name] or 0) for name in ROLLUP_COUNTS}


def topic_series(
    conn: Connection,
    start: datetime,
    end: datetime,
    brands: Sequence[str] = (),
    topics: Sequence[str] = (),
) -> pd.DataFrame:
    """Hourly topic counts in [start, end): hour, topic, mentions, negative (summed over brands)."""
    t = topic_rollup.c
    query = (
        select(
            t.hour,
            t.topic,
            func.sum(t.mentions).label("mentions"),
            func.sum(t.negative).label("negative"),
        )
        .where(
            t.hour >= naive_utc(start),
            t.hour < naive_utc(end),
            _within(t.brand, brands),
            _within(t.topic, topics),
        )
        .group_by(t.hour, t.topic)
        .order_by(t.hour)
    )
    return _frame(conn, query)


def source_activity(conn: Connection, since: datetime) -> pd.DataFrame:
    """Mentions and negatives stored per source since `since`: source, mentions, negative."""
    r = hourly_rollup.c
    query = (
        select(
            r.source,
            func.sum(r.mentions).label("mentions"),
            func.sum(r.negative).label("negative"),
        )
        .where(r.hour >= naive_utc(since))
        .group_by(r.source)
    )
    return _frame(conn, query)


def dimension_values(conn: Connection) -> dict[str, list[str]]:
    """The brands, sources, languages and topics the rollups hold, for the filters."""
    r = hourly_rollup.c
    found: dict[str, list[str]] = {}
    for name, column in (("brands", r.brand), ("sources", r.source), ("languages", r.language)):
        values = conn.execute(select(column).distinct().where(column != "")).scalars()
        found[name] = sorted(values)
    topics = conn.execute(select(topic_rollup.c.topic).distinct()).scalars()
    found["topics"] = sorted(topics)
    return found


def latest_mentions(
    conn: Connection,
    start: datetime,
    end: datetime,
    brands: Sequence[str] = (),
    sources: Sequence[str] = (),
    languages: Sequence[str] = (),
    topics: Sequence[str] = (),
    search: str = "",
    negative_only: bool = True,
    limit: int = 200,
) -> pd.DataFrame:
    """The newest mentions published in [start, end) that pass the filters, newest first.

    `topics` keeps mentions with any of them; `search` is a case-insensitive substring of the
    text or author (LIKE wildcards in it are taken literally).
    """
    m = mentions.c
    # `topics` is a space-separated list: pad it so a topic matches only as a whole word.
    padded = literal(" ") + func.coalesce(m.topics, "") + literal(" ")
    conditions: list[ColumnElement[bool]] = [
        m.published_at >= naive_utc(start),
        m.published_at < naive_utc(end),
        _within(m.brand, brands) if brands else m.brand.is_not(None),
        _within(m.source, sources),
        _within(m.language, languages),
    ]
    if negative_only:
        conditions.append(m.sentiment == "negative")
    if topics:
        conditions.append(or_(*(padded.contains(f" {t} ", autoescape=True) for t in topics)))
    needle = search.strip().lower()
    if needle:
        conditions.append(
            or_(
                func.lower(m.text).contains(needle, autoescape=True),
                func.lower(func.coalesce(m.author, "")).contains(needle, autoescape=True),
            )
        )
    query = (
        select(*(m[name] for name in MENTION_COLUMNS))
        .where(and_(*conditions))
        .order_by(m.published_at.desc(), m.id.desc())
        .limit(limit)
    )
    return _frame(conn, query)


def data_version(conn: Connection) -> tuple[Any, ...]:
    """Changes whenever a mention, an alert, a source's state or an inbox item is written:
    cheap, index-only."""
    return (
        conn.execute(select(func.max(mentions.c.id))).scalar(),
        conn.execute(select(func.max(alerts.c.updated_at))).scalar(),
        conn.execute(select(func.max(source_state.c.last_attempt_at))).scalar(),
        conn.execute(select(func.max(inbox_items.c.updated_at))).scalar(),
    )
