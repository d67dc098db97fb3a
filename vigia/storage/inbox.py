"""Inbox items, their mentions and notes, and prepared replies, as rows and queries."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    and_,
    case,
    func,
    insert,
    select,
    update,
)

from timeutil import naive_utc, utc
from vigia.storage.engine import upsert
from vigia.storage.schema import (
    inbox_items,
    inbox_mentions,
    inbox_notes,
    mentions,
    prepared_replies,
)

OPEN_STATES = ("new", "assigned", "escalated")
CLOSED_STATES = ("answered", "dismissed")
# Added to an item's priority when the queue is read: past its target, or in its last quarter.
OVERDUE_POINTS = 15
DUE_SOON_POINTS = 8


@dataclass(frozen=True)
class ItemRow:
    """An item with the mention it shows (text, author and link are None once erased)."""

    id: int
    brand: str
    state: str
    priority: float
    urgent: bool
    reasons: tuple[str, ...]
    assignee: str | None
    mentions: int
    source: str
    language: str | None
    topic: str | None
    opened_at: datetime  # aware UTC, like every time below
    due_at: datetime
    first_response_at: datetime | None
    closed_at: datetime | None
    close_reason: str | None
    reply_url: str | None
    escalated_at: datetime | None
    escalation_rule: str | None
    updated_at: datetime
    text: str | None
    author: str | None
    url: str | None
    compound: float | None

    @property
    def open(self) -> bool:
        return self.state in OPEN_STATES


def _aware(value: datetime | None) -> datetime | None:
    return utc(value) if value is not None else None


def _item(row: Any) -> ItemRow:
    return ItemRow(
        id=row.id,
        brand=row.brand,
        state=row.state,
        priority=row.priority,
        urgent=bool(row.urgent),
        reasons=tuple(json.loads(row.reasons)),
        assignee=row.assignee,
        mentions=row.mentions,
        source=row.source,
        language=row.language,
        topic=row.topic,
        opened_at=utc(row.opened_at),
        due_at=utc(row.due_at),
        first_response_at=_aware(row.first_response_at),
        closed_at=_aware(row.closed_at),
        close_reason=row.close_reason,
        reply_url=row.reply_url,
        escalated_at=_aware(row.escalated_at),
        escalation_rule=row.escalation_rule,
        updated_at=utc(row.updated_at),
        text=row.text,
        author=row.author,
        url=row.url,
        compound=row.compound,
    )


def _with_mention() -> Any:
    i, m = inbox_items.c, mentions.c
    return select(inbox_items, m.text, m.author, m.url, m.compound).select_from(
        inbox_items.outerjoin(mentions, i.mention_id == m.id)
    )


def queue_priority(now: datetime, soon: datetime) -> ColumnElement[float]:
    """An item's priority as the queue sorts it: its score, plus points when (nearly) due."""
    i = inbox_items.c
    return i.priority + case(
        (i.due_at <= naive_utc(now), OVERDUE_POINTS),
        (i.due_at <= naive_utc(soon), DUE_SOON_POINTS),
        else_=0,
    )


def get_item(conn: Connection, item_id: int) -> ItemRow | None:
    row = conn.execute(_with_mention().where(inbox_items.c.id == item_id)).first()
    return _item(row) if row else None


def get_items(conn: Connection, item_ids: Iterable[int]) -> list[ItemRow]:
    ids = sorted(set(item_ids))
    rows = conn.execute(_with_mention().where(inbox_items.c.id.in_(ids)).order_by(inbox_items.c.id))
    return [_item(row) for row in rows]


@dataclass(frozen=True)
class QueueFilter:
    states: tuple[str, ...] = OPEN_STATES
    brands: tuple[str, ...] = ()
    assignee: str | None = None
    overdue_only: bool = False


def _where(f: QueueFilter, now: datetime) -> list[ColumnElement[bool]]:
    i = inbox_items.c
    where: list[ColumnElement[bool]] = [i.state.in_(f.states)]
    if f.brands:
        where.append(i.brand.in_(f.brands))
    if f.assignee is not None:
        where.append(i.assignee == f.assignee)
    if f.overdue_only:
        where.append(i.due_at <= naive_utc(now))
    return where


def queue_page(
    conn: Connection, f: QueueFilter, now: datetime, soon: datetime, limit: int, offset: int = 0
) -> list[ItemRow]:
    """One page of the queue, highest priority first (ties: the earliest deadline)."""
    i = inbox_items.c
    order = (queue_priority(now, soon).desc(), i.due_at, i.id)
    # The page's ids first, sorted from the queue's index alone; then only they are joined to
    # their mentions (joined before the sort, every item of the view was: 0.5 s at 1 M mentions).
    page = (
        select(i.id).where(and_(*_where(f, now))).order_by(*order).limit(limit).offset(offset)
    ).subquery()
    query = _with_mention().join(page, page.c.id == i.id).order_by(*order)
    return [_item(row) for row in conn.execute(query)]


def queue_count(conn: Connection, f: QueueFilter, now: datetime) -> int:
    query = select(func.count()).select_from(inbox_items).where(and_(*_where(f, now)))
    return int(conn.execute(query).scalar_one())


