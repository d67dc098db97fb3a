"""Writing mentions: one bulk INSERT … ON CONFLICT per batch, engagement history, rollup upkeep."""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, bindparam, case, delete, func, insert, select
from sqlalchemy.engine import Connection

from collectors.base import Mention, utc
from vigia.analyse import AnalysedMention
from vigia.storage.engine import upsert
from vigia.storage.schema import engagement_snapshots, hourly_rollup, mentions, topic_rollup

ENGAGEMENT_COLUMNS = (
    "reply_count",
    "repost_count",
    "like_count",
    "quote_count",
    "score",
    "view_count",
)
_CHUNK = 500


@dataclass(frozen=True, slots=True)
class SaveResult:
    """What one batch did: rows added, rows whose engagement moved, brands of the added rows."""

    new: int
    updated: int
    brands: frozenset[str] = frozenset()


def naive_utc(value: datetime) -> datetime:
    """The naive-UTC form stored in the database."""
    return utc(value).replace(tzinfo=None)


def hour_of(value: datetime) -> datetime:
    return value.replace(minute=0, second=0, microsecond=0)


def known_items(conn: Connection, source: str, source_ids: Sequence[str]) -> dict[str, tuple]:
    """For the ids already stored for `source`: their row id and engagement counts."""
    found: dict[str, tuple] = {}
    columns = [mentions.c[name] for name in ENGAGEMENT_COLUMNS]
    for start in range(0, len(source_ids), _CHUNK):
        chunk = source_ids[start : start + _CHUNK]
        query = select(mentions.c.source_id, mentions.c.id, *columns).where(
            mentions.c.source == source, mentions.c.source_id.in_(chunk)
        )
        for source_id, row_id, *counts in conn.execute(query):
            found[source_id] = (row_id, tuple(counts))
    return found


def engagement_of(mention: Mention) -> tuple[int | None, ...]:
    e = mention.engagement
    return (e.replies, e.reposts, e.likes, e.quotes, e.score, e.views)


def save_batch(
    conn: Connection,
    source: str,
    fetched: Sequence[Mention],
    analyse: Callable[[Sequence[Mention]], list[AnalysedMention]],
    collected_at: datetime,
) -> SaveResult:
    """Store one batch of `source`: new items analysed and inserted, known ones' engagement updated.

    `analyse` turns the new mentions into AnalysedMentions; known items are not analysed again.
    Re-running the same batch changes nothing (unique per source + source id).
    """
    unique = list({m.source_id: m for m in fetched}.values())
    known = known_items(conn, source, [m.source_id for m in unique])
    fresh = [m for m in unique if m.source_id not in known]
    moved = [
        m
        for m in unique
        if m.source_id in known and _changed(known[m.source_id][1], engagement_of(m))
    ]
    collected = naive_utc(collected_at)
    brands: set[str] = set()
    if fresh:
        analysed = analyse(fresh)
        _insert(conn, [_row(a, collected) for a in analysed])
        brands = {a.brand for a in analysed if a.brand}
        refresh_rollups(
            conn, {(a.brand, hour_of(naive_utc(a.mention.published))) for a in analysed if a.brand}
        )
    if moved:
        _update_engagement(conn, source, moved)
    tracked = [m for m in fresh + moved if any(v is not None for v in engagement_of(m))]
    if tracked:
        # Known rows' ids were read above; only the rows just inserted need looking up.
        ids = {sid: row_id for sid, (row_id, _) in known.items()}
        new_ids = [m.source_id for m in tracked if m.source_id not in known]
        ids.update((sid, row_id) for sid, (row_id, _) in known_items(conn, source, new_ids).items())
        conn.execute(
            upsert(conn, engagement_snapshots).on_conflict_do_nothing(),
            [_snapshot(ids[m.source_id], m, collected) for m in tracked if m.source_id in ids],
        )
    return SaveResult(new=len(fresh), updated=len(moved), brands=frozenset(brands))


def _changed(old: tuple, new: tuple) -> bool:
    return any(n is not None and n != o for o, n in zip(old, new, strict=True))


def _row(item: AnalysedMention, collected: datetime) -> dict[str, Any]:
    m = item.mention
    published = naive_utc(m.published)
    s = item.sentiment
    return {
        "source": m.source,
        "source_id": m.source_id,
        "url": m.url,
        "author": m.author,
        "text": m.text,
        "language": item.language,
        "published_at": published,
        "published_hour": hour_of(published),
        "collected_at": collected,
        "thread_id": m.thread_id,
        "parent_id": m.parent_id,
        **dict(zip(ENGAGEMENT_COLUMNS, engagement_of(m), strict=True)),
        "rating": m.rating,
        "brand": item.brand,
        "sentiment": item.label,
        "compound": s.compound if s else None,
        "pos": s.pos if s else None,
        "neu": s.neu if s else None,
        "neg": s.neg if s else None,
        "topics": " ".join(item.topics) or None,
        "raw": json.dumps(m.raw, ensure_ascii=False, default=str) if m.raw is not None else None,
    }


