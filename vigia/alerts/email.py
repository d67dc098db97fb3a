"""Alert e-mail over SMTP (smtplib): STARTTLS, implicit TLS or plain, one connection per batch."""

from __future__ import annotations

import smtplib
import ssl
from collections.abc import Sequence
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

from vigia.alerts.render import Rendered
from vigia.config import SmtpConfig


def build_email(
    rendered: Rendered,
    sender: str,
    recipient: str,
    sent_at: datetime,
    alert_key: str | None = None,
    message_id: str | None = None,
) -> EmailMessage:
    """A multipart/alternative message: the plain text first, the HTML as the preferred part."""
    message = EmailMessage()
    message["Subject"] = rendered.subject
    message["From"] = sender
    message["To"] = recipient
    message["Date"] = format_datetime(sent_at)
    # A stable id per delivery lets mail servers drop a copy should a send ever be repeated.
    message["Message-ID"] = message_id or make_msgid(domain="vigia.local")
    if alert_key:
        # Lets a mail rule, or a person, tell the same alert's messages apart from others.
        message["X-Vigia-Alert"] = alert_key
    message.set_content(rendered.text, charset="utf-8")
    message.add_alternative(rendered.html, subtype="html", charset="utf-8")
    return message


def send_emails(smtp: SmtpConfig, messages: Sequence[EmailMessage]) -> list[str | None]:
    """Send `messages` over one connection; per message, None when accepted or the error text.

    A server that cannot be reached (or refuses the login) fails every message with the same
    clear error; a recipient the server rejects fails only its own message.
    """
    if not messages:
        return []
    where = f"{smtp.host}:{smtp.port}"
    try:
        server = _connect(smtp)
    except (OSError, smtplib.SMTPException) as exc:
        return [f"SMTP server {where} unreachable ({smtp.security}): {_describe(exc)}"] * len(
            messages
        )
    results: list[str | None] = []
    try:
        for message in messages:
            try:
                refused = server.send_message(message)
            except smtplib.SMTPServerDisconnected as exc:
                # The rest cannot go over this connection either.
                error = f"SMTP server {where} disconnected: {_describe(exc)}"
                results += [error] * (len(messages) - len(results))
                break
            except (OSError, smtplib.SMTPException) as exc:
                results.append(f"SMTP server {where} rejected the message: {_describe(exc)}")
            else:
                results.append(f"refused by {where}: {refused}" if refused else None)
    finally:
        try:
            server.quit()
        except (OSError, smtplib.SMTPException):
            server.close()
    return results


def _connect(smtp: SmtpConfig) -> smtplib.SMTP:
    context = ssl.create_default_context()
    server: smtplib.SMTP
    if smtp.security == "ssl":
        server = smtplib.SMTP_SSL(smtp.host, smtp.port, timeout=smtp.timeout, context=context)
    else:
        server = smtplib.SMTP(smtp.host, smtp.port, timeout=smtp.timeout)
    try:
        server.ehlo()
        if smtp.security == "starttls":
            server.starttls(context=context)
            server.ehlo()
        if smtp.user:
            password = smtp.password
            if password is None:
                raise smtplib.SMTPAuthenticationError(
                    535, b"no password: set VIGIA_SMTP_PASSWORD in the environment"
                )
            server.login(smtp.user, password)
    except BaseException:
        server.close()
        raise
    return server


def _describe(exc: BaseException) -> str:
    if isinstance(exc, smtplib.SMTPResponseException):
        detail = (
            exc.smtp_error.decode("utf-8", "replace")
            if isinstance(exc.smtp_error, bytes)
            else exc.smtp_error
        )
        return f"{type(exc).__name__} {exc.smtp_code}: {detail}"
    return f"{type(exc).__name__}: {exc}"
