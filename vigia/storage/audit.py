"""The audit trail: one row per state change, with who, when, where from, before and after."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, insert, select

from timeutil import naive_utc, utc
from vigia.storage.schema import audit_log


@dataclass(frozen=True)
class AuditEntry:
    id: int
    at: datetime  # aware UTC
    actor: str
    via: str
    action: str
    target: str
    before: dict[str, Any]
    after: dict[str, Any]


def record(
    conn: Connection,
    *,
    actor: str,
    via: str,
    action: str,
    target: str,
    before: Mapping[str, Any],
    after: Mapping[str, Any],
    at: datetime,
) -> None:
    """Add one entry, in the caller's transaction: the change and its record commit together."""
    conn.execute(
        insert(audit_log).values(
            at=naive_utc(at),
            actor=actor,
            via=via,
            action=action,
            target=target,
            before=json.dumps(dict(before), default=str, ensure_ascii=False, sort_keys=True),
            after=json.dumps(dict(after), default=str, ensure_ascii=False, sort_keys=True),
        )
    )


def entries(
    conn: Connection, since: datetime | None = None, limit: int | None = None
) -> list[AuditEntry]:
    """Entries from `since` on (all when None), newest first, at most `limit`."""
    a = audit_log.c
    query = select(audit_log).order_by(a.at.desc(), a.id.desc())
    if since is not None:
        query = query.where(a.at >= naive_utc(since))
    if limit is not None:
        query = query.limit(limit)
    return [
        AuditEntry(
            id=row.id,
            at=utc(row.at),
            actor=row.actor,
            via=row.via,
            action=row.action,
            target=row.target,
            before=json.loads(row.before),
            after=json.loads(row.after),
        )
        for row in conn.execute(query)
    ]
