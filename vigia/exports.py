"""Weekly exports: every brand mention of one ISO week, a summary by brand and topic, and the
inbox's response times, as CSV files and as one XLSX workbook holding the same tables.

CSV files are UTF-8 with a byte-order mark so Excel shows accents right, delimited as
`csv_delimiter` says; with ";" decimals take a comma, as in the spreadsheets that expect ";".
Text cells of outside origin go through `collectors.text.csv_cell`: a cell that a spreadsheet
would run as a formula gets a leading `'`; numbers stay numbers. The workbook
``vigia-YYYY-Www.xlsx`` (see `vigia.xlsx`) has the sheets mentions, summary and, with the inbox
settings, response_times: typed cells (local times as datetimes, numbers as numbers), a frozen
header, an autofilter and clickable http(s) links.

Every file is written to a temporary name first, so a full disk leaves no half-written export
behind. It is created with mode 0640 as narrowed by the process umask (the kernel applies it at
creation, so there is no chmod window and no process-wide umask call): the group may read it,
others never (it holds authors and texts), and a stricter umask such as 077 wins.

Columns of ``vigia-YYYY-Www.csv`` (one row per mention, oldest first):

    published_at  local time (config `timezone`), ISO 8601 with offset
    brand source language
    sentiment     negative | neutral | positive (empty for languages we do not score)
    compound      -1..1, VADER-compatible score
    topics        complaint topic names in the export's language, separated by "|"
    topic_keys    the same topics' stable keys, separated by "|"
    author url text
    replies reposts likes quotes score views rating   as the platform last reported them

Columns of ``vigia-YYYY-Www-summary.csv``: brand, topic (its name), topic_key ("*" = all
mentions), mentions, negative, neutral, positive, negative_share, average_compound.

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
import secrets
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import IO, Any
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, Engine, select

from collectors.text import csv_cell
from timeutil import naive_utc, utc, utc_now
from vigia.config import InboxConfig
from vigia.inbox.stats import week_figures
from vigia.storage.schema import mentions
from vigia.topic_names import topic_name
from vigia.xlsx import DATETIME, INTEGER, SHARE, Book, Column, Sheet

MENTION_SHEET = (
    Column("published_at", 17, DATETIME), Column("brand", 16), Column("source", 12),
    Column("language", 9), Column("sentiment", 10), Column("compound", 10, "0.000"),
    Column("topics", 30), Column("topic_keys", 30), Column("author", 20),
    Column("url", 40, link=True), Column("text", 80),
    *(Column(name, 9, INTEGER)
      for name in ("replies", "reposts", "likes", "quotes", "score", "views", "rating")),
)  # fmt: skip
SUMMARY_SHEET = (
    Column("brand", 16), Column("topic", 30), Column("topic_key", 20), Column("mentions", 10, INTEGER),
    Column("negative", 10, INTEGER), Column("neutral", 10, INTEGER), Column("positive", 10, INTEGER),
    Column("negative_share", 15, SHARE), Column("average_compound", 17, "0.000"),
)  # fmt: skip
RESPONSE_SHEET = (
    Column("dimension", 11), Column("value", 24), Column("items", 8, INTEGER),
    Column("answered", 10, INTEGER), Column("median_first_response_min", 27, "0.0"),
    Column("p90_first_response_min", 24, "0.0"), Column("within_target_share", 20, SHARE),
)  # fmt: skip
MENTION_COLUMNS = [c.name for c in MENTION_SHEET]
SUMMARY_COLUMNS = [c.name for c in SUMMARY_SHEET]
RESPONSE_COLUMNS = [c.name for c in RESPONSE_SHEET]
FILE_MODE = 0o640  # before the umask: see the module docstring
RowWriter = Callable[[Sequence[Any]], object]  # writes one row of typed values to a CSV file
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


def csv_delimiter(language: str, configured: str | None = None) -> str:
    """`configured` (`export.delimiter`) when set, else the language rule: ";" for Spanish, the
    list separator of Spanish-locale Excel, "," otherwise. The language is `alerts.language`
    until there is a `ui.language`."""
    return configured or (";" if language == "es" else ",")


def export_week(
    engine: Engine,
    folder: Path,
    week: str,
    timezone: str,
    inbox: InboxConfig | None = None,
    now: datetime | None = None,
    *,
    language: str = "es",
    delimiter: str | None = None,
) -> tuple[Path, ...]:
    """Write the mentions and summary files of `week`, with `inbox` (its targets and hours) the
    response-times file judged at `now`, then the workbook of the same tables; topic names are
    in `language`, the delimiter as `csv_delimiter` says. Return the paths, the workbook last."""
    year, number = parse_week(week)
    zone = ZoneInfo(timezone)
    start, end = week_bounds(year, number, zone)
    name = f"vigia-{year}-W{number:02d}"
    delimiter = csv_delimiter(language, delimiter)
    book = Book()
    published = replace(MENTION_SHEET[0], name=f"published_at ({timezone})")
    try:
        folder.mkdir(parents=True, exist_ok=True)
        written = [folder / f"{name}.csv", folder / f"{name}-summary.csv"]
        with _atomic_csv(written[0], delimiter) as write, engine.connect() as conn:
            sheet = book.sheet("mentions", (published, *MENTION_SHEET[1:]))
            totals = _write_mentions(conn, start, end, zone, language, write, sheet)
        summary = [
            (brand, topic_name(topic, language), topic, n, neg, neu, pos, round(neg / n, 3),
             round(compound_sum / scored, 3) if scored else None)
            for (brand, topic), (n, neg, neu, pos, compound_sum, scored) in sorted(totals.items())
        ]  # fmt: skip
        _write_table(written[1], delimiter, book.sheet("summary", SUMMARY_SHEET), summary)
        if inbox is not None:
            with engine.connect() as conn:
                figures = week_figures(conn, inbox, zone, start, end, now or utc_now())
            rows = [
                (f.dimension, f.value, f.items, f.answered, _minutes(f.median_first_response),
                 _minutes(f.p90_first_response),
                 round(f.within_target, 3) if f.within_target is not None else None)
                for f in figures
            ]  # fmt: skip
            written.append(folder / f"{name}-response-times.csv")
            _write_table(written[-1], delimiter, book.sheet("response_times", RESPONSE_SHEET), rows)
        written.append(folder / f"{name}.xlsx")
        with _atomic(written[-1], binary=True) as file:
            book.save(file)
    except OSError as exc:
        raise ExportError(
            f"cannot write the export for {week} in {folder}: {exc.strerror or exc}"
        ) from exc
    return tuple(written)


def _write_mentions(
    conn: Connection,
    start: datetime,
    end: datetime,
    zone: ZoneInfo,
    language: str,
    write: RowWriter,
    sheet: Sheet,
) -> dict[tuple[str, str], list[float]]:
    """Write the week's mentions to the CSV (`write` one row) and the sheet; return the counts
    per (brand, topic key) for the summary."""
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
    write(MENTION_COLUMNS)
    for row in conn.execute(query).yield_per(2000):
        topics = (row.topics or "").split()
        values = (
            utc(row.published_at).astimezone(zone), row.brand, row.source, row.language,
            row.sentiment, round(row.compound, 4) if row.compound is not None else None,
            "|".join(topic_name(t, language) for t in topics), "|".join(topics),
            row.author, row.url, row.text, *row[10:],
        )  # fmt: skip
        write(values)
        sheet.append(values)
        for topic in ("*", *topics):
            _count(totals[(row.brand, topic)], row.sentiment, row.compound)
    return totals


def _write_table(
    target: Path, delimiter: str, sheet: Sheet, rows: Sequence[tuple[Any, ...]]
) -> None:
    """Write `rows` to a CSV file under the sheet's header, and to the sheet."""
    with _atomic_csv(target, delimiter) as write:
        write([c.name for c in sheet.columns])
        for row in rows:
            write(row)
            sheet.append(row)


