"""Replay a synthetic scenario through the real pipeline on a simulated clock; print recall, false
alerts and time-to-alert per sensitivity preset.

``python -m bench.eval_detection [--seed N] [--weeks W] [--repeats R] [--brands all|A,B]
[--poll-minutes M] [--presets low,medium,high] [--jobs J]``

The default (4 weeks, the four smaller brands, each incident and decoy kind once per brand)
keeps the run to about five minutes on two cores. The big brand (40 mentions/h) triples the
replay's cost, every check reading two days of its threads: ``--brands all`` adds it, and
``--weeks 6 --repeats 2 --brands all`` is the fuller picture.

Each preset gets its own :class:`vigia.pipeline.Runtime` (``Runtime.build`` with a simulated
clock) on a fresh SQLite file. The clock ticks every ``--poll-minutes``; at each tick every
source is "polled": the mentions published since the previous tick, plus every thread root whose
engagement grew (re-seen with its new counts, as a collector re-fetching a post reports them),
go through :func:`vigia.storage.mentions.save_batch` with the Runtime's analyser, so brand,
language and sentiment come from the real scorers, and the hourly rollup and engagement
snapshots are the store's own. Then :func:`vigia.alerts.detect.check_brand` runs for every brand
the tick touched and :func:`vigia.alerts.channels.deliver_due` writes the notifications to an
outbox folder (no SMTP). All sources poll at the same instant, so detection runs once a tick.

Scoring reads the ``alerts`` table: every stored alert is one notification (NEW) at its
``opened_at``; nobody acknowledges or resolves alerts in the replay, so later notification
rounds are escalations of the same alert and are not counted again. An alert for a brand between
an incident's start and two hours after its end detects it; any other alert is a false one
(a *decoy alert* when it falls during a decoy).
"""

from __future__ import annotations

import argparse
import heapq
import logging
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from statistics import median

from sqlalchemy import func, select

from bench.scenarios import (
    BRANDS,
    INCIDENT_KINDS,
    SOURCES,
    BrandProfile,
    Incident,
    Scenario,
    SyntheticMention,
    generate,
)
from collectors.base import Engagement, Mention
from timeutil import utc
from vigia.alerts.channels import deliver_due
from vigia.alerts.detect import check_brand
from vigia.analyse import AnalysedMention
from vigia.config import Settings, parse_settings
from vigia.pipeline import Runtime
from vigia.storage.alerts import deliveries_of, list_alerts
from vigia.storage.mentions import save_batch
from vigia.storage.schema import mentions

HOUR = timedelta(hours=1)
DAY = timedelta(days=1)
MINUTE = timedelta(minutes=1)
# Matching slack after an incident's end: an alert that late still points at it.
GRACE = 2 * HOUR
# One configured source per scenario source, with options each collector type accepts; nothing
# is fetched (the replay hands the mentions to the store itself).
_OPTIONS: dict[str, dict[str, str]] = {
    "mastodon": {"instance": "https://mastodon.example", "query": "marcas"},
    "reddit": {"query": "marcas"},
    "bluesky": {"query": "marcas"},
    "hackernews": {"query": "marcas"},
    "rss": {"url": "https://noticias.example/feed.xml"},
}


class SimClock:
    """The replay's clock: the Runtime reads every "now" from it."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@dataclass(frozen=True, slots=True)
class AlertSeen:
    """One stored alert as the scoring needs it."""

    brand: str
    rule: str
    subject: str
    at: datetime
    severity: str


@dataclass(frozen=True, slots=True)
class Outcome:
    """What one preset did on a scenario."""

    preset: str
    alerts: tuple[AlertSeen, ...]
    detected: dict[Incident, timedelta]  # incident -> time to first alert
    false_alerts: int
    decoy_alerts: int
    brand_weeks: float
    labels: Counter[tuple[str, str]]  # (generated mood, stored sentiment label) -> mentions
    seconds: float


def settings_for(scenario: Scenario, preset: str, workdir: Path, poll: timedelta) -> Settings:
    """The configuration of the replayed installation: the scenario's brands and sources."""
    return parse_settings(
        {
            "database_url": f"sqlite:///{workdir / 'vigia.db'}",
            "brands": [{"name": b.name, "keywords": [b.name]} for b in scenario.brands],
            "sources": [
                {"name": name, "type": name, "interval": f"{poll // MINUTE}m", **_OPTIONS[name]}
                for name in SOURCES
            ],
            "alerts": {"sensitivity": preset, "outbox": "outbox"},
        },
        base_dir=workdir,
        origin=f"replay ({preset})",
    )


