"""The Rendimiento page, signed in, over inbox items made by hand for last week.

The seeded database's inbox is replaced by four items opened last Wednesday at noon (Madrid),
with the default targets (urgent 30 min, normal 4 h) counted 24/7:

  Vellora · perf-chat · delivery          · lucía     answered after 10 min  (within)
  Vellora · perf-chat · refunds_returns   · lucía     answered after 50 min  (within)
  Vellora · perf-chat · no topic          · nobody    still open, overdue    (missed)
  Rivalia · perf-chat · delivery          · nobody    answered after 5 h     (missed)

For Vellora: median (10 + 50) / 2 = 30 min, p90 50 min, 2 of 3 within target.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, delete
from streamlit.testing.v1 import AppTest

from dashboard.data import ALL
from tests.dashboard.conftest import Render
from tests.dashboard.seed import BRAND, OTHER_BRAND
from vigia.config import InboxConfig
from vigia.inbox.targets import due_at, target
from vigia.storage.inbox import insert_item
from vigia.storage.schema import inbox_items, inbox_mentions, inbox_notes

MADRID = ZoneInfo("Europe/Madrid")  # the seeded configuration's time zone
CHANNEL = "perf-chat"


def last_wednesday_noon() -> datetime:
    today = datetime.now(MADRID).date()
    monday = today - timedelta(days=today.weekday() + 7)
    return datetime.combine(monday + timedelta(days=2), time(12), MADRID)


def week_of(moment: datetime) -> str:
    year, week, _ = moment.isocalendar()
    return f"{year}-W{week:02d}"


def add(engine: Engine, n: int, responded: float | None, **values: Any) -> None:
    opened = last_wednesday_noon() + timedelta(minutes=n)
    answered = opened + timedelta(minutes=responded) if responded is not None else None
    inbox = InboxConfig()
    with engine.begin() as conn:
        insert_item(
            conn,
            {
                "brand": BRAND, "group_key": f"perf-{n}", "source": CHANNEL,
                "state": "answered" if answered else "new", "priority": 50.0, "urgent": False,
                "reasons": (), "mentions": 1, "opened_at": opened,
                "due_at": due_at(opened, target(inbox, False), inbox, MADRID),
                "first_response_at": answered, "closed_at": answered, "updated_at": opened,
                **values,
            },
        )  # fmt: skip


def seed_inbox(engine: Engine) -> None:
    with engine.begin() as conn:
        for table in (inbox_notes, inbox_mentions, inbox_items):
            conn.execute(delete(table))
    add(engine, 1, 10, topic="delivery", assignee="lucía")
    add(engine, 2, 50, topic="refunds_returns", assignee="lucía")
    add(engine, 3, None)
    add(engine, 4, 300, brand=OTHER_BRAND, topic="delivery")


def metrics(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def table(at: AppTest, index: int) -> dict[str, dict[str, Any]]:
    """The tab's table (0 brand, 1 channel, 2 topic, 3 agent) by its first column."""
    frame = at.dataframe[index].value
    return frame.set_index(frame.columns[0]).to_dict("index")


def test_last_weeks_response_times_by_brand_channel_topic_and_agent(
    app: Render, seeded: tuple[Path, Engine]
) -> None:
    seed_inbox(seeded[1])
    at = app("views/performance.py")
    assert at.title[0].value == "Rendimiento (Performance)"
    week = at.selectbox(key="performance_week")
    assert week.value == week_of(datetime.now(MADRID))  # this week by default
    assert metrics(at)["Elementos"] == "0"
    assert "Ningún elemento" in at.info[0].value

    week.select(week_of(last_wednesday_noon())).run()
    assert not at.exception, at.exception
    shown = metrics(at)
    assert shown["Mediana"] == "30 min"
    assert shown["P90"] == "50 min"
    assert shown["En plazo"] == "67 %"
    assert shown["Elementos"] == "3"
    assert (shown["Abiertos ahora"], shown["Vencidos ahora"]) == ("1", "1")
    assert [tab.label for tab in at.tabs] == [
        "Marca (brand)", "Canal (channel)", "Tema (topic)", "Agente (agent)",
    ]  # fmt: skip

    assert table(at, 0)[BRAND] == {
        "Elementos": 3, "Respondidos": 2, "Mediana": "30 min", "P90": "50 min",
        "En plazo": "67 %", "Abiertos": 1, "Vencidos": 1,
    }  # fmt: skip
    assert table(at, 1)[CHANNEL]["Elementos"] == 3
    topics = table(at, 2)
    assert list(topics) == ["Delivery", "Refunds returns", "Sin tema"]
    assert (topics["Sin tema"]["Mediana"], topics["Sin tema"]["En plazo"]) == ("—", "0 %")
    agents = table(at, 3)
    assert list(agents) == ["lucía", "Sin asignar"]
    assert (agents["lucía"]["Mediana"], agents["lucía"]["En plazo"]) == ("30 min", "100 %")

    # Every brand: Rivalia's item, answered after 5 h, joins the figures.
    at.sidebar.selectbox(key="filter_brand").select(ALL).run()
    shown = metrics(at)
    assert (shown["Elementos"], shown["P90"]) == ("4", "5h 00m")
    assert shown["En plazo"] == "50 %"
    assert list(table(at, 0)) == [OTHER_BRAND, BRAND]


def test_a_viewer_reads_the_page_too(app: Render, seeded: tuple[Path, Engine]) -> None:
    seed_inbox(seeded[1])
    at = app("views/performance.py", user="victor")
    assert at.title[0].value == "Rendimiento (Performance)"
    assert metrics(at)["Vencidos ahora"] == "1"