def _insert(conn: Connection, rows: list[dict[str, Any]]) -> None:
    statement = upsert(conn, mentions)
    # A concurrent writer may have stored the same item since we looked: keep its row, refresh counts.
    statement = statement.on_conflict_do_update(
        index_elements=["source", "source_id"],
        set_={
            name: func.coalesce(statement.excluded[name], mentions.c[name])
            for name in ENGAGEMENT_COLUMNS
        },
    )
    for start in range(0, len(rows), _CHUNK):
        conn.execute(statement, rows[start : start + _CHUNK])


def _update_engagement(conn: Connection, source: str, moved: Sequence[Mention]) -> None:
    statement = (
        mentions.update()
        .where(mentions.c.source == source, mentions.c.source_id == bindparam("b_source_id"))
        .values(
            {
                name: func.coalesce(bindparam(f"b_{name}"), mentions.c[name])
                for name in ENGAGEMENT_COLUMNS
            }
        )
    )
    conn.execute(
        statement,
        [
            {
                "b_source_id": m.source_id,
                **{f"b_{n}": v for n, v in zip(ENGAGEMENT_COLUMNS, engagement_of(m), strict=True)},
            }
            for m in moved
        ],
    )


def _snapshot(mention_id: int, m: Mention, observed: datetime) -> dict[str, Any]:
    return {
        "mention_id": mention_id,
        "observed_at": observed,
        **dict(zip(ENGAGEMENT_COLUMNS, engagement_of(m), strict=True)),
    }


def refresh_rollups(conn: Connection, keys: Iterable[tuple[str, datetime]]) -> None:
    """Recompute the hourly and topic rollups of the given (brand, hour) cells from the mentions."""
    hours_by_brand: dict[str, set[datetime]] = defaultdict(set)
    for brand, hour in keys:
        hours_by_brand[brand].add(hour)
    for brand, hour_set in hours_by_brand.items():
        hours = sorted(hour_set)
        for start in range(0, len(hours), _CHUNK):
            _refresh_cells(conn, brand, hours[start : start + _CHUNK])


def _refresh_cells(conn: Connection, brand: str, hours: list[datetime]) -> None:
    m = mentions.c
    # The published_at range lets the (brand, published_at) index find the cells' rows.
    in_cells = and_(
        m.brand == brand,
        m.published_at >= hours[0],
        m.published_at < hours[-1] + timedelta(hours=1),
        m.published_hour.in_(hours),
    )
    conn.execute(
        delete(hourly_rollup).where(hourly_rollup.c.brand == brand, hourly_rollup.c.hour.in_(hours))
    )
    conn.execute(
        delete(topic_rollup).where(topic_rollup.c.brand == brand, topic_rollup.c.hour.in_(hours))
    )

    def count(label: str) -> Any:
        return func.coalesce(func.sum(case((m.sentiment == label, 1), else_=0)), 0)

    language = func.coalesce(m.language, "")
    grouped = (
        select(
            m.brand,
            m.source,
            language,
            m.published_hour,
            func.count(),
            count("negative"),
            count("neutral"),
            count("positive"),
            func.count(m.compound),
            func.coalesce(func.sum(m.compound), 0.0),
        )
        .where(in_cells)
        .group_by(m.brand, m.source, language, m.published_hour)
    )
    conn.execute(
        insert(hourly_rollup).from_select(
            [
                "brand",
                "source",
                "language",
                "hour",
                "mentions",
                "negative",
                "neutral",
                "positive",
                "scored",
                "compound_sum",
            ],
            grouped,
        )
    )
    topic_counts: Counter[tuple[str, datetime]] = Counter()
    topic_negative: Counter[tuple[str, datetime]] = Counter()
    for topics, hour, sentiment in conn.execute(
        select(m.topics, m.published_hour, m.sentiment).where(in_cells, m.topics.is_not(None))
    ):
        for topic in topics.split():
            topic_counts[(topic, hour)] += 1
            topic_negative[(topic, hour)] += sentiment == "negative"
    if topic_counts:
        conn.execute(
            insert(topic_rollup),
            [
                {
                    "brand": brand,
                    "topic": t,
                    "hour": h,
                    "mentions": n,
                    "negative": topic_negative[(t, h)],
                }
                for (t, h), n in topic_counts.items()
            ],
        )


def active_thread_roots(
    conn: Connection, source: str, since: datetime, limit: int
) -> tuple[str, ...]:
    """The ids of `source`'s most active brand conversations started since `since`.

    Negative roots first, then by engagement as last seen: the conversations whose new replies
    and growing counts the spreading-thread detector most needs.
    """
    m = mentions.c
    engagement = sum(
        func.coalesce(m[name], 0) for name in ENGAGEMENT_COLUMNS if name != "view_count"
    )
    query = (
        select(m.source_id)
        .where(
            m.source == source,
            m.thread_id == m.source_id,
            m.brand.is_not(None),
            m.published_at >= naive_utc(since),
        )
        .order_by(case((m.sentiment == "negative", 0), else_=1), engagement.desc(), m.id.desc())
        .limit(limit)
    )
    return tuple(conn.execute(query).scalars())
