"""The demo's timeline: two weeks of sample mentions, the incident of the last hours, a live trickle.

Everything is generated from the texts in ``vigia/demo/data/mentions.yaml`` with a fixed seed, relative
to the demo's start ``t0``: history before it (served at once), the incident (a surge of angry
mentions and one spreading thread in the last two hours) and a trickle after it (served as its
time comes). Each item names the source kind that serves it; kinds without a registered
collector hand their items to a fallback kind, so the demo works with whatever collectors exist.
"""

from __future__ import annotations

import math
import random
import re
from collections import defaultdict
from collections.abc import Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cache
from importlib import resources
from typing import Any
from zoneinfo import ZoneInfo

import yaml

HISTORY = timedelta(days=14)
TRICKLE = timedelta(hours=6)
# Mean seconds between two live items: quick enough that the dashboard visibly moves.
TRICKLE_GAP = 6.0
THREAD_ROOT = "thread-root"
STORY = "story"
LEGAL_THREAT = "legal-threat"
# Kinds whose feeds carry replies; the first registered one hosts the spreading thread.
THREAD_KINDS = ("mastodon", "bluesky")
# Mentions per hour at the busiest hour of a weekday, per brand (None: no brand named).
PEAK_RATE = {"Vellora": 5.0, "Korvo": 1.6, None: 0.5}
VELLORA_MIX = {"complaint": 0.34, "praise": 0.3, "question": 0.2, "neutral": 0.16}
KORVO_MIX = {"complaint": 0.35, "praise": 0.35, "question": 0.15, "neutral": 0.15}
# Share of the social talk each kind carries (English only on Hacker News).
KIND_WEIGHTS = {"mastodon": 0.3, "reddit": 0.3, "bluesky": 0.3, "hackernews": 0.1}
_PLACEHOLDER = re.compile(r"\{(\w+)\}")


@dataclass(frozen=True, slots=True)
class DemoItem:
    """One sample mention as a source will serve it."""

    seq: int
    key: str
    kind: str
    at: datetime
    lang: str
    text: str
    author: str
    title: str | None = None
    url: str | None = None
    parent: str | None = None
    rating: int | None = None
    likes: int = 0
    reposts: int = 0
    viral: bool = False
    followers: int | None = None  # the author's, when the story sets it (else payloads.followers)


@dataclass
class Timeline:
    """All demo items, oldest first, with the lookups the feeds need."""

    t0: datetime
    items: list[DemoItem]
    by_key: dict[str, DemoItem] = field(init=False)
    _replies: dict[str, list[DemoItem]] = field(init=False)

    def __post_init__(self) -> None:
        self.items.sort(key=lambda i: (i.at, i.seq))
        self.by_key = {i.key: i for i in self.items}
        # Every served post counts its replies: an index, not a scan of all items per post.
        self._replies = defaultdict(list)
        for item in self.items:
            if item.parent:
                self._replies[item.parent].append(item)

    def released(self, kind: str, now: datetime) -> list[DemoItem]:
        """The items of `kind` whose time has come, oldest first."""
        return [i for i in self.items if i.kind == kind and i.at <= now]

    def replies_to(self, key: str, now: datetime) -> list[DemoItem]:
        return [i for i in self._replies.get(key, ()) if i.at <= now]


@cache
def bank() -> Mapping[str, Any]:
    """The sample texts shipped in vigia/demo/data/mentions.yaml."""
    text = resources.files("vigia.demo").joinpath("data/mentions.yaml").read_text("utf-8")
    return yaml.safe_load(text)


