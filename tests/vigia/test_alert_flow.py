"""Alerts through the real pipeline: a feed polled on a simulated clock, a real SMTP server.

Every test seeds two calm weeks of a brand (one neutral mention every 30 minutes), then serves a
feed whose negative mentions arrive poll by poll.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.replay import Reply
from tests.vigia.alert_scenario import (
    START,
    SimClock,
    SmtpSink,
    history,
    negatives,
    rss,
    smtp_settings,
    store,
)
from vigia.alerts.policy import AlertState
from vigia.pipeline import Runtime, poll_source
from vigia.storage.alerts import deliveries_of, list_alerts, set_alert_state

CM, BOSS = "cm@example.com", "direccion@example.com"


@pytest.fixture(params=["sqlite", "postgresql"], autouse=True)
def database(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Every flow runs on the embedded SQLite file and on this machine's PostgreSQL."""
    if request.param == "postgresql":
        monkeypatch.setenv("VIGIA_DATABASE_URL", request.getfixturevalue("postgres_url"))
    return request.param


def flow_settings(settings_factory, replay, port: int, **alerts):  # type: ignore[no-untyped-def]
    return settings_factory(
        sources=[
            {
                "name": "vellora-feed",
                "type": "rss",
                "url": f"{replay.url}/feed.xml",
                "brand": "Vellora",
                "interval": "15m",
            }
        ],
        smtp=smtp_settings(port),
        alerts={"recipients": [CM], "managers": [BOSS], **alerts},
    )


def poll(rt: Runtime, replay, clock: SimClock, feed: list, minutes: int = 15) -> None:  # type: ignore[no-untyped-def]
    """Serve `feed`, let `minutes` pass, poll the source once."""
    replay.route("/feed.xml", Reply(rss(feed), headers={"Content-Type": "application/rss+xml"}))
    clock.advance(minutes=minutes)
    poll_source(rt, rt.settings.sources[0])


def test_a_continuing_spike_sends_one_email_and_escalates_once_to_the_managers(
    settings_factory, replay, client
):
    with SmtpSink() as sink:
        # z_critical raised so that 6-8 negatives are a warning and 28 are critical.
        settings = flow_settings(settings_factory, replay, sink.port, spike={"z_critical": 12})
        clock = SimClock(START + timedelta(minutes=5))
        rt = Runtime.build(settings, client=client, clock=clock)
        try:
            store(rt, history("Vellora", START))
            feed = negatives(
                "Vellora", START + timedelta(minutes=6), 6, every=2, source="vellora-feed"
            )

            poll(rt, replay, clock, feed)  # 10:20 — six negatives this hour: warning
            assert [m["Subject"] for m in sink.messages] == [
                "[Vigía] AVISO · Vellora · pico de menciones negativas"
            ]
            assert sink.to(BOSS) == []

            feed += negatives(
                "Vellora", START + timedelta(minutes=25), 2, tag="b", source="vellora-feed"
            )
            poll(rt, replay, clock, feed)  # 10:35 — eight: the same warning goes on, silently
            assert len(sink.messages) == 1

            feed += negatives(
                "Vellora",
                START + timedelta(minutes=36),
                20,
                every=0.5,
                tag="c",
                source="vellora-feed",
            )
            poll(rt, replay, clock, feed)  # 10:50 — twenty-eight: critical, managers too
            poll(rt, replay, clock, feed)  # 11:05 — still critical, nothing new to say
            poll(rt, replay, clock, feed)  # 11:20

            assert [m["Subject"] for m in sink.to(CM)] == [
                "[Vigía] AVISO · Vellora · pico de menciones negativas",
                "[Vigía] CRÍTICO · Vellora · pico de menciones negativas (escalada)",
            ]
            assert [m["Subject"] for m in sink.to(BOSS)] == [
                "[Vigía] CRÍTICO · Vellora · pico de menciones negativas (escalada)"
            ]
            with rt.engine.connect() as conn:
                (alert,) = list_alerts(conn, states=None)
                assert alert.rule == "negative_spike" and alert.severity == "critical"
                assert alert.notify_round == 2 and alert.state is AlertState.OPEN
                assert all(d.ok for d in deliveries_of(conn, alert.id))
        finally:
            rt.close()


