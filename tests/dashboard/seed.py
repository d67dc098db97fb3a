"""A small, exactly known database for the dashboard tests, written through the real storage code.

Mentions are hand-built AnalysedMentions stored with `save_batch`, so the rollups are the ones
ingest maintains; the numbers below are what the pages must show for the last 7 days:

  Vellora, current 7 days:  40 mentions = 10 negative (-0.6) + 20 neutral (0.0) + 10 positive (0.4)
                            -> 25.0 % negative, average sentiment (−6 + 4) / 40 = −0.05
  Vellora, previous 7 days: 20 mentions = 2 negative -> 10.0 % negative
  Rivalia (second brand):    5 neutral mentions in the current period

The negative mentions of the last three days enter the care inbox as the pipeline takes them
in: 8 open items, as ENGLISH_NEGATIVE posted three times is one item of 3 mentions. Every item
but the newest (NEWEST_NEGATIVE, due in 2 h) is past its 4 h target, and the top of the queue is
"el envío 8" (5 interactions, the oldest of the highest scores).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import yaml
from sqlalchemy import Engine, update

from analysis.sentiment import Sentiment
from collectors.base import Engagement, Mention
from vigia.access.accounts import add_user
from vigia.access.roles import Actor, Role
from vigia.analyse import AnalysedMention
from vigia.config import load_settings
from vigia.inbox import replies
from vigia.inbox.intake import take_in
from vigia.storage import connect
from vigia.storage.alerts import (
    alert_by_key,
    deliveries_of,
    insert_alert,
    plan_notification,
    record_attempt,
)
from vigia.storage.mentions import save_batch
from vigia.storage.schema import mentions
from vigia.storage.sources import record_failure, record_success

BRAND = "Vellora"
OTHER_BRAND = "Rivalia"
NEWEST_NEGATIVE = "El paquete de Vellora sigue sin llegar, pedido 4471. Nadie responde."
# Markdown, HTML and math, and a right-to-left override that would show "exe.gpj" as "jpg.exe".
HOSTILE_TEXT = (
    "Vellora **no bold** [pincha](javascript:alert(1)) <b>html</b> $x$ \u202eexe.gpj\u202c fatal"
)
HOSTILE_AUTHOR = "\u2067\u202eadmin\u202c\u2069"  # isolate + override: reads "nimda"
# Stored before ingestion refused non-web links (written straight into the row below).
HOSTILE_URL = "javascript:alert(document.domain)"
HOSTILE_ID = "vellora-forum-1"
ENGLISH_NEGATIVE = "Vellora support never answered my refund request, awful."
SPIKE_SUBJECT = "Vellora"
THREAD_URL = "https://foro.example.org/t/vellora-estafa/991"
MAIL_ERROR = "550 mailbox unavailable"
FORUM_ERROR = "HTTP 503 from foro.example.org: Service Unavailable"
THREAD_ROOT = "¿A alguien más le ha estafado Vellora? Hilo con capturas"
# Accounts of the seeded database: name -> (role, password).
USERS = {
    "marta": ("manager", "marta-gestiona-2026"),
    "victor": ("viewer", "victor-solo-lee-2026"),
    "ada": ("admin", "ada-administra-2026"),
}
# The inbox's agent, added by the inbox tests (the Usuarios page test expects USERS alone).
AGENT = "lucia"
AGENT_PASSWORD = "lucia-atiende-2026"
SOURCES = ("vellora-news", "vellora-forum", "vellora-mastodon", "vellora-reviews")
TOP_ITEM_TEXT = "Vellora: el envío 8 llegó tarde y roto"
PREPARED_REPLIES = [
    {
        "key": "envio-retraso",
        "topic": "delivery",
        "language": "es",
        "title": "Retraso en la entrega",
        "body": "Hola {autor}, sentimos mucho el retraso de tu pedido {pedido}. Lo revisamos ya "
        "con el transportista y te escribimos por privado hoy mismo. {agente}, equipo de {marca}",
    },
    {
        "key": "general-es",
        "topic": None,
        "language": "es",
        "title": "Te escribimos por privado",
        "body": "Hola {autor}, gracias por avisarnos. ¿Nos escribes por privado con tu número "
        "de pedido? Queremos ayudarte. {agente}, equipo de {marca}",
    },
    {
        "key": "refund-en",
        "topic": "refunds_returns",
        "language": "en",
        "title": "Refund follow-up",
        "body": "Hi {autor}, sorry for the wait on your refund. Please DM us your order number "
        "and we will sort it out today. {agente}, {marca} care team",
    },
]


def write_config(folder: Path) -> Path:
    """A config.yaml for the seeded database: two brands, four sources, Madrid time."""
    config: dict[str, Any] = {
        "database_url": f"sqlite:///{folder / 'vigia.db'}",
        "timezone": "Europe/Madrid",
        "brands": [
            {"name": BRAND, "keywords": ["vellora"]},
            {"name": OTHER_BRAND, "keywords": ["rivalia"]},
        ],
        "sources": [
            {
                "name": name,
                "type": "rss",
                "url": f"http://127.0.0.1:9/{name}.xml",
                "interval": "30m",
            }
            for name in SOURCES
        ],
        "http": {"unhealthy_after": 5},
        "topics": {
            "delivery": {"es": ["envío"], "en": ["delivery"]},
            "refunds_returns": {"es": ["reembolso"], "en": ["refund"]},
            "customer_service": {"es": ["atención"], "en": ["support"]},
        },
        "inbox": {"replies": PREPARED_REPLIES},
    }
    path = folder / "config.yaml"
    path.write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
    return path


def _item(
    source: str,
    n: int,
    published: datetime,
    text: str,
    compound: float,
    label: str,
    brand: str = BRAND,
    language: str = "es",
    topics: Sequence[str] = (),
    author: str | None = None,
) -> AnalysedMention:
    mention = Mention(
        source=source,
        source_id=f"{source}-{n}",
        url=f"https://{source}.example.org/p/{n}",
        published=published,
        text=text,
        author=author or f"usuario{n}",
        engagement=Engagement(replies=n % 3, likes=n % 5),
    )
    sentiment = Sentiment(compound=compound, pos=0.0, neu=1.0, neg=0.0)
    return AnalysedMention(mention, brand, language, sentiment, label, tuple(topics))


def _mentions(now: datetime) -> list[AnalysedMention]:
    items: list[AnalysedMention] = []
    for i in range(10):
        text, language, topics = f"Vellora: el envío {i} llegó tarde y roto", "es", ["delivery"]
        if i == 0:
            text = NEWEST_NEGATIVE
        elif i == 1:
            text = HOSTILE_TEXT
        elif i in (2, 3, 4):
            text, language, topics = ENGLISH_NEGATIVE, "en", ["refunds_returns"]
        source = SOURCES[i % 2]
        items.append(
            _item(
                source,
                i,
                now - timedelta(hours=2 + 3 * i),
                text,
                -0.6,
                "negative",
                language=language,
                topics=topics,
                author=HOSTILE_AUTHOR if text == HOSTILE_TEXT else None,
            )
        )
    for i in range(10, 30):
        items.append(
            _item(
                SOURCES[2], i, now - timedelta(hours=i * 4), "Vellora abre tienda", 0.0, "neutral"
            )
        )
    for i in range(30, 40):
        items.append(
            _item(
                SOURCES[3],
                i,
                now - timedelta(hours=i * 3),
                "Gracias Vellora por la atención, genial",
                0.4,
                "positive",
                topics=["customer_service"],
            )
        )
    for i in range(40, 60):
        negative = i < 42
        items.append(
            _item(
                SOURCES[0],
                i,
                now - timedelta(days=8, hours=i),
                "Vellora antes" + (" fatal" if negative else ""),
                -0.5 if negative else 0.1,
                "negative" if negative else "neutral",
            )
        )
    for i in range(60, 65):
        items.append(
            _item(
                SOURCES[0],
                i,
                now - timedelta(hours=i),
                "Rivalia lanza algo",
                0.0,
                "neutral",
                brand=OTHER_BRAND,
            )
        )
    return items


def seed(config_path: Path, now: datetime | None = None, url: str | None = None) -> Engine:
    """Fill the database of `config_path` (or `url`) with the data of the module docstring."""
    now = now or datetime.now(UTC)
    url = url or yaml.safe_load(config_path.read_text(encoding="utf-8"))["database_url"]
    engine = connect(url)
    setup = Actor("seed", Role.ADMIN, "cli")
    for name, (role, password) in USERS.items():
        add_user(engine, setup, name, role, password, now, email=f"{name}@vellora.example")
    items = _mentions(now)
    with engine.begin() as conn:
        _store(conn, config_path, items, now)
        conn.execute(
            update(mentions).where(mentions.c.source_id == HOSTILE_ID).values(url=HOSTILE_URL)
        )
        _seed_sources(conn, now)
        insert_alert(
            conn,
            key="negative_spike:seeded",
            rule="negative_spike",
            brand=BRAND,
            subject=SPIKE_SUBJECT,
            severity="critical",
            window_start=now - timedelta(hours=40),
            window_end=now,
            # The shape vigia.alerts.detect stores: the detector's numbers, the last hours
            # ([hour, negative, total]) and the most negative mentions of the window.
            evidence={
                "negative": 10,
                "expected": 1.5,
                "share": 0.25,
                "baseline_share": 0.1,
                "z": 6.2,
                "brand": BRAND,
                "hourly": [[f"h{k}", k % 3, 5] for k in range(24)],
                "top": [
                    {"url": a.mention.url, "text": a.mention.text, "compound": -0.6}
                    for a in items[:5]
                ],
            },
            now=now,
        )
        # Looked up by key: insert_alert's return value is None on PostgreSQL (rowcount -1).
        spike = alert_by_key(conn, "negative_spike:seeded")
        assert spike is not None
        _seed_deliveries(conn, spike.id, now)
        insert_alert(
            conn,
            key="spreading_thread:seeded",
            rule="spreading_thread",
            brand=BRAND,
            subject="vellora-forum:991",
            severity="warning",
            window_start=now - timedelta(hours=2),
            window_end=now,
            evidence={
                "root_url": THREAD_URL,
                "root_text": THREAD_ROOT,
                "negative": 7,
                "negative_previous": 1,
                "engagement": 340,
                "distinct_authors": 12,
                "sources": ["vellora-forum"],
                "growth": [["s0", 2, 0, 10], ["s1", 6, 1, 80], ["s2", 15, 6, 250]],
            },
            now=now,
        )
        insert_alert(
            conn,
            key="source_unhealthy:seeded",
            rule="source_unhealthy",
            brand=None,
            subject="vellora-forum",
            severity="warning",
            window_start=now,
            window_end=now,
            evidence={"source": "vellora-forum", "failures": 6, "last_error": FORUM_ERROR},
            now=now,
        )
    replies.seed(engine, load_settings(config_path), now)
    return engine


def _store(conn: Any, config_path: Path, items: list[AnalysedMention], now: datetime) -> None:
    """Store `items` by source, and take them into the inbox as the pipeline does."""
    settings = load_settings(config_path)
    stored: list[tuple[int, AnalysedMention]] = []
    for source in sorted({a.mention.source for a in items}):
        batch = [a for a in items if a.mention.source == source]
        by_mention = {a.mention: a for a in batch}
        result = save_batch(
            conn,
            source,
            [a.mention for a in batch],
            lambda fresh, by_mention=by_mention: [by_mention[m] for m in fresh],
            now,
        )
        stored += result.stored
    # One intake for all sources, in order of publication: the same items whatever the order.
    take_in(conn, settings.inbox, ZoneInfo(settings.timezone), stored, now)


def add_agent(engine: Engine, now: datetime | None = None) -> None:
    """Add AGENT, who works the inbox."""
    setup = Actor("seed", Role.ADMIN, "cli")
    add_user(engine, setup, AGENT, "agent", AGENT_PASSWORD, now or datetime.now(UTC),
             email=f"{AGENT}@vellora.example")  # fmt: skip


def add_complaints(config_path: Path, engine: Engine, count: int, now: datetime) -> None:
    """`count` more negative Vellora mentions in the last hours, each one an inbox item."""
    items = [
        _item(
            SOURCES[3],
            1000 + n,
            now - timedelta(minutes=10 + n),
            f"Vellora me cobró dos veces la compra número {n}, fatal",
            -0.3,
            "negative",
        )
        for n in range(count)
    ]
    with engine.begin() as conn:
        _store(conn, config_path, items, now)


def _seed_deliveries(conn: Any, alert_id: int, now: datetime) -> None:
    """The spike's e-mail reached the community team; the manager's bounced (MAIL_ERROR)."""
    plan_notification(
        conn,
        alert_id,
        [("email", "community@example.com"), ("email", "direccion@example.com")],
        severity="critical",
        reason="new",
        now=now,
    )
    for delivery in deliveries_of(conn, alert_id):
        error = MAIL_ERROR if delivery.recipient.startswith("direccion") else None
        record_attempt(conn, delivery.id, now, error)


POLLING_WORKER = "vigia-2.example:4242:ab12"


def _seed_sources(conn: Any, now: datetime) -> None:
    """vellora-news healthy, vellora-forum unhealthy (6 failures), vellora-mastodon stale;
    vellora-reviews never polled, and being polled for the first time by worker POLLING_WORKER."""
    from collectors.base import FetchState
    from vigia.storage.claims import claim_source

    claim_source(conn, "vellora-reviews", POLLING_WORKER, now, timedelta(hours=1))
    record_success(
        conn,
        "vellora-news",
        FetchState(),
        now - timedelta(minutes=5),
        2,
        now + timedelta(minutes=10),
    )
    record_success(conn, "vellora-forum", FetchState(), now - timedelta(hours=5), 0, now)
    for k in range(6):
        record_failure(
            conn,
            "vellora-forum",
            FORUM_ERROR,
            now - timedelta(minutes=50 - k),
            now + timedelta(minutes=30),
        )
    record_success(conn, "vellora-mastodon", FetchState(), now - timedelta(hours=3), 0, now)
