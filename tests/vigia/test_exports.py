"""Weekly CSV: one file per ISO week, UTF-8 with BOM, documented columns, a topic summary,
the delimiter and topic names by language, and group-readable files."""

from __future__ import annotations

import csv
import io
import os
import stat
import subprocess
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import yaml
from pydantic import ValidationError
from sqlalchemy import Engine, update

from analysis.sentiment import Sentiment
from collectors.base import Mention
from vigia.analyse import AnalysedMention
from vigia.config import InboxConfig, Settings
from vigia.exports import (
    MENTION_COLUMNS,
    RESPONSE_COLUMNS,
    SUMMARY_COLUMNS,
    csv_delimiter,
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
from vigia.topic_names import TOPIC_NAMES, topic_name

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


def _read(path: Path, delimiter: str) -> list[dict[str, str]]:
    text = path.read_bytes().decode("utf-8-sig")  # not read_text: a cell's "\r\n" must stay
    return list(csv.DictReader(io.StringIO(text), delimiter=delimiter))


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
    mentions_csv, summary_csv, workbook = export_week(
        engine, tmp_path / "exports", "2026-W47", "Europe/Madrid"
    )
    assert (mentions_csv.name, workbook.name) == ("vigia-2026-W47.csv", "vigia-2026-W47.xlsx")
    raw = mentions_csv.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf"), "UTF-8 BOM so Excel shows accents"
    # Spanish by default: ";" between cells, a decimal comma, topic names in Spanish.
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig")), delimiter=";"))
    assert rows[0] == MENTION_COLUMNS
    assert [r[MENTION_COLUMNS.index("text")] for r in rows[1:]] == [r[2] for r in ROWS[:4]]
    first = dict(zip(MENTION_COLUMNS, rows[1], strict=True))
    assert first["published_at"] == "2026-11-16T00:30:00+01:00"
    assert first["author"] == "ñandú"
    third = dict(zip(MENTION_COLUMNS, rows[3], strict=True))
    assert third["topics"] == "Envíos y entregas|Devoluciones y reembolsos"
    assert third["topic_keys"] == "delivery|refunds_returns"
    assert third["compound"] == "-0,5"

    summary = _read(summary_csv, ";")
    assert list(summary[0]) == SUMMARY_COLUMNS
    cells = {(r["brand"], r["topic_key"]): r for r in summary}
    assert (cells[("Vellora", "*")]["mentions"], cells[("Vellora", "*")]["negative"]) == ("4", "2")
    assert cells[("Vellora", "*")]["topic"] == "Todas las menciones"
    assert cells[("Vellora", "*")]["negative_share"] == "0,5"
    delivery = cells[("Vellora", "delivery")]
    assert (delivery["topic"], delivery["mentions"], delivery["negative"]) == (
        "Envíos y entregas",
        "2",
        "1",
    )
    assert cells[("Vellora", "customer_service")]["average_compound"] == "-0,7"
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
    mentions_csv, summary_csv, _ = export_week(
        engine, tmp_path / "out", "2026-W47", "Europe/Madrid", language="en"
    )

    rows = _read(mentions_csv, ",")
    by_text = {r["text"]: r for r in rows}
    assert set(by_text) == {
        '\'=HYPERLINK("http://evil","x")',
        "'+34 600 000 000",
        "'-1 star",
        "'=cmd|' /C calc'!A0",  # the override is removed first, so the `=` is seen
        "Vellora = fine, -1 is ok",  # only a leading sign counts
    }
    first = by_text['\'=HYPERLINK("http://evil","x")']
    assert (first["source"], first["author"], first["brand"], first["topic_keys"]) == (
        "'=forum",
        "'@admin",
        "'-Vellora",
        "'@x",
    )
    assert first["topics"] == "'@x"  # an unknown topic reads as its key
    assert by_text["'+34 600 000 000"]["author"] == "'\tTab"
    assert by_text["'-1 star"]["author"] == "'\r\nCR"
    assert by_text["Vellora = fine, -1 is ok"]["url"] == "'=1+1"
    assert by_text["'-1 star"]["url"] == "https://f.example/3"
    assert {r["compound"] for r in rows} == {"-0.7"}  # a negative number is not text
    assert {r["sentiment"] for r in rows} == {"negative"}

    summary = _read(summary_csv, ",")
    assert {(r["brand"], r["topic_key"]) for r in summary} == {
        ("'-Vellora", "*"),
        ("'-Vellora", "'@x"),
    }
    assert {r["average_compound"] for r in summary} == {"-0.7"}


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
        now=datetime(2026, 11, 23, 12, 0, tzinfo=UTC), language="en",
    )  # fmt: skip
    engine.dispose()
    assert [p.name for p in paths] == [
        "vigia-2026-W47.csv", "vigia-2026-W47-summary.csv", "vigia-2026-W47-response-times.csv",
        "vigia-2026-W47.xlsx",
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
        ["channel", "'-reddit", "1", "0", "", "", "0.0"],  # a leading sign is guarded
        ["channel", "forum", "2", "2", "156.0", "300.0", "0.5"],
        ["topic", "delivery", "2", "2", "156.0", "300.0", "0.5"],
        ["topic", "", "1", "0", "", "", "0.0"],  # no topic
        ["agent", "'=luis", "1", "1", "300.0", "300.0", "0.0"],
        ["agent", "ana", "1", "1", "12.0", "12.0", "1.0"],
        ["agent", "", "1", "0", "", "", "0.0"],  # nobody
    ]


