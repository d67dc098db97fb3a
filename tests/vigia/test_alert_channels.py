"""Alert channels other than one e-mail each: webhooks, Apprise, the .eml outbox, the daily digest."""

from __future__ import annotations

import json
from datetime import timedelta
from email import message_from_bytes
from email.policy import default as default_policy

from collectors.base import Mention
from tests.replay import Reply
from tests.vigia.alert_scenario import (
    START,
    SimClock,
    SmtpSink,
    alerting,
    history,
    negatives,
    smtp_settings,
    store,
    text_part,
)
from vigia.alerts.channels import deliver_due
from vigia.alerts.detect import check_after_poll
from vigia.alerts.digest import send_digest
from vigia.pipeline import Runtime
from vigia.scheduler import build_scheduler
from vigia.storage.alerts import deliveries_of, list_alerts

NOW = START + timedelta(minutes=40)


def spiking(settings, brands: dict[str, int]) -> tuple[Runtime, SimClock]:  # type: ignore[no-untyped-def]
    """Two calm weeks for each brand, then `brands[name]` negatives between 10:02 and 10:30."""
    clock = SimClock(NOW)
    rt = Runtime.build(settings, clock=clock)
    for brand, count in brands.items():
        store(rt, history(brand, START))
        store(rt, negatives(brand, START + timedelta(minutes=2), count, every=28 / count))
    return rt, clock


def test_generic_webhook_receives_the_alert_as_json_once(settings_factory, replay):
    replay.route("/hook", Reply(b"ok"))
    settings = settings_factory(alerts={"webhooks": [f"{replay.url}/hook"]})
    rt, clock = spiking(settings, {"Vellora": 15})
    try:
        for _ in range(3):  # the spike goes on over three polls
            check_after_poll(alerting(rt), "history", brands={"Vellora"})
            clock.advance(minutes=5)
    finally:
        rt.close()
    (hit,) = replay.hits("/hook")
    assert hit.method == "POST"
    assert hit.headers["Content-Type"].startswith("application/json")
    payload = json.loads(hit.body)
    assert payload["title"] == "[Vigía] CRÍTICO · Vellora · pico de menciones negativas"
    assert payload["alert"]["rule"] == "negative_spike"
    assert payload["alert"]["brand"] == "Vellora"
    assert payload["alert"]["severity"] == "critical"
    assert payload["alert"]["evidence"]["negative"] == 15
    assert payload["alert"]["evidence"]["top"][0]["url"].startswith("https://social.example/")
    assert "15 menciones negativas" in payload["text"]


def test_failed_webhook_is_recorded_and_retried_until_it_succeeds(settings_factory, replay):
    replay.route("/hook", Reply(b"down", status=502), Reply(b"ok"))
    settings = settings_factory(alerts={"webhooks": [{"name": "ops", "url": f"{replay.url}/hook"}]})
    rt, clock = spiking(settings, {"Vellora": 15})
    try:
        check_after_poll(alerting(rt), "history", brands={"Vellora"})
        with rt.engine.connect() as conn:
            (alert,) = list_alerts(conn)
            (delivery,) = deliveries_of(conn, alert.id)
        assert delivery.channel == "webhook" and delivery.recipient == "ops"
        assert (
            delivery.pending and delivery.error == "webhook ops (127.0.0.1): HTTP 502 Bad Gateway"
        )

        clock.advance(minutes=2)
        assert [a.error for a in deliver_due(alerting(rt))] == [None]
        clock.advance(minutes=10)
        assert deliver_due(alerting(rt)) == []
        with rt.engine.connect() as conn:
            (delivery,) = deliveries_of(conn, alert.id)
        assert delivery.ok and delivery.attempts == 2
        assert len(replay.hits("/hook")) == 2
    finally:
        rt.close()


