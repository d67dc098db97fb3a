"""What the team does with inbox items: assign, answer, escalate, dismiss, note, reopen.

Each action checks the actor's role (agents and up), applies to one item or a selection in one
transaction, and records every item's change in the audit trail. Answering or escalating first
sets the item's first response time; answering or dismissing closes it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, Engine

from vigia.access.roles import Actor, Permission, Role
from vigia.config import InboxConfig
from vigia.inbox.targets import due_at, target
from vigia.storage import audit
from vigia.storage.inbox import ItemRow, add_note, get_items, update_item
from vigia.storage.users import get_user

DISMISS_REASONS = ("irrelevant", "spam")
# Work done in an action's own transaction, on the items it changed.
InTransaction = Callable[[Connection, list[ItemRow]], object]


def _fields(item: ItemRow) -> dict[str, Any]:
    return {"state": item.state, "assignee": item.assignee, "close_reason": item.close_reason}


def _apply(
    engine: Engine,
    actor: Actor,
    item_ids: Sequence[int],
    action: str,
    change: dict[str, Any],
    now: datetime,
    first_response: bool = False,
    also: InTransaction | None = None,
) -> list[ItemRow]:
    """Apply `change` to every item of `item_ids` and audit it, then run `also` on the changed
    items in the same transaction; KeyError for an unknown id."""
    actor.require(Permission.WORK_INBOX)
    with engine.begin() as conn:
        found = get_items(conn, item_ids)
        missing = set(item_ids) - {item.id for item in found}
        if missing:
            raise KeyError(f"no inbox item with id {min(missing)}")
        for item in found:
            values = dict(change, updated_at=now)
            if first_response and item.first_response_at is None:
                values["first_response_at"] = now
            update_item(conn, item.id, **values)
        after = {item.id: item for item in get_items(conn, item_ids)}
        for item in found:
            _record(conn, actor, action, item, _fields(item), _fields(after[item.id]), now)
        rows = [after[i] for i in sorted(after)]
        if also is not None:
            also(conn, rows)
    return rows


def _record(
    conn: Connection,
    actor: Actor,
    action: str,
    item: ItemRow,
    before: dict[str, Any],
    after: dict[str, Any],
    now: datetime,
) -> None:
    changed = [k for k in before if before[k] != after.get(k)]
    audit.record(
        conn,
        actor=actor.name,
        via=actor.via,
        action=action,
        target=f"inbox item {item.id}",
        before={k: before[k] for k in changed},
        after={k: after[k] for k in changed} | {k: v for k, v in after.items() if k not in before},
        at=now,
    )


def assign(
    engine: Engine, actor: Actor, item_ids: Sequence[int], assignee: str, now: datetime
) -> list[ItemRow]:
    """Give the items to `assignee` (an active account); open ones become "assigned"."""
    actor.require(Permission.WORK_INBOX)
    with engine.connect() as conn:
        user = get_user(conn, assignee)
    if user is None or not user.active:
        raise ValueError(f"no active user called {assignee!r}")
    if Role(user.role).rank < Role.AGENT.rank:
        raise ValueError(f"{user.name} is a {user.role}: only agents and up work the inbox")
    with engine.connect() as conn:
        closed = [i.id for i in get_items(conn, item_ids) if not i.open]
    if closed:
        raise ValueError(f"inbox item {closed[0]} is closed; reopen it first")
    return _apply(engine, actor, item_ids, "inbox.assign", {"assignee": user.name,
                  "state": "assigned"}, now)  # fmt: skip


def answer(
    engine: Engine,
    actor: Actor,
    item_ids: Sequence[int],
    now: datetime,
    reply_url: str | None = None,
) -> list[ItemRow]:
    """Mark the items answered (optionally with the link of the reply posted), closing them."""
    change: dict[str, Any] = {"state": "answered", "closed_at": now, "close_reason": "answered"}
    if reply_url:
        change["reply_url"] = reply_url
    return _apply(engine, actor, item_ids, "inbox.answer", change, now, first_response=True)


def escalate(
    engine: Engine,
    actor: Actor,
    item_ids: Sequence[int],
    now: datetime,
    also: InTransaction | None = None,
) -> list[ItemRow]:
    """Hand the items to management: they stay open, flagged escalated; `also` runs in the
    same transaction (the managers' alert, so it is planned exactly when the change commits)."""
    change = {"state": "escalated", "escalated_at": now}
    return _apply(
        engine, actor, item_ids, "inbox.escalate", change, now, first_response=True, also=also
    )


def dismiss(
    engine: Engine, actor: Actor, item_ids: Sequence[int], reason: str, now: datetime
) -> list[ItemRow]:
    """Close the items as irrelevant (not about the brand, or nothing to answer) or spam."""
    if reason not in DISMISS_REASONS:
        raise ValueError(f"the reason must be one of {', '.join(DISMISS_REASONS)}")
    change = {"state": "dismissed", "closed_at": now, "close_reason": reason}
    return _apply(engine, actor, item_ids, "inbox.dismiss", change, now)


def reopen(
    engine: Engine,
    actor: Actor,
    item_ids: Sequence[int],
    now: datetime,
    config: InboxConfig,
    zone: ZoneInfo,
) -> list[ItemRow]:
    """Open closed items again (assigned if they have an assignee), due anew from now."""
    with engine.connect() as conn:
        found = get_items(conn, item_ids)
    still_open = [item.id for item in found if item.open]
    if still_open:
        raise ValueError(f"inbox item {still_open[0]} is open already")
    rows: list[ItemRow] = []
    for item in found:
        change = {
            "state": "assigned" if item.assignee else "new",
            "closed_at": None,
            "close_reason": None,
            "due_at": due_at(now, target(config, item.urgent), config, zone),
        }
        rows += _apply(engine, actor, [item.id], "inbox.reopen", change, now)
    return rows


def note(engine: Engine, actor: Actor, item_id: int, text: str, now: datetime) -> None:
    """Add a note to an item (audited with its length, not its text)."""
    actor.require(Permission.WORK_INBOX)
    text = text.strip()
    if not text:
        raise ValueError("the note is empty")
    with engine.begin() as conn:
        found = get_items(conn, [item_id])
        if not found:
            raise KeyError(f"no inbox item with id {item_id}")
        add_note(conn, item_id, actor.name, text, now)
        _record(conn, actor, "inbox.note", found[0], {}, {"note_chars": len(text)}, now)
