"""The alert log: alerts by idempotency key, their states, and the deliveries planned for each.

Deliveries are an outbox. A notifying decision plans one row per recipient and channel in the
same transaction that stores the alert; a sender then *claims* a due row (an atomic conditional
UPDATE, so two pollers never send the same row), tries it and records the outcome. A failed row
stays due with a growing back-off, so a dead mail server delays a notification but never loses
or duplicates it; the error and the attempt count stay visible for the dashboard.

A try whose outcome is unknown (the mail server took the whole message but its answer never
came) is *uncertain*: it is not retried by itself, since the message may have arrived, and
stays visible until a person resends it (:func:`resend_delivery`). A claimed row that was never
tried (the connection broke on an earlier message) is handed back, due again at once.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.engine import Connection, RowMapping

from timeutil import naive_utc, utc
from vigia.alerts.policy import SEVERITY_RANK, AlertState, PreviousAlert, Severity
from vigia.storage.engine import upsert
from vigia.storage.schema import alert_deliveries, alerts

# A claimed delivery that was never recorded (the process died mid-send) is due again after this.
CLAIM_TTL = timedelta(minutes=10)
MAX_RETRY_DELAY = timedelta(hours=1)


@dataclass(frozen=True, slots=True)
class AlertRow:
    """One stored alert; times are naive UTC, ``evidence`` is the decoded JSON."""

    id: int
    key: str
    rule: str
    brand: str | None
    subject: str | None
    severity: Severity
    window_start: datetime
    window_end: datetime
    evidence: dict[str, Any]
    state: AlertState
    opened_at: datetime
    updated_at: datetime
    last_seen_at: datetime
    notified_at: datetime | None
    notified_severity: Severity | None
    notify_round: int
    notify_reason: str | None
    acknowledged_at: datetime | None
    resolved_at: datetime | None

    @classmethod
    def of(cls, row: RowMapping) -> AlertRow:
        values = dict(row)
        values["evidence"] = json.loads(values["evidence"] or "{}")
        values["state"] = AlertState(values["state"])
        return cls(**values)

    def previous(self) -> PreviousAlert:
        """This alert as :func:`vigia.alerts.policy.decide` sees it."""
        return PreviousAlert(
            state=self.state,
            severity=self.notified_severity or self.severity,
            last_seen=utc(self.last_seen_at),
            last_notified=utc(self.notified_at) if self.notified_at else None,
        )


@dataclass(frozen=True, slots=True)
class Delivery:
    """One planned delivery of one notification round to one recipient over one channel."""

    id: int
    alert_id: int
    channel: str
    recipient: str
    round: int
    planned_at: datetime
    attempted_at: datetime | None
    attempts: int
    ok: bool
    error: str | None
    delivered_at: datetime | None
    next_attempt_at: datetime | None
    uncertain_at: datetime | None = None

    @property
    def pending(self) -> bool:
        return not self.ok and self.next_attempt_at is not None

    @property
    def uncertain(self) -> bool:
        """Tried, maybe delivered, never confirmed: waits for a person to resend it."""
        return not self.ok and self.uncertain_at is not None


def latest_alert(conn: Connection, rule: str, subject: str) -> AlertRow | None:
    """The most recent alert of `rule` about `subject`, whatever its state."""
    row = (
        conn.execute(
            select(alerts)
            .where(alerts.c.rule == rule, alerts.c.subject == subject)
            .order_by(alerts.c.opened_at.desc(), alerts.c.id.desc())
            .limit(1)
        )
        .mappings()
        .first()
    )
    return AlertRow.of(row) if row else None


def get_alert(conn: Connection, alert_id: int) -> AlertRow | None:
    row = conn.execute(select(alerts).where(alerts.c.id == alert_id)).mappings().first()
    return AlertRow.of(row) if row else None


def alert_by_key(conn: Connection, key: str) -> AlertRow | None:
    row = conn.execute(select(alerts).where(alerts.c.key == key)).mappings().first()
    return AlertRow.of(row) if row else None


def insert_alert(
    conn: Connection,
    *,
    key: str,
    rule: str,
    brand: str | None,
    subject: str,
    severity: Severity,
    window_start: datetime,
    window_end: datetime,
    evidence: dict[str, Any],
    now: datetime,
) -> AlertRow | None:
    """Store a new open alert; None when an alert with `key` already exists (nothing written)."""
    moment = naive_utc(now)
    statement = (
        upsert(conn, alerts)
        .values(
            key=key,
            rule=rule,
            brand=brand,
            subject=subject,
            severity=severity,
            window_start=naive_utc(window_start),
            window_end=naive_utc(window_end),
            evidence=_json(evidence),
            state=AlertState.OPEN.value,
            opened_at=moment,
            updated_at=moment,
            last_seen_at=moment,
            notify_round=0,
        )
        .on_conflict_do_nothing(index_elements=["key"])
        .returning(alerts.c.id)
    )
    # RETURNING, not rowcount: PostgreSQL drivers report no rowcount for this statement.
    if conn.execute(statement).first() is None:
        return None
    return alert_by_key(conn, key)


def update_alert(
    conn: Connection,
    alert_id: int,
    *,
    severity: Severity,
    window_end: datetime,
    evidence: dict[str, Any],
    now: datetime,
    window_start: datetime | None = None,
) -> None:
    """Merge a new finding into an alert: latest evidence, window extended, severity never lowered.

    With `window_start` (a reopened alert) a new episode starts: its window and severity are the
    finding's own.
    """
    a = alerts.c
    moment = naive_utc(now)
    stored = conn.execute(select(a.severity, a.window_end).where(a.id == alert_id)).one()
    values: dict[str, Any] = {
        "evidence": _json(evidence),
        "updated_at": moment,
        "last_seen_at": moment,
    }
    if window_start is not None:
        values.update(
            severity=severity,
            window_start=naive_utc(window_start),
            window_end=naive_utc(window_end),
        )
    else:
        values.update(
            severity=severity
            if SEVERITY_RANK[severity] > SEVERITY_RANK[stored.severity]
            else stored.severity,
            window_end=max(stored.window_end, naive_utc(window_end)),
        )
    conn.execute(update(alerts).where(a.id == alert_id).values(values))


def set_alert_state(
    conn: Connection, alert_id: int, state: AlertState | str, now: datetime
) -> AlertRow:
    """Move an alert to open, acknowledged or resolved (for the dashboard and the CLI).

    Acknowledging keeps the alert's crisis running (updates go on silently); resolving ends it,
    so a new finding within the policy's ``reopen_within`` reopens it with a new notification.
    Raises KeyError for an unknown id and ValueError for an unknown state.
    """
    state = AlertState(state)
    moment = naive_utc(now)
    values: dict[str, Any] = {"state": state.value, "updated_at": moment}
    if state is AlertState.OPEN:
        values.update(acknowledged_at=None, resolved_at=None)
    elif state is AlertState.ACKNOWLEDGED:
        values.update(acknowledged_at=moment, resolved_at=None)
    else:
        values.update(resolved_at=moment)
    if conn.execute(update(alerts).where(alerts.c.id == alert_id).values(values)).rowcount != 1:
        raise KeyError(f"no alert with id {alert_id}")
    row = get_alert(conn, alert_id)
    assert row is not None
    return row


def list_alerts(
    conn: Connection,
    states: Iterable[AlertState | str] | None = (AlertState.OPEN, AlertState.ACKNOWLEDGED),
    brand: str | None = None,
    rule: str | None = None,
    limit: int = 200,
) -> list[AlertRow]:
    """Alerts in `states` (None: all), optionally of one brand or rule, most recently updated first."""
    a = alerts.c
    query = select(alerts).order_by(a.updated_at.desc(), a.id.desc()).limit(limit)
    if states is not None:
        query = query.where(a.state.in_([AlertState(s).value for s in states]))
    if brand is not None:
        query = query.where(a.brand == brand)
    if rule is not None:
        query = query.where(a.rule == rule)
    return [AlertRow.of(row) for row in conn.execute(query).mappings()]


def plan_notification(
    conn: Connection,
    alert_id: int,
    targets: Iterable[tuple[str, str]],
    *,
    severity: Severity,
    reason: str,
    now: datetime,
) -> int:
    """Start a notification round: mark the alert notified and plan one delivery per target.

    `targets` are (channel, recipient) pairs; returns the round number. The cooldown counts from
    here, sent or not yet: a notification that is pending is not lost, so it is not repeated.
    """
    a = alerts.c
    moment = naive_utc(now)
    stored = conn.execute(select(a.notified_severity, a.notify_round).where(a.id == alert_id)).one()
    notified = stored.notified_severity
    round_ = stored.notify_round + 1
    conn.execute(
        update(alerts)
        .where(a.id == alert_id)
        .values(
            notify_round=round_,
            notify_reason=reason,
            notified_at=moment,
            # NEW and REOPEN start an episode at the finding's severity; ESCALATE only goes up.
            notified_severity=severity
            if reason != "escalate"
            or notified is None
            or SEVERITY_RANK[severity] > SEVERITY_RANK[notified]
            else notified,
            updated_at=moment,
        )
    )
    rows = [
        {
            "alert_id": alert_id,
            "round": round_,
            "channel": channel,
            "recipient": recipient,
            "planned_at": moment,
            "attempts": 0,
            "ok": False,
            "next_attempt_at": moment,
        }
        for channel, recipient in dict.fromkeys(targets)
    ]
    if rows:
        _drop_untried_earlier_rounds(conn, alert_id, round_, list(dict.fromkeys(targets)), moment)
        conn.execute(upsert(conn, alert_deliveries).on_conflict_do_nothing(), rows)
    return round_


def _drop_untried_earlier_rounds(
    conn: Connection,
    alert_id: int,
    round_: int,
    targets: Sequence[tuple[str, str]],
    moment: datetime,
) -> None:
    """Earlier rounds' deliveries to the same targets that no sender has tried or taken yet.

    The new round carries the alert as it is now, and a message is rendered when it is sent, so
    the earlier one would arrive as a copy of it (a warning round still queued when the alert
    escalates). Nothing was sent: the rows go. A delivery that was tried (it failed and waits for
    its retry) stays on record, and one being sent (claimed) goes out as it is.
    """
    d = alert_deliveries.c
    for channel, recipient in targets:
        conn.execute(
            delete(alert_deliveries).where(
                d.alert_id == alert_id,
                d.round < round_,
                d.channel == channel,
                d.recipient == recipient,
                d.ok.is_(False),
                d.attempts == 0,
                d.next_attempt_at <= moment,
            )
        )


def due_deliveries(
    conn: Connection, now: datetime, channels: Sequence[str] | None = None, limit: int = 500
) -> list[Delivery]:
    """Deliveries due at `now` (never tried, or failed and past their back-off), oldest first."""
    d = alert_deliveries.c
    query = (
        select(alert_deliveries)
        .where(d.ok.is_(False), d.next_attempt_at.is_not(None), d.next_attempt_at <= naive_utc(now))
        .order_by(d.planned_at, d.id)
        .limit(limit)
    )
    if channels is not None:
        query = query.where(d.channel.in_(list(channels)))
    return [Delivery(**row) for row in conn.execute(query).mappings()]


def claim_delivery(conn: Connection, delivery_id: int, now: datetime) -> bool:
    """Take a due delivery for sending; False when another sender took it first."""
    d = alert_deliveries.c
    moment = naive_utc(now)
    claimed = conn.execute(
        update(alert_deliveries)
        .where(d.id == delivery_id, d.ok.is_(False), d.next_attempt_at <= moment)
        .values(next_attempt_at=moment + CLAIM_TTL)
    )
    return claimed.rowcount == 1


def record_attempt(
    conn: Connection,
    delivery_id: int,
    now: datetime,
    error: str | None,
    retry_at: datetime | None = None,
) -> None:
    """Record one try of a delivery: done when `error` is None, else due again at `retry_at`.

    Without `retry_at` a failed delivery backs off exponentially (1, 2, 4 … minutes, at most an
    hour); pass ``retry_at=now`` for a channel retried by its own schedule (the daily digest).
    """
    d = alert_deliveries.c
    moment = naive_utc(now)
    attempts = conn.execute(select(d.attempts).where(d.id == delivery_id)).scalar_one() + 1
    values: dict[str, Any] = {"attempted_at": moment, "attempts": attempts, "uncertain_at": None}
    if error is None:
        values.update(ok=True, error=None, delivered_at=moment, next_attempt_at=None)
    else:
        delay = min(timedelta(minutes=2 ** (attempts - 1)), MAX_RETRY_DELAY)
        retry = naive_utc(retry_at) if retry_at is not None else moment + delay
        values.update(ok=False, error=error[:2000], next_attempt_at=retry)
    conn.execute(update(alert_deliveries).where(d.id == delivery_id).values(values))


def record_uncertain(conn: Connection, delivery_id: int, now: datetime, error: str) -> None:
    """Record a try that may have delivered: the server had the whole message but never said so.

    Not due again (resending by itself could deliver it twice); the error stays for the
    dashboard, which offers to resend it.
    """
    d = alert_deliveries.c
    moment = naive_utc(now)
    conn.execute(
        update(alert_deliveries)
        .where(d.id == delivery_id)
        .values(
            attempted_at=moment,
            attempts=d.attempts + 1,
            ok=False,
            error=error[:2000],
            uncertain_at=moment,
            next_attempt_at=None,
        )
    )


def release_delivery(conn: Connection, delivery_id: int, now: datetime) -> None:
    """Hand back a claimed delivery that was never tried: due again at once, no attempt counted."""
    d = alert_deliveries.c
    conn.execute(
        update(alert_deliveries)
        .where(d.id == delivery_id, d.ok.is_(False), d.next_attempt_at.is_not(None))
        .values(next_attempt_at=naive_utc(now))
    )


def resend_delivery(conn: Connection, delivery_id: int, now: datetime) -> Delivery:
    """Make an uncertain (or given-up) delivery due at `now`: a person chose a possible second
    copy over a possible loss. This is the only way an uncertain delivery is sent again.

    Raises KeyError for an unknown id, and ValueError for a delivery that was delivered or is
    still due or being sent (sending it now could duplicate it).
    """
    d = alert_deliveries.c
    moment = naive_utc(now)
    changed = conn.execute(
        update(alert_deliveries)
        .where(d.id == delivery_id, d.ok.is_(False), d.next_attempt_at.is_(None))
        .values(uncertain_at=None, next_attempt_at=moment)
    ).rowcount
    row = conn.execute(select(alert_deliveries).where(d.id == delivery_id)).mappings().first()
    if row is None:
        raise KeyError(f"no delivery with id {delivery_id}")
    delivery = Delivery(**row)
    if changed != 1:
        if delivery.ok:
            raise ValueError(f"delivery {delivery_id} was delivered; it is not sent again")
        raise ValueError(f"delivery {delivery_id} is already due to be sent; nothing to do")
    return delivery


def uncertain_deliveries(
    conn: Connection, alert_ids: Sequence[int] | None = None
) -> list[Delivery]:
    """Deliveries that may have arrived but were never confirmed (of `alert_ids`, or all)."""
    d = alert_deliveries.c
    query = (
        select(alert_deliveries)
        .where(d.ok.is_(False), d.uncertain_at.is_not(None))
        .order_by(d.alert_id, d.round, d.id)
    )
    if alert_ids is not None:
        query = query.where(d.alert_id.in_(list(alert_ids)))
    return [Delivery(**row) for row in conn.execute(query).mappings()]


def drop_delivery(conn: Connection, delivery_id: int, now: datetime, reason: str) -> None:
    """Give up on a delivery that can never succeed (its recipient left the config); kept for the log."""
    conn.execute(
        update(alert_deliveries)
        .where(alert_deliveries.c.id == delivery_id)
        .values(attempted_at=naive_utc(now), error=reason[:2000], next_attempt_at=None)
    )


def deliveries_of(conn: Connection, alert_id: int) -> list[Delivery]:
    """Every planned delivery of an alert, round by round."""
    d = alert_deliveries.c
    query = select(alert_deliveries).where(d.alert_id == alert_id).order_by(d.round, d.id)
    return [Delivery(**row) for row in conn.execute(query).mappings()]


def _json(evidence: dict[str, Any]) -> str:
    return json.dumps(evidence, ensure_ascii=False, default=str, sort_keys=True)
