"""Escalations e-mail the managers: a rule's at intake through the real pipeline (a local HTTP
server replaying a feed), a person's from the inbox, each received once by a real SMTP server
however often the poll runs or the item is escalated again; and the rule tester's explanation."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from collectors.base import Mention
from tests.replay import ReplayServer, Reply
from tests.vigia.alert_scenario import (
    START,
    SimClock,
    SmtpSink,
    html_part,
    rss,
    smtp_settings,
    text_part,
)
from tests.vigia.test_pipeline import RSS
from vigia import pipeline
from vigia.access.roles import Actor, Role
from vigia.config import EscalationRule
from vigia.inbox import escalation
from vigia.inbox.escalation import INBOX_ESCALATION, explain
from vigia.pipeline import Runtime, poll_all
from vigia.storage.alerts import deliveries_of, list_alerts
from vigia.storage.inbox import get_item
from vigia.storage.schema import inbox_items

DASHBOARD = "http://vigia.example:8501"
LEGAL = {"name": "legal", "terms": ["abogado", "denuncia", "OCU", "lawyer", "sue"]}
VIRAL = {"name": "very-negative-viral", "max_compound": -0.8, "min_engagement": 100}
# Negative, names the brand and a legal term: an item that opens escalated by `legal`.
THREAT = (
    "Vellora es un desastre, me cobrasteis dos veces el pedido VL-482913 y nadie responde. "
    "Pésimo servicio: mañana pongo una denuncia en la OCU."
)
# Negative too, but no rule escalates it: a person will.
COMPLAINT = "Vellora, qué desastre: el paquete llegó roto y el chat no contesta. Fatal."


def _runtime(runtime_factory: Any, replay: ReplayServer, port: int, **alerts: Any) -> Runtime:
    """Vellora's forum feed on `replay`, mail to a team and its managers through `port`."""
    return runtime_factory(
        clock=SimClock(START),
        timezone="Europe/Madrid",
        sources=[
            {"name": "forum", "type": "rss", "url": f"{replay.url}/forum.xml", "brand": "Vellora"}
        ],
        smtp=smtp_settings(port),
        alerts={
            "recipients": ["cm@example.com"],
            "managers": ["direccion@example.com"],
            **alerts,
        },
        dashboard={"public_url": DASHBOARD},
        inbox={"escalation": [LEGAL, VIRAL]},
    )


def _serve(replay: ReplayServer, *texts: str) -> None:
    """The forum feed with one post per text, by @ana0, @ana1 …, published from 09:40 UTC."""
    posts = [
        Mention(
            "forum",
            f"post-{n}",
            f"https://foro.example.es/t/{n}",
            START - timedelta(minutes=20 - n),
            text,
            author=f"@ana{n}",
        )
        for n, text in enumerate(texts)
    ]
    replay.route("/forum.xml", Reply(rss(posts), headers=RSS))


def _escalation_alerts(rt: Runtime) -> list[Any]:
    with rt.engine.connect() as conn:
        return list_alerts(conn, states=None, rule=INBOX_ESCALATION)


