"""Where a notification goes, and sending the deliveries that are due.

Channels, each one row per recipient in the delivery log:

* ``email``   an address of ``alerts.recipients`` (and ``alerts.managers`` for critical alerts)
* ``digest``  an address whose warnings wait for the daily digest (``alerts.digest: true``)
* ``webhook`` an ``alerts.webhooks`` entry with an http(s) URL: the alert as a JSON POST
* ``apprise`` an ``alerts.webhooks`` entry with any other scheme (Slack, Telegram, Teams …)
* ``outbox``  the ``alerts.outbox`` folder: each message written as an .eml file

A webhook is named in the log, never by its URL, because chat URLs carry tokens.

E-mail is sent exactly once as far as SMTP allows (see :mod:`vigia.alerts.email`): each
message's outcome is recorded as soon as it is known; a message the server may have taken
without confirming it is recorded as uncertain and never resent by itself, and one never tried
is handed back. Webhook POSTs carry an ``Idempotency-Key`` that is the same on every retry of a
delivery, so a receiver that honours it acts once even when a timed-out POST had arrived.
"""

from __future__ import annotations

import json
import logging
import time
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from email.generator import BytesGenerator
from email.message import EmailMessage
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import apprise
import httpx

from collectors.http import USER_AGENT
from vigia.alerts.context import AlertContext
from vigia.alerts.email import Outcome, SendResult, build_email, send_emails
from vigia.alerts.policy import SEVERITY_RANK
from vigia.alerts.render import Rendered, ack_link, render_alert
from vigia.config import Settings, SmtpConfig, WebhookConfig
from vigia.storage.alerts import (
    CLAIM_TTL,
    AlertRow,
    Delivery,
    claim_delivery,
    drop_delivery,
    due_deliveries,
    get_alert,
    record_attempt,
    record_uncertain,
    release_delivery,
)

log = logging.getLogger(__name__)

IMMEDIATE = ("email", "webhook", "apprise", "outbox")
# The error of an e-mail delivery planned while config.yaml has no smtp: section.
NO_SMTP = "not sent: no smtp: section in the configuration"
DEFAULT_SENDER = "Vigía <vigia@localhost>"
# Claims last CLAIM_TTL: a batch still sending after half of it hands the rest back, so no other
# worker can take over a delivery this one might still send.
SEND_BUDGET = (CLAIM_TTL / 2).total_seconds()


@dataclass(frozen=True, slots=True)
class Attempt:
    """The outcome of one delivery attempt: None for `error` means delivered; `uncertain`, that
    it may have been (the mail server never confirmed it), so it waits for a person."""

    delivery: Delivery
    error: str | None
    uncertain: bool = False


def targets(settings: Settings, severity: str, managers: bool) -> list[tuple[str, str]]:
    """The (channel, recipient) pairs a notification of `severity` goes to."""
    cfg = settings.alerts
    found: list[tuple[str, str]] = []
    # Planned even without an smtp: section, so the delivery log shows each e-mail as not sent
    # (NO_SMTP), rather than leaving them out and counting what went elsewhere as all of it.
    mail_channel = "digest" if cfg.digest and severity == "warning" else "email"
    found += [(mail_channel, address) for address in cfg.recipients]
    if managers:
        found += [("email", address) for address in cfg.managers]
    for hook in cfg.webhooks:
        if SEVERITY_RANK[severity] >= SEVERITY_RANK[hook.min_severity]:
            found.append((_channel_of(hook), hook.name))
    if cfg.outbox is not None:
        found.append(("outbox", str(settings.resolve(cfg.outbox))))
    return list(dict.fromkeys(found))


def deliver_due(ctx: AlertContext, channels: Iterable[str] = IMMEDIATE) -> list[Attempt]:
    """Send every due delivery of `channels` once; each outcome is recorded as soon as known.

    Deliveries handed back untried (a lost SMTP connection) are not among the attempts.
    """
    now = ctx.clock()
    with ctx.engine.begin() as conn:
        due = due_deliveries(conn, now, list(channels))
        claimed = [d for d in due if claim_delivery(conn, d.id, now)]
        alerts = {d.alert_id: get_alert(conn, d.alert_id) for d in claimed}
    if not claimed:
        return []
    rendered = {
        alert_id: _render(ctx.settings, alert, now) for alert_id, alert in alerts.items() if alert
    }
    attempts: list[Attempt] = []
    emails = [d for d in claimed if d.channel == "email" and d.alert_id in rendered]
    attempts += _send_email_batch(ctx, emails, alerts, rendered)
    for delivery in claimed:
        alert = alerts.get(delivery.alert_id)
        if delivery in emails or alert is None:
            continue
        if delivery.channel != "outbox" and _hook(ctx.settings, delivery.recipient) is None:
            # The webhook left config.yaml: nobody to send to, ever. Keep the row as a record.
            with ctx.engine.begin() as conn:
                drop_delivery(conn, delivery.id, now, f"{delivery.recipient}: no longer configured")
            continue
        error = _send_one(ctx.settings, delivery, alert, rendered[alert.id])
        result = SendResult(Outcome.FAILED, error) if error else SendResult(Outcome.SENT)
        record_result(ctx, [delivery], result)
        attempts.append(Attempt(delivery, error))
    return attempts


