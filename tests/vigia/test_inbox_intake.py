"""The care inbox's intake on hand-made mentions: what becomes an item, what is grouped into one,
when a closed item reopens, how the priority is made, escalation rules, and the role-checked,
audited actions. Real SQLite files; the same intake on this machine's PostgreSQL."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine

from analysis.sentiment import Sentiment
from collectors.base import Engagement, Mention
from vigia.access.accounts import add_user
from vigia.access.roles import Actor, Forbidden, Role
from vigia.analyse import AnalysedMention
from vigia.config import EscalationRule, InboxConfig
from vigia.inbox import actions, rules
from vigia.inbox.intake import IntakeReport, take_in
from vigia.storage import audit, connect
from vigia.storage.inbox import OPEN_STATES, QueueFilter, get_item, mentions_of, queue_page
from vigia.storage.mentions import save_batch

NOW = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
ZONE = ZoneInfo("Europe/Madrid")
CONFIG = InboxConfig(
    escalation=[
        EscalationRule(name="legal", terms=["denuncia", "abogado", "lawyer"]),
        EscalationRule(name="loud-voice", max_compound=-0.5, min_followers=10_000),
    ]
)
ADMIN = Actor("setup", Role.ADMIN, "cli")


def analysed(
    source_id: str,
    text: str,
    compound: float = -0.7,
    *,
    source: str = "mastodon",
    author: str | None = "lucia",
    url: str | None = None,
    thread: str | None = None,
    minutes_ago: int = 30,
    likes: int | None = None,
    followers: int | None = None,
    topics: tuple[str, ...] = ("delivery",),
    brand: str | None = "Vellora",
) -> AnalysedMention:
    label = "negative" if compound <= -0.05 else "positive" if compound >= 0.05 else "neutral"
    return AnalysedMention(
        mention=Mention(
            source=source,
            source_id=source_id,
            url=url or f"https://social.example/{source}/{source_id}",
            published=NOW - timedelta(minutes=minutes_ago),
            text=text,
            author=author,
            author_followers=followers,
            thread_id=thread,
            engagement=Engagement(likes=likes),
        ),
        brand=brand,
        language="es",
        sentiment=Sentiment(neg=0.5, neu=0.5, pos=0.0, compound=compound),
        label=label,
        topics=topics,
    )


@pytest.fixture
def engine(tmp_path: Path) -> Engine:
    engine = connect(f"sqlite:///{tmp_path / 'vigia.db'}")
    add_user(engine, ADMIN, "nora", "agent", "nora-atiende-2026", NOW)
    add_user(engine, ADMIN, "victor", "viewer", "victor-solo-lee-2026", NOW)
    return engine


def store(engine: Engine, items: Sequence[AnalysedMention], now: datetime = NOW) -> IntakeReport:
    """Store mentions (grouped per source, as polls do) and take them into the inbox."""
    report = IntakeReport()
    for source in dict.fromkeys(a.mention.source for a in items):
        batch = {a.mention: a for a in items if a.mention.source == source}
        with engine.begin() as conn:
            saved = save_batch(
                conn, source, list(batch), lambda fresh, batch=batch: [batch[m] for m in fresh], now
            )
            taken = take_in(conn, CONFIG, ZONE, saved.stored, now)
        report.opened += taken.opened
        report.grouped += taken.grouped
        report.reopened += taken.reopened
        report.escalated += taken.escalated
    return report


def queue(engine: Engine) -> list:
    with engine.connect() as conn:
        return queue_page(conn, QueueFilter(), NOW, NOW + timedelta(minutes=10), limit=100)


def test_negative_mentions_and_questions_become_items_and_nothing_else(engine: Engine) -> None:
    report = store(
        engine,
        [
            analysed("1", "Vellora me ha cobrado dos veces el pedido 4471"),
            # A question is worth an answer even when it is not negative.
            analysed("2", "¿Vellora envía a Canarias?", compound=0.0, topics=()),
            # Praise needs no answer; a complaint about no brand of ours is not ours.
            analysed("3", "Encantada con Vellora, todo perfecto", compound=0.8, topics=()),
            analysed("4", "Qué desastre de paquete", brand=None),
            # A three-week-old post fetched by a first poll is history, not work.
            analysed("5", "Vellora nunca me devolvió el dinero", minutes_ago=21 * 24 * 60),
        ],
    )
    assert report.opened == 2
    assert {item.text for item in queue(engine)} == {
        "Vellora me ha cobrado dos veces el pedido 4471",
        "¿Vellora envía a Canarias?",
    }


def test_the_same_complaint_on_three_sources_is_one_item(engine: Engine) -> None:
    complaint = "Vellora lleva 10 días sin entregar mi pedido y nadie responde"
    report = store(
        engine,
        [
            analysed("a", complaint, source="mastodon"),
            # The same words with a handle, a link, other case and punctuation: one complaint.
            analysed("b", f"@VelloraES {complaint.upper()}!! https://t.co/xyz", source="bluesky"),
            analysed("c", f"RT {complaint}", source="reddit", author="someone-else"),
            # Short texts are not grouped by their words: two people may both write "fatal".
            analysed("d", "Vellora fatal", source="mastodon", author="ana"),
            analysed("e", "Vellora fatal", source="bluesky", author="luis"),
        ],
    )
    assert (report.opened, report.grouped) == (3, 2)
    grouped = next(item for item in queue(engine) if item.mentions == 3)
    with engine.connect() as conn:
        assert {m["source"] for m in mentions_of(conn, grouped.id)} == {
            "mastodon",
            "bluesky",
            "reddit",
        }


def test_a_quote_joins_the_item_of_the_post_it_quotes(engine: Engine) -> None:
    original = "https://social.example/mastodon/orig"
    store(engine, [analysed("orig", "Vellora me ha estafado con la garantía", url=original)])
    report = store(
        engine,
        [analysed("q", f"Esto mismo me pasó a mí {original}", source="bluesky", author="pedro")],
    )
    assert (report.opened, report.grouped) == (0, 1)
    assert [item.mentions for item in queue(engine)] == [2]


def test_the_author_writing_again_in_the_thread_reopens_an_answered_item(engine: Engine) -> None:
    store(engine, [analysed("1", "Vellora mi pedido 4471 no llega", thread="t1")])
    (item,) = queue(engine)
    actions.answer(engine, Actor("nora", Role.AGENT, "dashboard"), [item.id], NOW)
    assert queue(engine) == []
    # Someone else in the thread is a new item; the same author again reopens hers.
    other = store(engine, [analysed("2", "A mí tampoco me llega nada", author="pepe", thread="t1")])
    again = store(engine, [analysed("3", "Sigue sin llegar, ¿hola?", minutes_ago=5, thread="t1")])
    assert (other.opened, again.reopened) == (1, 1)
    with engine.connect() as conn:
        reopened = get_item(conn, item.id)
        entries = [e.action for e in audit.entries(conn) if e.target == f"inbox item {item.id}"]
    assert reopened is not None and reopened.state == "new" and reopened.mentions == 2
    assert reopened.closed_at is None and reopened.first_response_at is not None
    assert entries == ["inbox.reopen", "inbox.answer"]  # newest first, the pipeline's included


def test_priority_adds_negativity_engagement_escalation_topic_and_question() -> None:
    # Very negative (40 × 0.9), 999 interactions (20 × log10(1000)/log10(1001) ≈ 20), a
    # complaint topic (10) and a legal term (25): 36 + 20 + 10 + 25 = 91.
    loud = analysed("1", "Voy a poner una denuncia a Vellora", compound=-0.9, likes=999)
    escalated_by = rules.escalation(loud, CONFIG.escalation)
    assert escalated_by == ("legal", "denuncia")
    top = rules.priority(loud, escalated_by)
    assert top.score == 91.0
    assert top.reasons == ("muy negativa", "999 interacciones", "menciona 'denuncia'")
    # A neutral question: a question (5), no topic, no negativity.
    ask = rules.priority(analysed("2", "¿Abrís el domingo?", compound=0.0, topics=()), None)
    assert (ask.score, ask.reasons) == (5.0, ("pregunta",))


def test_priority_counts_the_authors_followers_where_the_platform_gives_them() -> None:
    text = "Vellora sigue sin devolverme el dinero del pedido"
    # Negative (40 × 0.5 = 20), 2 300 followers (15 × log10(2301)/log10(100001) ≈ 10.1), 40
    # interactions (20 × log10(41)/log10(1001) ≈ 10.8) and a complaint topic (10): 50.8. Reach
    # comes right after negativity among the reasons.
    heard = rules.priority(analysed("1", text, compound=-0.5, likes=40, followers=2300), None)
    assert heard.score == 50.8
    assert heard.reasons == ("negativa", "2.3 k seguidores", "40 interacciones")
    # One follower is barely any reach (15 × log10(2)/log10(100001) ≈ 0.9), in the singular.
    one = rules.priority(analysed("2", text, compound=-0.5, followers=1), None)
    assert (one.score, one.reasons) == (30.9, ("negativa", "1 seguidor"))
    # No count from the platform, or none to count: no reach points, and no "0 seguidores".
    for nobody in (None, 0):
        plain = rules.priority(analysed("3", text, compound=-0.5, followers=nobody), None)
        assert (plain.score, plain.reasons) == (30.0, ("negativa",))
    # Every point at once (40 + 15 + 20 + 25 + 10 + 5 = 115) is still capped at 100; 1.4 million
    # followers count no more than the 100 000 that give every reach point.
    loudest = analysed("4", "¿Denuncia a Vellora?", compound=-1.0, likes=5000, followers=1_400_000)
    top = rules.priority(loudest, ("legal", "denuncia"))
    assert top.score == 100.0
    assert top.reasons == (
        "muy negativa", "1.4 M seguidores", "5.0 k interacciones", "menciona 'denuncia'", "pregunta"
    )  # fmt: skip


def test_an_escalation_rule_on_followers_needs_a_known_count_that_high(engine: Engine) -> None:
    # CONFIG's loud-voice rule: compound at most -0.5 from an author with 10 000 followers or more.
    report = store(
        engine,
        [
            analysed("1", "Vellora me ha dejado tirado otra vez con la entrega", followers=23_000),
            # Below the threshold, or from a platform that gives no count: not met.
            analysed("2", "Vellora perdió mi paquete y nadie me dice nada", followers=9_999),
            analysed("3", "Vellora no contesta en el chat desde el lunes", followers=None),
            # Every condition given must hold: a wide audience alone does not escalate a mild
            # complaint.
            analysed(
                "4", "Vellora tarda un poco más de lo que dice la web", -0.3, followers=50_000
            ),
        ],
    )
    items = {item.text[:14]: item for item in queue(engine)}
    assert {text: item.escalation_rule for text, item in items.items()} == {
        "Vellora me ha ": "loud-voice",
        "Vellora perdió": None,
        "Vellora no con": None,
        "Vellora tarda ": None,
    }
    assert report.escalated == [items["Vellora me ha "].id]
    # The stored item shows the reach among its reasons, and the rule that escalated it.
    assert items["Vellora me ha "].reasons == (
        "muy negativa",
        "23.0 k seguidores",
        "regla loud-voice",
    )
    assert items["Vellora tarda "].reasons == ("negativa", "50.0 k seguidores")


def test_an_escalation_rule_opens_the_item_escalated_and_urgent(engine: Engine) -> None:
    report = store(engine, [analysed("1", "Mi abogado hablará con Vellora", compound=-0.4)])
    (item,) = queue(engine)
    assert report.escalated == [item.id]
    assert (item.state, item.escalation_rule, item.urgent) == ("escalated", "legal", True)
    # Urgent: due 30 minutes after it was published (24/7 by default).
    assert item.due_at == item.opened_at + timedelta(minutes=30)
    assert "escalated" in OPEN_STATES  # still in the queue, for the managers


def test_actions_are_checked_and_audited(engine: Engine) -> None:
    store(
        engine, [analysed(str(n), f"Vellora queja número {n} sobre la entrega") for n in range(3)]
    )
    ids = [item.id for item in queue(engine)]
    viewer = Actor("victor", Role.VIEWER, "dashboard")
    with pytest.raises(Forbidden):
        actions.answer(engine, viewer, ids[:1], NOW)
    nora = Actor("nora", Role.AGENT, "dashboard")
    assigned = actions.assign(engine, nora, ids, "nora", NOW)  # a bulk action
    assert {(i.state, i.assignee) for i in assigned} == {("assigned", "nora")}
    later = NOW + timedelta(minutes=14)
    (answered,) = actions.answer(engine, nora, ids[:1], later, reply_url="https://x.example/r/1")
    assert answered.first_response_at == later and answered.closed_at == later
    (dismissed,) = actions.dismiss(engine, nora, ids[1:2], "spam", later)
    assert (dismissed.state, dismissed.close_reason) == ("dismissed", "spam")
    actions.note(engine, nora, ids[2], "Llamada al cliente, pendiente de transporte", later)
    with pytest.raises(ValueError, match="no active user"):
        actions.assign(engine, nora, ids[2:], "nobody", later)
    with engine.connect() as conn:
        trail = [(e.actor, e.action) for e in audit.entries(conn) if e.action.startswith("inbox.")]
    assert trail.count(("nora", "inbox.assign")) == 3
    assert {("nora", "inbox.answer"), ("nora", "inbox.dismiss"), ("nora", "inbox.note")} <= set(
        trail
    )
    assert [i.id for i in queue(engine)] == ids[2:]


def test_intake_on_postgresql(postgres_url: str) -> None:
    engine = connect(postgres_url)
    complaint = "Vellora lleva 10 días sin entregar mi pedido y nadie responde"
    report = store(
        engine,
        [analysed("a", complaint), analysed("b", complaint, source="bluesky", author="x")],
    )
    assert (report.opened, report.grouped) == (1, 1)
    assert [item.mentions for item in queue(engine)] == [2]
    engine.dispose()


def test_a_follow_up_that_meets_a_rule_escalates_the_open_item(engine: Engine) -> None:
    store(engine, [analysed("1", "Vellora mi pedido 4471 no llega", -0.4, thread="t9")])
    (item,) = queue(engine)
    assert item.state == "new" and not item.urgent
    # Later, in the same thread, the same author threatens to go to a lawyer.
    report = store(
        engine, [analysed("2", "Si no me contestáis hoy, hablo con mi abogado", -0.5, thread="t9")]
    )
    assert report.escalated == [item.id]
    (escalated,) = queue(engine)
    assert (escalated.state, escalated.escalation_rule, escalated.urgent) == (
        "escalated",
        "legal",
        True,
    )
    assert escalated.due_at <= NOW + timedelta(minutes=30)


def test_a_competitors_complaints_are_watched_not_answered(engine: Engine) -> None:
    complaint = analysed("1", "Rivalia nunca me devolvió el dinero", brand="Rivalia")
    with engine.begin() as conn:
        report = take_in(conn, CONFIG, ZONE, [(1, complaint)], NOW, competitors={"Rivalia"})
    assert report.opened == 0 and queue(engine) == []
