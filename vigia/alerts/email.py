"""Alert e-mail over SMTP (smtplib): STARTTLS, implicit TLS or plain, one transaction per message.

SMTP can guarantee "exactly once" only up to one gap: the server has the whole message once the
body's final "." is sent, but says so only in its next reply. Each message gets an outcome:

* ``SENT``       the server accepted it (250 after the body)
* ``FAILED``     refused (4xx/5xx at any step), or the line was lost before the final "." went
                 out: the server cannot have it, so sending it again is safe
* ``UNCERTAIN``  the final "." went out and the reply never came (timeout, dropped line): the
                 server may have it, so sending it again may send it twice
* ``NOT_TRIED``  the connection was lost on an earlier message and could not be made again

One connection carries the messages one transaction each; after a lost line the rest go over a
new connection (up to ``MAX_CONNECTIONS`` per call), and whatever is left is ``NOT_TRIED``.
"""

from __future__ import annotations

import smtplib
import ssl
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from enum import StrEnum

from vigia.alerts.render import Rendered
from vigia.config import SmtpConfig

# A server that drops the line more often than this in one call waits for the next one.
MAX_CONNECTIONS = 3
_END_OF_DATA = b"\r\n.\r\n"


class Outcome(StrEnum):
    SENT = "sent"
    FAILED = "failed"
    UNCERTAIN = "uncertain"
    NOT_TRIED = "not_tried"


@dataclass(frozen=True, slots=True)
class SendResult:
    """What became of one message; `error` says why it is not SENT."""

    outcome: Outcome
    error: str | None = None


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


def send_emails(smtp: SmtpConfig, messages: Sequence[EmailMessage]) -> Iterator[SendResult]:
    """Send `messages`, yielding each one's result as soon as it is known, in order.

    A server that cannot be reached at all (or refuses the login) fails every message with the
    same clear error; anything else concerns one message only. Stopping the iteration early
    closes the connection; the messages not reached are then the caller's to hand back.
    """
    where = f"{smtp.host}:{smtp.port}"
    server: _WatchedSMTP | None = None
    connections = 0
    try:
        for index, message in enumerate(messages):
            if server is None or server.sock is None:  # smtplib closes a line it lost
                if connections == MAX_CONNECTIONS:
                    yield from [SendResult(Outcome.NOT_TRIED)] * (len(messages) - index)
                    return
                connections += 1
                try:
                    server = _connect(smtp)
                except (OSError, smtplib.SMTPException) as exc:
                    error = f"SMTP server {where} unreachable ({smtp.security}): {_describe(exc)}"
                    # The first connection is every message's attempt; a later one only stands
                    # in for the line an earlier message lost, so the rest were never tried.
                    outcome = Outcome.FAILED if connections == 1 else Outcome.NOT_TRIED
                    yield from [SendResult(outcome, error)] * (len(messages) - index)
                    return
            yield _send_one(server, message, where)
    finally:
        if server is not None:
            _quit(server)


def _send_one(server: _WatchedSMTP, message: EmailMessage, where: str) -> SendResult:
    """One MAIL/RCPT/DATA transaction, and which side of the final "." it ended on."""
    server.body_sent = False
    try:
        refused = server.send_message(message)
    except (smtplib.SMTPResponseException, smtplib.SMTPRecipientsRefused) as exc:
        # An answer: the server refused the message at some step; it does not have it.
        error = f"SMTP server {where} refused the message: {_describe(exc)}"
        return SendResult(Outcome.FAILED, error)
    except ValueError as exc:  # smtplib found the message unsendable before sending anything
        return SendResult(Outcome.FAILED, f"SMTP: the message cannot be sent: {exc}")
    except (OSError, smtplib.SMTPException) as exc:  # no answer: the line was lost
        server.close()  # never reuse a line in an unknown state (smtplib has mostly closed it)
        if server.body_sent:
            return SendResult(
                Outcome.UNCERTAIN,
                f"SMTP server {where} never confirmed the message after receiving it; it may "
                f"have been delivered: {_describe(exc)}",
            )
        error = f"SMTP server {where} disconnected before the message was sent: {_describe(exc)}"
        return SendResult(Outcome.FAILED, error)
    if refused:
        return SendResult(Outcome.FAILED, f"refused by {where}: {refused}")
    return SendResult(Outcome.SENT)


class _WatchedSMTP(smtplib.SMTP):
    """smtplib's client, noting when the body's final "." has gone out.

    ``SMTP.data`` sends the whole body and its terminating ``CRLF.CRLF`` in one ``send``, and
    ``send`` returns only once ``sendall`` has handed every byte over; no command line can end in
    ``CRLF.CRLF`` (smtplib refuses line breaks in commands).
    """

    body_sent = False

    def send(self, s: str | bytes) -> None:
        super().send(s)
        if isinstance(s, bytes) and s.endswith(_END_OF_DATA):
            self.body_sent = True


class _WatchedSMTPSSL(_WatchedSMTP, smtplib.SMTP_SSL):
    """The same over implicit TLS (SMTP_SSL only changes how the socket is opened)."""


def _connect(smtp: SmtpConfig) -> _WatchedSMTP:
    context = ssl.create_default_context()
    server: _WatchedSMTP
    if smtp.security == "ssl":
        server = _WatchedSMTPSSL(smtp.host, smtp.port, timeout=smtp.timeout, context=context)
    else:
        server = _WatchedSMTP(smtp.host, smtp.port, timeout=smtp.timeout)
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


def _quit(server: smtplib.SMTP) -> None:
    try:
        if server.sock is not None:
            server.quit()
    except (OSError, smtplib.SMTPException):
        pass
    finally:
        server.close()


def _describe(exc: BaseException) -> str:
    if isinstance(exc, smtplib.SMTPResponseException):
        detail = (
            exc.smtp_error.decode("utf-8", "replace")
            if isinstance(exc.smtp_error, bytes)
            else exc.smtp_error
        )
        return f"{type(exc).__name__} {exc.smtp_code}: {detail}"
    return f"{type(exc).__name__}: {exc}"
