"""Brand exclusions accepted on the dashboard, and the texts their suggestions come from."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, delete, select

from timeutil import naive_utc
from vigia.storage.engine import upsert
from vigia.storage.schema import brand_exclusions, inbox_items, inbox_mentions, mentions


def accepted(conn: Connection) -> dict[str, list[str]]:
    """Every accepted phrase, by brand."""
    b = brand_exclusions.c
    found: dict[str, list[str]] = {}
    for brand, phrase in conn.execute(select(b.brand, b.phrase).order_by(b.brand, b.phrase)):
        found.setdefault(brand, []).append(phrase)
    return found


def add(conn: Connection, brand: str, phrase: str, by: str, now: datetime) -> bool:
    """Accept `phrase` for `brand`; False if it was accepted already."""
    added = conn.execute(
        upsert(conn, brand_exclusions)
        .values(brand=brand, phrase=phrase, added_by=by, added_at=naive_utc(now))
        .on_conflict_do_nothing()
        .returning(brand_exclusions.c.phrase)
    ).first()
    return added is not None


def remove(conn: Connection, brand: str, phrase: str) -> bool:
    b = brand_exclusions.c
    return (
        conn.execute(delete(brand_exclusions).where(b.brand == brand, b.phrase == phrase)).rowcount
        > 0
    )


def item_texts(conn: Connection, brand: str, irrelevant: bool, limit: int) -> list[str]:
    """Texts of the brand's latest inbox items dismissed as irrelevant (or of all the others)."""
    i, im, m = inbox_items.c, inbox_mentions.c, mentions.c
    dismissed = (i.state == "dismissed") & (i.close_reason == "irrelevant")
    query = (
        select(m.text)
        .select_from(
            inbox_items.join(inbox_mentions, im.item_id == i.id).join(
                mentions, m.id == im.mention_id
            )
        )
        .where(i.brand == brand, dismissed if irrelevant else ~dismissed)
        .order_by(i.updated_at.desc())
        .limit(limit)
    )
    return list(conn.execute(query).scalars())