def _render(settings: Settings, alert: AlertRow, now: datetime) -> Rendered:
    public_url = settings.dashboard.public_url
    ack = ack_link(alert, public_url, now, settings.auth.ack_link_lifetime)
    return render_alert(alert, settings.alerts.language, settings.timezone, public_url, ack)


def not_configured(ctx: AlertContext, delivery: Delivery) -> Attempt:
    """Record an e-mail that cannot be attempted (no smtp: section) as not sent, with the
    reason, and never due again: it is not counted as sent, nor retried for ever."""
    with ctx.engine.begin() as conn:
        drop_delivery(conn, delivery.id, ctx.clock(), NO_SMTP)
    return Attempt(delivery, NO_SMTP)


def _send_email_batch(
    ctx: AlertContext,
    deliveries: list[Delivery],
    alerts: dict[int, AlertRow | None],
    rendered: dict[int, Rendered],
) -> list[Attempt]:
    if not deliveries:
        return []
    smtp = ctx.settings.smtp
    if smtp is None:
        return [not_configured(ctx, delivery) for delivery in deliveries]
    outgoing = [
        (
            build_email(
                rendered[d.alert_id],
                smtp.sender,
                d.recipient,
                ctx.clock(),
                alert_key=alerts[d.alert_id].key,  # type: ignore[union-attr]
                message_id=_message_id(d),
            ),
            [d],
        )
        for d in deliveries
    ]
    return [
        Attempt(delivery, result.error, uncertain=result.outcome is Outcome.UNCERTAIN)
        for (delivery,), result in send_and_record(ctx, smtp, outgoing)
        if result.outcome is not Outcome.NOT_TRIED
    ]


def send_and_record(
    ctx: AlertContext,
    smtp: SmtpConfig,
    outgoing: Sequence[tuple[EmailMessage, Sequence[Delivery]]],
    retry_at: datetime | None = None,
) -> list[tuple[Sequence[Delivery], SendResult]]:
    """Send each message and record its outcome on the (claimed) deliveries it carries the moment
    it is known, so a crash mid-batch never leaves a sent message looking unsent.

    Messages past the batch's time budget are handed back untried. `retry_at` is passed on to
    :func:`record_attempt` for failed ones. Returns each message's deliveries and result.
    """
    started = time.monotonic()
    results = send_emails(smtp, [message for message, _ in outgoing])
    done: list[tuple[Sequence[Delivery], SendResult]] = []
    try:
        for (_, deliveries), result in zip(outgoing, results, strict=False):
            record_result(ctx, deliveries, result, retry_at)
            done.append((deliveries, result))
            if time.monotonic() - started > SEND_BUDGET:
                break
    finally:
        results.close()  # quits the SMTP connection
    for _, deliveries in outgoing[len(done) :]:
        record_result(ctx, deliveries, SendResult(Outcome.NOT_TRIED))
        done.append((deliveries, SendResult(Outcome.NOT_TRIED)))
    return done


def record_result(
    ctx: AlertContext,
    deliveries: Sequence[Delivery],
    result: SendResult,
    retry_at: datetime | None = None,
) -> None:
    """Store one send's outcome on its claimed deliveries: done, failed (due again after its
    back-off, or at `retry_at`), uncertain (not due again), or never tried (due again at once)."""
    now = ctx.clock()
    what = {
        Outcome.FAILED: "failed",
        Outcome.UNCERTAIN: "may have been delivered, unconfirmed; not resent by itself",
        Outcome.NOT_TRIED: "not tried, due again",
    }.get(result.outcome)
    for delivery in deliveries:
        if what:
            (log.info if result.outcome is Outcome.NOT_TRIED else log.warning)(
                "alert %d: %s delivery to %s %s: %s",
                delivery.alert_id,
                delivery.channel,
                delivery.recipient,
                what,
                result.error or "an earlier message lost the connection",
            )
    with ctx.engine.begin() as conn:
        for delivery in deliveries:
            if result.outcome is Outcome.SENT:
                record_attempt(conn, delivery.id, now, None)
            elif result.outcome is Outcome.FAILED:
                record_attempt(conn, delivery.id, now, result.error or "failed", retry_at)
            elif result.outcome is Outcome.UNCERTAIN:
                record_uncertain(conn, delivery.id, now, result.error or "unconfirmed")
            else:
                release_delivery(conn, delivery.id, now)


def _send_one(
    settings: Settings, delivery: Delivery, alert: AlertRow, message: Rendered
) -> str | None:
    if delivery.channel == "outbox":
        return write_outbox(Path(delivery.recipient), alert, message, delivery, settings)
    hook = _hook(settings, delivery.recipient)
    assert hook is not None
    url = hook.resolved_url
    if url is None:
        return f"webhook {hook.name}: no URL; set url in config.yaml or {hook.env_name}"
    if delivery.channel == "webhook":
        return post_webhook(
            url,
            webhook_payload(alert, message, delivery),
            settings.http.timeout,
            hook.name,
            idempotency_key=idempotency_key(delivery),
        )
    return notify_apprise(url, message, alert.severity, settings.http.timeout, hook.name)