def test_a_rule_escalation_emails_the_managers_once_however_often_the_poll_runs(
    replay: ReplayServer, runtime_factory: Any
) -> None:
    _serve(replay, THREAT)
    with SmtpSink() as sink:
        rt = _runtime(runtime_factory, replay, sink.port)
        (first,) = poll_all(rt)
        # The item opened escalated, and its e-mail left within the same poll.
        assert first.escalated == [1] and len(sink.messages) == 1
        for _ in range(2):
            rt.clock.advance(minutes=5)  # type: ignore[attr-defined]
            poll_all(rt, force=True)
        # A person escalating it again (it is already with management) sends nothing more.
        escalation.escalate(
            rt.engine, rt.settings, Actor("nora", Role.MANAGER, "cli"), [1], rt.clock()
        )
        # Only the managers: the care team works the item in the inbox already.
        assert sink.to("cm@example.com") == []
        (message,) = sink.to("direccion@example.com")
    (alert,) = _escalation_alerts(rt)
    with rt.engine.connect() as conn:
        (delivery,) = deliveries_of(conn, alert.id)
        item = get_item(conn, 1)
    assert delivery.ok and delivery.attempts == 1
    assert alert.severity == "critical" and alert.subject == "inbox item 1"
    assert item is not None and item.state == "escalated" and item.escalation_rule == "legal"

    assert message["Subject"] == "[Vigía] CRÍTICO · Vellora #1 · mención escalada"
    assert message["X-Vigia-Alert"] == alert.key
    text = text_part(message).replace("\r\n", "\n")
    # Why, how urgent, the mention (source, author, time in the configured zone, text, link),
    # and where to work it: the item on the dashboard, then the alert.
    assert text.startswith("Escalada a responsables por la regla «legal».\n")
    assert "Prioridad " in text and "menciona 'denuncia'" in text
    assert f"1. forum · @ana0 · 2026-03-10 10:40 — {THREAT}\n" in text
    assert "   https://foro.example.es/t/0\n" in text
    assert f"Abrir en la bandeja (asignar, responder, cerrar): {DASHBOARD}/inbox?item=1\n" in text
    assert f"Ver en el panel: {DASHBOARD}/alerts?id={alert.id}\n" in text
    html = html_part(message)
    assert '<a href="https://foro.example.es/t/0">' in html
    assert f'<a href="{DASHBOARD}/inbox?item=1">' in html


def test_a_persons_escalation_emails_the_managers_at_once_and_once(
    replay: ReplayServer, runtime_factory: Any
) -> None:
    _serve(replay, COMPLAINT)
    with SmtpSink() as sink:
        rt = _runtime(runtime_factory, replay, sink.port, language="en")
        (report,) = poll_all(rt)
        assert report.inbox_opened == 1 and report.escalated == []
        assert sink.messages == []
        agent = Actor("nora", Role.AGENT, "dashboard")
        rows = escalation.escalate(rt.engine, rt.settings, agent, [1], rt.clock())
        assert [(r.id, r.state) for r in rows] == [(1, "escalated")]
        # Sent by the action itself: no poll in between.
        (message,) = sink.to("direccion@example.com")
        # Escalated twice (a double click), and polled again: still one e-mail.
        escalation.escalate(rt.engine, rt.settings, agent, [1], rt.clock())
        rt.clock.advance(minutes=5)  # type: ignore[attr-defined]
        poll_all(rt, force=True)
        assert len(sink.messages) == 1
    assert message["Subject"] == "[Vigía] CRITICAL · Vellora #1 · escalated mention"
    text = text_part(message).replace("\r\n", "\n")
    assert text.startswith("Escalated to management by nora.\n")
    assert f"— {COMPLAINT}\n" in text
    assert f"Open it in the inbox (assign, answer, close): {DASHBOARD}/inbox?item=1\n" in text
    (alert,) = _escalation_alerts(rt)
    assert alert.evidence["by"] == "nora" and alert.evidence["rule"] is None


def test_without_managers_the_recipients_get_the_escalation(
    replay: ReplayServer, runtime_factory: Any
) -> None:
    _serve(replay, THREAT, COMPLAINT)
    with SmtpSink() as sink:
        rt = _runtime(runtime_factory, replay, sink.port, managers=[])
        poll_all(rt)
        assert [m["Subject"] for m in sink.to("cm@example.com")] == [
            "[Vigía] CRÍTICO · Vellora #1 · mención escalada"
        ]
    with rt.engine.connect() as conn:
        states = dict(conn.execute(select(inbox_items.c.id, inbox_items.c.state)).all())
    assert states == {1: "escalated", 2: "new"}