def test_apprise_urls_and_per_recipient_minimum_severity(settings_factory, replay):
    # Apprise's json:// notifier stands in for Slack/Telegram/Teams: same library path, local.
    replay.route("/team", Reply(b"ok"))
    replay.route("/managers", Reply(b"ok"))
    host = replay.url.removeprefix("http://")
    settings = settings_factory(
        alerts={
            "spike": {"z_critical": 100},  # keep it a warning
            "webhooks": [
                {"name": "team-chat", "url": f"json://{host}/team"},
                {
                    "name": "managers-chat",
                    "url": f"json://{host}/managers",
                    "min_severity": "critical",
                },
            ],
        }
    )
    rt, _ = spiking(settings, {"Vellora": 8})
    try:
        (outcome,) = check_after_poll(alerting(rt), "history", brands={"Vellora"})
    finally:
        rt.close()
    assert outcome.severity == "warning"
    assert replay.hits("/managers") == []
    (hit,) = replay.hits("/team")
    body = json.loads(hit.body)
    assert body["title"] == "[Vigía] AVISO · Vellora · pico de menciones negativas"
    assert "8 menciones negativas" in body["message"]


def test_outbox_writes_each_message_as_an_eml_file(settings_factory, tmp_path):
    settings = settings_factory(alerts={"outbox": "outbox", "recipients": ["cm@example.com"]})
    rt, _ = spiking(settings, {"Vellora": 15})
    try:
        check_after_poll(alerting(rt), "history", brands={"Vellora"})
        check_after_poll(alerting(rt), "history", brands={"Vellora"})
    finally:
        rt.close()
    (path,) = (tmp_path / "outbox").iterdir()
    assert path.name == "vigia-alert-1-1.eml"
    message = message_from_bytes(path.read_bytes(), policy=default_policy)
    assert message["Subject"] == "[Vigía] CRÍTICO · Vellora · pico de menciones negativas"
    assert message["To"] == "cm@example.com"
    assert "15 menciones negativas" in text_part(message)


def test_spreading_thread_alert_carries_the_threads_growth(settings_factory, replay):
    # A brand complaint at 07:40; its replies (which never name the brand) turn into a pile-on:
    # one negative reply in the hour before 09:40, eight by eight people in the last hour.
    replay.route("/hook", Reply(b"ok"))
    settings = settings_factory(alerts={"webhooks": [f"{replay.url}/hook"]})
    clock = SimClock(NOW)
    rt = Runtime.build(settings, clock=clock)
    root = Mention(
        "forum",
        "t1",
        "https://forum.example/t/1",
        NOW - timedelta(hours=3),
        "Vellora me ha cobrado dos veces y nadie responde, fatal",
        author="@ana",
        thread_id="t1",
    )
    reply_text = "Qué vergüenza, a mí también me pasó, servicio pésimo, estafa"
    replies = [
        Mention(
            "forum",
            f"r{n}",
            f"https://forum.example/t/1#r{n}",
            NOW - timedelta(minutes=minutes),
            reply_text,
            author=f"@user{n}",
            thread_id="t1",
            parent_id="t1",
        )
        for n, minutes in enumerate([90, 50, 45, 40, 35, 30, 20, 10, 5])
    ]
    try:
        store(rt, [root, *replies], source="forum")
        outcomes = check_after_poll(alerting(rt), "forum", brands={"Vellora"})
    finally:
        rt.close()
    assert [(o.rule, o.subject) for o in outcomes] == [("spreading_thread", "forum:t1")]
    (hit,) = replay.hits("/hook")
    payload = json.loads(hit.body)
    assert payload["title"] == "[Vigía] AVISO · Vellora · hilo negativo en expansión"
    evidence = payload["alert"]["evidence"]
    assert evidence["negative"] == 8 and evidence["negative_previous"] == 1
    assert sum(point[2] for point in evidence["growth"]) == 10  # the complaint and its replies
    assert "«Vellora me ha cobrado dos veces" in payload["text"]
    assert "https://forum.example/t/1#r8" in payload["text"]


