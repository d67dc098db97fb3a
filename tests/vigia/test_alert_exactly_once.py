"""Alert e-mail exactly once, as far as SMTP allows, against real SMTP servers that misbehave.

Each test seeds two calm weeks of Vellora and 15 negative mentions in the last 40 minutes: a
critical spike, e-mailed to the community team and the managers.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from sqlalchemy.engine import Engine

from tests.vigia.alert_scenario import (
    DECIDED_AT,
    START,
    Collect,
    HangUpOnSecondMail,
    RefuseRecipients,
    SimClock,
    SlowToConfirm,
    SmtpSink,
    alerting,
    decision_settings,
    history,
    negatives,
    smtp_settings,
    spike_finding,
    store,
)
from vigia.alerts.channels import deliver_due
from vigia.alerts.context import AlertContext
from vigia.alerts.detect import apply_finding, check_after_poll
from vigia.alerts.digest import send_digest
from vigia.alerts.policy import Decision
from vigia.cli import main
from vigia.pipeline import Runtime
from vigia.storage import connect
from vigia.storage.alerts import Delivery, deliveries_of, list_alerts, resend_delivery

CM, TEAM, BOSS = "cm@example.com", "equipo@example.com", "direccion@example.com"


def spike(
    settings_factory,  # type: ignore[no-untyped-def]
    port: int,
    recipients: tuple[str, ...] = (CM,),
    timeout: float = 5,
    **alerts: object,
) -> tuple[Runtime, SimClock]:
    settings = settings_factory(
        smtp={**smtp_settings(port), "timeout": timeout},
        alerts={"recipients": list(recipients), "managers": [BOSS], **alerts},
    )
    clock = SimClock(START + timedelta(minutes=40))
    rt = Runtime.build(settings, clock=clock)
    store(rt, history("Vellora", START))
    store(rt, negatives("Vellora", START + timedelta(minutes=2), 15, every=2))
    return rt, clock


def deliveries(engine: Engine) -> dict[str, Delivery]:
    """The alert's deliveries by recipient (one alert, one round in these tests)."""
    with engine.connect() as conn:
        (alert,) = list_alerts(conn)
        return {d.recipient: d for d in deliveries_of(conn, alert.id)}


def test_a_server_that_confirms_too_late_gets_one_copy_and_only_a_person_resends_it(
    settings_factory,
):
    # The server keeps each message, then answers after 2 s; the client gives up after 1 s.
    server = SlowToConfirm(delay=2.0)
    with SmtpSink(handler=server) as sink:
        rt, clock = spike(settings_factory, sink.port, timeout=1)
        ctx = alerting(rt)
        try:
            check_after_poll(ctx, "history", brands={"Vellora"})
            assert len(sink.to(CM)) == 1 and len(sink.to(BOSS)) == 1
            for d in deliveries(rt.engine).values():
                assert d.uncertain and not d.ok and not d.pending
                assert d.attempts == 1 and d.next_attempt_at is None
                assert "never confirmed" in (d.error or "") and "timed out" in (d.error or "")

            # The server answers promptly from now on, yet nothing is sent again by itself:
            # not by later polls, not once the claim and every back-off have run out.
            server.slow = False
            for minutes in (1, 5, 15, 90, 24 * 60):
                clock.advance(minutes=minutes)
                assert deliver_due(ctx) == []
                check_after_poll(ctx, "history", brands={"Vellora"})
            assert len(sink.to(CM)) == 1 and len(sink.to(BOSS)) == 1

            # A person resends the community manager's copy: the next poll sends it, once.
            with rt.engine.begin() as conn:
                resent = resend_delivery(conn, deliveries(rt.engine)[CM].id, clock())
            assert resent.pending and not resent.uncertain
            check_after_poll(ctx, "history", brands={"Vellora"})
            check_after_poll(ctx, "history", brands={"Vellora"})
            first, second = sink.to(CM)
            assert len(sink.to(BOSS)) == 1
            # The same Message-ID, so a mail system that has the first can drop the second.
            assert first["Message-ID"] == second["Message-ID"]
            after = deliveries(rt.engine)
            assert after[CM].ok and not after[CM].uncertain and after[CM].attempts == 2
            assert after[BOSS].uncertain
        finally:
            rt.close()


