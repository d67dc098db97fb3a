"""Data protection: personal data purged past its retention, and one author's data erased.

Every delete or update runs in chunks of at most `CHUNK` rows, one short transaction each, taken
in id order from where the last chunk stopped: a purge of millions of rows never holds a lock
for long, and a poll writing at the same time waits for one chunk at most. Engagement snapshots
are deleted with their mentions explicitly, not left to ON DELETE CASCADE (which SQLite applies
only on connections with ``PRAGMA foreign_keys=ON``).

The hourly and topic rollups are never touched: they hold counts, not personal data, and the
trend charts and the spike baselines keep their history. Alerts' evidence quotes mentions (text,
author, link); it loses them when the quoted mentions go, and keeps its numbers. An alert's
evidence is rewritten only if nobody changed it since it was read (compare and swap), so a
detection run refreshing it at the same moment is never overwritten.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Engine, delete, or_, select, update

from timeutil import naive_utc
from vigia.storage.schema import alerts, engagement_snapshots, mentions

# Rows per transaction: a chunk deletes in well under a second on SQLite and PostgreSQL, and
# 5,000 ids stay far below both drivers' limits on bound parameters (32,766 and 65,535).
CHUNK = 5_000
# The personal data an alert's evidence quotes: per quoted mention, and the thread's root post.
QUOTED_KEYS = ("author", "text", "url")
ROOT_KEYS = ("root_text", "root_url")

Stop = Callable[[], bool]


@dataclass(frozen=True, slots=True)
class PurgeReport:
    """What one retention purge did."""

    raw_cleared: int = 0
    mentions_deleted: int = 0
    snapshots_deleted: int = 0
    alerts_trimmed: int = 0
    interrupted: bool = False

    def summary(self) -> str:
        return (
            f"{self.mentions_deleted} mentions deleted with {self.snapshots_deleted} engagement "
            f"snapshots, evidence of {self.alerts_trimmed} alerts trimmed, raw payload cleared on "
            f"{self.raw_cleared} mentions" + (" (interrupted)" if self.interrupted else "")
        )


@dataclass(frozen=True, slots=True)
class ForgetReport:
    """What erasing one author did: mentions erased per source, snapshots, alerts trimmed."""

    per_source: dict[str, int] = field(default_factory=dict)
    snapshots_deleted: int = 0
    alerts_trimmed: int = 0

    @property
    def mentions_deleted(self) -> int:
        return sum(self.per_source.values())


def purge(
    engine: Engine,
    now: datetime,
    *,
    raw_payload_age: timedelta | None = None,
    mention_age: timedelta | None = None,
    chunk: int = CHUNK,
    stop: Stop | None = None,
) -> PurgeReport:
    """Delete mentions published before ``now - mention_age`` (with their snapshots), trim the
    evidence of alerts last updated before then, and clear the raw payloads of the mentions
    collected before ``now - raw_payload_age``. A None age keeps that data. `stop` ends the purge
    between chunks; what is left is purged next time."""
    stopped = stop or (lambda: False)
    raw = deleted = snapshots = trimmed = 0
    # Deleting first spares clearing the payloads of rows about to go.
    if mention_age is not None:
        cutoff = now - mention_age
        old = mentions.c.published_at < naive_utc(cutoff)
        per_source, snapshots, _ = delete_mentions(engine, old, chunk=chunk, stop=stopped)
        deleted = sum(per_source.values())
        if not stopped():
            trimmed = trim_old_evidence(engine, cutoff)
    if raw_payload_age is not None and not stopped():
        raw = clear_raw_payloads(engine, now - raw_payload_age, chunk=chunk, stop=stopped)
    return PurgeReport(raw, deleted, snapshots, trimmed, interrupted=stopped())


def clear_raw_payloads(
    engine: Engine, before: datetime, *, chunk: int = CHUNK, stop: Stop | None = None
) -> int:
    """Set `raw` to NULL on mentions collected before `before`; how many were cleared."""
    m = mentions.c
    wanted = (m.raw.is_not(None), m.collected_at < naive_utc(before))
    cleared = 0
    for ids in _id_chunks(engine, wanted, chunk, stop):
        with engine.begin() as conn:
            cleared += conn.execute(update(mentions).where(m.id.in_(ids)).values(raw=None)).rowcount
    return cleared


def delete_mentions(
    engine: Engine,
    where: ColumnElement[bool],
    *,
    chunk: int = CHUNK,
    stop: Stop | None = None,
) -> tuple[Counter[str], int, set[tuple[str, str]]]:
    """Delete the mentions matching `where` with their engagement snapshots, chunk by chunk.

    Returns the mentions deleted per source, the snapshots deleted, and the (source, url) of
    every deleted mention (to find the alerts that quote them).
    """
    m = mentions.c
    per_source: Counter[str] = Counter()
    snapshots = 0
    urls: set[tuple[str, str]] = set()
    for ids in _id_chunks(engine, (where,), chunk, stop):
        with engine.begin() as conn:
            rows = conn.execute(select(m.source, m.url).where(m.id.in_(ids))).all()
            snapshots += conn.execute(
                delete(engagement_snapshots).where(engagement_snapshots.c.mention_id.in_(ids))
            ).rowcount
            conn.execute(delete(mentions).where(m.id.in_(ids)))
        per_source.update(source for source, _ in rows)
        urls.update((source, url) for source, url in rows)
    return per_source, snapshots, urls


def trim_old_evidence(engine: Engine, before: datetime) -> int:
    """Drop the quoted mentions' text, author and link (and a thread root's) from the evidence
    of alerts whose last finding was merged before `before`; how many alerts changed.

    Their evidence was written then, so every mention it quotes was published before `before`
    and has been deleted: the quotes are the last copy. An alert opened earlier but updated since
    quotes newer mentions, still kept, and stays as it is.
    """
    a = alerts.c
    quoting = or_(*(a.evidence.contains(f'"{key}"') for key in QUOTED_KEYS + ROOT_KEYS))
    return _rewrite_evidence(
        engine, (a.last_seen_at < naive_utc(before), quoting), lambda ev: _trimmed(ev)
    )


def forget_author(
    engine: Engine, author: str, source: str | None = None, *, chunk: int = CHUNK
) -> ForgetReport:
    """Erase every mention whose author is `author` (exact, case-insensitive), only on `source`
    if given, with their engagement snapshots and their quotes in alerts' evidence.

    Case is folded in Python, not in SQL: SQLite's lower() folds ASCII letters only (it leaves
    "ÁLVARO" unequal to "álvaro"), and so does PostgreSQL's under the C locale.
    """
    m = mentions.c
    wanted = author.casefold()
    scope = [m.author.is_not(None)] + ([m.source == source] if source else [])
    with engine.connect() as conn:
        spellings = [
            name
            for name in conn.execute(select(m.author).where(*scope).distinct()).scalars()
            if name.casefold() == wanted
        ]
    per_source: Counter[str] = Counter()
    snapshots = 0
    urls: set[tuple[str, str]] = set()
    if spellings:
        where = m.author.in_(spellings)
        if source:
            where = where & (m.source == source)
        per_source, snapshots, urls = delete_mentions(engine, where, chunk=chunk)

    def theirs(item: dict[str, Any]) -> bool:
        return str(item.get("author") or "").casefold() == wanted and (
            source is None or item.get("source") == source
        )

    # After the deletion, so a detection run that read the mentions just before cannot bring the
    # quotes back; the quotes are matched by author (a re-run still finds them) and by link.
    trimmed = _rewrite_evidence(engine, (), lambda ev: _trimmed(ev, theirs, urls))
    return ForgetReport(dict(sorted(per_source.items())), snapshots, trimmed)


def _id_chunks(
    engine: Engine, where: tuple[ColumnElement[bool], ...], chunk: int, stop: Stop | None
) -> Iterator[list[int]]:
    """The ids of mentions matching `where`, in ascending chunks of at most `chunk`.

    Keyset pagination (id > the last one seen) reads each row once however many chunks there are;
    a chunk is read just before it is worked on, in its own short transaction.
    """
    m = mentions.c
    last = None
    while not (stop and stop()):
        query = select(m.id).where(*where).order_by(m.id).limit(chunk)
        if last is not None:
            query = query.where(m.id > last)
        with engine.connect() as conn:
            ids = list(conn.execute(query).scalars())
        if not ids:
            return
        yield ids
        if len(ids) < chunk:
            return
        last = ids[-1]


def _rewrite_evidence(
    engine: Engine,
    where: tuple[ColumnElement[bool], ...],
    change: Callable[[dict[str, Any]], dict[str, Any] | None],
) -> int:
    """Apply `change` to the evidence of the alerts matching `where`; how many changed.

    Each alert is written only if its evidence is still what was read; one refreshed meanwhile
    is read again (its new evidence may quote the same mentions).
    """
    a = alerts.c
    changed = 0
    last = 0
    while True:
        with engine.connect() as conn:
            page = conn.execute(
                select(a.id, a.evidence).where(*where, a.id > last).order_by(a.id).limit(CHUNK)
            ).all()
        for alert_id, stored in page:
            for _attempt in range(5):
                new = change(json.loads(stored or "{}"))
                if new is None:
                    break
                with engine.begin() as conn:
                    swapped = conn.execute(
                        update(alerts)
                        .where(a.id == alert_id, a.evidence == stored)
                        .values(evidence=_json(new))
                    ).rowcount
                    if swapped:
                        changed += 1
                        break
                    stored = conn.execute(select(a.evidence).where(a.id == alert_id)).scalar()
                    if stored is None:
                        break  # the alert is gone
        if len(page) < CHUNK:
            return changed
        last = page[-1][0]


def _trimmed(
    evidence: dict[str, Any],
    quoted: Callable[[dict[str, Any]], bool] = lambda _item: True,
    roots: Collection[tuple[str, str]] | None = None,
) -> dict[str, Any] | None:
    """`evidence` without the personal data of the quoted mentions `quoted` selects, and without
    the thread root's text and link when that root is in `roots` (None: whatever the root);
    None when nothing is to be removed."""
    result = dict(evidence)
    top = evidence.get("top")
    if isinstance(top, list):
        new_top = [
            {k: v for k, v in item.items() if k not in QUOTED_KEYS}
            if isinstance(item, dict) and quoted(item)
            else item
            for item in top
        ]
        if new_top != top:
            result["top"] = new_top
    root = (evidence.get("source"), evidence.get("root_url"))
    if roots is None or root in roots:
        for key in ROOT_KEYS:
            result.pop(key, None)
    return None if result == evidence else result


def _json(evidence: dict[str, Any]) -> str:
    # As vigia.storage.alerts writes it, so an unchanged alert compares equal.
    return json.dumps(evidence, ensure_ascii=False, default=str, sort_keys=True)
