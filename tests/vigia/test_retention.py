"""Data protection on real SQLite files and the real PostgreSQL: retention purge, `vigia forget`."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, delete, select, text

from analysis.sentiment import Sentiment
from collectors.base import Engagement, Mention
from tests.conftest import make_settings
from vigia import cli
from vigia.analyse import AnalysedMention
from vigia.pipeline import Runtime
from vigia.scheduler import _retention_purge, build_scheduler
from vigia.storage import connect
from vigia.storage.alerts import get_alert, insert_alert, update_alert
from vigia.storage.mentions import save_batch
from vigia.storage.retention import forget_author, purge
from vigia.storage.schema import engagement_snapshots, hourly_rollup, mentions, topic_rollup

NOW = datetime(2026, 12, 1, 3, 30, tzinfo=UTC)
DAY = timedelta(days=1)


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A SQLite file, then a throwaway PostgreSQL database (skipped when none answers)."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'vigia.db'}"
    return str(request.getfixturevalue("postgres_url"))


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    engine = connect(database_url)
    yield engine
    engine.dispose()


def item(
    n: int,
    published: datetime,
    *,
    source: str = "reddit-vellora",
    author: str | None = "someone",
    likes: int = 1,
) -> Mention:
    return Mention(
        source=source,
        source_id=f"t1_{n}",
        url=f"https://example.org/{source}/{n}",
        published=published,
        text=f"Vellora me cobró dos veces #{n}",
        author=author,
        thread_id="t3_root",
        engagement=Engagement(likes=likes),
        raw={"id": n, "author": author},
    )


def analysed(items: Sequence[Mention]) -> list[AnalysedMention]:
    """Odd items negative about delivery, even ones positive (as in test_storage)."""
    return [
        AnalysedMention(
            mention=m,
            brand="Vellora",
            language="es",
            sentiment=Sentiment(-0.6, 0.0, 0.4, 0.6) if n % 2 else Sentiment(0.5, 0.5, 0.5, 0.0),
            label="negative" if n % 2 else "positive",
            topics=("delivery",) if n % 2 else (),
        )
        for m in items
        for n in [int(m.source_id[3:])]
    ]


def store(engine: Engine, items: Sequence[Mention], collected: datetime) -> None:
    by_source: dict[str, list[Mention]] = {}
    for m in items:
        by_source.setdefault(m.source, []).append(m)
    with engine.begin() as conn:
        for source, batch in by_source.items():
            save_batch(conn, source, batch, analysed, collected)


def rollups(engine: Engine) -> tuple[list[tuple], list[tuple]]:
    with engine.connect() as conn:
        hourly = conn.execute(select(hourly_rollup).order_by(*hourly_rollup.primary_key)).all()
        topics = conn.execute(select(topic_rollup).order_by(*topic_rollup.primary_key)).all()
    return [tuple(r) for r in hourly], [tuple(r) for r in topics]


def rows(engine: Engine) -> dict[str, tuple[str | None, bool]]:
    """source_id -> (author, raw kept) of every stored mention."""
    with engine.connect() as conn:
        found = conn.execute(select(mentions.c.source_id, mentions.c.author, mentions.c.raw))
        return {sid: (author, raw is not None) for sid, author, raw in found}


def snapshot_owners(engine: Engine) -> list[str]:
    with engine.connect() as conn:
        return sorted(
            conn.execute(
                select(mentions.c.source_id)
                .select_from(engagement_snapshots)
                .outerjoin(mentions, mentions.c.id == engagement_snapshots.c.mention_id)
            ).scalars(),
            key=str,
        )


def quote(m: Mention) -> dict[str, Any]:
    """A mention as alert evidence quotes it (vigia.alerts.detect._mention_evidence)."""
    return {
        "source": m.source,
        "author": m.author,
        "published": m.published.isoformat(),
        "url": m.url,
        "text": m.text,
        "compound": -0.6,
    }


def alert(engine: Engine, key: str, evidence: dict[str, Any], opened: datetime) -> int:
    with engine.begin() as conn:
        row = insert_alert(
            conn,
            key=key,
            rule="spreading_thread",
            brand="Vellora",
            subject=key,
            severity="warning",
            window_start=opened - timedelta(hours=1),
            window_end=opened,
            evidence=evidence,
            now=opened,
        )
    assert row is not None
    return row.id


def evidence(engine: Engine, alert_id: int) -> dict[str, Any]:
    with engine.connect() as conn:
        row = get_alert(conn, alert_id)
    assert row is not None
    return row.evidence


# -- the retention purge -------------------------------------------------------------------------


def test_purge_clears_raw_and_deletes_old_mentions_but_keeps_rollups(engine: Engine) -> None:
    old, middle, recent = NOW - 400 * DAY, NOW - 100 * DAY, NOW - 10 * DAY
    store(engine, [item(1, old), item(2, old)], collected=old)
    store(engine, [item(1, old, likes=5)], collected=old + DAY)  # a second snapshot of t1_1
    store(engine, [item(3, middle), item(4, recent - 20 * DAY)], collected=middle)
    store(engine, [item(5, recent)], collected=recent)
    # Found late (a backfill): old by publication, fresh by collection.
    store(engine, [item(6, old), item(7, middle)], collected=NOW - 2 * DAY)
    before = rollups(engine)
    assert before[0] and before[1]

    old_quotes = [quote(item(1, old)), quote(item(2, old))]
    stale = alert(
        engine,
        "thread:old",
        {"negative": 9, "posts": 12, "root_text": "Vellora no contesta", "root_url": "https://x/1",
         "top": old_quotes},
        opened=old,
    )  # fmt: skip
    # Opened before the cutoff but updated since: its evidence quotes mentions still kept.
    live = alert(engine, "thread:live", {"negative": 3, "top": old_quotes}, opened=old)
    fresh = {"negative": 4, "top": [quote(item(5, recent))], "root_text": "hola"}
    with engine.begin() as conn:
        update_alert(conn, live, severity="warning", window_end=recent, evidence=fresh, now=recent)

    report = purge(engine, NOW, raw_payload_age=30 * DAY, mention_age=365 * DAY)

    assert rows(engine) == {
        "t1_3": ("someone", False),  # collected 100 days ago: raw cleared
        "t1_4": ("someone", False),
        "t1_5": ("someone", True),  # collected 10 days ago
        "t1_7": ("someone", True),  # published 100 days ago, collected 2 days ago
    }
    assert snapshot_owners(engine) == ["t1_3", "t1_4", "t1_5", "t1_7"]
    assert rollups(engine) == before, "the trend charts keep their history"
    assert evidence(engine, stale) == {
        "negative": 9,
        "posts": 12,
        "top": [
            {"source": "reddit-vellora", "published": old.isoformat(), "compound": -0.6}
        ] * 2,
    }  # fmt: skip
    assert evidence(engine, live) == fresh
    assert (report.raw_cleared, report.mentions_deleted, report.snapshots_deleted) == (2, 3, 4)
    assert (report.alerts_trimmed, report.interrupted) == (1, False)
    assert "3 mentions deleted with 4 engagement snapshots" in report.summary()

    again = purge(engine, NOW, raw_payload_age=30 * DAY, mention_age=365 * DAY)
    assert (again.raw_cleared, again.mentions_deleted, again.alerts_trimmed) == (0, 0, 0)


def test_purge_keeps_everything_when_told_to(engine: Engine) -> None:
    old = NOW - 4000 * DAY
    store(engine, [item(1, old), item(2, old)], collected=old)
    kept = alert(engine, "thread:old", {"negative": 1, "top": [quote(item(1, old))]}, old)
    report = purge(engine, NOW, raw_payload_age=None, mention_age=None)
    assert report.summary().startswith("0 mentions deleted with 0 engagement snapshots")
    assert rows(engine) == {"t1_1": ("someone", True), "t1_2": ("someone", True)}
    assert "text" in evidence(engine, kept)["top"][0]


def test_purge_works_in_chunks_and_stops_between_them(engine: Engine) -> None:
    old = NOW - 400 * DAY
    # Interleaved ids: old, old, kept, old, old, kept, … so chunks must skip the rows they keep.
    items = [item(n, NOW - DAY if n % 3 == 0 else old) for n in range(1, 19)]
    store(engine, items, collected=old)
    kept = {f"t1_{n}" for n in range(3, 19, 3)}

    report = purge(engine, NOW, raw_payload_age=30 * DAY, mention_age=365 * DAY, chunk=5)
    assert (report.raw_cleared, report.mentions_deleted, report.snapshots_deleted) == (6, 12, 12)
    assert set(rows(engine)) == kept

    store(engine, [item(n, old) for n in range(100, 112)], collected=NOW)
    total = len(rows(engine))

    def after_one_chunk() -> bool:
        return len(rows(engine)) < total

    stopped = purge(engine, NOW, mention_age=365 * DAY, chunk=5, stop=after_one_chunk)
    assert (stopped.mentions_deleted, stopped.interrupted) == (5, True)
    assert "(interrupted)" in stopped.summary()
    assert len(rows(engine)) == total - 5


def test_purge_of_more_rows_than_the_default_chunk(engine: Engine) -> None:
    old = NOW - 400 * DAY
    store(engine, [item(n, old) for n in range(5_003)], collected=old)
    store(engine, [item(n, NOW - 60 * DAY) for n in range(5_003, 10_006)], collected=NOW - 40 * DAY)
    report = purge(engine, NOW, raw_payload_age=30 * DAY, mention_age=365 * DAY)
    assert (report.mentions_deleted, report.snapshots_deleted, report.raw_cleared) == (
        5_003,
        5_003,
        5_003,
    )
    assert set(rows(engine).values()) == {("someone", False)} and len(rows(engine)) == 5_003


def test_deleting_a_mention_cascades_to_its_snapshots(engine: Engine) -> None:
    """The schema's ON DELETE CASCADE works on both databases (SQLite: PRAGMA foreign_keys)."""
    store(engine, [item(1, NOW), item(2, NOW)], collected=NOW)
    with engine.begin() as conn:
        if conn.dialect.name == "sqlite":
            assert conn.execute(text("PRAGMA foreign_keys")).scalar_one() == 1
        conn.execute(delete(mentions).where(mentions.c.source_id == "t1_1"))
    assert snapshot_owners(engine) == ["t1_2"]