def test_a_hang_up_fails_only_the_message_it_cut_and_the_rest_go_on_a_new_connection(
    settings_factory,
):
    # One message per connection: the second MAIL of a connection is answered 421 and cut.
    server = HangUpOnSecondMail()
    with SmtpSink(handler=server) as sink:
        rt, clock = spike(settings_factory, sink.port, recipients=(CM, TEAM))
        ctx = alerting(rt)
        try:
            check_after_poll(ctx, "history", brands={"Vellora"})
            assert server.hung_up == 1
            # CM went on the first connection; TEAM's MAIL was cut (never sent: retried after
            # its back-off); BOSS went over a new connection at once.
            now = deliveries(rt.engine)
            assert now[CM].ok and now[BOSS].ok
            assert now[TEAM].pending and now[TEAM].attempts == 1 and not now[TEAM].uncertain
            assert len(sink.to(CM)) == 1 and len(sink.to(BOSS)) == 1 and sink.to(TEAM) == []

            clock.advance(minutes=2)
            assert [a.error for a in deliver_due(ctx)] == [None]
            clock.advance(minutes=10)
            assert deliver_due(ctx) == []
            assert [len(sink.to(address)) for address in (CM, TEAM, BOSS)] == [1, 1, 1]
        finally:
            rt.close()


def test_messages_a_lost_connection_never_reached_are_not_failed_and_go_next_time(
    settings_factory,
):
    # The server cuts the line at the second MAIL and stops listening: no new connection.
    first = SmtpSink(handler=HangUpOnSecondMail(go_away=True))
    rt, clock = spike(settings_factory, first.port, recipients=(CM, TEAM))
    ctx = alerting(rt)
    try:
        with first:
            check_after_poll(ctx, "history", brands={"Vellora"})
            assert len(first.to(CM)) == 1 and len(first.messages) == 1
        now = deliveries(rt.engine)
        assert now[CM].ok
        assert now[TEAM].pending and now[TEAM].attempts == 1  # cut before its body: retried
        # BOSS's message was never tried: not failed, not uncertain, due again at once.
        boss = now[BOSS]
        assert boss.attempts == 0 and boss.error is None and boss.attempted_at is None
        assert not boss.uncertain and boss.pending
        assert boss.next_attempt_at == clock().replace(tzinfo=None)

        with SmtpSink(first.port) as second:  # the server is back
            clock.advance(seconds=10)
            (sent,) = deliver_due(ctx)  # BOSS at once; TEAM is still backing off
            assert sent.delivery.recipient == BOSS and sent.error is None
            clock.advance(minutes=2)
            (sent,) = deliver_due(ctx)
            assert sent.delivery.recipient == TEAM and sent.error is None
            clock.advance(minutes=10)
            assert deliver_due(ctx) == []
            received = [m["To"] for m in first.messages + second.messages]
        assert sorted(received) == sorted([CM, TEAM, BOSS])  # each exactly once
        assert all(d.ok for d in deliveries(rt.engine).values())
    finally:
        rt.close()


def test_a_refusal_before_data_is_retried_and_received_once_after_recovery(settings_factory):
    server = RefuseRecipients()  # 451 to every RCPT: no message can get to DATA
    with SmtpSink(handler=server) as sink:
        rt, clock = spike(settings_factory, sink.port)
        ctx = alerting(rt)
        try:
            check_after_poll(ctx, "history", brands={"Vellora"})
            assert sink.messages == [] and server.refused == 2
            for d in deliveries(rt.engine).values():
                assert d.pending and not d.uncertain and d.attempts == 1
                assert "451" in (d.error or "") and "mailbox busy" in (d.error or "")

            server.refusing = False
            clock.advance(seconds=30)  # within the back-off: not tried
            assert deliver_due(ctx) == []
            for _ in range(3):
                clock.advance(minutes=2)
                check_after_poll(ctx, "history", brands={"Vellora"})
            assert len(sink.to(CM)) == 1 and len(sink.to(BOSS)) == 1
            assert len(sink.messages) == 2
            for d in deliveries(rt.engine).values():
                assert d.ok and d.attempts == 2 and d.error is None
        finally:
            rt.close()


def test_an_unconfirmed_digest_is_not_resent_by_the_next_digest(settings_factory):
    server = SlowToConfirm(delay=2.0)
    with SmtpSink(handler=server) as sink:
        # Warnings wait for the digest; raise z_critical so the spike stays a warning.
        rt, clock = spike(
            settings_factory, sink.port, timeout=1, digest=True, spike={"z_critical": 100}
        )
        ctx = alerting(rt)
        try:
            check_after_poll(ctx, "history", brands={"Vellora"})
            assert sink.messages == []
            clock.advance(hours=20)
            assert send_digest(ctx) == 0
            (digest,) = sink.to(CM)
            assert digest["Subject"].startswith("[Vigía] Resumen diario")
            assert deliveries(rt.engine)[CM].uncertain

            server.slow = False
            clock.advance(days=1)
            assert send_digest(ctx) == 0  # nothing due: the unconfirmed one waits for a person
            assert len(sink.to(CM)) == 1

            with rt.engine.begin() as conn:
                resend_delivery(conn, deliveries(rt.engine)[CM].id, clock())
            clock.advance(days=1)
            assert send_digest(ctx) == 1
            first, second = sink.to(CM)
            assert first["Message-ID"] == second["Message-ID"]
            assert deliveries(rt.engine)[CM].ok
        finally:
            rt.close()


