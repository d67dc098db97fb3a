"""Seeded synthetic mention streams with injected crises and decoys, for detection evaluation.

A :class:`Scenario` is several weeks of mentions for a few brands of different sizes, with the
rhythm real streams have: quiet nights, busy mid-mornings and evenings, calmer weekends, a brand
whose Monday newsletter brings a weekly peak, day-to-day swings of volume and negative share
(gamma noise: volume +-22 %, negative share +-18 %), Poisson counts, small threads (a root and a few replies, longer behind a
complaint), and small grumbling bursts. Nothing is injected in the first ``warmup_weeks``.

Injected incidents (``Incident.decoy`` False), with the start the detectors are timed against:

=================  ===============================================================================
sudden_spike       3 h of extra negative mentions on all sources at max(20, 6 x the brand's usual
                   negative rate) per hour, plus some neutral chatter about it
slow_burn          24 h of extra negatives ramping linearly to max(8, 3 x the usual rate) per hour
                   at hour 16, then flat
viral_thread       one negative post whose 40-120 replies (75 % negative, distinct authors) arrive
                   over ~4 h, peaking after ~45 min; likes and reposts follow the replies
cross_source       a news story (same article URL with different tracking parameters, near-same
                   headline) posted on three sources within the hour, with negative replies on two
=================  ===============================================================================

Decoys (``Incident.decoy`` True; any alert during one is a false alert):

=================  ===============================================================================
positive_launch    6 h at four times the usual volume with the usual negative share, plus a launch
                   thread of 150 replies, 92 % positive
neutral_thread     a question with 80-150 replies over ~4 h, 12 % negative, engagement growing
=================  ===============================================================================
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

from analysis.threads import EngagementSnapshot

HOUR = timedelta(hours=1)
THREAD_SOURCES = ("mastodon", "reddit", "bluesky", "hackernews")
SOURCES = (*THREAD_SOURCES, "rss")
INCIDENT_KINDS = ("sudden_spike", "slow_burn", "viral_thread", "cross_source")
DECOY_KINDS = ("positive_launch", "neutral_thread")
# Relative volume by hour of day (UTC stands in for local time): nights quiet, two peaks.
_DAILY = (0.35, 0.2, 0.12, 0.1, 0.1, 0.15, 0.35, 0.7, 1.1, 1.4, 1.6, 1.6) + (
    1.5,
    1.4,
    1.3,
    1.2,
    1.2,
    1.3,
    1.4,
    1.6,
    1.7,
    1.5,
    1.1,
    0.7,
)
_WEEKLY = (1.1, 1.05, 1.05, 1.0, 1.0, 0.7, 0.6)  # Monday .. Sunday
_NORM = sum(_DAILY) / 24 * sum(_WEEKLY) / 7

# Texts in the two languages the product scores (about two Spanish for one English), worded the
# way people write so that the real language detector and sentiment scorers judge them; the eval
# prints how many the scorers label as generated. Posts name the brand; replies (``_REPLY_*``)
# often do not, as on real platforms, and then only the thread detector sees them.
_LANGUAGES = ("es", "es", "en")
_TEXTS: dict[tuple[str, str], tuple[str, ...]] = {
    ("negative", "es"): (
        "{b} me ha cobrado dos veces la factura de {m} y nadie me da una solución",
        "Otra vez sin servicio de {b} en {c}. Ya van {n} horas, es una vergüenza",
        "Pésima atención al cliente de {b}: {n} días esperando una respuesta",
        "No vuelvo a comprar en {b}, el pedido {n} llegó roto y no me devuelven el dinero",
        "Qué desastre lo de {b} con los clientes de {c}",
        "{b} es lo peor, llevo toda la mañana intentando hablar con alguien",
        "Estoy harta de {b}, cada mes un cargo que no reconozco",
        "El servicio de {b} en {c} es malísimo",
        "{b}, devolvedme el dinero ya. Nunca más.",
    ),
    ("negative", "en"): (
        "{b} support is useless, waited {n} hours for nothing",
        "Cancelled my {b} plan after {n} outages this month. Terrible service.",
        "{b} charged me twice and nobody answers. Awful.",
        "Worst experience ever with {b}, order {n} arrived broken",
        "So frustrated with {b} right now, the app keeps crashing",
        "{b} has the worst customer service, {n} minutes on hold",
    ),
    ("positive", "es"): (
        "Encantada con el servicio de {b} en {c}",
        "Gracias {b} por resolver lo del pedido {n} tan rápido",
        "{b} cada vez mejor, me encanta la actualización de {m}",
        "Muy buena experiencia con {b} en {c}, todo perfecto",
    ),
    ("positive", "en"): (
        "Great job {b}, the new app works really well",
        "{b} keeps getting better, loving the {m} update",
        "Thanks {b} for sorting out order {n} so quickly",
    ),
    ("neutral", "es"): (
        "¿Alguien sabe a qué hora abre {b} en {c}?",
        "{b} abre una tienda nueva en {c}",
        "Leído en el periódico: {b} cambia su tarifa de {m}",
        "{b} presenta sus resultados del trimestre el {n} de {m}",
    ),
    ("neutral", "en"): (
        "Comparing {b} and the others for a new plan, any thoughts?",
        "Has anyone used {b} in {c}?",
        "{b} is moving its office to {c}",
    ),
}
_REPLIES: dict[tuple[str, str], tuple[str, ...]] = {
    ("negative", "es"): (
        "Me pasa lo mismo, ya van {n} días sin respuesta",
        "Igual que yo, una vergüenza",
        "Esto es un abuso, que alguien haga algo",
        "Qué vergüenza, a mí me hicieron lo mismo en {c}",
        "Lo mismo aquí, fatal",
    ),
    ("negative", "en"): (
        "Same here, absolutely terrible",
        "This is ridiculous, I've been waiting for {n} days too",
        "Unacceptable. Happened to me last week as well",
    ),
    ("positive", "es"): ("Me encanta, gracias por compartir", "Qué buena noticia"),
    ("positive", "en"): ("Love it, great news", "Nice, I've been waiting for this"),
    ("neutral", "es"): (
        "Yo lo pregunté ayer en la tienda de {c}",
        "Creo que abren a las nueve",
        "Depende de la zona, en la mía sí",
    ),
    ("neutral", "en"): ("I think it's on their website", "Depends on the area, mine is {c}"),
}
# Endings that make two posts from one template differ (people word things differently; without
# them two posts would be near-duplicates across sources, which real streams are not).
_TAILS: dict[str, tuple[str, ...]] = {
    "es": ("", "", " #{tag}", " @{tag}_ayuda", " (ref. {n})", " Desde {c}.", " cc @{tag}"),
    "en": ("", "", " #{tag}", " @{tag}help", " (ref {n})", " From {c}.", " cc @{tag}"),
}
# Share of replies that name the brand.
_REPLY_NAMES_BRAND = 0.5
_CITIES = ("Madrid", "Sevilla", "Bogotá", "Lima", "Valencia", "Quito", "Rosario", "Bilbao")
_MONTHS = {
    "es": ("enero", "marzo", "mayo", "julio", "septiembre", "noviembre"),
    "en": ("January", "March", "May", "July", "September", "November"),
}


@dataclass(frozen=True, slots=True)
class BrandProfile:
    """A synthetic brand: mean mentions per hour, usual negative share, weekly peak or not."""

    name: str
    rate: float
    negative_share: float
    monday_peak: bool = False


BRANDS = (
    BrandProfile("Aurora Telecom", 40.0, 0.15),
    BrandProfile("Banco Brisa", 12.0, 0.12, monday_peak=True),
    BrandProfile("Café Lumbre", 4.0, 0.08),
    BrandProfile("Luz Vega", 1.5, 0.2),
    BrandProfile("Tienda Nimbo", 0.6, 0.1),
)


@dataclass(frozen=True, slots=True)
class SyntheticMention:
    """One generated mention, with its thread fields and the root's engagement over time."""

    brand: str
    source: str
    source_id: str
    thread_id: str | None
    parent_id: str | None
    author: str
    published: datetime
    url: str
    text: str
    mood: str  # "negative", "positive" or "neutral": what the generator meant
    engagement: tuple[EngagementSnapshot, ...] = ()

    @property
    def negative(self) -> bool:
        return self.mood == "negative"


