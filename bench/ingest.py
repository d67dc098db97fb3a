"""Ingest benchmark: the real pipeline (parse -> analyse -> store with dedup) against its unavoidable parts.

Run with ``make bench`` or ``python -m bench.ingest [--n 20000]``. It builds N synthetic short
mentions in Spanish and English, renders them as one RSS document and as one JSON API payload
(Hacker News Algolia's documented shape), and times, in the same run:

- vaderSentiment alone on the texts, and feedparser alone on the RSS document (the baselines);
- the pipeline's JSON path: json.loads -> the collector's item mapping -> analysis -> bulk upsert;
- the pipeline's RSS path: feedparser via the RSS collector -> analysis -> bulk upsert;
- a re-poll of the same payload (everything already stored: dedup only).

It prints mentions/s and the ratios pipeline/baseline; the aim is >= 0.8 for both paths.
"""

from __future__ import annotations

import argparse
import json
import random
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from xml.sax.saxutils import escape

import feedparser
from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

from analysis.language import detect_language
from analysis.sentiment import score
from collectors.base import FetchState, Mention
from collectors.hackernews import item_to_mention as hn_item_to_mention
from collectors.rss import parse_feed
from vigia.analyse import Analyser
from vigia.config import load_settings
from vigia.pipeline import BATCH_SIZE
from vigia.storage import connect
from vigia.storage.mentions import save_batch

OPENINGS_ES = ["", "Ojo: ", "Hilo: ", "Otra vez ", "Sinceramente, ", "Buenas, ", "A ver, "]
BODIES_ES = [
    "{b} me ha cobrado dos veces el mismo pedido y nadie responde",
    "el pedido de {b} llegó en un día, genial",
    "llevo dos semanas esperando el reembolso de {b}",
    "la app de {b} se cierra cada vez que intento pagar",
    "¿alguien sabe si {b} abre el domingo?",
    "atención al cliente de {b} de pena, no me contestan",
    "qué pasada el servicio de {b}, muy recomendable",
    "{b} no me devuelve el dinero, esto es una estafa",
    "el repartidor de {b} dejó el paquete en la calle",
    "muy contenta con la devolución en {b}, rápida y sin líos",
]
MORE_ES = [
    "", " He llamado tres veces y siempre me cuelgan.", " El producto venía roto y sin factura.",
    " Mañana vuelvo a escribir al chat a ver si hay suerte.", " Gracias a Laura del chat, un encanto.",
    " La próxima vez compro en otra tienda.", " Por lo demás todo bien, la verdad.",
]  # fmt: skip
BODIES_EN = [
    "{b} charged me twice for the same order and support is silent",
    "my {b} order arrived next day, great service",
    "still waiting for my {b} refund after two weeks",
    "the {b} app keeps crashing at checkout",
    "does anyone know if {b} ships to Ireland?",
    "{b} customer service is awful, nobody answers",
    "love the new {b} headphones, totally worth it",
    "{b} lost my parcel and blamed the courier",
]
MORE_EN = [
    "", " Called three times, no luck.", " The box was damaged and the charger missing.",
    " Will try the chat again tomorrow.", " Kudos to Sam from support, super helpful.",
    " Never ordering from them again.", " Otherwise happy with it, honestly.",
]  # fmt: skip
ENDINGS = ["", " 😡", " 🙂", "!!", " #vellora", " @vellora_ayuda", "..."]


def synthetic_texts(n: int, seed: int = 7) -> list[str]:
    """N mentions the length of a post or short review (60 % Spanish, 40 % English)."""
    rng = random.Random(seed)
    texts = []
    for i in range(n):
        if rng.random() < 0.6:
            body = rng.choice(OPENINGS_ES) + rng.choice(BODIES_ES) + rng.choice(MORE_ES)
        else:
            body = rng.choice(BODIES_EN) + rng.choice(MORE_EN)
        texts.append(f"{body.format(b='Vellora')}{rng.choice(ENDINGS)} ({i})")
    return texts


def rss_document(texts: Sequence[str], start: datetime) -> bytes:
    items = "".join(
        f"<item><title>{escape(t)}</title><link>https://forum.example/t/{i}</link>"
        f"<guid>https://forum.example/t/{i}</guid><author>user{i % 97}</author>"
        f"<pubDate>{format_datetime(start + timedelta(seconds=30 * i))}</pubDate></item>"
        for i, t in enumerate(texts)
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel>'
        f"<title>bench</title><link>https://forum.example/</link>{items}</channel></rss>"
    ).encode()


def json_payload(texts: Sequence[str], start: datetime) -> bytes:
    """Hacker News Algolia search_by_date, in its documented shape."""
    base = int(start.timestamp())
    hits = [
        {
            "objectID": str(1000 + i),
            "author": f"user{i % 97}",
            "comment_text": t,
            "created_at": (start + timedelta(seconds=30 * i)).isoformat().replace("+00:00", "Z"),
            "created_at_i": base + 30 * i,
            "story_id": 900 + i % 50,
            "parent_id": 900 + i % 50,
            "points": None,
            "num_comments": None,
            "_tags": ["comment", f"story_{900 + i % 50}"],
        }
        for i, t in enumerate(texts)
    ]
    return json.dumps({"hits": hits, "nbHits": len(hits), "page": 0, "nbPages": 1}).encode()