def test_a_resolved_spike_that_flares_again_reopens_with_a_new_email(
    settings_factory, replay, client
):
    with SmtpSink() as sink:
        settings = flow_settings(settings_factory, replay, sink.port)
        clock = SimClock(START + timedelta(minutes=5))
        rt = Runtime.build(settings, client=client, clock=clock)
        try:
            store(rt, history("Vellora", START))
            feed = negatives("Vellora", START + timedelta(minutes=6), 12, source="vellora-feed")
            poll(rt, replay, clock, feed)  # 10:20 — spike, first e-mail
            feed += negatives(
                "Vellora", START + timedelta(minutes=25), 3, tag="b", source="vellora-feed"
            )
            poll(rt, replay, clock, feed)  # 10:35 — continues, no e-mail
            assert len(sink.to(CM)) == 1

            # The community manager handles it and resolves it from the dashboard.
            with rt.engine.begin() as conn:
                (alert,) = list_alerts(conn)
                set_alert_state(conn, alert.id, "resolved", clock())
                assert list_alerts(conn) == []

            # Three hours later (past the two-hour cooldown) it flares again.
            feed += negatives(
                "Vellora", START + timedelta(hours=3, minutes=5), 12, tag="f", source="vellora-feed"
            )
            poll(rt, replay, clock, feed, minutes=165)  # 13:20

            subjects = [m["Subject"] for m in sink.to(CM)]
            assert len(subjects) == 2
            assert subjects[1].endswith("pico de menciones negativas (reabierta)")
            with rt.engine.connect() as conn:
                (reopened,) = list_alerts(conn)
                assert reopened.id == alert.id and reopened.state is AlertState.OPEN
                assert reopened.resolved_at is None and reopened.notify_round == 2
        finally:
            rt.close()


def test_a_source_failing_n_times_raises_one_operator_alert_resolved_when_it_recovers(
    settings_factory, replay, client
):
    with SmtpSink() as sink:
        settings = settings_factory(
            sources=[{"name": "vellora-feed", "type": "rss", "url": f"{replay.url}/feed.xml"}],
            smtp=smtp_settings(sink.port),
            alerts={"recipients": [CM], "managers": [BOSS]},
            http={"timeout": 2, "retries": 1, "backoff_base": 0.01, "unhealthy_after": 3},
        )
        clock = SimClock(START)
        rt = Runtime.build(settings, client=client, clock=clock)
        source = settings.sources[0]
        replay.route("/feed.xml", Reply(b"upstream broke", status=500))
        try:
            for expected_emails in (0, 0, 1, 1, 1):
                clock.advance(minutes=15)
                report = poll_source(rt, source, force=True)
                assert report.error and "500" in report.error
                assert len(sink.messages) == expected_emails

            (message,) = sink.messages
            assert message["Subject"] == "[Vigía] AVISO · vellora-feed · fuente sin datos"
            assert sink.to(BOSS) == []  # an operator warning, not an escalation
            with rt.engine.connect() as conn:
                (alert,) = list_alerts(conn)
            assert alert.rule == "source_unhealthy" and alert.evidence["failures"] == 5

            replay.route(
                "/feed.xml", Reply(rss([]), headers={"Content-Type": "application/rss+xml"})
            )
            clock.advance(minutes=15)
            assert poll_source(rt, source, force=True).error is None
            with rt.engine.connect() as conn:
                assert list_alerts(conn) == []
                (resolved,) = list_alerts(conn, states=["resolved"])
            assert resolved.id == alert.id
            assert len(sink.messages) == 1
        finally:
            rt.close()
