"""The Bandeja and Respuestas pages' data: queue pages as cards, an item's grouped mentions,
notes and filled-in prepared replies, and the team's actions with what to tell them after.

The queue is read uncached: every click of the team changes it, and a page of it is one
indexed query (vigia.storage.inbox.queue_page). Prepared replies and the team change rarely.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

import streamlit as st

from dashboard.data import (
    TTL,
    config_path,
    engine,
    local_time,
    refresh,
    safe_url,
    settings,
    shown_text,
    topic_label,
    zone,
)
from vigia.access.roles import Actor, Forbidden, Role
from vigia.inbox import actions, escalation, replies, stats
from vigia.inbox.targets import soon, working_time
from vigia.storage.inbox import (
    CLOSED_STATES,
    DUE_SOON_POINTS,
    OPEN_STATES,
    OVERDUE_POINTS,
    ItemRow,
    Note,
    QueueFilter,
    Reply,
    get_item,
    mentions_of,
    notes_of,
    queue_count,
    queue_page,
)
from vigia.storage.inbox import replies as stored_replies
from vigia.storage.users import all_users

# Cards per page: a few minutes of work on a phone, and one quick query however long the queue.
PAGE_SIZE = 25
# An open item in the last quarter of its response target is due soon: orange, and sorted up.
VIEWS = {
    "open": "Abiertas (open)",
    "mine": "Mías (mine)",
    "overdue": "Vencidas (overdue)",
    "answered": "Respondidas (answered)",
    "dismissed": "Descartadas (dismissed)",
    "all": "Todas (all)",
}
STATE_NAMES = {
    "new": "Nueva (new)",
    "assigned": "Asignada (assigned)",
    "escalated": "Escalada (escalated)",
    "answered": "Respondida (answered)",
    "dismissed": "Descartada (dismissed)",
}
DISMISS_NAMES = {"irrelevant": "Irrelevante (irrelevant)", "spam": "Spam"}
Urgency = Literal["overdue", "soon", "ok"]


@dataclass(frozen=True)
class Card:
    """One item as its card shows it; `headline` is the score and its reasons in one line."""

    item: ItemRow
    headline: str
    urgency: Urgency
    published: str
    text: str | None
    author: str | None
    url: str | None
    reply_url: str | None


@dataclass(frozen=True)
class Grouped:
    """One mention of an item's group, ready to list."""

    source: str
    author: str | None
    published: str
    text: str | None
    url: str | None


@dataclass(frozen=True)
class Outcome:
    """What an action did, or why it did nothing, in a sentence for the agent."""

    ok: bool
    text: str


# --- the queue ---------------------------------------------------------------------------------


def queue_filter(view: str, brands: tuple[str, ...], me: str) -> QueueFilter:
    """The items a view of VIEWS lists, for the brands selected (all when empty)."""
    if view == "mine":
        return QueueFilter(OPEN_STATES, brands, assignee=me)
    if view == "overdue":
        return QueueFilter(OPEN_STATES, brands, overdue_only=True)
    if view in CLOSED_STATES:
        return QueueFilter((view,), brands)
    if view == "all":
        return QueueFilter(OPEN_STATES + CLOSED_STATES, brands)
    return QueueFilter(OPEN_STATES, brands)


def _soon(now: datetime) -> datetime:
    return soon(now, settings().inbox, zone())


def count(f: QueueFilter, now: datetime) -> int:
    with engine().connect() as conn:
        return queue_count(conn, f, now)


def page(f: QueueFilter, number: int, now: datetime) -> list[Card]:
    """Page `number` (from 1) of the queue, highest priority first, as cards."""
    soon = _soon(now)
    with engine().connect() as conn:
        rows = queue_page(conn, f, now, soon, PAGE_SIZE, (number - 1) * PAGE_SIZE)
    return [_card(row, now, soon) for row in rows]


def card(item_id: int, now: datetime) -> Card | None:
    """One item by its number, whatever its state (an escalation e-mail's link); None if unknown."""
    with engine().connect() as conn:
        row = get_item(conn, item_id)
    return _card(row, now, _soon(now)) if row is not None else None


def _card(item: ItemRow, now: datetime, soon: datetime) -> Card:
    bonus = OVERDUE_POINTS if item.due_at <= now else DUE_SOON_POINTS if item.due_at <= soon else 0
    topic = [topic_label(item.topic)] if item.topic else []
    parts = [f"{item.priority + bonus:.0f}", *item.reasons, *topic, timing(item, now)]
    return Card(
        item=item,
        headline=" · ".join(parts),
        urgency=urgency(item, now),
        published=local_time(item.opened_at),
        text=shown_text(item.text),
        author=shown_text(item.author),
        url=safe_url(item.url),
        reply_url=safe_url(item.reply_url),
    )


def span(delta: timedelta) -> str:
    """A duration as the team says it: "12 min", "2 h 5 min", "26 h", "3 d"."""
    minutes = max(0, round(delta.total_seconds() / 60))
    hours, rest = divmod(minutes, 60)
    if hours == 0:
        return f"{minutes} min"
    if hours < 10 and rest:
        return f"{hours} h {rest} min"
    return f"{hours} h" if hours < 48 else f"{hours // 24} d"


def response_time(item: ItemRow) -> timedelta | None:
    """From the first mention to the first answer or escalation, in the target's hours."""
    if item.first_response_at is None:
        return None
    return working_time(item.opened_at, item.first_response_at, settings().inbox, zone())


def timing(item: ItemRow, now: datetime) -> str:
    """ "vence en 12 min" / "vencida hace 2 h" while open; how it was closed afterwards."""
    if item.open:
        if item.due_at > now:
            return f"vence en {span(item.due_at - now)}"
        return f"vencida hace {span(now - item.due_at)}"
    answered = response_time(item)
    if item.state == "answered" and answered is not None:
        return f"respondida en {span(answered)}"
    return f"descartada: {DISMISS_NAMES.get(item.close_reason or '', item.close_reason)}"


