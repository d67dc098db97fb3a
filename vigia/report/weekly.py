"""Making one week's report, writing it beside the exports and e-mailing it to the managers.

`vigia report` and the scheduler's weekly job both call `produce`. The scheduler runs it once
per week through a period claim (vigia.scheduler); each manager's message has a Message-ID
made from the week and the address, so a mail server can drop a copy should a worker that died
mid-send leave the week to another. The page goes out as the HTML part of the e-mail and as an
attached file, since many mail programs show no inline SVG.
"""

from __future__ import annotations

import hashlib
import os
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy import Engine

from vigia.alerts.email import Outcome, SendResult, build_email, send_emails
from vigia.alerts.render import Rendered
from vigia.config import Settings, SmtpConfig
from vigia.exports import FILE_MODE
from vigia.report.data import gather
from vigia.report.render import render


class ReportError(Exception):
    """The report could not be written or sent; the message says why."""


@dataclass(frozen=True)
class Produced:
    """The file written, and what became of each manager's e-mail (none when not sent)."""

    week: str
    path: Path
    sent: tuple[tuple[str, SendResult], ...] = ()

    @property
    def failed(self) -> list[tuple[str, SendResult]]:
        return [(to, r) for to, r in self.sent if r.outcome is not Outcome.SENT]

    def summary(self) -> str:
        line = f"weekly report {self.week} written: {self.path}"
        if self.sent:
            line += (
                f"; e-mailed to {len(self.sent) - len(self.failed)} of {len(self.sent)} managers"
            )
        return line + "".join(f"; {to}: {r.outcome} ({r.error})" for to, r in self.failed)


def file_name(week: str) -> str:
    return f"vigia-{week}-report.html"


def produce(
    engine: Engine, settings: Settings, week: str, folder: Path, now: datetime, send: bool
) -> Produced:
    """Write `week`'s report into `folder` and, with `send`, e-mail it to `alerts.managers`.

    Raises ReportError when the file cannot be written, or `send` is asked without managers
    or an `smtp:` section; ValueError for a malformed week.
    """
    smtp = settings.smtp
    if send and (smtp is None or not settings.alerts.managers):
        raise ReportError("cannot send the report: it needs alerts.managers and an smtp: section")
    data = gather(engine, settings, week, now)
    language = settings.alerts.language
    path = write_report(folder, week, render(data, language).html)
    if not send or smtp is None:
        return Produced(week, path)
    emailed = render(data, language, emailed=True)
    results = send_report(smtp, settings.alerts.managers, emailed, week, path, now)
    return Produced(week, path, tuple(zip(settings.alerts.managers, results, strict=True)))


def write_report(folder: Path, week: str, page: str) -> Path:
    """Write the page under a temporary name first, so a full disk leaves no half a report.

    Like the exports (it quotes authors and texts), it is created with `FILE_MODE` as the
    umask narrows it: readable by the group, never by others.
    """
    target = folder / file_name(week)
    temporary = folder / f".{target.name}.{secrets.token_hex(6)}"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
        with os.fdopen(fd, "w", encoding="utf-8") as file:
            file.write(page)
        os.replace(temporary, target)
    except OSError as exc:
        raise ReportError(
            f"cannot write the report for {week} in {folder}: {exc.strerror or exc}"
        ) from exc
    finally:
        temporary.unlink(missing_ok=True)
    return target


def send_report(
    smtp: SmtpConfig,
    managers: Sequence[str],
    rendered: Rendered,
    week: str,
    attachment: Path,
    now: datetime,
) -> list[SendResult]:
    """One e-mail per manager, the page attached; each one's result, in order."""
    page = attachment.read_bytes()  # as bytes (base64): the file arrives byte for byte
    messages = []
    for recipient in managers:
        message = build_email(
            rendered, smtp.sender, recipient, now, message_id=_message_id(week, recipient)
        )
        message.add_attachment(
            page, "text", "html", filename=attachment.name, params={"charset": "utf-8"}
        )
        messages.append(message)
    return list(send_emails(smtp, messages))


def _message_id(week: str, recipient: str) -> str:
    digest = hashlib.sha256(f"{week} {recipient.lower()}".encode()).hexdigest()[:20]
    return f"<vigia.report.{week}.{digest}@vigia.local>"
