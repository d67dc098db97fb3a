"""The figures of one week's report, read from the rollups, the alert log and the care inbox.

Volume, sentiment, share of voice and topics come from `hourly_rollup` and `topic_rollup`
(vigia.storage.reads), never a GROUP BY over `mentions`; the mentions table is read only for the
few example mentions. "Our" brands are those not marked `competitor: true` (all of them when
every brand is). Times are aware UTC.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pandas as pd
from sqlalchemy import Connection, Engine, select

from timeutil import naive_utc, utc
from vigia.config import Settings
from vigia.exports import parse_week, week_bounds
from vigia.inbox.rules import normalised
from vigia.inbox.stats import Figures, week_figures
from vigia.storage.alerts import AlertRow, list_alerts
from vigia.storage.reads import latest_mentions, rollup_totals, topic_series
from vigia.storage.schema import audit_log

TREND_WEEKS = 4  # earlier weeks the report's week is compared with
TOP_TOPICS = 5
EXAMPLES = 2  # example mentions per topic
# Alerts read to find the week's: the most recently updated first. Alerts are deduplicated
# per crisis, so even a stormy month stays far below this.
ALERT_LIMIT = 1000
_HANDLED = ("alert.acknowledge", "alert.resolve")


@dataclass(frozen=True)
class Counts:
    """Mentions and their sentiment over some brands and one week."""

    mentions: int
    negative: int
    neutral: int
    positive: int
    average: float | None  # the average compound score of the scored mentions

    @property
    def unscored(self) -> int:
        return self.mentions - self.negative - self.neutral - self.positive

    @property
    def negative_share(self) -> float | None:
        return self.negative / self.mentions if self.mentions else None


@dataclass(frozen=True)
class WeekCounts:
    week: str  # e.g. 2026-W49
    counts: Counts


@dataclass(frozen=True)
class BrandShare:
    """One brand's share of all watched brands' mentions, this week and the week before."""

    brand: str
    competitor: bool
    counts: Counts
    share: float | None
    previous_share: float | None


@dataclass(frozen=True)
class Example:
    """A mention quoted as it was stored: untrusted text, escaped where it is shown."""

    published_at: datetime
    brand: str
    source: str
    author: str | None
    text: str
    url: str


@dataclass(frozen=True)
class TopicChange:
    """A complaint topic: its negative mentions this week and the week before."""

    topic: str
    mentions: int
    negative: int
    previous_negative: int
    examples: tuple[Example, ...]


@dataclass(frozen=True)
class AlertHandling:
    """An alert of the week: when it was opened, and when and by whom it was handled.

    A handling time without a person was the detector's own doing (a resolved source problem).
    """

    id: int
    rule: str
    brand: str | None
    subject: str | None
    severity: str
    state: str
    opened_at: datetime
    acknowledged_at: datetime | None
    acknowledged_by: str | None
    resolved_at: datetime | None
    resolved_by: str | None


@dataclass(frozen=True)
class ReportData:
    week: str
    start: datetime
    end: datetime
    timezone: str
    brands: tuple[str, ...]  # ours
    competitors: tuple[str, ...]
    weeks: tuple[WeekCounts, ...]  # the earlier weeks first, the report's week last
    shares: tuple[BrandShare, ...]  # ours first, then the competitors
    topics: tuple[TopicChange, ...]
    alerts: tuple[AlertHandling, ...]
    response_times: tuple[Figures, ...]
    generated_at: datetime

    @property
    def current(self) -> Counts:
        return self.weeks[-1].counts


def gather(engine: Engine, settings: Settings, week: str, now: datetime) -> ReportData:
    """Every figure of `week`'s report (an ISO week such as 2026-W49), judged at `now`."""
    zone = settings.zone
    year, number = parse_week(week)
    competitors = tuple(b.name for b in settings.brands if b.competitor)
    ours = tuple(b.name for b in settings.brands if not b.competitor) or competitors
    monday = date.fromisocalendar(year, number, 1)
    weeks = [_week_of(monday - timedelta(weeks=k)) for k in range(TREND_WEEKS, -1, -1)]
    start, end = _bounds(week, zone)
    previous = _bounds(weeks[-2], zone)
    with engine.connect() as conn:
        trend = tuple(WeekCounts(w, _counts(conn, *_bounds(w, zone), ours)) for w in weeks)
        shares = _shares(conn, settings, (start, end), previous)
        topics = _topics(conn, ours, (start, end), previous)
        alerts = _alerts(conn, start, end)
        times = week_figures(conn, settings.inbox, zone, start, end, now, ours)
    return ReportData(
        week=week,
        start=utc(start),
        end=utc(end),
        timezone=settings.timezone,
        brands=ours,
        competitors=competitors if competitors != ours else (),
        weeks=trend,
        shares=shares,
        topics=topics,
        alerts=alerts,
        response_times=tuple(times),
        generated_at=utc(now),
    )


def _week_of(day: date) -> str:
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"


def _bounds(week: str, zone: ZoneInfo) -> tuple[datetime, datetime]:
    return week_bounds(*parse_week(week), zone)


