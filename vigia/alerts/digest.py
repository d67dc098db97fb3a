"""The daily digest: warnings held back from one-by-one e-mail, sent as one message per recipient.

Like Huginn's digest agent, the queue (due ``digest`` deliveries) is cleared only by a send that
succeeded; a failed digest leaves its deliveries due for the next run. Digests go through the
same send path as single alerts, with the same guarantees: a digest the mail server may have
taken without confirming it marks its deliveries uncertain (resent only by a person, with the
next digest), and one never tried leaves them due.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime

from vigia.alerts.channels import not_configured, send_and_record
from vigia.alerts.context import AlertContext
from vigia.alerts.email import Outcome, build_email
from vigia.alerts.render import AckLink, ack_link, render_digest
from vigia.config import Settings
from vigia.storage.alerts import (
    AlertRow,
    Delivery,
    claim_delivery,
    due_deliveries,
    get_alert,
)


def send_digest(ctx: AlertContext) -> int:
    """Send the due digest deliveries, one e-mail per recipient; returns the e-mails accepted."""
    settings = ctx.settings
    now = ctx.clock()
    with ctx.engine.begin() as conn:
        due = due_deliveries(conn, now, ["digest"], limit=5000)
        claimed = [d for d in due if claim_delivery(conn, d.id, now)]
        alerts = {d.alert_id: get_alert(conn, d.alert_id) for d in claimed}
    by_recipient: dict[str, list[Delivery]] = defaultdict(list)
    for delivery in claimed:
        by_recipient[delivery.recipient].append(delivery)
    if not by_recipient:
        return 0
    smtp = settings.smtp
    recipients = sorted(by_recipient)
    if smtp is None:
        for delivery in claimed:
            not_configured(ctx, delivery)
        return 0
    outgoing = []
    for recipient in recipients:
        listed: list[AlertRow] = []
        for d in by_recipient[recipient]:
            alert = alerts.get(d.alert_id)
            if alert is not None and alert not in listed:
                listed.append(alert)
        listed.sort(key=lambda a: (a.opened_at, a.id))
        rendered = render_digest(
            listed,
            settings.alerts.language,
            settings.timezone,
            settings.dashboard.public_url,
            _ack_links(settings, listed, now),
        )
        message_id = _message_id(by_recipient[recipient])
        message = build_email(rendered, smtp.sender, recipient, now, message_id=message_id)
        outgoing.append((message, by_recipient[recipient]))
    # A failed digest stays due for the next run rather than backing off past it.
    done = send_and_record(ctx, smtp, outgoing, retry_at=now)
    return sum(result.outcome is Outcome.SENT for _, result in done)


def _ack_links(settings: Settings, alerts: Sequence[AlertRow], now: datetime) -> dict[int, AckLink]:
    """The acknowledge link of each listed alert that has one, by alert id."""
    public_url, lifetime = settings.dashboard.public_url, settings.auth.ack_link_lifetime
    links = {a.id: ack_link(a, public_url, now, lifetime) for a in alerts}
    return {alert_id: link for alert_id, link in links.items() if link}


def _message_id(deliveries: Sequence[Delivery]) -> str:
    """The same for the same deliveries, so a server can drop a repeated copy of one digest."""
    ids = ",".join(str(d.id) for d in sorted(deliveries, key=lambda d: d.id))
    return f"<vigia.digest.{hashlib.sha256(ids.encode()).hexdigest()[:20]}@vigia.local>"