def webhook_payload(alert: AlertRow, message: Rendered, delivery: Delivery) -> dict[str, Any]:
    """The JSON a generic webhook receives: the rendered text and the alert's stored data."""
    return {
        "source": "vigia",
        "title": message.subject,
        "text": message.text,
        "round": delivery.round,
        "reason": alert.notify_reason,
        "alert": {
            "id": alert.id,
            "key": alert.key,
            "rule": alert.rule,
            "brand": alert.brand,
            "subject": alert.subject,
            "severity": alert.severity,
            "state": alert.state.value,
            "window_start": alert.window_start.isoformat() + "Z",
            "window_end": alert.window_end.isoformat() + "Z",
            "opened_at": alert.opened_at.isoformat() + "Z",
            "evidence": alert.evidence,
        },
    }


def post_webhook(
    url: str,
    payload: dict[str, Any],
    timeout: float,
    name: str,
    idempotency_key: str | None = None,
) -> str | None:
    """POST `payload` as JSON; None on a 2xx answer, else the error (naming the host, not the URL).

    No inline retries: a POST may have been acted on, and the delivery log retries later anyway.
    `idempotency_key`, the same on every retry of one delivery, goes in an ``Idempotency-Key``
    header, so a receiver that honours it acts once on a POST that timed out yet arrived.
    """
    host = urlsplit(url).hostname or "?"
    headers = {"Content-Type": "application/json; charset=utf-8", "User-Agent": USER_AGENT}
    if idempotency_key:
        headers["Idempotency-Key"] = idempotency_key
    try:
        response = httpx.post(
            url,
            content=json.dumps(payload, ensure_ascii=False, default=str).encode("utf-8"),
            headers=headers,
            timeout=timeout,
        )
    except httpx.HTTPError as exc:
        return f"webhook {name} ({host}): {type(exc).__name__}: {exc}"
    if not response.is_success:
        return f"webhook {name} ({host}): HTTP {response.status_code} {response.reason_phrase}"
    return None


def notify_apprise(
    url: str, message: Rendered, severity: str, timeout: float, name: str
) -> str | None:
    """Send through Apprise (Slack, Telegram, Teams …); None when it reports success.

    Apprise has no way to add an idempotency header or key, and chat services offer none: a
    notification that timed out but arrived is posted again on the delivery's retry.
    """
    notifier = apprise.Apprise()
    with warnings.catch_warnings():
        # Apprise loads its plugins on first use; its PGP helper imports the stdlib `imghdr`,
        # deprecated since Python 3.11 (a DeprecationWarning that is none of our users' business).
        warnings.filterwarnings("ignore", "'imghdr' is deprecated", DeprecationWarning)
        added = notifier.add(url)
    if not added:
        return f"apprise {name}: not a URL Apprise understands (scheme {urlsplit(url).scheme}://)"
    problems: list[str] = []
    result = notifier.notify(
        body=message.text,
        title=message.subject,
        notify_type=apprise.NotifyType.FAILURE
        if severity == "critical"
        else apprise.NotifyType.WARNING,
        timeout=timeout,
        log_level=logging.WARNING,
        log_callback=lambda entry, _plugin: problems.append(str(entry.message)),
    )
    if result:
        return None
    return f"apprise {name}: " + ("; ".join(problems) or "the notification was not sent")


def write_outbox(
    folder: Path, alert: AlertRow, message: Rendered, delivery: Delivery, settings: Settings
) -> str | None:
    """Write the message as `<folder>/vigia-alert-<id>-<round>.eml`; None when written."""
    sender = settings.smtp.sender if settings.smtp else DEFAULT_SENDER
    to = ", ".join(settings.alerts.recipients) or "undisclosed-recipients:;"
    email = build_email(
        message,
        sender,
        to,
        delivery.planned_at,
        alert_key=alert.key,
        message_id=_message_id(delivery),
    )
    path = folder / f"vigia-alert-{alert.id}-{delivery.round}.eml"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(".eml.part")
        with partial.open("wb") as handle:
            BytesGenerator(handle).flatten(email)
        partial.replace(path)  # a reader of the folder never sees half a message
    except OSError as exc:
        return f"outbox {folder}: {exc.strerror or exc}"
    return None


def _hook(settings: Settings, name: str) -> WebhookConfig | None:
    return next((h for h in settings.alerts.webhooks if h.name == name), None)


def _channel_of(hook: WebhookConfig) -> str:
    url = hook.resolved_url or ""
    return "apprise" if url and not url.lower().startswith(("http://", "https://")) else "webhook"


def _message_id(delivery: Delivery) -> str:
    return f"<vigia.{delivery.alert_id}.{delivery.round}.{delivery.id}@vigia.local>"


def idempotency_key(delivery: Delivery) -> str:
    """The same for every try of one delivery, different for every other delivery."""
    return f"vigia-{delivery.alert_id}-{delivery.round}-{delivery.id}"
