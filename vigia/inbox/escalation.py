"""Escalations to management: the managers' e-mail for each escalated inbox item, and the rule
tester behind `vigia inbox test-rule`.

An escalated item raises one critical alert of rule ``inbox_escalation`` whose key is the
item's, so it is never raised twice. It goes through the alert log's outbox like every alert:
sent once, retried, recorded, shown on the Alertas page. Its e-mail goes to the managers (to the
recipients when no managers are configured), its chat and outbox copies wherever critical alerts
go. A rule's escalation raises it in the transaction that stores the mention, so both happen or
neither; a person's right after their action, which then sends it at once.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Engine

from analysis.sentiment import Sentiment
from collectors.base import Engagement, Mention
from vigia.access.roles import Actor
from vigia.alerts.channels import deliver_due, targets
from vigia.alerts.context import AlertContext
from vigia.alerts.policy import alert_key
from vigia.analyse import AnalysedMention
from vigia.config import EscalationRule, Settings
from vigia.inbox import actions, rules
from vigia.storage.alerts import insert_alert, plan_notification
from vigia.storage.inbox import ItemRow, get_items

log = logging.getLogger(__name__)

INBOX_ESCALATION = "inbox_escalation"
QUOTE_CHARS = 1000  # of the mention's text kept in the alert (the e-mail shows less)


def raise_alerts(
    conn: Connection,
    settings: Settings,
    item_ids: Sequence[int],
    now: datetime,
    by: str | None = None,
) -> list[int]:
    """In the caller's transaction, raise the escalation alert of each item that has none yet and
    plan its notification; `by` is the person who escalated (None: a rule). Returns the new
    alerts' ids."""
    raised: list[int] = []
    for item in get_items(conn, item_ids):
        subject = f"inbox item {item.id}"
        stored = insert_alert(
            conn,
            key=alert_key(INBOX_ESCALATION, subject, item.opened_at),
            rule=INBOX_ESCALATION,
            brand=item.brand,
            subject=subject,
            severity="critical",
            window_start=item.opened_at,
            window_end=now,
            evidence=_evidence(item, by),
            now=now,
        )
        if stored is None:  # escalated before: the managers know already
            continue
        plan_notification(
            conn, stored.id, management(settings), severity="critical", reason="new", now=now
        )
        raised.append(stored.id)
    return raised


def escalate(
    engine: Engine, settings: Settings, actor: Actor, item_ids: Sequence[int], now: datetime
) -> list[ItemRow]:
    """`actor` hands the items to management (:func:`vigia.inbox.actions.escalate`), and each
    item's alert is raised in the same transaction, then sent at once. A failed send stays due
    and is retried by `vigia run`."""
    raised: list[int] = []

    def alert_managers(conn: Connection, rows: list[ItemRow]) -> None:
        raised.extend(raise_alerts(conn, settings, [row.id for row in rows], now, by=actor.name))

    rows = actions.escalate(engine, actor, item_ids, now, also=alert_managers)
    if raised:  # sends whatever else is due too: it was due anyway, and claims prevent doubles
        try:
            deliver_due(AlertContext(settings, engine, lambda: now))
        except Exception:  # the escalation stands; the planned e-mail waits for the next poll
            log.exception("sending the escalation of inbox items %s failed", item_ids)
    return rows


def management(settings: Settings) -> list[tuple[str, str]]:
    """Where an escalation goes: a critical alert's channels, its e-mail to the managers only
    (to the recipients when there are no managers)."""
    found = targets(settings, "critical", managers=True)
    managers = set(settings.alerts.managers)
    if not managers:
        return found
    return [(ch, to) for ch, to in found if ch != "email" or to in managers]


def _evidence(item: ItemRow, by: str | None) -> dict[str, Any]:
    # The mention is quoted under "top", as other alerts quote theirs, so the retention purge
    # and `vigia forget` find and trim it.
    quoted = {
        "source": item.source,
        "author": item.author,
        "published": item.opened_at.isoformat(),
        "url": item.url,
        "text": " ".join((item.text or "").split())[:QUOTE_CHARS],
        "compound": round(item.compound, 3) if item.compound is not None else None,
    }
    return {
        "item": item.id,
        "rule": None if by else item.escalation_rule,
        "by": by,
        "priority": item.priority,
        "reasons": list(item.reasons),
        "due_at": item.due_at.isoformat(),
        "top": [quoted],
    }


