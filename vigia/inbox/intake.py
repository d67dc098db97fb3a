"""Turning newly stored mentions into inbox items, in the transaction that stored them.

For each new brand mention that needs attention (vigia.inbox.rules.needs_attention), in order
of publication:
1. the same author writing again in the same thread joins their latest item there, and reopens
   it if it was answered or dismissed;
2. a mention quoting the link of a mention already in an item joins that item;
3. otherwise it joins the item with the same group key (same words, or same link), or opens one.
An item that a new or joining mention makes meet an escalation rule is escalated.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import Connection

from timeutil import utc
from vigia.analyse import AnalysedMention
from vigia.config import InboxConfig
from vigia.inbox import rules
from vigia.inbox.targets import due_at, target
from vigia.storage import audit
from vigia.storage.inbox import (
    CLOSED_STATES,
    add_mention,
    find_by_mention_urls,
    find_conversation,
    find_group,
    get_item,
    insert_item,
    update_item,
)

PIPELINE_ACTOR = "vigia"


@dataclass
class IntakeReport:
    """Items opened, mentions added to existing items, items reopened, and items opened
    escalated by a rule (their ids, for the managers' e-mail)."""

    opened: int = 0
    grouped: int = 0
    reopened: int = 0
    escalated: list[int] = field(default_factory=list)


def take_in(
    conn: Connection,
    config: InboxConfig,
    zone: ZoneInfo,
    stored: Sequence[tuple[int, AnalysedMention]],
    now: datetime,
    competitors: Collection[str] = (),
) -> IntakeReport:
    """Add the stored mentions that need an answer to the inbox (see the module docstring);
    a competitor's mentions are watched, never answered."""
    report = IntakeReport()
    wanted = [
        (mention_id, item)
        for mention_id, item in stored
        if item.brand not in competitors
        and rules.needs_attention(item, config)
        and now - utc(item.mention.published) <= config.max_age
    ]
    for mention_id, item in sorted(wanted, key=lambda pair: pair[1].mention.published):
        _take_one(conn, config, zone, mention_id, item, now, report)
    return report


def _take_one(
    conn: Connection,
    config: InboxConfig,
    zone: ZoneInfo,
    mention_id: int,
    item: AnalysedMention,
    now: datetime,
    report: IntakeReport,
) -> None:
    m = item.mention
    escalated_by = rules.escalation(item, config.escalation)
    author = rules.author_key(m.source, m.author)
    thread = rules.thread_key(m.source, m.thread_id)
    conversation = find_conversation(conn, thread, author) if thread and author else None
    if conversation is not None:
        joined, state = conversation
        add_mention(conn, joined, mention_id, now)
        if state in CLOSED_STATES:
            _reopen(conn, config, zone, joined, now)
            report.reopened += 1
        else:
            report.grouped += 1
        _escalate_joined(conn, config, zone, joined, escalated_by, now, report)
        return
    quoted = find_by_mention_urls(conn, rules.links_in(m.text))
    if quoted is not None:
        add_mention(conn, quoted, mention_id, now)
        report.grouped += 1
        _escalate_joined(conn, config, zone, quoted, escalated_by, now, report)
        return
    assert item.brand is not None  # needs_attention keeps brand mentions only
    key = rules.group_key(m.text, m.url)
    priority = rules.priority(item, escalated_by)
    urgent = priority.score >= config.urgent_from or escalated_by is not None
    opened = utc(m.published)
    item_id = insert_item(
        conn,
        {
            "brand": item.brand,
            "group_key": key,
            "mention_id": mention_id,
            "source": m.source,
            "language": item.language,
            "topic": item.topics[0] if item.topics else None,
            "author_key": author,
            "thread_key": thread,
            "state": "escalated" if escalated_by else "new",
            "priority": priority.score,
            "urgent": urgent,
            "reasons": priority.reasons,
            "mentions": 0,  # counted by add_mention below
            "opened_at": opened,
            "due_at": due_at(opened, target(config, urgent), config, zone),
            "escalated_at": now if escalated_by else None,
            "escalation_rule": escalated_by[0] if escalated_by else None,
            "updated_at": now,
        },
    )
    if item_id is None:  # the group exists (maybe stored by another worker a moment ago)
        existing = find_group(conn, item.brand, key)
        assert existing is not None
        add_mention(conn, existing, mention_id, now)
        report.grouped += 1
        _escalate_joined(conn, config, zone, existing, escalated_by, now, report)
        return
    add_mention(conn, item_id, mention_id, now)
    report.opened += 1
    if escalated_by:
        _record(
            conn,
            item_id,
            "inbox.escalate",
            {},
            {"state": "escalated", "rule": escalated_by[0]},
            now,
        )
        report.escalated.append(item_id)


def _escalate_joined(
    conn: Connection,
    config: InboxConfig,
    zone: ZoneInfo,
    item_id: int,
    escalated_by: tuple[str, str] | None,
    now: datetime,
    report: IntakeReport,
) -> None:
    """A mention that joins an open item and meets a rule ("voy a la OCU" later in the thread)
    escalates the item, which becomes urgent: due no later than an urgent target from now."""
    found = get_item(conn, item_id) if escalated_by is not None else None
    if found is None or escalated_by is None or found.state == "escalated" or not found.open:
        return
    due = min(found.due_at, due_at(now, target(config, urgent=True), config, zone))
    update_item(
        conn,
        item_id,
        state="escalated",
        escalated_at=now,
        escalation_rule=escalated_by[0],
        urgent=True,
        due_at=due,
        updated_at=now,
    )
    after = {"state": "escalated", "rule": escalated_by[0]}
    _record(conn, item_id, "inbox.escalate", {"state": found.state}, after, now)
    report.escalated.append(item_id)


def _reopen(
    conn: Connection, config: InboxConfig, zone: ZoneInfo, item_id: int, now: datetime
) -> None:
    """The author wrote again after the item was closed: it is open again, due anew."""
    found = get_item(conn, item_id)
    assert found is not None
    state = "assigned" if found.assignee else "new"
    update_item(
        conn,
        item_id,
        state=state,
        closed_at=None,
        close_reason=None,
        due_at=due_at(now, target(config, found.urgent), config, zone),
        updated_at=now,
    )
    _record(conn, item_id, "inbox.reopen", {"state": found.state}, {"state": state}, now)


def _record(
    conn: Connection,
    item_id: int,
    action: str,
    before: dict[str, str],
    after: dict[str, str],
    now: datetime,
) -> None:
    """The pipeline's own changes, in the audit trail beside the team's."""
    audit.record(
        conn,
        actor=PIPELINE_ACTOR,
        via="pipeline",
        action=action,
        target=f"inbox item {item_id}",
        before=before,
        after=after,
        at=now,
    )