class _Feed:
    """What each source would return at each tick: new mentions and re-seen grown roots."""

    def __init__(self, scenario: Scenario) -> None:
        self._mentions = scenario.mentions  # sorted by publication
        self._next = 0
        # (observed, index of the root's mention, index of the snapshot) for every snapshot.
        self._snapshots: list[tuple[datetime, int, int]] = [
            (snap.observed, i, k)
            for i, m in enumerate(scenario.mentions)
            for k, snap in enumerate(m.engagement)
        ]
        heapq.heapify(self._snapshots)

    def poll(self, now: datetime) -> dict[str, list[Mention]]:
        """Per source, what a poll at ``now`` fetches."""
        batches: dict[str, dict[str, Mention]] = defaultdict(dict)
        while self._next < len(self._mentions) and self._mentions[self._next].published < now:
            m = self._mentions[self._next]
            # A post that will gather replies is first seen with zero counts.
            counts = Engagement(0, 0, 0) if m.engagement else Engagement()
            batches[m.source][m.source_id] = _mention(m, counts)
            self._next += 1
        while self._snapshots and self._snapshots[0][0] <= now:
            _, i, k = heapq.heappop(self._snapshots)
            m = self._mentions[i]
            snap = m.engagement[k]
            # Later snapshots of the same root overwrite earlier ones: a poll sees the latest.
            batches[m.source][m.source_id] = _mention(
                m, Engagement(snap.replies, snap.reposts, snap.likes)
            )
        return {source: list(items.values()) for source, items in batches.items()}


def replay(scenario: Scenario, preset: str, poll: timedelta, workdir: Path) -> Outcome:
    """Poll the whole scenario through a real Runtime with one preset and score its alerts.

    The warm-up weeks (nothing injected) are stored a day at a time without detection, as
    history; from ``scenario.quiet_until`` on, every source is polled every ``poll`` and
    detection runs after each poll.
    """
    began = time.perf_counter()
    clock = SimClock(scenario.start)
    rt = Runtime.build(settings_for(scenario, preset, workdir, poll), clock=clock)
    alerting = rt.alert_context
    try:
        feed = _Feed(scenario)
        now = scenario.start
        while now < scenario.end:
            now = min(now + (DAY if now < scenario.quiet_until else poll), scenario.end)
            clock.now = now
            touched: set[str] = set()
            for source, batch in feed.poll(now).items():
                touched |= _store(rt, source, batch, now)
            if now <= scenario.quiet_until:
                continue
            for brand in sorted(touched):
                check_brand(alerting, brand, now)
            deliver_due(alerting)
        alerts = _stored_alerts(rt)
        labels = _labels(rt, scenario)
    finally:
        rt.close()
    return _score(scenario, preset, alerts, labels, time.perf_counter() - began)


def _store(rt: Runtime, source: str, batch: list[Mention], now: datetime) -> set[str]:
    """Store one source's batch as the pipeline does; the brands it touched."""
    analysed: list[AnalysedMention] = []

    def analyse(fresh: Sequence[Mention]) -> list[AnalysedMention]:
        analysed.extend(rt.analyser.analyse_all(fresh))
        return analysed

    with rt.engine.begin() as conn:
        result = save_batch(conn, source, batch, analyse, now)
        brands = {a.brand for a in analysed if a.brand}
        if result.updated:
            # Re-seen posts are not analysed again: their brand comes from the store.
            m = mentions.c
            ids = [x.source_id for x in batch]
            brands.update(
                b
                for b in conn.execute(
                    select(m.brand)
                    .where(m.source == source, m.source_id.in_(ids), m.brand.is_not(None))
                    .distinct()
                ).scalars()
            )
    return brands


def _stored_alerts(rt: Runtime) -> list[AlertSeen]:
    found = []
    with rt.engine.connect() as conn:
        for alert in list_alerts(conn, states=None, limit=1_000_000):
            rounds = deliveries_of(conn, alert.id)
            # Every alert was notified when it was stored: its first round is in the outbox.
            assert any(d.round == 1 and d.ok for d in rounds), f"alert {alert.id} not notified"
            found.append(
                AlertSeen(
                    alert.brand or "",
                    alert.rule,
                    alert.subject or "",
                    utc(alert.opened_at),
                    alert.severity,
                )
            )
    return sorted(found, key=lambda a: (a.at, a.brand, a.rule))


def _labels(rt: Runtime, scenario: Scenario) -> Counter[tuple[str, str]]:
    """How the real scorers labelled what the generator meant (mood -> stored label)."""
    mood = {(m.source, m.source_id): m.mood for m in scenario.mentions}
    counts: Counter[tuple[str, str]] = Counter()
    m = mentions.c
    with rt.engine.connect() as conn:
        rows = conn.execute(select(m.source, m.source_id, func.coalesce(m.sentiment, "none"))).all()
    for source, source_id, label in rows:
        counts[(mood[(source, source_id)], label)] += 1
    return counts


def _score(
    scenario: Scenario,
    preset: str,
    alerts: list[AlertSeen],
    labels: Counter[tuple[str, str]],
    seconds: float,
) -> Outcome:
    detected: dict[Incident, timedelta] = {}
    false_alerts = decoy_alerts = 0
    for alert in alerts:
        hits = [
            i
            for i in scenario.incidents
            if i.brand == alert.brand and i.start <= alert.at <= i.end + GRACE
        ]
        real = [i for i in hits if not i.decoy]
        for incident in real:
            detected.setdefault(incident, alert.at - incident.start)
        if not real:
            false_alerts += 1
            decoy_alerts += bool(hits)
    # Detection runs only after the warm-up weeks; count brand-weeks from there.
    weeks = (scenario.end - scenario.quiet_until) / timedelta(weeks=1)
    return Outcome(
        preset,
        tuple(alerts),
        detected,
        false_alerts,
        decoy_alerts,
        weeks * len(scenario.brands),
        labels,
        seconds,
    )