def test_a_failed_store_raises_no_escalation(
    replay: ReplayServer, runtime_factory: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The alert is written in the transaction that stores the mention: a store that fails
    after it leaves neither, and the next poll escalates and e-mails the item once."""
    _serve(replay, THREAT)
    raise_alerts = escalation.raise_alerts
    failures = [RuntimeError("the process died here")]

    def then_fail_once(*args: Any, **kwargs: Any) -> list[int]:
        raised = raise_alerts(*args, **kwargs)
        if failures:
            raise failures.pop()
        return raised

    monkeypatch.setattr(pipeline, "raise_alerts", then_fail_once)
    with SmtpSink() as sink:
        rt = _runtime(runtime_factory, replay, sink.port)
        (failed,) = poll_all(rt)
        assert failed.error is not None and "died" in failed.error
        assert _escalation_alerts(rt) == [] and sink.messages == []
        with rt.engine.connect() as conn:
            assert get_item(conn, 1) is None
        rt.clock.advance(minutes=5)  # type: ignore[attr-defined]
        (polled,) = poll_all(rt, force=True)
        assert polled.escalated == [1] and len(sink.messages) == 1


RULES = [EscalationRule(**LEGAL), EscalationRule(**VIRAL)]


def test_explain_says_which_rule_escalates_a_sample_and_why() -> None:
    assert explain(RULES, "Mañana pongo una denuncia en la OCU", "es", -0.7) == (
        'Sample (es, compound -0.70): "Mañana pongo una denuncia en la OCU"\n'
        "legal: escalates — ✓ term 'denuncia'\n"
        "very-negative-viral: no — ✗ compound -0.70 > -0.80; ✗ 0 interactions < 100\n"
        "Result: escalated by rule legal (priority 53: muy negativa · menciona 'denuncia')."
    )


def test_explain_with_interactions_and_a_text_no_rule_meets() -> None:
    viral = explain(RULES, "Worst shop ever", "en", -0.85, engagement=250)
    assert viral.splitlines()[1:] == [
        "legal: no — ✗ none of its 5 terms",
        "very-negative-viral: escalates — ✓ compound -0.85 ≤ -0.80; ✓ 250 interactions ≥ 100",
        "Result: escalated by rule very-negative-viral (priority 75: muy negativa · 250 "
        "interacciones · regla very-negative-viral).",
    ]
    # "sue" is a whole word only: "suede" is no threat.
    calm = explain(RULES, "Love my new suede boots from Vellora", "en", 0.6)
    assert calm.splitlines()[1:] == [
        "legal: no — ✗ none of its 5 terms",
        "very-negative-viral: no — ✗ compound +0.60 > -0.80; ✗ 0 interactions < 100",
        "Result: not escalated.",
    ]
    topical = EscalationRule(name="billing", topics=["price_billing"])
    assert "billing: escalates — ✓ topic among price_billing" in explain(
        [topical], "Cobro doble", "es", -0.4, topics=["price_billing"]
    )
    assert explain([], "Hola", "es", 0.0).splitlines()[1] == (
        "No escalation rules are configured (inbox.escalation in config.yaml)."
    )


def test_explain_with_the_authors_followers_known_or_not() -> None:
    loud = [EscalationRule(name="loud-voice", max_compound=-0.5, min_followers=10_000)]
    text = "Vellora me ha vuelto a fallar"
    # Negative (40 × 0.55 = 22), 23 000 followers (15 × log10(23001)/log10(100001) ≈ 13.1) and
    # the rule (25): 60.1.
    heard = explain(loud, text, "es", -0.55, followers=23_000)
    assert heard.splitlines()[1:] == [
        "loud-voice: escalates — ✓ compound -0.55 ≤ -0.50; ✓ 23000 followers ≥ 10000",
        "Result: escalated by rule loud-voice (priority 60.1: negativa · 23.0 k seguidores · "
        "regla loud-voice).",
    ]
    few = explain(loud, text, "es", -0.55, followers=800)
    assert few.splitlines()[1] == (
        "loud-voice: no — ✓ compound -0.55 ≤ -0.50; ✗ 800 followers < 10000"
    )
    # Without --followers the count is unknown, as on a platform that gives none: not met.
    unknown = explain(loud, text, "es", -0.55)
    assert unknown.splitlines()[1] == (
        "loud-voice: no — ✓ compound -0.55 ≤ -0.50; ✗ followers unknown (needs 10000)"
    )