class _Writer:
    """Fills templates and names authors, deterministically from one seeded generator."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.bank = bank()
        self.order = 0

    def fill(self, template: str, lang: str, brand: str | None) -> str:
        def value(match: re.Match[str]) -> str:
            name = match[1]
            if name == "marca":
                return self.rng.choice(self.bank["handles"][brand or "Vellora"][lang])
            if name == "pedido":
                return f"{'KV' if brand == 'Korvo' else 'VL'}-{self.rng.randint(100000, 999999)}"
            pool = self.bank["fill"].get(lang, {}).get(name) or self.bank["fill"][name]
            return str(self.rng.choice(pool))

        text = _PLACEHOLDER.sub(value, template)
        return text[:1].upper() + text[1:]

    def author(self, lang: str) -> str:
        names = self.bank["authors"][lang]
        return f"{self.rng.choice(names['first'])}{self.rng.choice(names['last'])}"


def build_timeline(
    t0: datetime, kinds: Collection[str], zone: str = "Europe/Madrid", seed: int = 7
) -> Timeline:
    """The demo's items for a demo starting at `t0`, for the source kinds that have collectors."""
    t0 = t0.astimezone(UTC).replace(microsecond=0)
    rng = random.Random(seed)
    writer = _Writer(rng)
    social = [k for k in KIND_WEIGHTS if k in kinds] or ["rss"]
    thread_kind = next((k for k in THREAD_KINDS if k in kinds), social[0])
    drafts: list[dict[str, Any]] = []
    drafts += _history(t0, rng, writer, social, kinds, ZoneInfo(zone))
    drafts += _incident(t0, rng, writer, social, thread_kind)
    drafts += _trickle(t0, rng, writer, social, thread_kind, _news_kinds(kinds))
    items = [DemoItem(seq=n, **d) for n, d in enumerate(drafts)]
    return Timeline(t0, items)


def _rhythm(moment: datetime, zone: ZoneInfo) -> float:
    """Share of the peak rate at this local hour: quiet nights, busy midday and evening."""
    local = moment.astimezone(zone)
    hour = local.hour + local.minute / 60
    day = 0.15 + 0.55 * math.exp(-(((hour - 12.5) / 2.8) ** 2))
    evening = 0.85 * math.exp(-(((hour - 21.0) / 2.2) ** 2))
    # Latin America is awake in the Spanish night, so nights are quiet but never silent.
    late = 0.25 * math.exp(-(((hour - 2.5) / 2.0) ** 2))
    weekend = 0.75 if local.weekday() >= 5 else 1.0
    return min(1.0, day + evening + late) * weekend


def _poisson_times(
    start: datetime, end: datetime, rate: float, rng: random.Random, zone: ZoneInfo
) -> Iterator[datetime]:
    """Arrival times of a Poisson process whose hourly rate follows the daily rhythm."""
    moment = start
    while True:
        # Thinning: draw at the peak rate, keep each arrival with the rhythm's share.
        moment += timedelta(hours=rng.expovariate(rate))
        if moment >= end:
            return
        if rng.random() < _rhythm(moment, zone):
            yield moment.replace(microsecond=0)


def _pick(weights: Mapping[str, float], rng: random.Random) -> str:
    return rng.choices(list(weights), weights=list(weights.values()))[0]


def _lang(rng: random.Random) -> str:
    return "es" if rng.random() < 0.72 else "en"


def _social_kind(lang: str, social: Sequence[str], rng: random.Random) -> str:
    # Hacker News is an English-speaking forum.
    usable = [k for k in social if lang == "en" or k != "hackernews"] or list(social)
    return rng.choices(usable, weights=[KIND_WEIGHTS.get(k, 1.0) for k in usable])[0]


def _post(
    at: datetime, kind: str, lang: str, text: str, writer: _Writer, key: str, **extra: Any
) -> dict[str, Any]:
    writer.order += 1
    rng = writer.rng
    return {
        "key": key or f"m{writer.order:05d}",
        "kind": kind,
        "at": at,
        "lang": lang,
        "text": text,
        "author": extra.pop("author", None) or writer.author(lang),
        "likes": extra.pop("likes", int(rng.paretovariate(1.6)) - 1),
        "reposts": extra.pop("reposts", int(rng.paretovariate(2.2)) - 1),
        **extra,
    }