def test_cli_lists_unconfirmed_deliveries_and_resends_one(settings_factory, tmp_path: Path, capsys):
    with SmtpSink(handler=SlowToConfirm(delay=2.0)) as sink:
        rt, _ = spike(settings_factory, sink.port, timeout=1)
        try:
            check_after_poll(alerting(rt), "history", brands={"Vellora"})
            unsure = deliveries(rt.engine)
        finally:
            rt.close()
    config = tmp_path / "config.yaml"
    config.write_text(
        "database_url: sqlite:///vigia.db\nbrands: [{name: Vellora, keywords: [vellora]}]\n",
        encoding="utf-8",
    )

    assert main(["-c", str(config), "alerts", "list"]) == 0
    listing = capsys.readouterr().out
    assert "negative_spike" in listing and "[2 uncertain]" in listing
    for address in (CM, BOSS):
        delivery_id = unsure[address].id
        assert f"uncertain delivery {delivery_id}: email to {address}" in listing
        assert f"vigia alerts resend {delivery_id}" in listing

    assert main(["-c", str(config), "alerts", "resend", str(unsure[CM].id)]) == 0
    assert "due again, sent at the next poll" in capsys.readouterr().out
    # Pressing it twice never makes it go twice; an unknown id is an error.
    assert main(["-c", str(config), "alerts", "resend", str(unsure[CM].id)]) == 1
    assert "already due" in capsys.readouterr().err
    assert main(["-c", str(config), "alerts", "resend", "999"]) == 1
    assert "no delivery with id 999" in capsys.readouterr().err

    assert main(["-c", str(config), "alerts", "list"]) == 0
    assert "[1 uncertain]" in capsys.readouterr().out


def test_a_well_behaved_server_still_gets_each_message_once_over_one_connection(
    settings_factory,
):
    class CountConnections(Collect):
        def __init__(self) -> None:
            super().__init__()
            self.connections = 0

        async def handle_EHLO(self, server, session, envelope, hostname, responses):  # type: ignore[no-untyped-def]  # noqa: N802
            self.connections += 1
            session.host_name = hostname
            return responses

    server = CountConnections()
    with SmtpSink(handler=server) as sink:
        rt, _ = spike(settings_factory, sink.port, recipients=(CM, TEAM))
        try:
            check_after_poll(alerting(rt), "history", brands={"Vellora"})
        finally:
            rt.close()
        assert sorted(m["To"] for m in sink.messages) == sorted([CM, TEAM, BOSS])
        assert server.connections == 1


def test_a_warning_still_queued_when_its_alert_escalates_is_not_sent_as_a_second_copy(
    tmp_path: Path,
) -> None:
    # Another worker escalates the alert between one worker planning the warning round and
    # sending it. A message is rendered when it is sent, so the queued warning would arrive as a
    # copy of the critical one: it is dropped, and the team gets the critical e-mail once.
    with SmtpSink() as sink:
        settings = decision_settings(f"sqlite:///{tmp_path / 'vigia.db'}", tmp_path, sink.port)
        engine = connect(settings.resolved_database_url)
        ctx = AlertContext(settings, engine, lambda: DECIDED_AT)
        try:
            assert apply_finding(ctx, spike_finding("warning"), START).decision is Decision.NEW
            escalated = apply_finding(ctx, spike_finding("critical"), DECIDED_AT)
            assert escalated.decision is Decision.ESCALATE
            deliver_due(ctx)
            deliver_due(ctx)
            with engine.connect() as conn:
                rounds = sorted((d.round, d.recipient, d.ok) for d in deliveries_of(conn, 1))
        finally:
            engine.dispose()
    assert rounds == [(2, "cm@example.com", True), (2, "direccion@example.com", True)]
    assert [m["Subject"] for m in sink.to("cm@example.com")] == [
        m["Subject"] for m in sink.to("direccion@example.com")
    ]
    assert len(sink.messages) == 2
