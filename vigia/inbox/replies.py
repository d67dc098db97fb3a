"""Prepared replies: seeded from config.yaml, edited by managers, suggested and filled in.

Placeholders: {autor} (the author's handle), {marca} (the brand), {pedido} (an order number
found in the mention, else a visible gap to fill) and {agente} (the signed-in agent).
"""

from __future__ import annotations

import re
from datetime import datetime

from sqlalchemy import Engine

from vigia.access.roles import Actor, Permission
from vigia.config import Settings
from vigia.storage import audit
from vigia.storage.inbox import ItemRow, Reply, replies, seed_reply, update_reply

ORDER_GAP = "[nº de pedido]"
_ORDER = re.compile(
    r"(?:(?:pedido|order|orden)\s*(?:n[º°o]\.?|number|n[uú]mero|num\.?)?|#)\s*#?\s*"
    r"([A-Z0-9][A-Z0-9-]{3,19})",
    re.IGNORECASE,
)
_PLACEHOLDER = re.compile(r"\{(autor|marca|pedido|agente)\}")


def order_number(text: str) -> str | None:
    """The first order number a mention gives ("pedido 4471", "order #A-99812"), if any."""
    found = _ORDER.search(text)
    return found[1] if found and any(c.isdigit() for c in found[1]) else None


def fill(body: str, item: ItemRow, agent: str) -> str:
    """The reply with its placeholders filled for `item`; unknown values stay visible gaps."""
    values = {
        "autor": f"@{item.author.lstrip('@')}" if item.author else "",
        "marca": item.brand,
        "pedido": order_number(item.text or "") or ORDER_GAP,
        "agente": agent,
    }
    filled = _PLACEHOLDER.sub(lambda m: values[m[1]], body)
    return re.sub(r"[ \t]+([,.!?])", r"\1", re.sub(r"[ \t]{2,}", " ", filled)).strip()


def suggestions(all_replies: list[Reply], item: ItemRow) -> list[Reply]:
    """The replies for the item's language: its topic's first, then the general ones."""
    language = item.language or "es"
    same_language = [r for r in all_replies if r.language == language]
    return [r for r in same_language if r.topic == item.topic and item.topic] + [
        r for r in same_language if r.topic is None
    ]


def seed(engine: Engine, settings: Settings, now: datetime) -> None:
    """Store config.yaml's replies whose key is not in the database yet (edits are kept)."""
    with engine.begin() as conn:
        for reply in settings.inbox.replies:
            seed_reply(conn, reply.model_dump(), now)


def edit(engine: Engine, actor: Actor, key: str, title: str, body: str, now: datetime) -> Reply:
    """Change a reply's title and text as `actor` (managers), audited before and after."""
    actor.require(Permission.EDIT_REPLIES)
    if not title.strip() or not body.strip():
        raise ValueError("a prepared reply needs a title and a text")
    with engine.begin() as conn:
        before = next((r for r in replies(conn) if r.key == key), None)
        if before is None:
            raise KeyError(f"no prepared reply called {key!r}")
        update_reply(conn, key, now, actor.name, title=title.strip(), body=body.strip())
        audit.record(
            conn,
            actor=actor.name,
            via=actor.via,
            action="reply.edit",
            target=f"reply {key}",
            before={"title": before.title, "body": before.body},
            after={"title": title.strip(), "body": body.strip()},
            at=now,
        )
        return next(r for r in replies(conn) if r.key == key)