def rate(n: int, work: Callable[[], object]) -> float:
    started = time.perf_counter()
    work()
    return n / (time.perf_counter() - started)


def _batches(items: Iterator[Mention]) -> Iterator[list[Mention]]:
    batch: list[Mention] = []
    for item in items:
        batch.append(item)
        if len(batch) == BATCH_SIZE:
            yield batch
            batch = []
    if batch:
        yield batch


def ingest(engine, analyser: Analyser, source: str, mentions: Iterator[Mention]) -> None:  # type: ignore[no-untyped-def]
    now = datetime.now(UTC)
    for batch in _batches(mentions):
        with engine.begin() as conn:
            save_batch(conn, source, batch, analyser.analyse_all, now)


def stage_costs(analyser: Analyser, texts: Sequence[str]) -> dict[str, float]:
    """Microseconds per text of each analysis step, measured alone on the same texts."""
    langs = [detect_language(t, analyser.languages) for t in texts]
    steps: dict[str, Callable[[], object]] = {
        "language detection": lambda: [detect_language(t, analyser.languages) for t in texts],
        "sentiment (VADER en / Vigía es)": lambda: [
            score(t, lang) for t, lang in zip(texts, langs, strict=True)
        ],
        "complaint topics": lambda: [
            analyser.topics.match(t, lang) for t, lang in zip(texts, langs, strict=True)
        ],
        "brand matching": lambda: [analyser.brands.match(t) for t in texts],
    }
    return {name: 1e6 / rate(len(texts), work) for name, work in steps.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=20_000, help="mentions per run (default 20000)")
    args = parser.parse_args()
    n = args.n
    texts = synthetic_texts(n)
    start = datetime(2026, 11, 16, tzinfo=UTC)
    rss, payload = rss_document(texts, start), json_payload(texts, start)

    with tempfile.TemporaryDirectory() as folder:
        settings = load_settings(Path(__file__).resolve().parents[1] / "config.yaml").model_copy(
            update={"database_url": f"sqlite:///{folder}/bench.db", "sources": []}
        )
        analyser = Analyser(settings)
        engine = connect(settings.resolved_database_url)
        vader = SentimentIntensityAnalyzer()
        mentions = [Mention("bench", str(i), "", start, t) for i, t in enumerate(texts)]
        analyser.analyse_all(mentions[:2000])  # load models and warm caches outside the timing

        vader_rate = rate(n, lambda: [vader.polarity_scores(t) for t in texts])
        feedparser_rate = rate(n, lambda: feedparser.parse(rss))
        analysis_rate = rate(n, lambda: analyser.analyse_all(mentions))
        stages = stage_costs(analyser, texts[:5000])

        def json_path() -> None:
            hits = json.loads(payload)["hits"]
            ingest(engine, analyser, "hn", (m for h in hits if (m := hn_item_to_mention("hn", h))))

        json_rate = rate(n, json_path)
        repoll_rate = rate(n, json_path)
        rss_rate = rate(
            n, lambda: ingest(engine, analyser, "rss", parse_feed("rss", rss, {}, FetchState()))
        )
        engine.dispose()

    # What cannot be avoided on the RSS path: parsing the feed and analysing its texts.
    rss_floor = 1 / (1 / feedparser_rate + 1 / analysis_rate)
    print(
        f"Vigía ingest benchmark: {n} mentions (60 % Spanish, 40 % English), one core, SQLite file"
    )
    print(f"\n{'baseline, measured in this run':<46}{'mentions/s':>12}")
    print(f"{'vaderSentiment alone':<46}{vader_rate:>12,.0f}")
    print(f"{'feedparser alone':<46}{feedparser_rate:>12,.0f}")
    print(f"{'Vigía analysis alone (lang+sentiment+topics)':<46}{analysis_rate:>12,.0f}")
    print(f"\n{'pipeline (parse, analyse, store with dedup)':<46}{'mentions/s':>12}  ratios")
    print(
        f"{'JSON API payload':<46}{json_rate:>12,.0f}  {json_rate / vader_rate:.2f} x VADER alone, "
        f"{json_rate / analysis_rate:.2f} x analysis alone"
    )
    print(
        f"{'RSS document':<46}{rss_rate:>12,.0f}  {rss_rate / feedparser_rate:.2f} x feedparser alone, "
        f"{rss_rate / rss_floor:.2f} x feedparser+analysis"
    )
    print(
        f"{'re-poll of the JSON payload (all known)':<46}{repoll_rate:>12,.0f}  {repoll_rate / vader_rate:.2f} x VADER alone"
    )
    print("\nanalysis steps, microseconds per mention (measured alone):")
    for name, micros in stages.items():
        print(f"  {name:<44}{micros:>8.1f}")
    print(f"  {'(vaderSentiment alone)':<44}{1e6 / vader_rate:>8.1f}")


if __name__ == "__main__":
    main()