def test_export_without_inbox_settings_writes_no_response_times(tmp_path: Path) -> None:
    _seed(tmp_path / "v.db")
    engine = connect(f"sqlite:///{tmp_path / 'v.db'}")
    paths = export_week(engine, tmp_path / "out", "2026-W47", "Europe/Madrid")
    engine.dispose()
    assert [p.suffix for p in paths] == [".csv", ".csv", ".xlsx"]
    assert not (tmp_path / "out" / "vigia-2026-W47-response-times.csv").exists()


def test_delimiter_follows_the_language_unless_configured() -> None:
    assert (csv_delimiter("es"), csv_delimiter("en")) == (";", ",")
    assert (csv_delimiter("es", ","), csv_delimiter("en", "\t")) == (",", "\t")


@pytest.mark.parametrize(
    ("language", "configured", "delimiter", "compound"),
    [
        ("es", None, ";", "-0,5"),  # Spanish Excel lists with ";" and a decimal comma
        ("en", None, ",", "-0.5"),
        ("en", ";", ";", "-0,5"),  # the decimal mark goes with the delimiter
        ("es", "\t", "\t", "-0.5"),
    ],
)
def test_csv_delimiter_by_language_and_config(
    tmp_path: Path, language: str, configured: str | None, delimiter: str, compound: str
) -> None:
    _seed(tmp_path / "v.db")
    engine = connect(f"sqlite:///{tmp_path / 'v.db'}")
    mentions_csv, summary_csv, _ = export_week(
        engine, tmp_path / "out", "2026-W47", "Europe/Madrid",
        language=language, delimiter=configured,
    )  # fmt: skip
    engine.dispose()
    header = mentions_csv.read_bytes().decode("utf-8-sig").splitlines()[0]
    assert header == delimiter.join(MENTION_COLUMNS)
    rows = _read(mentions_csv, delimiter)
    assert [len(r) for r in rows] == [len(MENTION_COLUMNS)] * 4 and None not in rows[0]
    assert rows[2]["compound"] == compound
    assert rows[2]["text"] == "Vellora: envío y reembolso tardíos"
    assert [r["topic_key"] for r in _read(summary_csv, delimiter)][0] == "*"


def test_topic_names_in_english_keep_their_keys(tmp_path: Path) -> None:
    _seed(tmp_path / "v.db")
    engine = connect(f"sqlite:///{tmp_path / 'v.db'}")
    mentions_csv, summary_csv, _ = export_week(
        engine, tmp_path / "out", "2026-W47", "Europe/Madrid", language="en"
    )
    engine.dispose()
    third = _read(mentions_csv, ",")[2]
    assert (third["topics"], third["topic_keys"]) == (
        "Delivery|Refunds and returns",
        "delivery|refunds_returns",
    )
    names = {r["topic_key"]: r["topic"] for r in _read(summary_csv, ",")}
    assert names == {
        "*": "All mentions",
        "customer_service": "Customer service",
        "delivery": "Delivery",
        "refunds_returns": "Refunds and returns",
    }


def test_topic_name_table_and_fallback() -> None:
    assert topic_name("product_quality", "es") == "Calidad del producto"
    assert topic_name("product_quality", "fr") == "Product quality"  # English otherwise
    assert topic_name("spare_parts", "es") == "spare parts"  # a topic added in config.yaml
    config_topics = yaml.safe_load(Path("config.yaml").read_text(encoding="utf-8"))["topics"]
    assert set(config_topics) <= set(TOPIC_NAMES), "every topic of config.yaml has its names"


def test_export_delimiter_setting_is_checked() -> None:
    brands = [{"name": "Vellora", "keywords": ["vellora"]}]
    assert Settings(brands=brands).export.delimiter is None
    assert Settings(brands=brands, export={"delimiter": ";"}).export.delimiter == ";"
    with pytest.raises(ValidationError, match="export.delimiter"):
        Settings(brands=brands, export={"delimiter": "x"})


@contextmanager
def _umask(mask: int) -> Iterator[None]:
    previous = os.umask(mask)
    try:
        yield
    finally:
        os.umask(previous)


@pytest.mark.parametrize(("mask", "mode"), [(0o022, 0o640), (0o077, 0o600), (0o002, 0o640)])
def test_files_are_group_readable_within_the_umask(tmp_path: Path, mask: int, mode: int) -> None:
    """Created 0640 and narrowed by the umask: never readable by others, a stricter umask wins."""
    _seed(tmp_path / "v.db")
    engine = connect(f"sqlite:///{tmp_path / 'v.db'}")
    folder = tmp_path / "out"
    folder.mkdir()
    (folder / "vigia-2026-W47.csv").write_text("an older export", encoding="utf-8")
    (folder / "vigia-2026-W47.csv").chmod(0o644)
    with _umask(mask):
        paths = export_week(engine, folder, "2026-W47", "Europe/Madrid", InboxConfig())
    engine.dispose()
    assert len(paths) == 4
    assert {p.name: stat.S_IMODE(p.stat().st_mode) for p in paths} == {p.name: mode for p in paths}