def test_digest_collects_warnings_while_critical_alerts_go_at_once(settings_factory):
    with SmtpSink() as sink:
        settings = settings_factory(
            brands=[
                {"name": name, "keywords": [name.lower()]} for name in ("Vellora", "Brisa", "Nimbo")
            ],
            smtp=smtp_settings(sink.port),
            alerts={
                "digest": True,
                "digest_hour": 8,
                "recipients": ["cm@example.com"],
                "managers": ["direccion@example.com"],
                "spike": {"z_critical": 12},
            },
        )
        # Six to eight negatives are a warning, thirty a critical spike.
        rt, clock = spiking(settings, {"Vellora": 6, "Brisa": 8, "Nimbo": 30})
        try:
            outcomes = check_after_poll(
                alerting(rt), "history", brands={"Vellora", "Brisa", "Nimbo"}
            )
            assert sorted((o.subject, o.severity) for o in outcomes) == [
                ("Brisa", "warning"),
                ("Nimbo", "critical"),
                ("Vellora", "warning"),
            ]
            # Only the critical one went out, to the team and the managers.
            assert [m["Subject"] for m in sink.messages] == [
                "[Vigía] CRÍTICO · Nimbo · pico de menciones negativas"
            ] * 2

            clock.advance(hours=20)
            assert send_digest(alerting(rt)) == 1
            assert (
                send_digest(alerting(rt)) == 0
            )  # the queue is cleared only by the send that succeeded
            (digest,) = sink.to("cm@example.com")[1:]
            assert sink.to("direccion@example.com")[1:] == []
            assert digest["Subject"] == "[Vigía] Resumen diario · 2 avisos"
            text = text_part(digest)
            assert "AVISO · Vellora · pico de menciones negativas" in text
            assert "AVISO · Brisa · pico de menciones negativas" in text
            assert "Nimbo" not in text

            jobs = {job.id: job for job in build_scheduler(rt).get_jobs()}
            assert str(jobs["alerts:digest"].trigger).startswith("cron[")
        finally:
            rt.close()


def test_webhook_retry_after_a_timeout_carries_the_same_idempotency_key(settings_factory, replay):
    # The receiver takes the first POST but answers after the client gave up; the retry must
    # let it see that this is the same notification.
    replay.route("/hook", Reply(b"ok", delay=1.0), Reply(b"ok"))
    settings = settings_factory(
        alerts={"webhooks": [{"name": "ops", "url": f"{replay.url}/hook"}]},
        http={"timeout": 0.3, "retries": 0, "backoff_base": 0.01, "min_interval_per_host": 0},
    )
    rt, clock = spiking(settings, {"Vellora": 15})
    try:
        check_after_poll(alerting(rt), "history", brands={"Vellora"})
        with rt.engine.connect() as conn:
            (alert,) = list_alerts(conn)
            (delivery,) = deliveries_of(conn, alert.id)
        assert delivery.pending and "ReadTimeout" in (delivery.error or "")

        clock.advance(minutes=2)
        assert [a.error for a in deliver_due(alerting(rt))] == [None]
    finally:
        rt.close()
    first, second = replay.hits("/hook")
    key = first.headers["Idempotency-Key"]
    assert key == f"vigia-{alert.id}-1-{delivery.id}"
    assert second.headers["Idempotency-Key"] == key
    assert json.loads(first.body) == json.loads(second.body)


def test_recipients_without_smtp_are_logged_as_not_sent_not_counted_as_sent(settings_factory):
    # The outbox is written; the e-mail cannot even be tried. Before, the e-mail was left out of
    # the delivery log, and the dashboard read the outbox alone as "1/1 sent".
    from vigia.alerts.channels import NO_SMTP

    settings = settings_factory(alerts={"outbox": "outbox", "recipients": ["cm@example.com"]})
    assert settings.smtp is None
    rt, clock = spiking(settings, {"Vellora": 15})
    try:
        check_after_poll(alerting(rt), "history", brands={"Vellora"})
        clock.advance(hours=1)
        assert deliver_due(rt.alert_context) == []  # not due again: it can never succeed
        with rt.engine.connect() as conn:
            (alert,) = list_alerts(conn)
            deliveries = {d.channel: d for d in deliveries_of(conn, alert.id)}
    finally:
        rt.close()
    assert deliveries["outbox"].ok
    email = deliveries["email"]
    assert (email.recipient, email.ok, email.error) == ("cm@example.com", False, NO_SMTP)
    assert email.next_attempt_at is None and not email.uncertain
    assert sum(d.ok for d in deliveries.values()) == 1  # 1 of 2 sent