def explain(
    escalation_rules: Sequence[EscalationRule],
    text: str,
    language: str,
    compound: float,
    *,
    topics: Sequence[str] = (),
    engagement: int = 0,
    followers: int | None = None,
) -> str:
    """How each rule judges a sample text (its topics, interactions and author's followers
    given, or none): every condition met or not, and which rule escalates it (the first one met,
    as at intake).

    Each condition is judged by :func:`vigia.inbox.rules.escalation` itself, as a rule of that
    one condition, so the tester cannot disagree with the intake.
    """
    item = _sample(text, language, compound, topics, engagement, followers)
    lines = [f'Sample ({language}, compound {compound:+.2f}): "{text}"']
    if not escalation_rules:
        lines.append("No escalation rules are configured (inbox.escalation in config.yaml).")
    for rule in escalation_rules:
        checks = _checks(rule, item)
        met = rules.escalation(item, [rule]) is not None
        verdict = "escalates" if met else "no"
        shown = "; ".join(f"{'✓' if ok else '✗'} {what}" for ok, what in checks)
        lines.append(f"{rule.name}: {verdict} — {shown}")
    found = rules.escalation(item, escalation_rules)
    if found is None:
        lines.append("Result: not escalated.")
    else:
        priority = rules.priority(item, found)
        reasons = " · ".join(priority.reasons)
        lines.append(
            f"Result: escalated by rule {found[0]} (priority {priority.score:g}: {reasons})."
        )
    return "\n".join(lines)


def _sample(
    text: str,
    language: str,
    compound: float,
    topics: Sequence[str],
    engagement: int,
    followers: int | None,
) -> AnalysedMention:
    # When it was posted matters to no rule: any fixed moment keeps this pure.
    posted = datetime.fromtimestamp(0, UTC)
    mention = Mention(
        "sample",
        "sample",
        "",
        posted,
        text,
        author_followers=followers,
        engagement=Engagement(likes=engagement),
    )
    sentiment = Sentiment(compound=compound, pos=0.0, neu=0.0, neg=0.0)
    return AnalysedMention(mention, "sample", language, sentiment, None, tuple(topics))


def _checks(rule: EscalationRule, item: AnalysedMention) -> list[tuple[bool, str]]:
    """Each condition of `rule` on `item`: (met, what was found)."""

    def meets(**condition: Any) -> tuple[str, str] | None:
        return rules.escalation(item, [EscalationRule(name=rule.name, **condition)])

    compound = item.sentiment.compound if item.sentiment else 0.0
    checks: list[tuple[bool, str]] = []
    if rule.terms:
        term = meets(terms=rule.terms)
        found = f"term '{term[1]}'" if term else f"none of its {len(rule.terms)} terms"
        checks.append((term is not None, found))
    if rule.topics:
        ok = meets(topics=rule.topics) is not None
        wanted = ", ".join(rule.topics)
        checks.append((ok, f"topic among {wanted}" if ok else f"no topic among {wanted}"))
    if rule.max_compound is not None:
        ok = meets(max_compound=rule.max_compound) is not None
        sign = "≤" if ok else ">"
        checks.append((ok, f"compound {compound:+.2f} {sign} {rule.max_compound:+.2f}"))
    if rule.min_engagement is not None:
        ok = meets(min_engagement=rule.min_engagement) is not None
        sign = "≥" if ok else "<"
        shown = rules.engagement(item)
        checks.append((ok, f"{shown} interactions {sign} {rule.min_engagement}"))
    if rule.min_followers is not None:
        ok = meets(min_followers=rule.min_followers) is not None
        if item.mention.author_followers is None:
            found = f"followers unknown (needs {rule.min_followers})"
        else:
            sign = "≥" if ok else "<"
            found = f"{item.mention.author_followers} followers {sign} {rule.min_followers}"
        checks.append((ok, found))
    return checks