def urgency(item: ItemRow, now: datetime) -> Urgency:
    """Past its target; in the last quarter of it (counted in the target's hours); or neither."""
    where = stats.timing(item, settings().inbox, zone(), now)
    return "overdue" if where.overdue else "soon" if where.close_to_target else "ok"


def grouped(item_id: int) -> list[Grouped]:
    """The item's mentions (one complaint on several sources, reposts, quotes), oldest first."""
    with engine().connect() as conn:
        found = mentions_of(conn, item_id)
    return [
        Grouped(
            source=m["source"],
            author=shown_text(m["author"]),
            published=local_time(m["published_at"]),
            text=shown_text(m["text"]),
            url=safe_url(m["url"]),
        )
        for m in found
    ]


def notes(item_id: int) -> list[Note]:
    with engine().connect() as conn:
        found = notes_of(conn, item_id)
    return [Note(shown_text(n.author), n.at, shown_text(n.text)) for n in found]


@st.cache_data(ttl=TTL, show_spinner=False)
def _teammates(path: str) -> list[str]:
    with engine().connect() as conn:
        found = all_users(conn)
    return [u.name for u in found if u.active and Role(u.role).rank >= Role.AGENT.rank]


def teammates() -> list[str]:
    """Active accounts that may work the inbox (agents and up), by name."""
    return _teammates(str(config_path()))


# --- prepared replies --------------------------------------------------------------------------


@st.cache_data(ttl=TTL, show_spinner=False)
def _replies(path: str) -> list[Reply]:
    with engine().connect() as conn:
        return stored_replies(conn)


def all_replies() -> list[Reply]:
    """Every prepared reply, by language, topic and key."""
    return _replies(str(config_path()))


def suggested(item: ItemRow, agent: str) -> list[tuple[str, str]]:
    """(title, text filled in for `item` and signed by `agent`) of the replies that fit it."""
    return [
        (reply.title, shown_text(replies.fill(reply.body, item, agent)))
        for reply in replies.suggestions(all_replies(), item)
    ]


def edit_reply(actor: Actor, key: str, title: str, body: str) -> Outcome:
    """Save a reply's new title and text as `actor` (managers; audited)."""

    def run() -> str:
        saved = replies.edit(engine(), actor, key, title, body, _now())
        refresh()  # the cached replies, which every card suggests from
        return f"Respuesta guardada: {saved.title}"

    return _attempt(run)


# --- actions -----------------------------------------------------------------------------------


def _now() -> datetime:
    return datetime.now(UTC)


def _attempt(run: Callable[[], str]) -> Outcome:
    """Run an action; a refusal (role, unknown or closed item, bad value) becomes the message."""
    try:
        return Outcome(True, run())
    except Forbidden as exc:
        return Outcome(False, str(exc))
    except (KeyError, ValueError) as exc:
        return Outcome(False, str(exc.args[0]))


def _numbers(rows: Sequence[ItemRow]) -> str:
    return ", ".join(f"#{row.id}" for row in rows)


def _plural(rows: Sequence[ItemRow], word: str) -> str:
    return f"{word}s" if len(rows) > 1 else word


def assign(actor: Actor, ids: Sequence[int], assignee: str) -> Outcome:
    def run() -> str:
        rows = actions.assign(engine(), actor, ids, assignee, _now())
        return f"{_numbers(rows)} {_plural(rows, 'asignada')} a {assignee}"

    return _attempt(run)


def take(actor: Actor, ids: Sequence[int]) -> Outcome:
    """Assign the items to the acting agent ("Me la quedo")."""
    return assign(actor, ids, actor.name)


def answer(actor: Actor, ids: Sequence[int], reply_url: str = "") -> Outcome:
    """Mark the items answered (with the link of the reply, if given); says each response time."""

    def run() -> str:
        link = reply_url.strip()
        if link and safe_url(link) is None:
            raise ValueError(
                "El enlace de la respuesta debe ser una dirección http(s). (Reply URL: http(s).)"
            )
        rows = actions.answer(engine(), actor, ids, _now(), reply_url=link or None)
        times = [(row, response_time(row)) for row in rows]
        if len(times) == 1:
            row, took = times[0]
            return f"Respondida en {span(took or timedelta(0))} (#{row.id})"
        listed = ", ".join(f"#{row.id} en {span(took or timedelta(0))}" for row, took in times)
        return f"{len(times)} respondidas: {listed}"

    return _attempt(run)


def escalate(actor: Actor, ids: Sequence[int]) -> Outcome:
    def run() -> str:
        rows = escalation.escalate(engine(), settings(), actor, ids, _now())
        return f"{_numbers(rows)} {_plural(rows, 'escalada')} a responsables"

    return _attempt(run)


def dismiss(actor: Actor, ids: Sequence[int], reason: str) -> Outcome:
    def run() -> str:
        rows = actions.dismiss(engine(), actor, ids, reason, _now())
        return f"{_numbers(rows)} {_plural(rows, 'descartada')}: {DISMISS_NAMES[reason]}"

    return _attempt(run)


def reopen(actor: Actor, ids: Sequence[int]) -> Outcome:
    def run() -> str:
        rows = actions.reopen(engine(), actor, ids, _now(), settings().inbox, zone())
        return f"{_numbers(rows)} {_plural(rows, 'reabierta')}"

    return _attempt(run)


def note(actor: Actor, item_id: int, text: str) -> Outcome:
    def run() -> str:
        actions.note(engine(), actor, item_id, text, _now())
        return f"Nota añadida a #{item_id}"

    return _attempt(run)