def report(scenario: Scenario, outcomes: Sequence[Outcome], poll: timedelta) -> str:
    """The evaluation table as text."""
    real = [i for i in scenario.incidents if not i.decoy]
    decoys = len(scenario.incidents) - len(real)
    labels = outcomes[0].labels
    lines = [
        f"scenario: {len(scenario.brands)} brands "
        f"({', '.join(b.name for b in scenario.brands)}), "
        f"{(scenario.end - scenario.start) / timedelta(weeks=1):.0f} weeks, "
        f"{len(scenario.mentions)} mentions, {len(real)} incidents, {decoys} decoys; "
        f"poll every {poll / MINUTE:.0f} min through the real pipeline",
        "scorers (generated mood -> stored label): "
        + "; ".join(
            f"{mood} {_share(labels, mood, mood)} labelled {mood}"
            + (f", {_share(labels, mood, 'negative')} negative" if mood != "negative" else "")
            for mood in ("negative", "neutral", "positive")
        ),
        "",
        f"{'preset':<8}{'kind':<14}{'recall':>12}{'median TTA':>12}{'max TTA':>10}"
        f"{'false/brand-wk':>16}{'decoy alerts':>14}",
    ]
    for outcome in outcomes:
        for kind in (*INCIDENT_KINDS, "all"):
            of_kind = [i for i in real if kind in ("all", i.kind)]
            found = [outcome.detected[i] / MINUTE for i in of_kind if i in outcome.detected]
            recall = f"{len(found)}/{len(of_kind)} {len(found) / len(of_kind):4.0%}"
            med = _minutes(median(found)) if found else "-"
            top = _minutes(max(found)) if found else "-"
            extra = ""
            if kind == "all":
                extra = (
                    f"{outcome.false_alerts / outcome.brand_weeks:>16.2f}{outcome.decoy_alerts:>14}"
                )
            lines.append(f"{outcome.preset:<8}{kind:<14}{recall:>12}{med:>12}{top:>10}{extra}")
        lines.append("")
    lines.append("replay time: " + ", ".join(f"{o.preset} {o.seconds:.0f} s" for o in outcomes))
    return "\n".join(lines)


def _scenario(args: argparse.Namespace) -> Scenario:
    names = [b.name for b in BRANDS] if args.brands == "all" else args.brands.split(",")
    unknown = set(names) - {b.name for b in BRANDS}
    if unknown:
        raise SystemExit(f"unknown brands {sorted(unknown)}; expected some of {_names(BRANDS)}")
    return generate(
        seed=args.seed,
        weeks=args.weeks,
        repeats=args.repeats,
        brands=tuple(b for b in BRANDS if b.name in names),
    )


def _run(args: argparse.Namespace, preset: str) -> Outcome:
    # Each worker process builds the same seeded scenario rather than receiving it pickled.
    scenario = _scenario(args)
    poll = timedelta(minutes=args.poll_minutes)
    with tempfile.TemporaryDirectory(prefix=f"vigia-eval-{preset}-") as tmp:
        return replay(scenario, preset, poll, Path(tmp))


def main(argv: Sequence[str] | None = None) -> None:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--weeks", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=1, help="each kind per brand")
    parser.add_argument(
        "--brands",
        default=_names(BRANDS[1:]),
        help=f"'all' or some of: {_names(BRANDS)}",
    )
    parser.add_argument("--poll-minutes", type=float, default=15)
    parser.add_argument("--presets", default="low,medium,high")
    parser.add_argument("--jobs", type=int, default=2, help="presets replayed in parallel")
    args = parser.parse_args(argv)
    # Every alert is logged as a warning; the table says it all.
    logging.getLogger("vigia").setLevel(logging.ERROR)
    presets = args.presets.split(",")
    with ProcessPoolExecutor(max_workers=args.jobs) as pool:
        outcomes = list(pool.map(_run, [args] * len(presets), presets))
    print(report(_scenario(args), outcomes, timedelta(minutes=args.poll_minutes)))


def _mention(m: SyntheticMention, engagement: Engagement) -> Mention:
    return Mention(
        source=m.source,
        source_id=m.source_id,
        url=m.url,
        published=m.published,
        text=m.text,
        author=m.author,
        thread_id=m.thread_id,
        parent_id=m.parent_id,
        engagement=engagement,
    )


def _names(brands: Sequence[BrandProfile]) -> str:
    return ",".join(b.name for b in brands)


def _share(labels: Counter[tuple[str, str]], mood: str, label: str) -> str:
    total = sum(n for (g, _), n in labels.items() if g == mood)
    return f"{labels[(mood, label)] / total:.0%}" if total else "-"


def _minutes(minutes: float) -> str:
    return f"{minutes:.0f} min"


if __name__ == "__main__":
    main()
