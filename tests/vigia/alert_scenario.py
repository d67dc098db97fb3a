"""Helpers for the alert tests: a simulated clock, a real SMTP sink, seeded history and RSS feeds."""

from __future__ import annotations

import email
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.policy import default as default_policy
from email.utils import format_datetime
from typing import Any
from xml.sax.saxutils import escape

from aiosmtpd.controller import Controller

from collectors.base import Mention
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


class _Collect:
    def __init__(self) -> None:
        self.envelopes: list[Any] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        self.envelopes.append(envelope)
        return "250 OK"


class SmtpSink:
    """A real SMTP server (aiosmtpd) on 127.0.0.1 that keeps every message it accepts."""

    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self._handler = _Collect()
        self._controller = Controller(self._handler, hostname="127.0.0.1", port=self.port)

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
