"""Weekly CSV: one file per ISO week, UTF-8 with BOM, documented columns, a topic summary."""

from __future__ import annotations

import csv
import io
import subprocess
import sys
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine, update

from analysis.sentiment import Sentiment
from collectors.base import Mention
from vigia.analyse import AnalysedMention
from vigia.config import InboxConfig
from vigia.exports import (
    MENTION_COLUMNS,
    RESPONSE_COLUMNS,
    SUMMARY_COLUMNS,
    export_week,
    iso_week,
    parse_week,
    previous_week,
    week_bounds,
)
from vigia.inbox.targets import due_at, target
from vigia.storage import connect
from vigia.storage.inbox import insert_item
from vigia.storage.mentions import save_batch
from vigia.storage.schema import mentions

MADRID = ZoneInfo("Europe/Madrid")
ROWS = [
    # (id, published UTC, text, label, compound, topics)
    (
        "a",
        datetime(2026, 11, 15, 23, 30, tzinfo=UTC),
        "Vellora: domingo noche",
        "neutral",
        0.0,
        (),
    ),  # Monday 00:30 in Madrid: W47
    (
        "b",
        datetime(2026, 11, 16, 8, 0, tzinfo=UTC),
        "Vellora, la atención es pésima",
        "negative",
        -0.7,
        ("customer_service",),
    ),
    (
        "c",
        datetime(2026, 11, 18, 12, 0, tzinfo=UTC),
        "Vellora: envío y reembolso tardíos",
        "negative",
        -0.5,
        ("delivery", "refunds_returns"),
    ),
    (
        "d",
        datetime(2026, 11, 22, 22, 59, tzinfo=UTC),
        "Vellora mola, ¡qué rápido!",
        "positive",
        0.6,
        ("delivery",),
    ),
    (
        "e",
        datetime(2026, 11, 22, 23, 0, tzinfo=UTC),
        "Vellora: lunes ya",
        "neutral",
        0.0,
        (),
    ),  # Monday 00:00 Madrid: W48
]


def _seed(db: Path) -> None:
    engine = connect(f"sqlite:///{db}")
    fetched = [
        Mention("forum", sid, f"https://f.example/{sid}", when, text, author="ñandú")
        for sid, when, text, *_ in ROWS
    ]
    verdicts = {sid: (label, compound, topics) for sid, _, _, label, compound, topics in ROWS}

    def analyse(items: Sequence[Mention]) -> list[AnalysedMention]:
        out = []
        for m in items:
            label, compound, topics = verdicts[m.source_id]
            out.append(
                AnalysedMention(m, "Vellora", "es", Sentiment(compound, 0, 1, 0), label, topics)
            )
        return out

    with engine.begin() as conn:
        save_batch(conn, "forum", fetched, analyse, datetime(2026, 11, 23, tzinfo=UTC))


def test_week_parsing_and_bounds() -> None:
    assert parse_week("2026-W47") == (2026, 47)
    with pytest.raises(ValueError, match="expected an ISO week"):
        parse_week("2026-47")
    with pytest.raises(ValueError, match="has no week 53"):
        parse_week("2025-W53")
    start, end = week_bounds(2026, 47, MADRID)
    assert (start, end) == (datetime(2026, 11, 15, 23, 0), datetime(2026, 11, 22, 23, 0))
    assert previous_week(datetime(2026, 11, 23, 12, tzinfo=UTC), MADRID) == "2026-W47"
    # Sunday 23:30 UTC is already Monday in Madrid.
    assert iso_week(datetime(2026, 11, 22, 23, 30, tzinfo=UTC), MADRID) == "2026-W48"


