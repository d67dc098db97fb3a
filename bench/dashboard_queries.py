"""Dashboard query benchmark: the trend reads on the hourly rollup against a GROUP BY over mentions.

Run with ``python -m bench.dashboard_queries [--n 500000] [--db PATH]``. It stores N synthetic
mentions of one brand over 90 days through the real write path (``save_batch``, which keeps the
rollups), then times, in the same run and on the same data, the query behind the Tendencias
charts (``vigia.storage.reads.rollup_series``) and the same aggregate computed from the mentions
table, for the 7-day and 90-day periods. It prints the median times and the ratio, and checks
that both give the same numbers.
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
from sqlalchemy import Engine, case, func, select

from analysis.sentiment import Sentiment
from collectors.base import Mention
from vigia.analyse import AnalysedMention
from vigia.storage import connect, reads
from vigia.storage.mentions import save_batch
from vigia.storage.schema import mentions

BRAND = "Vellora"
SOURCES = ("news", "reddit", "mastodon", "bluesky", "appstore", "youtube")
DAYS = 90
BATCH = 5000
LABELS = (("negative", -0.6), ("neutral", 0.0), ("positive", 0.5))


def seed(engine: Engine, n: int, now: datetime) -> None:
    """N mentions over DAYS, a third negative, through the real write path.

    They arrive in time order, as polls deliver them, so each batch refreshes the rollup cells
    of a few hours only (random order would make every batch recompute most of the rollup).
    """
    rng = random.Random(7)
    step = DAYS * 86400 / n
    for start in range(0, n, BATCH):
        analysed: dict[Mention, AnalysedMention] = {}
        for i in range(start, min(start + BATCH, n)):
            mention = Mention(
                source=SOURCES[i % len(SOURCES)],
                source_id=str(i),
                url=f"https://example.org/{i}",
                published=now - timedelta(seconds=(n - i) * step),
                text=f"{BRAND} mención sintética {i}",
            )
            label, compound = rng.choice(LABELS)
            sentiment = Sentiment(compound=compound, pos=0.0, neu=1.0, neg=0.0)
            language = "es" if rng.random() < 0.7 else "en"
            analysed[mention] = AnalysedMention(mention, BRAND, language, sentiment, label, ())
        with engine.begin() as conn:
            for source in SOURCES:
                batch = [m for m in analysed if m.source == source]
                save_batch(
                    conn, source, batch, lambda fresh, a=analysed: [a[m] for m in fresh], now
                )


def group_by_mentions(engine: Engine, start: datetime, end: datetime) -> pd.DataFrame:
    """The baseline: rollup_series' numbers computed from the mentions table itself."""
    m = mentions.c

    def count(label: str) -> Any:
        return func.sum(case((m.sentiment == label, 1), else_=0))

    language = func.coalesce(m.language, "")
    query = (
        select(
            m.published_hour.label("hour"),
            m.source,
            language.label("language"),
            func.count().label("mentions"),
            count("negative").label("negative"),
            count("neutral").label("neutral"),
            count("positive").label("positive"),
            func.count(m.compound).label("scored"),
            func.coalesce(func.sum(m.compound), 0.0).label("compound_sum"),
        )
        .where(m.brand == BRAND, m.published_at >= start, m.published_at < end)
        .group_by(m.published_hour, m.source, language)
        .order_by(m.published_hour)
    )
    with engine.connect() as conn:
        result = conn.execute(query)
        # Built as reads builds its frames, so the ratio compares the queries alone.
        return pd.DataFrame.from_records(
            [tuple(row) for row in result], columns=list(result.keys())
        )


def from_rollup(engine: Engine, start: datetime, end: datetime) -> pd.DataFrame:
    with engine.connect() as conn:
        return reads.rollup_series(conn, start, end, [BRAND])


def median_time(run: Callable[[], pd.DataFrame], repeats: int) -> tuple[float, pd.DataFrame]:
    result = run()  # warm the page cache: both sides are then measured hot
    times = []
    for _ in range(repeats):
        began = time.perf_counter()
        result = run()
        times.append(time.perf_counter() - began)
    return statistics.median(times), result


def same_numbers(a: pd.DataFrame, b: pd.DataFrame) -> bool:
    keys = ["hour", "source", "language"]
    left = a.sort_values(keys).reset_index(drop=True)
    right = b.sort_values(keys).reset_index(drop=True)
    left["hour"] = pd.to_datetime(left["hour"])
    right["hour"] = pd.to_datetime(right["hour"])
    columns = ["mentions", "negative", "neutral", "positive", "scored"]
    return (
        len(left) == len(right)
        and left[keys].equals(right[keys])
        and (left[columns].astype(int).to_numpy() == right[columns].astype(int).to_numpy()).all()
    )


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=500_000, help="mentions to store")
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--db", type=Path, help="SQLite file to use (default: a temporary one)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        path = args.db or Path(tmp) / "bench.db"
        engine = connect(f"sqlite:///{path}")
        now = datetime.now(UTC).replace(tzinfo=None, minute=0, second=0, microsecond=0)
        with engine.connect() as conn:
            stored = conn.execute(select(func.count()).select_from(mentions)).scalar_one()
        if stored < args.n:
            began = time.perf_counter()
            seed(engine, args.n - stored, now)
            print(f"stored {args.n - stored:,} mentions in {time.perf_counter() - began:.1f} s")
        with engine.connect() as conn:
            total = conn.execute(select(func.count()).select_from(mentions)).scalar_one()
        print(f"{total:,} mentions of {BRAND} over {DAYS} days, SQLite, median of {args.repeats}")
        print(f"{'period':<8} {'rollup':>10} {'GROUP BY':>10} {'ratio':>8}  same numbers")
        for days in (7, DAYS):
            end = now + timedelta(hours=1)
            start = end - timedelta(days=days)
            rollup_s, rolled = median_time(
                lambda s=start, e=end: from_rollup(engine, s, e), args.repeats
            )
            scan_s, scanned = median_time(
                lambda s=start, e=end: group_by_mentions(engine, s, e), args.repeats
            )
            print(
                f"{days:>3} days {rollup_s * 1000:>8.1f} ms {scan_s * 1000:>7.1f} ms "
                f"{scan_s / rollup_s:>7.1f}x  {same_numbers(rolled, scanned)}"
            )
        engine.dispose()


if __name__ == "__main__":
    main()
