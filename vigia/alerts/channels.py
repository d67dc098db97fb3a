"""Where a notification goes, and sending the deliveries that are due.

Channels, each one row per recipient in the delivery log:

* ``email``   an address of ``alerts.recipients`` (and ``alerts.managers`` for critical alerts)
* ``digest``  an address whose warnings wait for the daily digest (``alerts.digest: true``)
* ``webhook`` an ``alerts.webhooks`` entry with an http(s) URL: the alert as a JSON POST
* ``apprise`` an ``alerts.webhooks`` entry with any other scheme (Slack, Telegram, Teams …)
* ``outbox``  the ``alerts.outbox`` folder: each message written as an .eml file

A webhook is named in the log, never by its URL, because chat URLs carry tokens.
"""

from __future__ import annotations

import json
import logging
import warnings
from collections.abc import Iterable
from dataclasses import dataclass
from email.generator import BytesGenerator
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import apprise
import httpx

from collectors.http import USER_AGENT
from vigia.alerts.email import build_email, send_emails
from vigia.alerts.policy import SEVERITY_RANK
from vigia.alerts.render import Rendered, render_alert
from vigia.config import Settings, WebhookConfig
from vigia.storage.alerts import (
    AlertRow,
    Delivery,
    claim_delivery,
    drop_delivery,
    due_deliveries,
    get_alert,
    record_attempt,
)

if TYPE_CHECKING:
    from vigia.pipeline import Runtime

log = logging.getLogger(__name__)

IMMEDIATE = ("email", "webhook", "apprise", "outbox")
DEFAULT_SENDER = "Vigía <vigia@localhost>"


@dataclass(frozen=True, slots=True)
class Attempt:
    """The outcome of one delivery attempt: None for `error` means delivered."""

    delivery: Delivery
    error: str | None


def targets(settings: Settings, severity: str, managers: bool) -> list[tuple[str, str]]:
    """The (channel, recipient) pairs a notification of `severity` goes to."""
    cfg = settings.alerts
    found: list[tuple[str, str]] = []
    if settings.smtp is not None:
        mail_channel = "digest" if cfg.digest and severity == "warning" else "email"
        found += [(mail_channel, address) for address in cfg.recipients]
        if managers:
            found += [("email", address) for address in cfg.managers]
    elif cfg.recipients or (managers and cfg.managers):
        log.warning("alert e-mail recipients are configured but no smtp: section; not e-mailed")
    for hook in cfg.webhooks:
        if SEVERITY_RANK[severity] >= SEVERITY_RANK[hook.min_severity]:
            found.append((_channel_of(hook), hook.name))
    if cfg.outbox is not None:
        found.append(("outbox", str(settings.resolve(cfg.outbox))))
    return list(dict.fromkeys(found))


def deliver_due(rt: Runtime, channels: Iterable[str] = IMMEDIATE) -> list[Attempt]:
    """Send every due delivery of `channels` once; each outcome is recorded as soon as known."""
    now = rt.clock()
    with rt.engine.begin() as conn:
        due = due_deliveries(conn, now, list(channels))
        claimed = [d for d in due if claim_delivery(conn, d.id, now)]
        alerts = {d.alert_id: get_alert(conn, d.alert_id) for d in claimed}
    if not claimed:
        return []
    rendered = {
        alert_id: _render(rt.settings, alert) for alert_id, alert in alerts.items() if alert
    }
    attempts: list[Attempt] = []
    emails = [d for d in claimed if d.channel == "email" and d.alert_id in rendered]
    attempts += _send_email_batch(rt, emails, alerts, rendered)
    for delivery in claimed:
        alert = alerts.get(delivery.alert_id)
        if delivery in emails or alert is None:
            continue
        if delivery.channel != "outbox" and _hook(rt.settings, delivery.recipient) is None:
            # The webhook left config.yaml: nobody to send to, ever. Keep the row as a record.
            with rt.engine.begin() as conn:
                drop_delivery(conn, delivery.id, now, f"{delivery.recipient}: no longer configured")
            continue
        error = _send_one(rt.settings, delivery, alert, rendered[alert.id])
        _record(rt, delivery, error)
        attempts.append(Attempt(delivery, error))
    return attempts


def _render(settings: Settings, alert: AlertRow) -> Rendered:
    cfg = settings.alerts
    return render_alert(alert, cfg.language, settings.timezone, cfg.dashboard_url)


def _send_email_batch(
    rt: Runtime,
    deliveries: list[Delivery],
    alerts: dict[int, AlertRow | None],
    rendered: dict[int, Rendered],
) -> list[Attempt]:
    if not deliveries:
        return []
    smtp = rt.settings.smtp
    if smtp is None:
        errors: list[str | None] = ["no smtp: section in the configuration"] * len(deliveries)
    else:
        messages = [
            build_email(
                rendered[d.alert_id],
                smtp.sender,
                d.recipient,
                rt.clock(),
                alert_key=alerts[d.alert_id].key,  # type: ignore[union-attr]
                message_id=_message_id(d),
            )
            for d in deliveries
        ]
        errors = send_emails(smtp, messages)
    attempts = []
    for delivery, error in zip(deliveries, errors, strict=True):
        _record(rt, delivery, error)
        attempts.append(Attempt(delivery, error))
    return attempts


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
            url, webhook_payload(alert, message, delivery), settings.http.timeout, hook.name
        )
    return notify_apprise(url, message, alert.severity, settings.http.timeout, hook.name)


def _record(rt: Runtime, delivery: Delivery, error: str | None) -> None:
    if error:
        log.warning(
            "alert %d: %s delivery to %s failed: %s",
            delivery.alert_id,
            delivery.channel,
            delivery.recipient,
            error,
        )
    with rt.engine.begin() as conn:
        record_attempt(conn, delivery.id, rt.clock(), error)


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


def post_webhook(url: str, payload: dict[str, Any], timeout: float, name: str) -> str | None:
    """POST `payload` as JSON; None on a 2xx answer, else the error (naming the host, not the URL).

    No inline retries: a POST may have been acted on, and the delivery log retries later anyway.
    """
    host = urlsplit(url).hostname or "?"
    try:
        response = httpx.post(
            url,
            content=json.dumps(payload, ensure_ascii=False, default=str).encode("utf-8"),
            headers={"Content-Type": "application/json; charset=utf-8", "User-Agent": USER_AGENT},
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
    """Send through Apprise (Slack, Telegram, Teams …); None when it reports success."""
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
