"""Writing mentions: one bulk INSERT … ON CONFLICT per batch, engagement history, rollup upkeep."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Table, bindparam, case, func, select
from sqlalchemy.engine import Connection

from collectors.base import Mention
from timeutil import hour_of, naive_utc
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
    # The rows added, with their row ids (for the care inbox, in the same transaction).
    stored: tuple[tuple[int, AnalysedMention], ...] = ()


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
    Re-running the same batch changes nothing (unique per source + source id). The rollups grow
    by exactly the rows this call inserted, so concurrent writers keep them equal to a GROUP BY.
    """
    # Every writer takes the rows in one order (by source id), so two storing the same items at
    # once (a claim taken over from a stalled worker) wait for each other instead of deadlocking.
    unique = sorted({m.source_id: m for m in fetched}.values(), key=_source_id)
    known = known_items(conn, source, [m.source_id for m in unique])
    fresh = [m for m in unique if m.source_id not in known]
    moved = [
        m
        for m in unique
        if m.source_id in known and _changed(known[m.source_id][1], engagement_of(m))
    ]
    collected = naive_utc(collected_at)
    brands: set[str] = set()
    inserted: set[str] = set()
    stored: list[AnalysedMention] = []
    if fresh:
        analysed = analyse(fresh)
        inserted = _insert(conn, [_row(a, collected) for a in analysed])
        stored = [a for a in analysed if a.mention.source_id in inserted]
        brands = {a.brand for a in stored if a.brand}
        add_to_rollups(conn, stored)
        # Another worker stored some of them since we looked: refresh their counts instead.
        moved = sorted(moved + [m for m in fresh if m.source_id not in inserted], key=_source_id)
    if moved:
        _update_engagement(conn, source, moved)
    # Known rows' ids were read above; only the rows just inserted need looking up.
    ids = {sid: row_id for sid, (row_id, _) in known.items()}
    # Fresh items another writer stored meanwhile have ids too (their engagement is tracked).
    fresh_ids = sorted(m.source_id for m in fresh)
    ids.update((sid, row_id) for sid, (row_id, _) in known_items(conn, source, fresh_ids).items())
    tracked = sorted(
        (m for m in fresh + moved if any(v is not None for v in engagement_of(m))), key=_source_id
    )
    if tracked:
        conn.execute(
            upsert(conn, engagement_snapshots).on_conflict_do_nothing(),
            [_snapshot(ids[m.source_id], m, collected) for m in tracked if m.source_id in ids],
        )
    return SaveResult(
        new=len(inserted),
        updated=len(moved),
        brands=frozenset(brands),
        stored=tuple((ids[a.mention.source_id], a) for a in stored),
    )


def _source_id(mention: Mention) -> str:
    return mention.source_id


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
        "author_followers": m.author_followers,
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


def _insert(conn: Connection, rows: list[dict[str, Any]]) -> set[str]:
    """Insert the rows no other writer has stored yet; the source ids actually inserted."""
    statement = upsert(conn, mentions).on_conflict_do_nothing().returning(mentions.c.source_id)
    inserted: set[str] = set()
    for start in range(0, len(rows), _CHUNK):
        inserted.update(conn.execute(statement, rows[start : start + _CHUNK]).scalars())
    return inserted


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


_HOURLY_COUNTS = ("mentions", "negative", "neutral", "positive", "scored", "compound_sum")
_TOPIC_COUNTS = ("mentions", "negative")


def add_to_rollups(conn: Connection, stored: Sequence[AnalysedMention]) -> None:
    """Add newly inserted brand mentions to the hourly and topic rollups (ON CONFLICT … + n).

    Increments commute, so concurrent writers need no lock; the cells are written in key order
    so two transactions touching the same cells never wait on each other in a circle.
    """
    hourly: dict[tuple, list[float]] = defaultdict(lambda: [0, 0, 0, 0, 0, 0.0])
    topical: dict[tuple, list[int]] = defaultdict(lambda: [0, 0])
    for item in stored:
        if not item.brand:
            continue
        hour = hour_of(naive_utc(item.mention.published))
        cell = hourly[(item.brand, item.mention.source, item.language or "", hour)]
        cell[0] += 1
        if item.label in ("negative", "neutral", "positive"):
            cell[1 + ("negative", "neutral", "positive").index(item.label)] += 1
        if item.sentiment is not None:
            cell[4] += 1
            cell[5] += item.sentiment.compound
        for topic in item.topics:
            counts = topical[(item.brand, topic, hour)]
            counts[0] += 1
            counts[1] += item.label == "negative"
    _increment(conn, hourly_rollup, ("brand", "source", "language", "hour"), _HOURLY_COUNTS, hourly)
    _increment(conn, topic_rollup, ("brand", "topic", "hour"), _TOPIC_COUNTS, topical)


def _increment(
    conn: Connection,
    table: Table,
    keys: tuple[str, ...],
    counts: tuple[str, ...],
    cells: dict[tuple, list],
) -> None:
    if not cells:
        return
    statement = upsert(conn, table)
    statement = statement.on_conflict_do_update(
        index_elements=list(keys),
        set_={name: table.c[name] + statement.excluded[name] for name in counts},
    )
    rows = [
        {**dict(zip(keys, key, strict=True)), **dict(zip(counts, values, strict=True))}
        for key, values in sorted(cells.items())
    ]
    for start in range(0, len(rows), _CHUNK):
        conn.execute(statement, rows[start : start + _CHUNK])


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