@dataclass(frozen=True, slots=True)
class Incident:
    """An injected crisis (or decoy) of ``kind`` for ``brand`` from ``start`` to ``end``."""

    brand: str
    kind: str
    start: datetime
    end: datetime
    decoy: bool


@dataclass(frozen=True, slots=True)
class Scenario:
    """The stream (sorted by publication) and what was injected into it."""

    start: datetime
    end: datetime
    quiet_until: datetime  # nothing is injected before this: the warm-up weeks
    brands: tuple[BrandProfile, ...]
    mentions: tuple[SyntheticMention, ...]
    incidents: tuple[Incident, ...]


def generate(
    seed: int = 7,
    weeks: int = 8,
    warmup_weeks: int = 2,
    brands: tuple[BrandProfile, ...] = BRANDS,
    repeats: int = 2,
    start: datetime = datetime(2026, 1, 5, tzinfo=UTC),
) -> Scenario:
    """A scenario of ``weeks`` from ``start`` (a Monday): each brand gets every incident and
    decoy kind ``repeats`` times at random moments after ``warmup_weeks``, 36 h apart or more."""
    end = start + timedelta(weeks=weeks)
    mentions: list[SyntheticMention] = []
    incidents: list[Incident] = []
    for index, brand in enumerate(brands):
        gen = _BrandGenerator(brand, random.Random(seed * 1000 + index), start, end)
        gen.background()
        kinds = [*INCIDENT_KINDS, *DECOY_KINDS] * repeats
        for kind, at in zip(
            kinds, gen.schedule(len(kinds), start + timedelta(weeks=warmup_weeks)), strict=True
        ):
            incidents.append(gen.inject(kind, at))
        mentions.extend(gen.mentions)
    mentions.sort(key=lambda m: (m.published, m.brand, m.source_id))
    incidents.sort(key=lambda i: (i.start, i.brand))
    quiet_until = start + timedelta(weeks=warmup_weeks)
    return Scenario(start, end, quiet_until, brands, tuple(mentions), tuple(incidents))


