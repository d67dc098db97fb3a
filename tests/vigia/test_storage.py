"""Storage on real SQLite files (and the real PostgreSQL when it runs): idempotent writes, rollups."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select, text

from analysis.sentiment import Sentiment
from collectors.base import Engagement, Mention
from vigia.analyse import AnalysedMention
from vigia.storage import connect
from vigia.storage.alerts import insert_alert
from vigia.storage.mentions import active_thread_roots, save_batch
from vigia.storage.schema import engagement_snapshots, hourly_rollup, mentions, topic_rollup

T0 = datetime(2026, 11, 16, 9, 15, tzinfo=UTC)


def mention(n: int, minutes: int = 0, likes: int | None = None, text: str = "Vellora") -> Mention:
    return Mention(
        source="reddit-vellora",
        source_id=f"t1_{n}",
        url=f"https://example.org/{n}",
        published=T0 + timedelta(minutes=minutes),
        text=f"{text} #{n}",
        thread_id="t3_root",
        engagement=Engagement(likes=likes, replies=1 if likes is not None else None),
    )


def by_number(items: Sequence[Mention]) -> list[AnalysedMention]:
    """A deterministic stand-in analysis: odd items negative about delivery, even ones positive."""
    return [
        AnalysedMention(
            mention=m,
            brand="Vellora",
            language="es",
            sentiment=Sentiment(-0.6, 0.0, 0.4, 0.6)
            if int(m.source_id[3:]) % 2
            else Sentiment(0.5, 0.5, 0.5, 0.0),
            label="negative" if int(m.source_id[3:]) % 2 else "positive",
            topics=("delivery",) if int(m.source_id[3:]) % 2 else (),
        )
        for m in items
    ]


@pytest.fixture
def engine(tmp_path: Path) -> Engine:
    return connect(f"sqlite:///{tmp_path / 'store.db'}")


def _count(engine: Engine, table) -> int:  # type: ignore[no-untyped-def]
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(table)).scalar_one()


def test_sqlite_runs_in_wal_mode(engine: Engine) -> None:
    with engine.connect() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar_one() == "wal"


def check_idempotent_writes(engine: Engine) -> None:
    batch = [mention(n, minutes=n, likes=n) for n in range(1, 5)]
    analysed_calls: list[int] = []

    def analyse(items: Sequence[Mention]) -> list[AnalysedMention]:
        analysed_calls.append(len(items))
        return by_number(items)

    with engine.begin() as conn:
        first = save_batch(conn, "reddit-vellora", batch, analyse, T0)
    with engine.begin() as conn:
        again = save_batch(
            conn, "reddit-vellora", batch + batch[:1], analyse, T0 + timedelta(minutes=5)
        )
    assert (first.new, first.updated) == (4, 0)
    assert (again.new, again.updated) == (0, 0)
    assert analysed_calls == [4], "known items are not analysed again"
    assert _count(engine, mentions) == 4

    grown = [mention(1, minutes=1, likes=50), mention(5, minutes=70)]
    with engine.begin() as conn:
        third = save_batch(conn, "reddit-vellora", grown, analyse, T0 + timedelta(minutes=10))
    assert (third.new, third.updated) == (1, 1)
    with engine.connect() as conn:
        likes = conn.execute(
            select(mentions.c.like_count).where(mentions.c.source_id == "t1_1")
        ).scalar_one()
        history = (
            conn.execute(
                select(engagement_snapshots.c.like_count)
                .join(mentions, mentions.c.id == engagement_snapshots.c.mention_id)
                .where(mentions.c.source_id == "t1_1")
                .order_by(engagement_snapshots.c.observed_at)
            )
            .scalars()
            .all()
        )
        rollup = conn.execute(
            select(
                hourly_rollup.c.hour,
                hourly_rollup.c.mentions,
                hourly_rollup.c.negative,
                hourly_rollup.c.positive,
            ).order_by(hourly_rollup.c.hour)
        ).all()
        topics = conn.execute(
            select(topic_rollup.c.topic, topic_rollup.c.mentions, topic_rollup.c.negative)
        ).all()
    assert likes == 50
    assert history == [1, 50], "a snapshot when first seen and one when the count moved"
    # Items 1-4 fall in the 09:00 hour (1 and 3 negative), item 5 at 10:25 (negative).
    assert [tuple(r) for r in rollup] == [
        (datetime(2026, 11, 16, 9), 4, 2, 2),
        (datetime(2026, 11, 16, 10), 1, 1, 0),
    ]
    assert sorted(tuple(r) for r in topics) == [("delivery", 1, 1), ("delivery", 2, 2)]


def test_idempotent_writes_on_sqlite(engine: Engine) -> None:
    check_idempotent_writes(engine)


def test_idempotent_writes_on_postgresql(postgres_url: str) -> None:
    """The same schema and write path, unchanged, on the real PostgreSQL of this machine."""
    engine = connect(postgres_url)
    try:
        check_idempotent_writes(engine)
        with engine.begin() as conn:
            first = insert_alert(conn, **ALERT)
            again = insert_alert(conn, **ALERT)
        assert first is not None and first.key == "negative_spike:abc"
        assert again is None, "the idempotency key stores an alert once"
    finally:
        engine.dispose()


ALERT = {
    "key": "negative_spike:abc",
    "rule": "negative_spike",
    "brand": "Vellora",
    "subject": "Vellora",
    "severity": "warning",
    "window_start": T0,
    "window_end": T0 + timedelta(hours=1),
    "evidence": {"negative": 12},
    "now": T0,
}


def test_same_id_in_two_sources_is_two_mentions(engine: Engine) -> None:
    a = mention(1)
    b = Mention(**{**{f: getattr(a, f) for f in a.__dataclass_fields__}, "source": "other"})
    with engine.begin() as conn:
        save_batch(conn, a.source, [a], by_number, T0)
        save_batch(conn, b.source, [b], by_number, T0)
    assert _count(engine, mentions) == 2


def test_active_thread_roots_puts_negative_and_busy_conversations_first(engine: Engine) -> None:
    def root(n: int, hours_ago: float, replies: int, negative: bool) -> AnalysedMention:
        m = Mention(
            source="bsky", source_id=f"at://root/{n}", url=f"https://bsky.example/{n}",
            published=T0 - timedelta(hours=hours_ago), text=f"Vellora {n}", thread_id=f"at://root/{n}",
            engagement=Engagement(replies=replies),
        )  # fmt: skip
        s = Sentiment(-0.6, 0, 0.4, 0.6) if negative else Sentiment(0.3, 0.3, 0.7, 0)
        return AnalysedMention(m, "Vellora", "es", s, "negative" if negative else "positive", ())

    roots = {
        1: root(1, 2, 40, negative=False),  # busy but not negative
        2: root(2, 3, 5, negative=True),  # negative, quieter
        3: root(3, 1, 90, negative=True),  # negative and busiest: first
        4: root(4, 60, 500, negative=True),  # too old to watch
    }
    reply = Mention(
        source="bsky", source_id="at://reply/1", url="https://bsky.example/r1", published=T0,
        text="Vellora fatal", thread_id="at://root/3", parent_id="at://root/3",
    )  # fmt: skip
    fresh = [*roots.values(), AnalysedMention(reply, "Vellora", "es", None, None, ())]
    by_id = {a.mention.source_id: a for a in fresh}
    with engine.begin() as conn:
        save_batch(
            conn,
            "bsky",
            [a.mention for a in fresh],
            lambda ms: [by_id[m.source_id] for m in ms],
            T0,
        )
        watch = active_thread_roots(conn, "bsky", T0 - timedelta(days=2), limit=3)
    # Replies are not roots; the two-day-old conversation is past the window.
    assert watch == ("at://root/3", "at://root/2", "at://root/1")