def test_export_writes_bom_rows_and_summary(tmp_path: Path) -> None:
    _seed(tmp_path / "v.db")
    engine = connect(f"sqlite:///{tmp_path / 'v.db'}")
    mentions_csv, summary_csv = export_week(
        engine, tmp_path / "exports", "2026-W47", "Europe/Madrid"
    )
    assert mentions_csv.name == "vigia-2026-W47.csv"
    raw = mentions_csv.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf"), "UTF-8 BOM so Excel shows accents"
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))
    assert rows[0] == MENTION_COLUMNS
    assert [r[MENTION_COLUMNS.index("text")] for r in rows[1:]] == [r[2] for r in ROWS[:4]]
    first = dict(zip(MENTION_COLUMNS, rows[1], strict=True))
    assert first["published_at"] == "2026-11-16T00:30:00+01:00"
    assert first["author"] == "ñandú"
    assert dict(zip(MENTION_COLUMNS, rows[3], strict=True))["topics"] == "delivery|refunds_returns"

    summary = list(csv.DictReader(io.StringIO(summary_csv.read_bytes().decode("utf-8-sig"))))
    assert list(summary[0]) == SUMMARY_COLUMNS
    cells = {(r["brand"], r["topic"]): r for r in summary}
    assert (cells[("Vellora", "*")]["mentions"], cells[("Vellora", "*")]["negative"]) == ("4", "2")
    assert cells[("Vellora", "*")]["negative_share"] == "0.500"
    assert (
        cells[("Vellora", "delivery")]["mentions"],
        cells[("Vellora", "delivery")]["negative"],
    ) == ("2", "1")
    assert cells[("Vellora", "customer_service")]["average_compound"] == "-0.700"
    assert not list((tmp_path / "exports").glob(".*")), "no temporary files left behind"


