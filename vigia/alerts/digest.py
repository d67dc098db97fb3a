"""The daily digest: warnings held back from one-by-one e-mail, sent as one message per recipient.

Like Huginn's digest agent, the queue (due ``digest`` deliveries) is cleared only by a send that
succeeded; a failed digest leaves its deliveries due for the next run.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from typing import TYPE_CHECKING

from vigia.alerts.email import build_email, send_emails
from vigia.alerts.render import render_digest
from vigia.storage.alerts import (
    AlertRow,
    Delivery,
    claim_delivery,
    due_deliveries,
    get_alert,
    record_attempt,
)

if TYPE_CHECKING:
    from vigia.pipeline import Runtime

log = logging.getLogger(__name__)


def send_digest(rt: Runtime) -> int:
    """Send the due digest deliveries, one e-mail per recipient; returns the e-mails accepted."""
    settings = rt.settings
    now = rt.clock()
    with rt.engine.begin() as conn:
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
        errors: list[str | None] = ["no smtp: section in the configuration"] * len(recipients)
    else:
        messages = []
        for recipient in recipients:
            listed: list[AlertRow] = []
            for d in by_recipient[recipient]:
                alert = alerts.get(d.alert_id)
                if alert is not None and alert not in listed:
                    listed.append(alert)
            listed.sort(key=lambda a: (a.opened_at, a.id))
            rendered = render_digest(
                listed, settings.alerts.language, settings.timezone, settings.alerts.dashboard_url
            )
            messages.append(build_email(rendered, smtp.sender, recipient, now))
        errors = send_emails(smtp, messages)
    sent = 0
    with rt.engine.begin() as conn:
        for recipient, error in zip(recipients, errors, strict=True):
            for delivery in by_recipient[recipient]:
                # A failed digest stays due for the next run rather than backing off past it.
                record_attempt(conn, delivery.id, now, error, retry_at=now)
            if error:
                log.warning("daily digest to %s failed: %s", recipient, error)
            else:
                sent += 1
    return sent