@dataclass
class _Thread:
    source: str
    root_id: str
    root_published: datetime
    reply_times: list[datetime] = field(default_factory=list)


class _BrandGenerator:
    def __init__(self, brand: BrandProfile, rng: random.Random, start: datetime, end: datetime):
        self.brand = brand
        self.rng = rng
        self.start = start
        self.end = end
        self.mentions: list[SyntheticMention] = []
        self._ids = 0
        self._position: dict[str, int] = {}
        self._slug = "".join(c for c in brand.name.lower() if c.isalnum())

    # -- background ---------------------------------------------------------------------------

    def background(self) -> None:
        rng, brand = self.rng, self.brand
        day_volume = day_share = 1.0
        grumble_hour = -1
        hour = self.start
        while hour < self.end:
            if hour.hour == 0:
                # Day-to-day swings: real streams are overdispersed, not Poisson.
                day_volume = rng.gammavariate(20, 1 / 20)
                day_share = rng.gammavariate(30, 1 / 30)
                # Most days have an hour of extra grumbling (a late train, a slow reply).
                grumble_hour = rng.randrange(8, 23) if rng.random() < 0.6 else -1
            rate = brand.rate * _DAILY[hour.hour] * _WEEKLY[hour.weekday()] / _NORM * day_volume
            if brand.monday_peak and hour.weekday() == 0 and 9 <= hour.hour < 11:
                rate *= 3
            share = min(0.9, brand.negative_share * day_share)
            for _ in range(_poisson(rng, rate)):
                self._post(hour + rng.random() * HOUR, rng.random() < share, root=True)
            if hour.hour == grumble_hour:
                extra = _poisson(rng, max(1.0, 0.5 * brand.rate * brand.negative_share))
                for _ in range(extra):
                    self._post(hour + rng.random() * HOUR, True, root=False)
            hour += HOUR

    def _post(self, at: datetime, negative: bool, *, root: bool) -> None:
        """A standalone post; with ``root`` some become small threads with replies."""
        rng = self.rng
        source = rng.choice(SOURCES)
        if not root or source == "rss" or rng.random() < 0.7:
            self._add(source, None, None, at, _mood(self.rng, negative))
            return
        # Replies: geometric, mean ~2, longer under complaints; mostly within a few hours.
        replies = min(25, int(rng.expovariate(1 / (3.0 if negative else 1.5))))
        thread = self._root(source, at, _mood(self.rng, negative))
        reply_negative = 0.45 if negative else self.brand.negative_share
        for _ in range(replies):
            when = at + timedelta(hours=rng.expovariate(1 / 1.5))
            self._reply(thread, when, rng.random() < reply_negative)
        self._engage(thread, likes_per_reply=rng.uniform(2, 8), hours=12)

    # -- incidents ----------------------------------------------------------------------------

    def schedule(self, count: int, after: datetime) -> list[datetime]:
        """``count`` random moments after ``after``, shuffled, at least 36 h apart."""
        span = (self.end - timedelta(days=1) - after) / count
        assert span >= timedelta(hours=36), "too many incidents for the scenario length"
        slots = [
            after + span * i + self.rng.random() * (span - timedelta(hours=30))
            for i in range(count)
        ]
        self.rng.shuffle(slots)
        return slots

    def inject(self, kind: str, at: datetime) -> Incident:
        rng, brand = self.rng, self.brand
        usual_negative = brand.rate * brand.negative_share
        if kind == "sudden_spike":
            duration = 3 * HOUR
            rate = max(20.0, 6 * usual_negative)
            for when in self._poisson_times(at, duration, lambda _: rate):
                self._add(rng.choice(SOURCES), None, None, when, "negative")
            for when in self._poisson_times(at, duration, lambda _: rate * 0.3):
                self._add(rng.choice(SOURCES), None, None, when, "neutral")
        elif kind == "slow_burn":
            duration = 24 * HOUR
            peak = max(8.0, 3 * usual_negative)
            for when in self._poisson_times(at, duration, lambda h: peak * min(1.0, h / 16)):
                self._add(rng.choice(SOURCES), None, None, when, "negative")
        elif kind == "viral_thread":
            duration = 5 * HOUR
            self._viral(rng.choice(THREAD_SOURCES), at, rng.randint(40, 120), 0.75, "negative")
        elif kind == "cross_source":
            duration = 4 * HOUR
            self._story(at)
        elif kind == "positive_launch":
            duration = 6 * HOUR
            rate = 3 * brand.rate
            for when in self._poisson_times(at, duration, lambda _: rate):
                negative = rng.random() < brand.negative_share
                self._add(rng.choice(SOURCES), None, None, when, _mood(rng, negative, positive=0.8))
            self._viral(rng.choice(THREAD_SOURCES), at, 150, 0.05, "positive", positive=0.92)
        elif kind == "neutral_thread":
            duration = 5 * HOUR
            self._viral(rng.choice(THREAD_SOURCES), at, rng.randint(80, 150), 0.12, "neutral")
        else:
            raise ValueError(f"unknown incident kind {kind!r}")
        return Incident(brand.name, kind, at, at + duration, kind in DECOY_KINDS)

    def _viral(
        self,
        source: str,
        at: datetime,
        replies: int,
        negative: float,
        root_mood: str,
        positive: float = 0.0,
        text: str | None = None,
        url: str | None = None,
    ) -> _Thread:
        rng = self.rng
        thread = self._root(source, at, root_mood, text=text, url=url)
        for _ in range(replies):
            # Gamma(2, 45 min): replies peak around 45 minutes and fade over ~4 hours.
            when = at + timedelta(minutes=rng.gammavariate(2, 45))
            roll = rng.random()
            mood = (
                "negative"
                if roll < negative
                else "positive"
                if roll < negative + positive
                else "neutral"
            )
            self._reply(thread, when, mood == "negative", mood=mood)
        self._engage(thread, likes_per_reply=rng.uniform(5, 15), hours=12)
        return thread

    def _story(self, at: datetime) -> None:
        rng = self.rng
        story = self._next_id()
        article = f"https://www.noticias-hoy.example/economia/{self._slug}-clientes-{story}/"
        headline = (
            f"{self.brand.name}: indignación de miles de clientes tras un corte de horas sin "
            f"explicaciones (corte {story})"
        )
        sources = rng.sample(THREAD_SOURCES, 2)
        for i, (source, replies) in enumerate(
            zip(sources, (rng.randint(25, 50), rng.randint(10, 20)), strict=True)
        ):
            when = at + timedelta(minutes=rng.uniform(5, 40)) * i
            tracked = f"{article}?utm_source={source}&utm_medium=social"
            self._viral(
                source, when, replies, 0.7, "negative", text=f"{headline} {tracked}", url=None
            )
        self._add(
            "rss",
            None,
            None,
            at + timedelta(minutes=rng.uniform(0, 60)),
            "negative",
            text=f"{headline}. La compañía no ha respondido.",
            url=article,
        )

    def _poisson_times(self, at: datetime, duration: timedelta, rate) -> Iterator[datetime]:
        """Times of a Poisson process from ``at`` with ``rate(hours since at)`` per hour."""
        step = timedelta(minutes=5)
        t = at
        while t < at + duration:
            for _ in range(_poisson(self.rng, rate((t - at) / HOUR) * (step / HOUR))):
                yield t + self.rng.random() * step
            t += step

    # -- building blocks ----------------------------------------------------------------------

    def _root(
        self, source: str, at: datetime, mood: str, text: str | None = None, url: str | None = None
    ) -> _Thread:
        sid = self._add(source, None, None, at, mood, text=text, url=url, thread_root=True)
        return _Thread(source, sid, at)

    def _reply(
        self, thread: _Thread, at: datetime, negative: bool, mood: str | None = None
    ) -> None:
        if at >= self.end:
            return
        self._add(
            thread.source, thread.root_id, thread.root_id, at, mood or _mood(self.rng, negative)
        )
        thread.reply_times.append(at)

    def _engage(self, thread: _Thread, likes_per_reply: float, hours: int) -> None:
        """Snapshots of the root every 15 minutes: replies so far, likes and reposts behind."""
        if not thread.reply_times:
            return
        times = sorted(thread.reply_times)
        snaps = []
        observed = thread.root_published + timedelta(minutes=15)
        count = 0
        while observed < min(self.end, thread.root_published + hours * HOUR):
            while count < len(times) and times[count] <= observed:
                count += 1
            likes = round(count * likes_per_reply)
            snaps.append(
                EngagementSnapshot(
                    thread.source, thread.root_id, observed, count, likes // 4, likes, 0, 0
                )
            )
            observed += timedelta(minutes=15)
        i = self._position[thread.root_id]
        self.mentions[i] = replace(self.mentions[i], engagement=tuple(snaps))

    def _add(
        self,
        source: str,
        thread_id: str | None,
        parent_id: str | None,
        at: datetime,
        mood: str,
        *,
        text: str | None = None,
        url: str | None = None,
        thread_root: bool = False,
    ) -> str:
        rng = self.rng
        sid = self._next_id()
        if text is None:
            lang = rng.choice(_LANGUAGES)
            reply = thread_id is not None and rng.random() >= _REPLY_NAMES_BRAND
            template = rng.choice((_REPLIES if reply else _TEXTS)[(mood, lang)])
            tail = rng.choice(_TAILS[lang])
            text = (template + tail).format(
                b=self.brand.name,
                c=rng.choice(_CITIES),
                m=rng.choice(_MONTHS[lang]),
                n=rng.randint(2, 99),
                tag=self._slug,
            )
        self._position[sid] = len(self.mentions)
        self.mentions.append(
            SyntheticMention(
                brand=self.brand.name,
                source=source,
                source_id=sid,
                thread_id=sid if thread_root else thread_id,
                parent_id=parent_id,
                author=f"u{rng.randrange(1_000_000)}",
                published=at,
                url=url or f"https://{source}.example/{self._slug}/{sid}",
                text=text,
                mood=mood,
            )
        )
        return sid

    def _next_id(self) -> str:
        self._ids += 1
        return f"{self._slug}-{self._ids}"


def _mood(rng: random.Random, negative: bool, positive: float = 0.35) -> str:
    if negative:
        return "negative"
    return "positive" if rng.random() < positive else "neutral"


def _poisson(rng: random.Random, lam: float) -> int:
    if lam <= 0:
        return 0
    if lam > 50:
        # Normal approximation; exact sampling gains nothing at these rates.
        return max(0, round(rng.gauss(lam, math.sqrt(lam))))
    # Knuth's method.
    limit, k, p = math.exp(-lam), 0, 1.0
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1