def test_export_command_writes_the_requested_week(tmp_path: Path) -> None:
    _seed(tmp_path / "data" / "vigia.db")
    (tmp_path / "config.yaml").write_text(
        "timezone: Europe/Madrid\nbrands: [{name: Vellora, keywords: [vellora]}]\n",
        encoding="utf-8",
    )
    result = subprocess.run(
        [sys.executable, "-m", "vigia.cli", "-c", str(tmp_path / "config.yaml"), "export", "--week", "2026-W48"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    written = tmp_path / "exports" / "vigia-2026-W48.csv"
    assert result.stdout.splitlines()[0] == str(written)
    assert len(written.read_text(encoding="utf-8-sig").splitlines()) == 2  # header + item e


def test_unwritable_folder_is_a_clear_error(tmp_path: Path) -> None:
    _seed(tmp_path / "v.db")
    engine = connect(f"sqlite:///{tmp_path / 'v.db'}")
    blocker = tmp_path / "exports"
    blocker.write_text("a file where the folder should be", encoding="utf-8")
    from vigia.exports import ExportError

    with pytest.raises(ExportError, match="cannot write the export for 2026-W47"):
        export_week(engine, blocker, "2026-W47", "Europe/Madrid")


def test_export_guards_cells_a_spreadsheet_would_run(tmp_path: Path) -> None:
    """Text of outside origin that starts a formula gets a leading `'`; numbers stay numbers."""
    engine = connect(f"sqlite:///{tmp_path / 'v.db'}")
    when = datetime(2026, 11, 17, 9, 0, tzinfo=UTC)
    hostile = [
        Mention("=forum", "f1", "https://f.example/1", when, '=HYPERLINK("http://evil","x")',
                author="@admin"),
        Mention("forum", "f2", "https://f.example/2", when, "+34 600 000 000", author="\tTab"),
        Mention("forum", "f3", "https://f.example/3", when, "-1 star", author="\r\nCR"),
        Mention("forum", "f4", "https://f.example/4", when, "\u202e=cmd|' /C calc'!A0"),
        Mention("forum", "f5", "https://f.example/5", when, "Vellora = fine, -1 is ok"),
    ]  # fmt: skip

    def analyse(items: Sequence[Mention]) -> list[AnalysedMention]:
        return [
            AnalysedMention(m, "-Vellora", "es", Sentiment(-0.7, 0, 1, 0), "negative", ("@x",))
            for m in items
        ]

    with engine.begin() as conn:
        for source in ("=forum", "forum"):
            batch = [m for m in hostile if m.source == source]
            save_batch(conn, source, batch, analyse, when)
        # A row stored before ingestion refused non-web links.
        conn.execute(update(mentions).where(mentions.c.source_id == "f5").values(url="=1+1"))
    mentions_csv, summary_csv = export_week(engine, tmp_path / "out", "2026-W47", "Europe/Madrid")

    rows = list(csv.DictReader(io.StringIO(mentions_csv.read_bytes().decode("utf-8-sig"))))
    by_text = {r["text"]: r for r in rows}
    assert set(by_text) == {
        '\'=HYPERLINK("http://evil","x")',
        "'+34 600 000 000",
        "'-1 star",
        "'=cmd|' /C calc'!A0",  # the override is removed first, so the `=` is seen
        "Vellora = fine, -1 is ok",  # only a leading sign counts
    }
    first = by_text['\'=HYPERLINK("http://evil","x")']
    assert (first["source"], first["author"], first["brand"], first["topics"]) == (
        "'=forum",
        "'@admin",
        "'-Vellora",
        "'@x",
    )
    assert by_text["'+34 600 000 000"]["author"] == "'\tTab"
    assert by_text["'-1 star"]["author"] == "'\r\nCR"
    assert by_text["Vellora = fine, -1 is ok"]["url"] == "'=1+1"
    assert by_text["'-1 star"]["url"] == "https://f.example/3"
    assert {r["compound"] for r in rows} == {"-0.7"}  # a negative number is not text
    assert {r["sentiment"] for r in rows} == {"negative"}

    summary = list(csv.DictReader(io.StringIO(summary_csv.read_bytes().decode("utf-8-sig"))))
    assert {(r["brand"], r["topic"]) for r in summary} == {("'-Vellora", "*"), ("'-Vellora", "'@x")}
    assert {r["average_compound"] for r in summary} == {"-0.700"}


def _add_item(engine: Engine, opened: datetime, responded: float | None, **values: Any) -> None:
    """An inbox item opened at `opened`, answered `responded` minutes later (None: still open)."""
    inbox = InboxConfig()  # urgent 30 min, normal 4 h, 24/7
    answered = opened + timedelta(minutes=responded) if responded is not None else None
    with engine.begin() as conn:
        insert_item(
            conn,
            {
                "brand": "Vellora", "group_key": opened.isoformat(), "source": "forum",
                "state": "answered" if answered else "new", "priority": 50.0, "urgent": False,
                "reasons": (), "mentions": 1, "opened_at": opened,
                "due_at": due_at(opened, target(inbox, False), inbox, MADRID),
                "first_response_at": answered, "closed_at": answered, "updated_at": opened,
                **values,
            },
        )  # fmt: skip


def test_export_writes_the_weeks_response_times(tmp_path: Path) -> None:
    """One row per (dimension, value) over the inbox items opened in the week, in minutes."""
    engine = connect(f"sqlite:///{tmp_path / 'v.db'}")
    tuesday = datetime(2026, 11, 17, 9, 0, tzinfo=UTC)
    _add_item(engine, tuesday, 12, topic="delivery", assignee="ana")
    _add_item(engine, tuesday + timedelta(hours=1), 300, topic="delivery", assignee="=luis")
    _add_item(engine, tuesday + timedelta(hours=2), None, source="-reddit")  # open, overdue
    _add_item(engine, datetime(2026, 11, 24, 9, 0, tzinfo=UTC), 5)  # the next week
    paths = export_week(
        engine, tmp_path / "out", "2026-W47", "Europe/Madrid", InboxConfig(),
        now=datetime(2026, 11, 23, 12, 0, tzinfo=UTC),
    )  # fmt: skip
    engine.dispose()
    assert [p.name for p in paths] == [
        "vigia-2026-W47.csv", "vigia-2026-W47-summary.csv", "vigia-2026-W47-response-times.csv",
    ]  # fmt: skip
    raw = paths[2].read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))
    assert rows == [
        RESPONSE_COLUMNS,
        # 12 and 300 minutes: the median is their mean, the p90 the larger; the third item is
        # overdue unanswered, so one of three made its target.
        ["all", "*", "3", "2", "156.0", "300.0", "0.333"],
        ["brand", "Vellora", "3", "2", "156.0", "300.0", "0.333"],
        ["channel", "'-reddit", "1", "0", "", "", "0.000"],  # a leading sign is guarded
        ["channel", "forum", "2", "2", "156.0", "300.0", "0.500"],
        ["topic", "delivery", "2", "2", "156.0", "300.0", "0.500"],
        ["topic", "", "1", "0", "", "", "0.000"],  # no topic
        ["agent", "'=luis", "1", "1", "300.0", "300.0", "0.000"],
        ["agent", "ana", "1", "1", "12.0", "12.0", "1.000"],
        ["agent", "", "1", "0", "", "", "0.000"],  # nobody
    ]


def test_export_without_inbox_settings_writes_no_response_times(tmp_path: Path) -> None:
    _seed(tmp_path / "v.db")
    engine = connect(f"sqlite:///{tmp_path / 'v.db'}")
    paths = export_week(engine, tmp_path / "out", "2026-W47", "Europe/Madrid")
    engine.dispose()
    assert len(paths) == 2
    assert not (tmp_path / "out" / "vigia-2026-W47-response-times.csv").exists()
