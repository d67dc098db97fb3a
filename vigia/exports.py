"""Weekly CSV exports: every brand mention of one ISO week, a summary by brand and topic, and
the inbox's response times.

Files are UTF-8 with a byte-order mark so Excel shows accents right, and are written to a
temporary name first, so a full disk leaves no half-written export behind. Text cells of outside
origin (brand, source, language, topics, author, url, text) go through `collectors.text.csv_cell`: a cell
that a spreadsheet would run as a formula gets a leading `'`; numbers stay numbers.

Columns of ``vigia-YYYY-Www.csv`` (one row per mention, oldest first):

    published_at  local time (config `timezone`), ISO 8601 with offset
    brand source language
    sentiment     negative | neutral | positive (empty for languages we do not score)
    compound      -1..1, VADER-compatible score
    topics        complaint topics separated by "|"
    author url text
    replies reposts likes quotes score views rating   as the platform last reported them

Columns of ``vigia-YYYY-Www-summary.csv``: brand, topic ("*" = all mentions), mentions,
negative, neutral, positive, negative_share, average_compound.

Columns of ``vigia-YYYY-Www-response-times.csv`` (the inbox items opened that week, see
`vigia.inbox.stats`; written when the inbox settings are given): dimension (all, brand, channel,
topic, agent), value ("*" for all; empty: no topic, or nobody), items, answered (with a first
response), median_first_response_min and p90_first_response_min (working minutes),
within_target_share.
"""

from __future__ import annotations

import csv
import os
import re
import tempfile
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, select

from collectors.text import csv_cell
from timeutil import naive_utc, utc, utc_now
from vigia.config import InboxConfig
from vigia.inbox.stats import week_figures
from vigia.storage.schema import mentions

MENTION_COLUMNS = [
    "published_at", "brand", "source", "language", "sentiment", "compound", "topics",
    "author", "url", "text", "replies", "reposts", "likes", "quotes", "score", "views", "rating",
]  # fmt: skip
SUMMARY_COLUMNS = [
    "brand", "topic", "mentions", "negative", "neutral", "positive", "negative_share", "average_compound",
]  # fmt: skip
RESPONSE_COLUMNS = [
    "dimension", "value", "items", "answered", "median_first_response_min",
    "p90_first_response_min", "within_target_share",
]  # fmt: skip
_WEEK = re.compile(r"^(\d{4})-W(\d{2})$")


class ExportError(Exception):
    """An export could not be written; the message says why and where."""


def parse_week(text: str) -> tuple[int, int]:
    """`2026-W47` -> (2026, 47), checking the week exists in that year."""
    match = _WEEK.match(text.strip())
    if not match:
        raise ValueError(f"expected an ISO week such as 2026-W47, got {text!r}")
    year, week = int(match[1]), int(match[2])
    try:
        date.fromisocalendar(year, week, 1)
    except ValueError as exc:
        raise ValueError(f"{text!r}: {year} has no week {week}") from exc
    return year, week


def iso_week(moment: datetime, zone: ZoneInfo) -> str:
    """The ISO week `moment` falls in, in the given time zone, e.g. `2026-W47`."""
    year, week, _ = moment.astimezone(zone).isocalendar()
    return f"{year}-W{week:02d}"


def previous_week(now: datetime, zone: ZoneInfo) -> str:
    """The last complete ISO week before `now`, in the given time zone."""
    year, week, _ = (now.astimezone(zone).date() - timedelta(days=7)).isocalendar()
    return f"{year}-W{week:02d}"