def _counts(conn: Connection, start: datetime, end: datetime, brands: Sequence[str]) -> Counts:
    totals = rollup_totals(conn, start, end, brands=brands)
    scored = totals["scored"]
    return Counts(
        mentions=int(totals["mentions"]),
        negative=int(totals["negative"]),
        neutral=int(totals["neutral"]),
        positive=int(totals["positive"]),
        average=totals["compound_sum"] / scored if scored else None,
    )


def _shares(
    conn: Connection,
    settings: Settings,
    week: tuple[datetime, datetime],
    previous: tuple[datetime, datetime],
) -> tuple[BrandShare, ...]:
    brands = sorted(settings.brands, key=lambda b: b.competitor)  # stable: config order kept
    now = {b.name: _counts(conn, *week, [b.name]) for b in brands}
    before = {b.name: _counts(conn, *previous, [b.name]).mentions for b in brands}
    total_now = sum(c.mentions for c in now.values())
    total_before = sum(before.values())
    return tuple(
        BrandShare(
            brand=b.name,
            competitor=b.competitor,
            counts=now[b.name],
            share=now[b.name].mentions / total_now if total_now else None,
            previous_share=before[b.name] / total_before if total_before else None,
        )
        for b in brands
    )


def _topics(
    conn: Connection,
    brands: Sequence[str],
    week: tuple[datetime, datetime],
    previous: tuple[datetime, datetime],
) -> tuple[TopicChange, ...]:
    """The topics with the most negative mentions this week (then the most mentions)."""
    now = _by_topic(topic_series(conn, *week, brands=brands))
    before = _by_topic(topic_series(conn, *previous, brands=brands))
    ranked = sorted(
        (t for t, (_, negative) in now.items() if negative),
        key=lambda t: (-now[t][1], -now[t][0], t),
    )[:TOP_TOPICS]
    return tuple(
        TopicChange(
            topic=topic,
            mentions=now[topic][0],
            negative=now[topic][1],
            previous_negative=before.get(topic, (0, 0))[1],
            examples=_examples(conn, brands, week, topic),
        )
        for topic in ranked
    )


def _by_topic(frame: pd.DataFrame) -> dict[str, tuple[int, int]]:
    """Topic -> (mentions, negative) summed over the hours of a topic_series frame."""
    if frame.empty:
        return {}
    sums = frame.groupby("topic")[["mentions", "negative"]].sum()
    return {str(t): (int(row.mentions), int(row.negative)) for t, row in sums.iterrows()}


def _examples(
    conn: Connection, brands: Sequence[str], week: tuple[datetime, datetime], topic: str
) -> tuple[Example, ...]:
    """The topic's latest mentions, one per wording (a complaint pasted twice shows once)."""
    frame = latest_mentions(conn, *week, brands=brands, topics=[topic], limit=EXAMPLES * 10)
    distinct = {normalised(str(row.text)): row for row in reversed(list(frame.itertuples()))}
    newest_first = sorted(distinct.values(), key=lambda row: row.published_at, reverse=True)
    return tuple(
        Example(
            published_at=utc(row.published_at),
            brand=row.brand,
            source=row.source,
            author=row.author,
            text=row.text,
            url=row.url,
        )
        for row in newest_first[:EXAMPLES]
    )


def _alerts(conn: Connection, start: datetime, end: datetime) -> tuple[AlertHandling, ...]:
    """The alerts live during [start, end): opened before its end and not resolved before its
    start; oldest first."""
    rows = [
        a
        for a in list_alerts(conn, states=None, limit=ALERT_LIMIT)
        if a.opened_at < end and (a.resolved_at is None or a.resolved_at >= start)
    ]
    who = _handlers(conn, rows)
    return tuple(
        AlertHandling(
            id=a.id,
            rule=a.rule,
            brand=a.brand,
            subject=a.subject,
            severity=a.severity,
            state=a.state.value,
            opened_at=utc(a.opened_at),
            acknowledged_at=_aware(a.acknowledged_at),
            acknowledged_by=who.get((a.id, "alert.acknowledge", a.acknowledged_at)),
            resolved_at=_aware(a.resolved_at),
            resolved_by=who.get((a.id, "alert.resolve", a.resolved_at)),
        )
        for a in sorted(rows, key=lambda a: (a.opened_at, a.id))
    )


def _handlers(
    conn: Connection, rows: Sequence[AlertRow]
) -> dict[tuple[int, str, datetime | None], str]:
    """Who made each acknowledge or resolve move of these alerts, by (alert id, action, time).

    A person's move writes the alert and its audit entry with the same moment
    (vigia.access.actions), so the alert's time finds its entry; the detector's own moves
    have none.
    """
    targets = {f"alert {a.id}": a.id for a in rows}
    if not targets:
        return {}
    a = audit_log.c
    query = select(a.target, a.action, a.at, a.actor).where(
        a.action.in_(_HANDLED),
        a.target.in_(list(targets)),
        a.at >= naive_utc(min(r.opened_at for r in rows)),
    )
    return {(targets[row.target], row.action, row.at): row.actor for row in conn.execute(query)}


def _aware(moment: datetime | None) -> datetime | None:
    return utc(moment) if moment is not None else None
