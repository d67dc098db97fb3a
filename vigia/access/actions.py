"""The state changes people make, from the dashboard, an e-mail link or the CLI: each checks the
actor's role and is recorded in the audit trail in the same transaction."""

from __future__ import annotations

import hashlib
from datetime import datetime

from sqlalchemy import Engine

from vigia.access.roles import Actor, Permission
from vigia.alerts.policy import AlertState
from vigia.storage import audit
from vigia.storage.alerts import AlertRow, Delivery, get_alert, resend_delivery, set_alert_state
from vigia.storage.retention import ForgetReport, forget_author

# The audit action for a move to each state.
_ALERT_ACTIONS = {
    AlertState.ACKNOWLEDGED: "alert.acknowledge",
    AlertState.RESOLVED: "alert.resolve",
    AlertState.OPEN: "alert.reopen",
}


def change_alert_state(
    engine: Engine, actor: Actor, alert_id: int, state: AlertState | str, now: datetime
) -> AlertRow:
    """Acknowledge, resolve or reopen an alert as `actor`; an alert already in that state is
    left alone (and nothing is recorded). Forbidden, or KeyError for an unknown id."""
    actor.require(Permission.MANAGE_ALERTS)
    state = AlertState(state)
    with engine.begin() as conn:
        before = get_alert(conn, alert_id)
        if before is None:
            raise KeyError(f"no alert with id {alert_id}")
        if before.state is state:
            return before
        after = set_alert_state(conn, alert_id, state, now)
        audit.record(
            conn,
            actor=actor.name,
            via=actor.via,
            action=_ALERT_ACTIONS[state],
            target=f"alert {alert_id}",
            before={"state": before.state.value},
            after={"state": after.state.value},
            at=now,
        )
    return after


def resend(engine: Engine, actor: Actor, delivery_id: int, now: datetime) -> Delivery:
    """Make an unconfirmed delivery due again, as `actor` (see storage.alerts.resend_delivery)."""
    actor.require(Permission.RESEND)
    with engine.begin() as conn:
        delivery = resend_delivery(conn, delivery_id, now)
        audit.record(
            conn,
            actor=actor.name,
            via=actor.via,
            action="alert.resend",
            target=f"alert {delivery.alert_id}",
            before={"delivery": delivery.id, "state": "uncertain"},
            after={"delivery": delivery.id, "state": "due"},
            at=now,
        )
    return delivery


def author_digest(author: str) -> str:
    """How an erased author is named in the audit trail: a hash of the case-folded name, so an
    erasure can be proved without keeping the name it erased."""
    return "sha256:" + hashlib.sha256(author.casefold().encode("utf-8")).hexdigest()[:12]


def forget(
    engine: Engine, actor: Actor, author: str, source: str | None, now: datetime
) -> ForgetReport:
    """Erase an author's mentions (see storage.retention.forget_author), then record it."""
    actor.require(Permission.ERASE)
    if not author.strip():
        raise ValueError("the author's name is empty")
    report = forget_author(engine, author, source)
    with engine.begin() as conn:
        audit.record(
            conn,
            actor=actor.name,
            via=actor.via,
            action="author.forget",
            target=f"author {author_digest(author)}" + (f" on {source}" if source else ""),
            before={"mentions": sum(report.per_source.values())},
            after={
                "mentions": 0,
                "snapshots_deleted": report.snapshots_deleted,
                "alerts_trimmed": report.alerts_trimmed,
            },
            at=now,
        )
    return report