def test_the_purge_job_runs_once_a_day_across_workers(
    tmp_path: Path, database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    clock = [NOW]
    settings = make_settings(
        tmp_path,
        database_url=database_url,
        timezone="Europe/Madrid",
        retention={"raw_payload_days": 30, "mention_days": 365},
    )
    runtimes = [Runtime.build(settings, clock=lambda: clock[0]) for _ in range(2)]
    try:
        first, second = runtimes
        scheduler = build_scheduler(first)
        job = scheduler.get_job("retention:purge")
        assert job is not None and str(job.trigger) == "cron[hour='3', minute='30']"
        old = NOW - 400 * DAY
        store(first.engine, [item(1, old)], collected=old)
        with caplog.at_level(logging.INFO, logger="vigia.scheduler"):
            _retention_purge(first)
            store(first.engine, [item(2, old)], collected=old)
            _retention_purge(second)  # the same local day: already done by the first worker
            assert set(rows(first.engine)) == {"t1_2"}
            clock[0] = NOW + DAY
            _retention_purge(second)
        assert rows(first.engine) == {}
        purges = [r.getMessage() for r in caplog.records if "retention purge" in r.getMessage()]
        assert (
            purges
            == [
                "retention purge: 1 mentions deleted with 1 engagement snapshots, evidence of 0 "
                "alerts trimmed, raw payload cleared on 0 mentions"
            ]
            * 2
        )
    finally:
        for rt in runtimes:
            rt.close()


def test_no_purge_job_when_everything_is_kept(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, retention={"raw_payload_days": 0, "mention_days": None})
    rt = Runtime.build(settings)
    try:
        assert build_scheduler(rt).get_job("retention:purge") is None
    finally:
        rt.close()


# -- vigia forget --------------------------------------------------------------------------------


def _forget(
    tmp_path: Path, database_url: str, *args: str
) -> Callable[[pytest.CaptureFixture[str]], list[str]]:
    config = tmp_path / "config.yaml"
    config.write_text(
        f'database_url: "{database_url}"\nbrands: [{{name: Vellora, keywords: [vellora]}}]\n',
        encoding="utf-8",
    )
    assert cli.main(["-c", str(config), "forget", *args]) == 0

    def output(capsys: pytest.CaptureFixture[str]) -> list[str]:
        return capsys.readouterr().out.splitlines()

    return output


def test_forget_erases_one_author_everywhere(
    tmp_path: Path,
    database_url: str,
    engine: Engine,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    hour = NOW - timedelta(hours=3)
    ana = [item(1, hour, author="Ana"), item(3, hour, author="ana", source="hn-vellora")]
    others = [
        item(2, hour, author="Ana María"),
        item(4, hour, author="Bob"),
        item(5, hour, author="Bob", source="hn-vellora"),
        item(6, hour, author=None),
    ]
    store(engine, ana + others, collected=hour)
    store(engine, [item(1, hour, author="Ana", likes=9)], collected=hour + timedelta(minutes=15))
    before = rollups(engine)
    thread = alert(
        engine,
        "thread:ana",
        {"negative": 5, "source": "reddit-vellora", "root_url": ana[0].url, "root_text": "…",
         "top": [quote(ana[0]), quote(others[1]), quote(ana[1])]},
        opened=hour,
    )  # fmt: skip
    unrelated_evidence = {"negative": 2, "root_url": "https://x/9", "root_text": "Bob dice",
                          "top": [quote(others[1])]}  # fmt: skip
    unrelated = alert(engine, "thread:bob", unrelated_evidence, opened=hour)

    with caplog.at_level(logging.WARNING):
        output = _forget(tmp_path, database_url, "--author", "ANA")(capsys)

    assert output == [
        "hn-vellora: 1 mentions erased",
        "reddit-vellora: 1 mentions erased",
        "alerts whose evidence quoted them: 1",
    ]
    assert {sid: author for sid, (author, _) in rows(engine).items()} == {
        "t1_2": "Ana María",
        "t1_4": "Bob",
        "t1_5": "Bob",
        "t1_6": None,
    }
    assert snapshot_owners(engine) == ["t1_2", "t1_4", "t1_5", "t1_6"]
    assert rollups(engine) == before, "counts are not personal data: the rollups stay"
    ev = evidence(engine, thread)
    assert "root_text" not in ev and "root_url" not in ev and ev["negative"] == 5
    assert ev["top"] == [
        {"source": "reddit-vellora", "published": hour.isoformat(), "compound": -0.6},
        quote(others[1]),
        {"source": "hn-vellora", "published": hour.isoformat(), "compound": -0.6},
    ]
    assert evidence(engine, unrelated) == unrelated_evidence
    audit = [r for r in caplog.records if r.name == "vigia.forget"]
    assert len(audit) == 1 and audit[0].levelno == logging.WARNING
    assert "sha256:" in audit[0].getMessage() and "ana" not in audit[0].getMessage().lower()

    # Only one source: Bob stays on Hacker News.
    output = _forget(tmp_path, database_url, "--author", "bob", "--source", "reddit-vellora")(
        capsys
    )
    assert output[0] == "reddit-vellora: 1 mentions erased"
    assert {sid: author for sid, (author, _) in rows(engine).items()} == {
        "t1_2": "Ana María",
        "t1_5": "Bob",
        "t1_6": None,
    }
    # The other alert quoted Bob's Reddit post: gone; his Hacker News quotes would have stayed.
    assert evidence(engine, unrelated)["top"] == [
        {"source": "reddit-vellora", "published": hour.isoformat(), "compound": -0.6}
    ]
    assert evidence(engine, unrelated)["root_text"] == "Bob dice", "not Bob's Reddit post"

    output = _forget(tmp_path, database_url, "--author", "nobody")(capsys)
    assert output == ["no mentions by this author", "alerts whose evidence quoted them: 0"]


def test_forget_folds_case_beyond_ascii(engine: Engine) -> None:
    # SQLite's lower() leaves "Á" alone; the match must not depend on the database's.
    store(engine, [item(1, NOW, author="Álvaro"), item(2, NOW, author="ÁLVARO")], collected=NOW)
    store(engine, [item(3, NOW, author="Alvaro")], collected=NOW)
    report = forget_author(engine, "álvaro")
    assert report.per_source == {"reddit-vellora": 2} and report.snapshots_deleted == 2
    assert set(rows(engine)) == {"t1_3"}