def _minutes(value: timedelta | None) -> float | None:
    return round(value / timedelta(minutes=1), 1) if value is not None else None


def _count(cell: list[float], sentiment: str | None, compound: float | None) -> None:
    cell[0] += 1
    index = {"negative": 1, "neutral": 2, "positive": 3}.get(sentiment or "")
    if index:
        cell[index] += 1
    if compound is not None:
        cell[4] += compound
        cell[5] += 1


def _csv_value(value: Any, decimal: str) -> Any:
    """A typed value as a CSV cell: local times in ISO 8601, decimals with `decimal`, text
    guarded by `csv_cell`; integers and None (an empty cell) as they are."""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, float):
        return str(value).replace(".", decimal)
    return csv_cell(value)


@contextmanager
def _atomic_csv(target: Path, delimiter: str) -> Iterator[RowWriter]:
    """A function writing one row of typed values to the CSV file `target` (see `_atomic`);
    with ";" as the delimiter the decimal mark is ","."""
    decimal = "," if delimiter == ";" else "."
    with _atomic(target) as file:
        writer = csv.writer(file, delimiter=delimiter)
        yield lambda row: writer.writerow([_csv_value(v, decimal) for v in row])


@contextmanager
def _atomic(target: Path, binary: bool = False) -> Iterator[IO[Any]]:
    """A new file (UTF-8 with BOM text, or binary) that replaces `target` only once fully
    written; created with FILE_MODE, which the kernel narrows by the umask."""
    tmp = target.with_name(f".{target.name}.{secrets.token_hex(6)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    try:
        file = (
            os.fdopen(fd, "wb") if binary else os.fdopen(fd, "w", encoding="utf-8-sig", newline="")
        )
        with file:
            yield file
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
