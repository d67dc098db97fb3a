"""A week's response-time figures from stored items, and the overdue-backlog operator alert.

Figures and alert run on the embedded SQLite file and on this machine's PostgreSQL. Targets are
the defaults (urgent 30 min, normal 4 h) counted 24/7, so every duration below is plain clock
time; business hours are tested in test_inbox_times.py.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine

from tests.replay import Reply
from tests.vigia.alert_scenario import START, SimClock, SmtpSink, rss, smtp_settings, text_part
from vigia.access.roles import Actor, Role
from vigia.alerts.detect import INBOX, check_after_poll
from vigia.alerts.policy import AlertState
from vigia.alerts.render import render_alert
from vigia.config import InboxConfig
from vigia.exports import week_bounds
from vigia.inbox import actions
from vigia.inbox.stats import ALL, Figures, backlog, week_figures
from vigia.inbox.targets import due_at, target
from vigia.pipeline import Runtime, poll_source
from vigia.storage import connect
from vigia.storage.alerts import list_alerts
from vigia.storage.inbox import insert_item

MADRID = ZoneInfo("Europe/Madrid")
CONFIG = InboxConfig()  # urgent 30 min, normal 4 h, 24/7
CM = "cm@example.com"
MARTA = Actor("marta", Role.AGENT, "cli")


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Any) -> str:
    if request.param == "postgresql":
        return str(request.getfixturevalue("postgres_url"))
    return f"sqlite:///{tmp_path / 'vigia.db'}"


def add(
    engine: Engine,
    opened: datetime,
    *,
    brand: str = "Vellora",
    source: str = "mastodon",
    topic: str | None = None,
    assignee: str | None = None,
    urgent: bool = False,
    state: str = "new",
    responded: float | None = None,
) -> int:
    """Store one item opened at `opened`, first responded `responded` minutes later (and closed
    then if answered or dismissed)."""
    first = opened + timedelta(minutes=responded) if responded is not None else None
    closed = first if state == "answered" else opened + timedelta(hours=1)
    with engine.begin() as conn:
        item_id = insert_item(
            conn,
            {
                "brand": brand,
                "group_key": f"{brand}-{opened.isoformat()}",
                "source": source,
                "language": "es",
                "topic": topic,
                "state": state,
                "priority": 50.0,
                "urgent": urgent,
                "reasons": (),
                "assignee": assignee,
                "mentions": 1,
                "opened_at": opened,
                "due_at": due_at(opened, target(CONFIG, urgent), CONFIG, MADRID),
                "first_response_at": first,
                "closed_at": closed if state in ("answered", "dismissed") else None,
                "close_reason": {"answered": "answered", "dismissed": "spam"}.get(state),
                "updated_at": opened,
            },
        )
    assert item_id is not None
    return item_id


# Week 2026-W47 in Madrid runs from Sunday 2026-11-15 23:00 UTC to Sunday 2026-11-22 23:00 UTC.
TUESDAY = datetime(2026, 11, 17, 10, tzinfo=UTC)
NOW = datetime(2026, 11, 23, 12, tzinfo=UTC)


def seed_week(engine: Engine) -> None:
    """Eight items of W47 (first responses 10, 20, 30, 45, 60 and 300 minutes; one unanswered
    and overdue; one dismissed), and one open item on each side of the week."""
    add(engine, datetime(2026, 11, 15, 23, 30, tzinfo=UTC), topic="delivery", assignee="ana",
        state="answered", responded=10)  # Monday 00:30 in Madrid: in W47  # fmt: skip
    add(engine, TUESDAY + timedelta(hours=1), topic="delivery", assignee="ana",
        state="answered", responded=20)  # fmt: skip
    add(engine, TUESDAY + timedelta(hours=2), topic="refunds", assignee="ana",
        state="answered", responded=30)  # fmt: skip
    add(engine, TUESDAY + timedelta(hours=3), source="reddit", topic="refunds",
        assignee="luis", state="answered", responded=60)  # fmt: skip
    # Urgent and escalated after 45 min: a first response past its 30 min, and still open.
    add(engine, TUESDAY + timedelta(hours=4), source="reddit", assignee="luis", urgent=True,
        state="escalated", responded=45)  # fmt: skip
    # Nobody assigned: marta answers it after 5 h, so she is its agent (from the audit trail).
    late = add(engine, TUESDAY + timedelta(hours=5), source="reddit", topic="delivery")
    actions.answer(engine, MARTA, [late], TUESDAY + timedelta(hours=10))
    add(engine, TUESDAY + timedelta(hours=6), brand="Rivalia", topic="delivery")  # never answered
    add(engine, TUESDAY + timedelta(hours=7), brand="Rivalia", state="dismissed")
    add(engine, datetime(2026, 11, 15, 22, 30, tzinfo=UTC), topic="x")  # Sunday 23:30: W46
    add(engine, datetime(2026, 11, 22, 23, tzinfo=UTC), topic="x")  # Monday 00:00: W48


def by_key(rows: list[Figures]) -> dict[tuple[str, str | None], Figures]:
    return {(f.dimension, f.value): f for f in rows}


def minutes(n: float) -> timedelta:
    return timedelta(minutes=n)


def test_a_weeks_figures_by_brand_channel_topic_and_agent(database_url: str) -> None:
    engine = connect(database_url)
    try:
        seed_week(engine)
        start, end = week_bounds(2026, 47, MADRID)
        with engine.connect() as conn:
            rows = week_figures(conn, CONFIG, MADRID, start, end, NOW)
            rivalia = week_figures(conn, CONFIG, MADRID, start, end, NOW, brands=["Rivalia"])
            now = backlog(conn, NOW)
    finally:
        engine.dispose()
    cells = by_key(rows)
    everything = cells["all", ALL]
    assert rows[0] is everything
    assert (everything.items, everything.answered) == (8, 6)  # W46 and W48 are left out
    # 10 20 30 45 60 300: the median lies between 30 and 45; p90 is the 6th of 6 (ceil 5.4).
    assert everything.median_first_response == minutes(37.5)
    assert everything.p90_first_response == minutes(300)
    # Within: the first four. Missed: 45 min urgent, 5 h normal, and the unanswered overdue
    # one. The dismissed item is not judged: 4 of 7.
    assert everything.within_target == pytest.approx(4 / 7)
    assert (everything.open, everything.overdue) == (2, 2)  # the escalated and the unanswered

    ana, luis, marta, nobody = (cells["agent", a] for a in ("ana", "luis", "marta", None))
    assert (ana.items, ana.median_first_response, ana.p90_first_response) == (
        3, minutes(20), minutes(30)
    )  # fmt: skip
    assert ana.within_target == 1.0
    assert (luis.median_first_response, luis.p90_first_response) == (minutes(52.5), minutes(60))
    assert luis.within_target == 0.5
    assert (marta.items, marta.median_first_response, marta.within_target) == (
        1, minutes(300), 0.0
    )  # fmt: skip
    assert (nobody.items, nobody.answered, nobody.median_first_response) == (2, 0, None)
    assert (nobody.within_target, nobody.overdue) == (0.0, 1)

    assert cells["channel", "mastodon"].items == 5 and cells["channel", "reddit"].items == 3
    assert cells["channel", "reddit"].median_first_response == minutes(60)
    assert cells["topic", None].items == 2  # the escalated and the dismissed
    assert cells["topic", "delivery"].answered == 3
    assert cells["brand", "Rivalia"].within_target == 0.0
    assert [(f.dimension, f.value) for f in rows if f.dimension == "agent"] == [
        ("agent", "ana"), ("agent", "luis"), ("agent", "marta"), ("agent", None),
    ]  # fmt: skip

    assert by_key(rivalia)["all", ALL].items == 2
    # The backlog is every open item of any week: W46's and W48's are overdue too, and the
    # oldest waiting is W46's.
    assert (now.open, now.overdue) == (4, 4)
    assert now.oldest_overdue == datetime(2026, 11, 15, 22, 30, tzinfo=UTC)


def test_an_empty_week_still_has_its_overall_row(tmp_path: Any) -> None:
    engine = connect(f"sqlite:///{tmp_path / 'v.db'}")
    try:
        with engine.connect() as conn:
            start, end = week_bounds(2026, 47, MADRID)
            (row,) = week_figures(conn, CONFIG, MADRID, start, end, NOW)
            assert backlog(conn, NOW).oldest_overdue is None
    finally:
        engine.dispose()
    assert (row.dimension, row.items, row.median_first_response, row.within_target) == (
        "all", 0, None, None
    )  # fmt: skip


# --- the overdue backlog alert ---------------------------------------------------------------


def backlog_runtime(settings_factory, replay, client, port: int, **inbox: Any) -> Runtime:  # type: ignore[no-untyped-def]
    """A source with nothing new, e-mail to the team, the dashboard at vigia.example."""
    replay.route("/feed.xml", Reply(rss([]), headers={"Content-Type": "application/rss+xml"}))
    settings = settings_factory(
        timezone="Europe/Madrid",
        sources=[{"name": "vellora-feed", "type": "rss", "url": f"{replay.url}/feed.xml"}],
        smtp=smtp_settings(port),
        alerts={"recipients": [CM]},
        dashboard={"public_url": "http://vigia.example:8501/"},
        inbox=inbox,
    )
    return Runtime.build(settings, client=client, clock=SimClock(START))


def test_an_overdue_backlog_alerts_once_and_is_resolved_when_cleared(
    settings_factory, replay, client, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VIGIA_DATABASE_URL", database_url)
    with SmtpSink() as sink:
        rt = backlog_runtime(settings_factory, replay, client, sink.port, overdue_alert=3)
        clock, source = rt.clock, rt.settings.sources[0]
        assert isinstance(clock, SimClock)
        try:
            # Three items past their 4 h (the oldest posted at 05:00 Madrid), one not yet due.
            late = [add(rt.engine, START - timedelta(hours=h)) for h in (6, 5, 4.5)]
            add(rt.engine, START - timedelta(minutes=10))
            clock.advance(minutes=15)
            poll_source(rt, source, force=True)
            (message,) = sink.messages
            clock.advance(minutes=15)
            poll_source(rt, source, force=True)  # still 3 overdue: no second e-mail
            assert len(sink.messages) == 1
            with rt.engine.connect() as conn:
                (alert,) = list_alerts(conn)
            assert (alert.rule, alert.brand, alert.severity) == (INBOX, None, "warning")
            assert alert.evidence["overdue"] == 3
            assert alert.evidence["oldest_age_minutes"] == 6 * 60 + 30  # as of the last poll

            actions.answer(rt.engine, MARTA, late[:2], clock())
            clock.advance(minutes=15)
            poll_source(rt, source, force=True)
            with rt.engine.connect() as conn:
                assert list_alerts(conn) == []
                (resolved,) = list_alerts(conn, states=[AlertState.RESOLVED])
            assert resolved.id == alert.id
            assert len(sink.messages) == 1
        finally:
            rt.close()

    assert message["Subject"] == "[Vigía] AVISO · Bandeja de entrada · respuestas fuera de plazo"
    assert message["X-Vigia-Alert"].startswith("inbox_overdue:")
    text = text_part(message)
    assert (
        "Elementos de la bandeja de entrada que han superado su plazo de respuesta: 3 "
        "(umbral del aviso: 3)." in text
    )
    # Polled at 10:15 UTC; the oldest was posted at 04:00 UTC, 05:00 in Madrid.
    assert (
        "El más antiguo espera desde hace 6 h 15 min (publicado el 2026-03-10 05:00, "
        "Europe/Madrid)." in text
    )
    assert "Abrir la bandeja: http://vigia.example:8501/inbox" in text.splitlines()
    assert f"http://vigia.example:8501/alerts?id={alert.id}" in text


def test_the_alert_reads_in_english(settings_factory, replay, client) -> None:  # type: ignore[no-untyped-def]
    rt = backlog_runtime(settings_factory, replay, client, 25, overdue_alert=1)
    try:
        add(rt.engine, START - timedelta(days=2, hours=3))
        check_after_poll(rt.alert_context, "vellora-feed")
        with rt.engine.connect() as conn:
            (alert,) = list_alerts(conn)
    finally:
        rt.close()
    message = render_alert(alert, "en", "Europe/Madrid", "http://vigia.example:8501")
    assert message.subject == "[Vigía] WARNING · Care inbox · overdue replies"
    assert "Care inbox items past their response target: 1 (alert threshold: 1)." in message.text
    assert "The oldest has been waiting 2 d 3 h (published 2026-03-08 08:00" in message.text
    assert "Open the inbox: http://vigia.example:8501/inbox" in message.text
    assert '<a href="http://vigia.example:8501/inbox">' in message.html


@pytest.mark.parametrize("threshold", [3, None])
def test_below_the_threshold_or_without_one_nothing_is_raised(  # type: ignore[no-untyped-def]
    settings_factory, replay, client, threshold: int | None
) -> None:
    rt = backlog_runtime(settings_factory, replay, client, 25, overdue_alert=threshold)
    try:
        for hours in (5, 6):
            add(rt.engine, START - timedelta(hours=hours))
        if threshold is None:
            add(rt.engine, START - timedelta(hours=7))  # three now, but never is never
        assert check_after_poll(rt.alert_context, "vellora-feed") == []
        with rt.engine.connect() as conn:
            assert list_alerts(conn, states=None) == []
    finally:
        rt.close()