def _history(
    t0: datetime,
    rng: random.Random,
    writer: _Writer,
    social: Sequence[str],
    kinds: Collection[str],
    zone: ZoneInfo,
) -> list[dict[str, Any]]:
    b = bank()
    start = t0 - HISTORY
    drafts: list[dict[str, Any]] = []
    for brand, rate in PEAK_RATE.items():
        for at in _poisson_times(start, t0, rate, rng, zone):
            drafts.append(_everyday(at, brand, rng, writer, social))
    for at in _poisson_times(start, t0, 0.5, rng, zone):
        drafts.append(_headline(at, rng, writer, _news_kinds(kinds)))
    if "appstore" in kinds:
        for at in _poisson_times(start, t0, 0.35, rng, zone):
            lang = "es" if rng.random() < 0.75 else "en"
            rating, title, text = rng.choice(b["reviews"][lang])
            drafts.append(_post(at, "appstore", lang, text, writer, "", title=title, rating=rating))
    if "stackexchange" in kinds:
        for at in _poisson_times(start, t0, 0.08, rng, zone):
            lang = "en" if rng.random() < 0.6 else "es"
            title, text = rng.choice(b["dev_questions"][lang])
            drafts.append(_post(at, "stackexchange", lang, text, writer, "", title=title))
    if "youtube" in kinds:
        for day in range(1, 14, 2):
            at = (t0 - timedelta(days=day)).replace(hour=17, minute=0, second=0)
            title, text = rng.choice(b["videos"])
            lang = "en" if "what's new" in title else "es"
            drafts.append(
                _post(
                    at,
                    "youtube",
                    lang,
                    writer.fill(text, lang, "Vellora"),
                    writer,
                    "",
                    title=writer.fill(title, lang, "Vellora"),
                    author="Vellora",
                    likes=rng.randint(40, 400),
                )
            )
    return drafts


def _everyday(
    at: datetime, brand: str | None, rng: random.Random, writer: _Writer, social: Sequence[str]
) -> dict[str, Any]:
    """An everyday post about `brand` (or about no brand): complaint, praise, question or news."""
    lang = _lang(rng)
    b = bank()
    if brand is None:
        template = rng.choice(b["unbranded"][lang])
    else:
        mix = VELLORA_MIX if brand == "Vellora" else KORVO_MIX
        template = rng.choice(b[brand.lower()][_pick(mix, rng)][lang])
    text = writer.fill(template, lang, brand)
    return _post(at, _social_kind(lang, social, rng), lang, text, writer, "")


def _news_kinds(kinds: Collection[str]) -> list[str]:
    return [k for k in ("rss", "google_news") if k in kinds] or ["rss"]


def _headline(
    at: datetime, rng: random.Random, writer: _Writer, news_kinds: Sequence[str]
) -> dict[str, Any]:
    lang = _lang(rng)
    title, summary = rng.choice(bank()["news"][lang])
    brand = "Korvo" if title.startswith("Korvo") else "Vellora"
    title, summary = writer.fill(title, lang, brand), writer.fill(summary, lang, brand)
    return _news(at, rng.choice(news_kinds), lang, title, summary, writer)


def _news(
    at: datetime, kind: str, lang: str, title: str, summary: str, writer: _Writer, key: str = ""
) -> dict[str, Any]:
    outlets = ("Diario Digital", "El Comercio Hoy", "Tecnoeconomía", "La Voz del Consumidor")
    outlet = writer.rng.choice(outlets)
    slug = re.sub(r"[^a-z0-9]+", "-", title.lower())[:60].strip("-")
    url = f"https://www.{outlet.lower().replace(' ', '')}.example/{at:%Y/%m/%d}/{slug}"
    return _post(
        at,
        kind,
        lang,
        summary,
        writer,
        key,
        title=title,
        url=url,
        author=outlet,
        likes=0,
        reposts=0,
    )


