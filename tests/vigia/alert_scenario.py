"""Helpers for the alert tests: a simulated clock, real SMTP servers (well-behaved and not),
seeded history and RSS feeds."""

from __future__ import annotations

import asyncio
import email
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.policy import default as default_policy
from email.utils import format_datetime
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

from aiosmtpd.controller import Controller

from collectors.base import Mention
from vigia.alerts.context import AlertContext
from vigia.alerts.detect import SPIKE, Finding
from vigia.config import Settings, parse_settings
from vigia.demo.runner import free_port
from vigia.pipeline import Runtime
from vigia.storage.mentions import save_batch

# A Tuesday morning; history is seeded for the two weeks before it.
START = datetime(2026, 3, 10, 10, 0, tzinfo=UTC)
NEUTRAL = "{brand} abre una nueva tienda en el centro de Madrid"
NEGATIVE = "{brand} es un desastre, pésimo servicio, estafa horrible ({n})"


class SimClock:
    """A clock the test moves by hand; the Runtime reads every "now" from it."""

    def __init__(self, now: datetime = START) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now


def alerting(rt: Runtime) -> AlertContext:
    """What detection and delivery get of a Runtime."""
    return AlertContext(rt.settings, rt.engine, rt.clock)


class Collect:
    """An aiosmtpd handler keeping every message it accepts (its envelope)."""

    def __init__(self) -> None:
        self.envelopes: list[Any] = []
        self.stop_listening: Callable[[], None] = lambda: None  # set by SmtpSink

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        self.envelopes.append(envelope)
        return "250 OK"


class SlowToConfirm(Collect):
    """Keeps each message, then answers only after `delay` seconds (past the client's timeout)
    while `slow`: the client cannot know the message arrived."""

    def __init__(self, delay: float) -> None:
        super().__init__()
        self.delay = delay
        self.slow = True

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        self.envelopes.append(envelope)
        if self.slow:
            await asyncio.sleep(self.delay)
        return "250 OK"


class RefuseRecipients(Collect):
    """Answers 451 (try again later) to every RCPT while `refusing`: nothing reaches DATA."""

    def __init__(self) -> None:
        super().__init__()
        self.refusing = True
        self.refused = 0

    async def handle_RCPT(  # noqa: N802
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: list[str]
    ) -> str:
        if self.refusing:
            self.refused += 1
            return "451 4.3.0 mailbox busy, try again later"
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        return "250 OK"


class HangUpOnSecondMail(Collect):
    """Takes one message per connection: the second MAIL of a connection gets 421 (closing
    channel) and the line is closed. With `go_away` the server then stops listening too."""

    def __init__(self, go_away: bool = False) -> None:
        super().__init__()
        self.go_away = go_away
        self.hung_up = 0

    async def handle_MAIL(  # noqa: N802
        self, server: Any, session: Any, envelope: Any, address: str, mail_options: list[str]
    ) -> str:
        session.vigia_mails = getattr(session, "vigia_mails", 0) + 1
        if session.vigia_mails > 1:
            self.hung_up += 1
            if self.go_away:
                self.stop_listening()
            server.transport.close()
            return "421 4.3.2 closing connection"
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"


class SmtpSink:
    """A real SMTP server (aiosmtpd) on 127.0.0.1 that keeps every message it accepts; another
    `handler` (above) makes it misbehave."""

    def __init__(self, port: int | None = None, handler: Collect | None = None) -> None:
        self.port = port or free_port()
        self._handler = handler or Collect()
        self._controller = Controller(self._handler, hostname="127.0.0.1", port=self.port)
        self._handler.stop_listening = self._stop_listening

    def _stop_listening(self) -> None:
        # Runs in the server's own event loop (from a handler): new connections are refused.
        if self._controller.server is not None:
            self._controller.server.close()

    @property
    def messages(self) -> list[EmailMessage]:
        return [
            email.message_from_bytes(e.original_content or e.content, policy=default_policy)  # type: ignore[misc]
            for e in self._handler.envelopes
        ]

    def to(self, address: str) -> list[EmailMessage]:
        """Messages whose envelope went to `address`."""
        return [
            m
            for e, m in zip(self._handler.envelopes, self.messages, strict=True)
            if address in e.rcpt_tos
        ]

    def __enter__(self) -> SmtpSink:
        self._controller.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._controller.stop()


