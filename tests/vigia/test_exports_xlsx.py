"""The weekly workbook: typed cells, frozen header, autofilter, widths, links, and text that
never runs as a formula."""

from __future__ import annotations

import io
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from openpyxl import load_workbook
from openpyxl.worksheet.worksheet import Worksheet
from sqlalchemy import Engine, update

import vigia.xlsx
from analysis.sentiment import Sentiment
from collectors.base import Engagement, Mention
from vigia.analyse import AnalysedMention
from vigia.config import InboxConfig
from vigia.exports import MENTION_COLUMNS, RESPONSE_COLUMNS, SUMMARY_COLUMNS, export_week
from vigia.inbox.targets import due_at, target
from vigia.storage import connect
from vigia.storage.inbox import insert_item
from vigia.storage.mentions import save_batch
from vigia.storage.schema import mentions
from vigia.xlsx import DATETIME, MAX_TEXT, SHARE, Book, Column

MADRID_TZ = "Europe/Madrid"
MADRID = ZoneInfo(MADRID_TZ)
MONDAY = datetime(2026, 11, 16, 8, 0, tzinfo=UTC)  # 09:00 in Madrid, ISO week 2026-W47
HOSTILE = '=HYPERLINK("http://evil","x")'
ROWS = [
    # (id, published, text, author, engagement, rating, compound, topics)
    ("a", MONDAY, "Vellora, la atención es pésima", "ana", Engagement(replies=3, views=1234), 2,
     -0.7, ("customer_service",)),
    ("b", MONDAY + timedelta(days=1), HOSTILE, "\u202eevil", Engagement(), None, 0.0,
     ("delivery",)),
    ("c", MONDAY + timedelta(days=2), "Vellora\x0b ok", None, Engagement(), None, 0.5, ()),
]  # fmt: skip


def _seed(tmp_path: Path) -> Engine:
    engine = connect(f"sqlite:///{tmp_path / 'v.db'}")
    fetched = [
        Mention("forum", sid, f"https://f.example/{sid}", when, text, author=author,
                engagement=engagement, rating=rating)
        for sid, when, text, author, engagement, rating, *_ in ROWS
    ]  # fmt: skip
    verdicts = {row[0]: row[6:] for row in ROWS}

    def analyse(items: Sequence[Mention]) -> list[AnalysedMention]:
        out = []
        for m in items:
            compound, topics = verdicts[m.source_id]
            label = "negative" if compound < 0 else "positive" if compound > 0 else "neutral"
            sentiment = Sentiment(compound, 0, 1, 0)
            out.append(AnalysedMention(m, "Vellora", "es", sentiment, label, topics))
        return out

    inbox = InboxConfig()
    with engine.begin() as conn:
        save_batch(conn, "forum", fetched, analyse, MONDAY)
        # A row stored before ingestion refused non-web links.
        conn.execute(
            update(mentions).where(mentions.c.source_id == "c").values(url="javascript:alert(1)")
        )
        insert_item(
            conn,
            {
                "brand": "Vellora", "group_key": "a", "source": "forum", "state": "answered",
                "priority": 50.0, "urgent": False, "reasons": (), "mentions": 1,
                "opened_at": MONDAY, "due_at": due_at(MONDAY, target(inbox, False), inbox, MADRID),
                "first_response_at": MONDAY + timedelta(minutes=12),
                "closed_at": MONDAY + timedelta(minutes=12), "updated_at": MONDAY,
                "topic": "delivery", "assignee": "ana",
            },
        )  # fmt: skip
    return engine


@pytest.fixture
def workbook(tmp_path: Path) -> dict[str, Worksheet]:
    engine = _seed(tmp_path)
    paths = export_week(
        engine, tmp_path / "out", "2026-W47", MADRID_TZ, InboxConfig(),
        now=MONDAY + timedelta(days=7),
    )  # fmt: skip
    engine.dispose()
    assert paths[-1].name == "vigia-2026-W47.xlsx"
    book = load_workbook(paths[-1])
    assert book.sheetnames == ["mentions", "summary", "response_times"]
    return {name: book[name] for name in book.sheetnames}


def _rows(sheet: Worksheet) -> list[dict[str, object]]:
    header = [c.value for c in sheet[1]]
    return [
        {str(h): c for h, c in zip(header, row, strict=True)} for row in sheet.iter_rows(min_row=2)
    ]