def insert_item(conn: Connection, values: dict[str, Any]) -> int | None:
    """Insert an item; None when its (brand, group_key) exists already (another writer)."""
    stored = {k: naive_utc(v) if isinstance(v, datetime) else v for k, v in values.items()}
    stored["reasons"] = json.dumps(list(values["reasons"]), ensure_ascii=False)
    statement = (
        upsert(conn, inbox_items)
        .values(stored)
        .on_conflict_do_nothing(index_elements=["brand", "group_key"])
        .returning(inbox_items.c.id)
    )
    return conn.execute(statement).scalar_one_or_none()


def find_group(conn: Connection, brand: str, key: str) -> int | None:
    i = inbox_items.c
    query = select(i.id).where(i.brand == brand, i.group_key == key)
    return conn.execute(query).scalar_one_or_none()


def find_conversation(conn: Connection, thread: str, author: str) -> tuple[int, str] | None:
    """The latest item of `author` in `thread` (both keys), with its state."""
    i = inbox_items.c
    query = (
        select(i.id, i.state)
        .where(i.thread_key == thread, i.author_key == author)
        .order_by(i.id.desc())
        .limit(1)
    )
    row = conn.execute(query).first()
    return (row.id, row.state) if row else None


def find_by_mention_urls(conn: Connection, urls: Sequence[str]) -> int | None:
    """An item one of whose mentions has one of these links (a quote links what it quotes)."""
    if not urls:
        return None
    im, m = inbox_mentions.c, mentions.c
    query = (
        select(im.item_id)
        .join(mentions, m.id == im.mention_id)
        .where(m.url.in_(list(urls)))
        .order_by(im.item_id)
        .limit(1)
    )
    return conn.execute(query).scalar_one_or_none()


def add_mention(conn: Connection, item_id: int, mention_id: int, now: datetime) -> bool:
    """Add a mention to an item (counted once); True if it was not in it yet."""
    added = conn.execute(
        upsert(conn, inbox_mentions)
        .values(item_id=item_id, mention_id=mention_id)
        .on_conflict_do_nothing()
        .returning(inbox_mentions.c.item_id)
    ).first()
    if added is None:
        return False
    i = inbox_items.c
    conn.execute(
        update(inbox_items)
        .where(i.id == item_id)
        .values(mentions=i.mentions + 1, updated_at=naive_utc(now))
    )
    return True


def update_item(conn: Connection, item_id: int, **values: Any) -> None:
    stored = {k: naive_utc(v) if isinstance(v, datetime) else v for k, v in values.items()}
    conn.execute(update(inbox_items).where(inbox_items.c.id == item_id).values(stored))


def mentions_of(conn: Connection, item_id: int) -> list[dict[str, Any]]:
    """The item's mentions (source, author, link, text, published), oldest first."""
    im, m = inbox_mentions.c, mentions.c
    query = (
        select(m.id, m.source, m.author, m.url, m.text, m.published_at)
        .join(inbox_mentions, im.mention_id == m.id)
        .where(im.item_id == item_id)
        .order_by(m.published_at, m.id)
    )
    return [dict(row._mapping) for row in conn.execute(query)]


# --- notes ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Note:
    author: str
    at: datetime
    text: str


def add_note(conn: Connection, item_id: int, author: str, text: str, now: datetime) -> None:
    conn.execute(
        insert(inbox_notes).values(item_id=item_id, author=author, at=naive_utc(now), text=text)
    )


def notes_of(conn: Connection, item_id: int) -> list[Note]:
    n = inbox_notes.c
    query = select(n.author, n.at, n.text).where(n.item_id == item_id).order_by(n.at, n.id)
    return [Note(row.author, utc(row.at), row.text) for row in conn.execute(query)]


# --- prepared replies -----------------------------------------------------------------------


@dataclass(frozen=True)
class Reply:
    id: int
    key: str
    topic: str | None
    language: str
    title: str
    body: str
    updated_at: datetime
    updated_by: str


def replies(conn: Connection) -> list[Reply]:
    r = prepared_replies.c
    rows = conn.execute(select(prepared_replies).order_by(r.language, r.topic, r.key))
    return [
        Reply(
            row.id,
            row.key,
            row.topic,
            row.language,
            row.title,
            row.body,
            utc(row.updated_at),
            row.updated_by,
        )  # fmt: skip
        for row in rows
    ]


def seed_reply(conn: Connection, values: dict[str, Any], now: datetime) -> None:
    """Insert a reply from config.yaml unless its key exists (dashboard edits are kept)."""
    conn.execute(
        upsert(conn, prepared_replies)
        .values(**values, updated_at=naive_utc(now), updated_by="config.yaml")
        .on_conflict_do_nothing(index_elements=["key"])
    )


def update_reply(conn: Connection, key: str, now: datetime, author: str, **values: Any) -> None:
    conn.execute(
        update(prepared_replies)
        .where(prepared_replies.c.key == key)
        .values(**values, updated_at=naive_utc(now), updated_by=author)
    )