def smtp_settings(port: int) -> dict[str, Any]:
    return {
        "host": "127.0.0.1",
        "port": port,
        "security": "none",
        "sender": "Vigía <alertas@example.com>",
        "timeout": 5,
    }


def history(brand: str, until: datetime, days: int = 14, every: int = 30) -> list[Mention]:
    """A calm brand: one neutral mention every `every` minutes for `days` before `until`."""
    moment, items, n = until - timedelta(days=days), [], 0
    while moment < until:
        text = NEUTRAL.format(brand=brand)
        items.append(
            Mention("history", f"{brand}-h{n}", f"https://news.example/{brand}/{n}", moment, text)
        )
        moment += timedelta(minutes=every)
        n += 1
    return items


def negatives(
    brand: str,
    first: datetime,
    count: int,
    every: float = 1.0,
    tag: str = "n",
    source: str = "history",
) -> list[Mention]:
    """`count` negative mentions of `brand` by distinct authors, from `first` every `every` minutes."""
    return [
        Mention(
            source,
            f"{brand}-{tag}{n}",
            f"https://social.example/{brand}/{tag}{n}",
            first + timedelta(minutes=every * n),
            NEGATIVE.format(brand=brand, n=n),
            author=f"@{tag}{n}",
        )
        for n in range(count)
    ]


def store(rt: Runtime, items: Sequence[Mention], source: str = "history") -> None:
    """Store mentions through the real write path (analysis, dedup, rollups)."""
    with rt.engine.begin() as conn:
        save_batch(conn, source, list(items), rt.analyser.analyse_all, rt.clock())


def rss(items: Sequence[Mention]) -> bytes:
    """An RSS 2.0 document with one item per mention (title = text)."""
    entries = "".join(
        "<item>"
        f"<title>{escape(m.text)}</title><link>{escape(m.url)}</link>"
        f'<guid isPermaLink="false">{escape(m.source_id)}</guid>'
        f"<pubDate>{format_datetime(m.published)}</pubDate>"
        + (f"<author>{escape(m.author)}</author>" if m.author else "")
        + "</item>"
        for m in items
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel>'
        "<title>Menciones</title><link>https://social.example/</link><description>test</description>"
        f"{entries}</channel></rss>"
    ).encode()


def text_part(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain",))
    assert part is not None
    return str(part.get_content())


def html_part(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("html",))
    assert part is not None
    return str(part.get_content())


# --- several workers deciding at once -----------------------------------------------------------

DECIDED_AT = START + timedelta(minutes=5)


def decision_settings(database_url: str, folder: Path, smtp_port: int = 25) -> Settings:
    """Vellora on `database_url`, e-mail to the team, and to the managers when critical."""
    return parse_settings(
        {
            "database_url": database_url,
            "brands": [{"name": "Vellora", "keywords": ["vellora"]}],
            "smtp": smtp_settings(smtp_port),
            "alerts": {"recipients": ["cm@example.com"], "managers": ["direccion@example.com"]},
        },
        base_dir=folder,
    )


def spike_finding(severity: Any) -> Finding:
    return Finding(
        SPIKE, "Vellora", "Vellora", severity, START, START + timedelta(hours=1), {"negative": 15}
    )


def escalate_in_another_process(
    database_url: str, folder: str, start: Any, results: Any, hold: float
) -> None:
    """A worker process (spawned) that, once every worker is at `start` (a Barrier), decides a
    critical finding on Vellora's spike and puts the decision on `results`.

    Deciding is slowed by `hold` seconds between reading the alert log and writing it, so that
    without a lock across processes both workers would read the same warning and escalate it.
    """
    from vigia.alerts import detect
    from vigia.storage import connect

    decide = detect.decide

    def slow_decide(*args: Any, **kwargs: Any) -> Any:
        time.sleep(hold)
        return decide(*args, **kwargs)

    detect.decide = slow_decide  # type: ignore[assignment]
    engine = connect(database_url)
    try:
        ctx = AlertContext(
            decision_settings(database_url, Path(folder)), engine, lambda: DECIDED_AT
        )
        start.wait(timeout=60)
        outcome = detect.apply_finding(ctx, spike_finding("critical"), DECIDED_AT)
        results.put(outcome.decision.value)
    finally:
        engine.dispose()
