"""Alert e-mail: content as a real SMTP server receives it, and a dead server retried exactly once."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from collectors.base import Mention
from tests.vigia.alert_scenario import (
    START,
    SimClock,
    SmtpSink,
    alerting,
    free_port,
    history,
    html_part,
    negatives,
    smtp_settings,
    store,
    text_part,
)
from vigia.alerts.detect import check_after_poll
from vigia.cli import main
from vigia.pipeline import Runtime
from vigia.storage.alerts import deliveries_of, list_alerts

# The most negative mention of the burst, so it leads the list; its text and link are hostile.
NASTY = 'Vellora <script>alert("x")</script> & "estafa": pésimo servicio, un desastre horrible, lo odio, asco'


def spike_runtime(  # type: ignore[no-untyped-def]
    settings_factory, port: int, language: str = "es", old_dashboard_key: bool = False
) -> tuple[Runtime, SimClock]:
    """Two calm weeks of Vellora, then 15 negative mentions between 10:02 and 10:30; now 10:40.

    The dashboard is at http://vigia.example:8501/, written as `dashboard.public_url` or, with
    `old_dashboard_key`, as the deprecated `alerts.dashboard_url`.
    """
    alerts: dict[str, Any] = {
        "recipients": ["cm@example.com"],
        "managers": ["direccion@example.com"],
        "language": language,
    }
    dashboard: dict[str, Any] = {}
    if old_dashboard_key:
        alerts["dashboard_url"] = "http://vigia.example:8501/"
    else:
        dashboard["public_url"] = "http://vigia.example:8501/"
    settings = settings_factory(
        timezone="Europe/Madrid", smtp=smtp_settings(port), alerts=alerts, dashboard=dashboard
    )
    clock = SimClock(START + timedelta(minutes=40))
    rt = Runtime.build(settings, clock=clock)
    store(rt, history("Vellora", START))
    burst = negatives("Vellora", START + timedelta(minutes=2), 14, every=2)
    burst.append(
        Mention("history", "nasty", "javascript:alert(1)", START + timedelta(minutes=30), NASTY)
    )
    store(rt, burst)
    return rt, clock


def test_spike_email_as_received_by_a_real_smtp_server(settings_factory):
    with SmtpSink() as sink:
        rt, _ = spike_runtime(settings_factory, sink.port)
        try:
            check_after_poll(alerting(rt), "history", brands={"Vellora"})
            with rt.engine.connect() as conn:
                alert_ids = [a.id for a in list_alerts(conn)]
        finally:
            rt.close()
        # 15 negatives against a baseline of 0.5: critical, so the managers get it too.
        assert len(sink.to("cm@example.com")) == 1
        assert len(sink.to("direccion@example.com")) == 1
        message = sink.to("cm@example.com")[0]

    assert message["Subject"] == "[Vigía] CRÍTICO · Vellora · pico de menciones negativas"
    assert message["To"] == "cm@example.com"
    assert message.get_content_type() == "multipart/alternative"
    assert message["X-Vigia-Alert"].startswith("negative_spike:")
    (alert,) = alert_ids
    link = f"http://vigia.example:8501/alerts?id={alert}"  # the alert itself, on the dashboard

    text = text_part(message)
    # The window 09:40-10:40 UTC, shown in the configured zone (UTC+1 in March).
    assert (
        "Vellora: 15 menciones negativas entre las 10:40 y las 11:40 (Europe/Madrid), "
        "frente a 0,5 esperadas." in text
    )
    assert "Proporción negativa:" in text
    assert "█" in text  # the sparkline's peak: this hour
    assert NASTY in text  # plain text is shown as is
    assert "https://social.example/Vellora/n13" in text
    assert f"Ver en el panel: {link}\n" in text

    html = html_part(message)
    assert "<script>" not in html
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &quot;estafa&quot;" in html
    assert "15 menciones negativas" in html
    assert '<a href="https://social.example/Vellora/n13">' in html
    assert 'href="javascript:' not in html  # a hostile link stays text
    assert f'<a href="{link}">{link}</a>' in html
    assert "<table" in html  # the inline bar chart


def test_english_subject_and_body(settings_factory):
    with SmtpSink() as sink:
        rt, _ = spike_runtime(settings_factory, sink.port, language="en")
        try:
            check_after_poll(alerting(rt), "history", brands={"Vellora"})
        finally:
            rt.close()
        message = sink.to("cm@example.com")[0]
    assert message["Subject"] == "[Vigía] CRITICAL · Vellora · negative mention spike"
    text = text_part(message)
    assert "15 negative mentions" in text and "against 0.5 expected" in text
    assert "Top negative mentions:" in text


def test_dead_smtp_server_is_recorded_and_a_later_poll_delivers_exactly_once(settings_factory):
    port = free_port()  # nothing listens here yet
    rt, clock = spike_runtime(settings_factory, port)
    try:
        check_after_poll(alerting(rt), "history", brands={"Vellora"})
        with rt.engine.connect() as conn:
            (alert,) = list_alerts(conn)
            deliveries = deliveries_of(conn, alert.id)
        assert alert.notified_at is not None  # the notification is decided, only not delivered
        assert {(d.channel, d.recipient) for d in deliveries} == {
            ("email", "cm@example.com"),
            ("email", "direccion@example.com"),
        }
        for d in deliveries:
            assert d.pending and not d.ok and d.attempts == 1
            assert f"SMTP server 127.0.0.1:{port} unreachable" in (d.error or "")
            assert "Connection refused" in (d.error or "") or "ConnectionRefused" in (d.error or "")

        with SmtpSink(port) as sink:
            # Within the back-off nothing is tried again …
            clock.advance(seconds=30)
            check_after_poll(alerting(rt), "history")
            assert sink.messages == []
            # … after it, the next poll delivers; the polls after that send nothing more.
            for _ in range(3):
                clock.advance(minutes=5)
                check_after_poll(alerting(rt), "history", brands={"Vellora"})
            assert len(sink.to("cm@example.com")) == 1
            assert len(sink.to("direccion@example.com")) == 1
            assert len(sink.messages) == 2

        with rt.engine.connect() as conn:
            assert len(list_alerts(conn)) == 1
            for d in deliveries_of(conn, alert.id):
                assert d.ok and not d.pending and d.attempts == 2 and d.error is None
    finally:
        rt.close()


def test_the_old_alerts_dashboard_url_key_still_sets_the_link(settings_factory, tmp_path, capsys):
    with SmtpSink() as sink:
        rt, _ = spike_runtime(settings_factory, sink.port, old_dashboard_key=True)
        try:
            assert rt.settings.dashboard.public_url == "http://vigia.example:8501"
            check_after_poll(alerting(rt), "history", brands={"Vellora"})
            with rt.engine.connect() as conn:
                (alert,) = list_alerts(conn)
        finally:
            rt.close()
        text = text_part(sink.to("cm@example.com")[0])
    assert f"http://vigia.example:8501/alerts?id={alert.id}\n" in text
    # check-config accepts it, with a one-line note naming the new key.
    config = tmp_path / "old.yaml"
    config.write_text(
        "brands: [{name: Vellora, keywords: [vellora]}]\n"
        "alerts: {dashboard_url: 'https://vigia.example.com'}\n",
        encoding="utf-8",
    )
    assert main(["-c", str(config), "check-config"]) == 0
    out = capsys.readouterr().out.splitlines()
    notes = [line for line in out if ": note: " in line]
    assert notes == [
        f"{config}: note: alerts.dashboard_url is deprecated; write it as dashboard.public_url"
    ]