def _incident(
    t0: datetime, rng: random.Random, writer: _Writer, social: Sequence[str], thread_kind: str
) -> list[dict[str, Any]]:
    """The surge of the last two hours, the spreading thread with its news story, and a
    customer's legal threat."""
    incident = bank()["incident"]
    drafts: list[dict[str, Any]] = []
    # The surge builds up: fifteen angry posts in the hour before last, forty-five in the last
    # one, so that any one social source alone already shows it as critical.
    for count, begin, end in ((15, 120, 60), (45, 60, 0)):
        for _ in range(count):
            at = t0 - timedelta(minutes=rng.uniform(end, begin))
            drafts.append(_spike_post(at.replace(microsecond=0), rng, writer, social))
    thread = incident["thread"]
    root_at = t0 - timedelta(minutes=115)
    drafts.append(
        _post(
            root_at,
            thread_kind,
            "es",
            thread["text"],
            writer,
            THREAD_ROOT,
            title=thread["title"],
            author=thread["author"],
            followers=thread.get("followers"),
            viral=True,
        )
    )
    story = incident["story"]
    drafts.append(
        _post(
            t0 - timedelta(minutes=95),
            "rss",
            "es",
            story["text"],
            writer,
            STORY,
            title=story["title"],
            url=story["url"],
            author=story["author"],
        )
    )
    # Replies accelerate: six in the hour before last, eighteen in the last one.
    replies = _reply_texts(rng)
    for count, begin, end in ((6, 110, 60), (18, 60, 0)):
        for _ in range(count):
            at = t0 - timedelta(minutes=rng.uniform(end, begin))
            drafts.append(_reply(at.replace(microsecond=0), next(replies), writer, thread_kind))
    legal = incident["legal"]
    drafts.append(
        _post(
            t0 - timedelta(minutes=40),
            social[0],
            "es",
            legal["text"],
            writer,
            LEGAL_THREAT,
            author=legal["author"],
            followers=legal.get("followers"),
            likes=12,
            reposts=3,
        )
    )
    return drafts


def _reply_texts(rng: random.Random) -> Iterator[tuple[str, str]]:
    replies = bank()["incident"]["thread"]["replies"]
    pool = [("es", t) for t in replies["es"]] + [("en", t) for t in replies["en"]]
    rng.shuffle(pool)
    while True:
        yield from pool
        # A second round reads as agreement, not as a copy.
        pool = [(lang, ("+1. " if lang == "en" else "Igual. ") + t) for lang, t in pool]


def _reply(at: datetime, reply: tuple[str, str], writer: _Writer, kind: str) -> dict[str, Any]:
    lang, text = reply
    return _post(at, kind, lang, text, writer, "", parent=THREAD_ROOT, title=None)


def _spike_post(
    at: datetime, rng: random.Random, writer: _Writer, social: Sequence[str]
) -> dict[str, Any]:
    lang = "es" if rng.random() < 0.75 else "en"
    text = writer.fill(rng.choice(bank()["incident"]["spike"][lang]), lang, "Vellora")
    return _post(at, _social_kind(lang, social, rng), lang, text, writer, "")


def _trickle(
    t0: datetime,
    rng: random.Random,
    writer: _Writer,
    social: Sequence[str],
    thread_kind: str,
    news_kinds: Sequence[str],
) -> list[dict[str, Any]]:
    """Live items after the start: the incident fading out into the everyday mix."""
    replies = _reply_texts(random.Random(rng.random()))
    drafts: list[dict[str, Any]] = []
    moment = t0
    while True:
        moment += timedelta(seconds=rng.expovariate(1 / TRICKLE_GAP))
        if moment >= t0 + TRICKLE:
            return drafts
        at = moment.replace(microsecond=0)
        minutes = (moment - t0) / timedelta(minutes=1)
        fading = math.exp(-minutes / 20)
        roll = rng.random()
        if roll < 0.3 * fading:
            drafts.append(_reply(at, next(replies), writer, thread_kind))
        elif roll < 0.75 * fading:
            drafts.append(_spike_post(at, rng, writer, social))
        elif roll > 0.96:
            drafts.append(_headline(at, rng, writer, news_kinds))
        else:
            brand = rng.choices(["Vellora", "Korvo", None], weights=[6, 2, 1])[0]
            drafts.append(_everyday(at, brand, rng, writer, social))