def test_every_sheet_has_a_frozen_bold_header_and_a_filter(workbook: dict[str, Worksheet]) -> None:
    mentions_sheet = workbook["mentions"]
    assert [c.value for c in mentions_sheet[1]] == [
        "published_at (Europe/Madrid)",
        *MENTION_COLUMNS[1:],
    ]
    assert [c.value for c in workbook["summary"][1]] == SUMMARY_COLUMNS
    assert [c.value for c in workbook["response_times"][1]] == RESPONSE_COLUMNS
    for sheet in workbook.values():
        assert sheet.freeze_panes == "A2"
        assert (
            sheet.auto_filter.ref
            == f"A1:{sheet.cell(1, sheet.max_column).column_letter}{sheet.max_row}"
        )
        assert all(c.font.bold for c in sheet[1])
    assert mentions_sheet.auto_filter.ref == "A1:R4"  # 18 columns, header and three mentions
    widths = {c: mentions_sheet.column_dimensions[c].width for c in "AJK"}
    assert widths == {"A": 17, "J": 40, "K": 80}  # published_at, url, text


def test_mentions_are_typed(workbook: dict[str, Worksheet]) -> None:
    first, second, _ = _rows(workbook["mentions"])
    published = first["published_at (Europe/Madrid)"]
    assert published.value == datetime(2026, 11, 16, 9, 0)  # local wall-clock time
    assert published.is_date and published.number_format == DATETIME
    assert first["compound"].value == -0.7 and first["compound"].data_type == "n"
    assert (first["replies"].value, first["views"].value, first["rating"].value) == (3, 1234, 2)
    assert second["views"].value is None  # not reported: an empty cell, not 0
    assert (first["topics"].value, first["topic_keys"].value) == (
        "Atención al cliente",
        "customer_service",
    )
    assert (first["language"].value, first["sentiment"].value) == ("es", "negative")


def test_web_urls_are_links_and_nothing_else_is(workbook: dict[str, Worksheet]) -> None:
    first, _, third = _rows(workbook["mentions"])
    assert first["url"].hyperlink.target == "https://f.example/a"
    assert first["url"].value == "https://f.example/a"
    assert third["url"].value == "javascript:alert(1)"  # shown as text, not clickable
    assert third["url"].hyperlink is None


def test_hostile_text_stays_text(workbook: dict[str, Worksheet]) -> None:
    _, second, third = _rows(workbook["mentions"])
    cell = second["text"]
    assert (cell.value, cell.data_type, cell.quotePrefix) == (HOSTILE, "s", True)
    assert second["author"].value == "evil"  # the right-to-left override is removed
    assert third["text"].value == "Vellora ok"  # XML forbids the vertical tab


def test_summary_and_response_times_are_numbers(workbook: dict[str, Worksheet]) -> None:
    summary = {row["topic_key"].value: row for row in _rows(workbook["summary"])}
    every = summary["*"]
    assert (every["topic"].value, every["mentions"].value, every["negative"].value) == (
        "Todas las menciones",
        3,
        1,
    )
    assert every["negative_share"].value == pytest.approx(0.333)
    assert every["negative_share"].number_format == SHARE
    assert every["average_compound"].value == pytest.approx(-0.067)
    assert summary["delivery"]["topic"].value == "Envíos y entregas"

    times = {(r["dimension"].value, r["value"].value): r for r in _rows(workbook["response_times"])}
    delivery = times[("topic", "delivery")]
    assert (delivery["items"].value, delivery["answered"].value) == (1, 1)
    assert delivery["median_first_response_min"].value == 12.0
    assert delivery["within_target_share"].value == 1.0


def test_without_inbox_settings_the_workbook_has_two_sheets(tmp_path: Path) -> None:
    engine = _seed(tmp_path)
    *_, path = export_week(engine, tmp_path / "out", "2026-W47", MADRID_TZ, language="en")
    engine.dispose()
    book = load_workbook(path)
    assert book.sheetnames == ["mentions", "summary"]
    assert book["mentions"]["G2"].value == "Customer service"


def test_long_text_is_cut_and_links_stop_at_excels_limits(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(vigia.xlsx, "MAX_LINKS", 1)
    book = Book()
    sheet = book.sheet("s", (Column("url", 40, link=True), Column("text", 80)))
    sheet.append(("https://a.example/1", "x" * (MAX_TEXT + 10)))
    sheet.append(("https://a.example/2", ""))  # past the (patched) link limit
    sheet.append(("https://a.example/" + "y" * 2100, None))  # too long for a link address
    file = io.BytesIO()
    book.save(file)
    loaded = load_workbook(io.BytesIO(file.getvalue()))["s"]
    assert len(loaded["B2"].value) == MAX_TEXT and loaded["B2"].value.endswith("…")
    assert loaded["A2"].hyperlink.target == "https://a.example/1"
    assert loaded["A3"].hyperlink is None and loaded["A4"].hyperlink is None
    assert loaded["B3"].value is None  # empty text: an empty cell
    assert loaded.auto_filter.ref == "A1:B4"