def week_bounds(year: int, week: int, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """Monday 00:00 to the next Monday 00:00 local time, as naive UTC for querying."""
    start = datetime.combine(date.fromisocalendar(year, week, 1), datetime.min.time(), zone)
    end = start + timedelta(days=7)
    return naive_utc(start), naive_utc(end)


def export_week(
    engine: Engine,
    folder: Path,
    week: str,
    timezone: str,
    inbox: InboxConfig | None = None,
    now: datetime | None = None,
) -> tuple[Path, ...]:
    """Write the mentions file and the summary file of `week`, and with `inbox` (its targets
    and hours) the response-times file, judged at `now`; return their paths."""
    year, number = parse_week(week)
    zone = ZoneInfo(timezone)
    start, end = week_bounds(year, number, zone)
    name = f"vigia-{year}-W{number:02d}"
    m = mentions.c
    query = (
        select(
            m.published_at,
            m.brand,
            m.source,
            m.language,
            m.sentiment,
            m.compound,
            m.topics,
            m.author,
            m.url,
            m.text,
            m.reply_count,
            m.repost_count,
            m.like_count,
            m.quote_count,
            m.score,
            m.view_count,
            m.rating,
        )  # fmt: skip
        .where(m.brand.is_not(None), m.published_at >= start, m.published_at < end)
        .order_by(m.published_at, m.id)
    )
    totals: dict[tuple[str, str], list[float]] = defaultdict(lambda: [0, 0, 0, 0, 0.0, 0])
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with _atomic_csv(folder / f"{name}.csv") as writer, engine.connect() as conn:
            writer.writerow(MENTION_COLUMNS)
            for row in conn.execute(query).yield_per(2000):
                published = utc(row[0]).astimezone(zone).isoformat()
                topics = (row.topics or "").split()
                brand, source, language, sentiment, compound = row[1:6]
                writer.writerow([
                    published, csv_cell(brand), csv_cell(source), csv_cell(language),
                    sentiment, compound, csv_cell("|".join(topics)), csv_cell(row.author),
                    csv_cell(row.url), csv_cell(row.text), *row[10:],
                ])  # fmt: skip
                for topic in ("*", *topics):
                    _count(totals[(row.brand, topic)], row.sentiment, row.compound)
        with _atomic_csv(folder / f"{name}-summary.csv") as writer:
            writer.writerow(SUMMARY_COLUMNS)
            for (brand, topic), (n, neg, neu, pos, compound_sum, scored) in sorted(totals.items()):
                writer.writerow([
                    csv_cell(brand), csv_cell(topic), n, neg, neu, pos,
                    f"{neg / n:.3f}", f"{compound_sum / scored:.3f}" if scored else "",
                ])  # fmt: skip
        written = (folder / f"{name}.csv", folder / f"{name}-summary.csv")
        if inbox is None:
            return written
        with engine.connect() as conn:
            rows = week_figures(conn, inbox, zone, start, end, now or utc_now())
        with _atomic_csv(folder / f"{name}-response-times.csv") as writer:
            writer.writerow(RESPONSE_COLUMNS)
            for f in rows:
                writer.writerow([
                    f.dimension, csv_cell(f.value or ""), f.items, f.answered,
                    _minutes(f.median_first_response), _minutes(f.p90_first_response),
                    f"{f.within_target:.3f}" if f.within_target is not None else "",
                ])  # fmt: skip
    except OSError as exc:
        raise ExportError(
            f"cannot write the export for {week} in {folder}: {exc.strerror or exc}"
        ) from exc
    return (*written, folder / f"{name}-response-times.csv")


def _minutes(value: timedelta | None) -> str:
    return f"{value / timedelta(minutes=1):.1f}" if value is not None else ""


def _count(cell: list[float], sentiment: str | None, compound: float | None) -> None:
    cell[0] += 1
    index = {"negative": 1, "neutral": 2, "positive": 3}.get(sentiment or "")
    if index:
        cell[index] += 1
    if compound is not None:
        cell[4] += compound
        cell[5] += 1


@contextmanager
def _atomic_csv(target: Path) -> Iterator[Any]:
    """A csv.writer onto a temporary file that replaces `target` only once fully written."""
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.")
    try:
        with os.fdopen(fd, "w", encoding="utf-8-sig", newline="") as file:
            yield csv.writer(file)
        os.replace(tmp, target)
    finally:
        Path(tmp).unlink(missing_ok=True)
