"""Alert rules after each poll: negative spikes, spreading threads, silent sources, and a
backlog of overdue inbox items.

The detectors (analysis/) judge plain data read here from the store; the policy decides what a
finding does to the alert log (new, update, escalate, reopen, suppress); notifying decisions
plan deliveries in the same transaction, and the due deliveries are then sent. Every "now" is
the context's clock, so a replay with a simulated clock alerts as production would.

Several workers may detect at once (threads of one process, or processes sharing the
database): each decision reads the alert log, decides and writes in one transaction that first
takes a database-wide lock (:func:`vigia.storage.engine.lock_transaction`), so two of them can
never both see "no alert yet", or both escalate the same alert and plan two notification rounds.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, case, func, select
from sqlalchemy.engine import Connection

from analysis.spikes import HourBucket, SpikeParams, detect_spike
from analysis.threads import (
    EngagementSnapshot,
    ThreadFinding,
    ThreadPost,
    detect_spreading_threads,
)
from timeutil import hour_of, naive_utc, utc
from vigia.alerts.channels import deliver_due, targets
from vigia.alerts.context import AlertContext
from vigia.alerts.policy import (
    AlertPolicy,
    AlertState,
    Decision,
    Severity,
    alert_key,
    decide,
    notify_managers,
)
from vigia.config import Settings
from vigia.inbox.stats import backlog
from vigia.storage.alerts import (
    alert_by_key,
    insert_alert,
    latest_alert,
    plan_notification,
    set_alert_state,
    update_alert,
)
from vigia.storage.engine import lock_transaction
from vigia.storage.schema import engagement_snapshots, hourly_rollup, mentions
from vigia.storage.sources import load_health

log = logging.getLogger(__name__)

SPIKE = "negative_spike"
THREAD = "spreading_thread"
SOURCE = "source_unhealthy"
INBOX = "inbox_overdue"
INBOX_SUBJECT = "inbox"  # one inbox, so one subject: the backlog of every brand
THREAD_LOOKBACK = timedelta(hours=48)
TOP_MENTIONS = 5
SPARK_HOURS = 24
_MAX_THREAD_POSTS = 50_000
_CHUNK = 500
# The lock every alert decision takes (PostgreSQL advisory lock key, "alrt"; SQLite has one).
DECISIONS_LOCK = 0x616C7274


@dataclass(frozen=True, slots=True)
class Finding:
    """What any rule found, in the shape the alert log stores."""

    rule: str
    subject: str
    brand: str | None
    severity: Severity
    window_start: datetime
    window_end: datetime
    evidence: dict[str, Any]


@dataclass(frozen=True, slots=True)
class AlertOutcome:
    """What one finding did: the policy's decision and the alert it touched (None if suppressed)."""

    rule: str
    subject: str
    decision: Decision
    alert_id: int | None
    severity: Severity


def check_after_poll(
    ctx: AlertContext,
    source: str,
    *,
    failed: bool = False,
    brands: Iterable[str] = (),
    updated: int = 0,
) -> list[AlertOutcome]:
    """Run every rule a poll of `source` may have changed, then send due deliveries.

    `failed`: the poll failed; `brands`: of the new mentions; `updated`: known posts whose
    engagement moved (their brands come from the store).
    """
    now = utc(ctx.clock())
    outcomes: list[AlertOutcome] = []
    outcomes += check_source_health(ctx, source, failed, now)
    for brand in sorted(_brands_touched(ctx, source, brands, updated, now)):
        outcomes += check_brand(ctx, brand, now)
    outcomes += check_inbox_backlog(ctx, now)
    deliver_due(ctx)
    return outcomes


def check_brand(ctx: AlertContext, brand: str, now: datetime) -> list[AlertOutcome]:
    """Spike and spreading-thread rules for one brand at `now`."""
    now = utc(now)
    alerts_cfg = ctx.settings.alerts
    spike_params = alerts_cfg.spike_params()
    thread_params = alerts_cfg.thread_params()
    findings: list[Finding] = []
    with ctx.engine.connect() as conn:
        series = hourly_series(conn, brand, now, _lookback(spike_params))
        recent = counts_between(conn, brand, now - spike_params.fast_window, now)
        spike = detect_spike(series, now, spike_params, recent)
        if spike is not None:
            evidence = {
                **spike.evidence,
                "brand": brand,
                "hourly": _spark_points(series, now),
                "top": top_negative(conn, brand, spike.window_start, spike.window_end),
            }
            findings.append(
                Finding(
                    SPIKE,
                    brand,
                    brand,
                    spike.severity,
                    spike.window_start,
                    spike.window_end,
                    evidence,
                )
            )
        posts, snapshots = thread_data(conn, brand, now - THREAD_LOOKBACK, now)
    for thread in detect_spreading_threads(posts, snapshots, now, thread_params):
        findings.append(_thread_finding(brand, thread, posts, thread_params.series_step))
    return [apply_finding(ctx, finding, now) for finding in findings]


def check_source_health(
    ctx: AlertContext, source: str, failed: bool, now: datetime
) -> list[AlertOutcome]:
    """Raise `source_unhealthy` after `http.unhealthy_after` failed polls; resolve it on success."""
    now = utc(now)
    if not failed:
        _resolve(ctx, SOURCE, source, now, f"source {source} collects again")
        return []
    with ctx.engine.connect() as conn:
        health = load_health(conn, source)
    if health.consecutive_failures < ctx.settings.http.unhealthy_after:
        return []
    configured = next((s for s in ctx.settings.sources if s.name == source), None)
    evidence = {
        "source": source,
        "failures": health.consecutive_failures,
        "last_error": health.last_error,
        "last_error_at": _iso(health.last_error_at),
        "last_success_at": _iso(health.last_success_at),
    }
    finding = Finding(
        SOURCE, source, configured.brand if configured else None, "warning", now, now, evidence
    )
    return [apply_finding(ctx, finding, now)]


def check_inbox_backlog(ctx: AlertContext, now: datetime) -> list[AlertOutcome]:
    """Raise `inbox_overdue` while `inbox.overdue_alert` or more open items are past their due
    time (null: never); resolve it once fewer are."""
    now = utc(now)
    threshold = ctx.settings.inbox.overdue_alert
    if threshold is None:
        return []
    with ctx.engine.connect() as conn:
        found = backlog(conn, now)
    if found.overdue < threshold or found.oldest_overdue is None:
        _resolve(ctx, INBOX, INBOX_SUBJECT, now, "the inbox backlog is cleared")
        return []
    evidence = {
        "overdue": found.overdue,
        "threshold": threshold,
        "open": found.open,
        "oldest_opened_at": _iso(found.oldest_overdue),
        "oldest_age_minutes": (now - found.oldest_overdue) // timedelta(minutes=1),
    }
    finding = Finding(INBOX, INBOX_SUBJECT, None, "warning", now, now, evidence)
    return [apply_finding(ctx, finding, now)]


def _resolve(ctx: AlertContext, rule: str, subject: str, now: datetime, why: str) -> None:
    """Resolve the open (or acknowledged) alert of `rule` about `subject`, if there is one."""
    with ctx.engine.connect() as conn:
        previous = latest_alert(conn, rule, subject)
    if previous is None or previous.state is AlertState.RESOLVED:
        return  # the usual case, without taking the decisions' lock at every poll
    with ctx.engine.begin() as conn:
        lock_transaction(conn, DECISIONS_LOCK)
        previous = latest_alert(conn, rule, subject)  # again, under the lock
        if previous is not None and previous.state is not AlertState.RESOLVED:
            set_alert_state(conn, previous.id, AlertState.RESOLVED, now)
            log.info("%s: alert %d resolved", why, previous.id)


def apply_finding(ctx: AlertContext, finding: Finding, now: datetime) -> AlertOutcome:
    """Decide, store and (when the decision says so) plan notifications for one finding.

    The read-decide-write is one transaction holding :data:`DECISIONS_LOCK` from its first
    statement, serialised with every other decision in any process sharing the database.
    """
    now = utc(now)
    settings = ctx.settings
    with ctx.engine.begin() as conn:
        lock_transaction(conn, DECISIONS_LOCK)
        previous = latest_alert(conn, finding.rule, finding.subject)
        decision = decide(
            previous.previous() if previous else None,
            finding.severity,
            now,
            policy=policy_of(settings),
        )
        if decision is Decision.SUPPRESS:
            return _outcome(finding, decision, previous.id if previous else None)
        if decision is Decision.NEW:
            key = alert_key(finding.rule, finding.subject, finding.window_start)
            stored = insert_alert(
                conn,
                key=key,
                rule=finding.rule,
                brand=finding.brand,
                subject=finding.subject,
                severity=finding.severity,
                window_start=finding.window_start,
                window_end=finding.window_end,
                evidence=finding.evidence,
                now=now,
            )
            if stored is None:
                # The idempotency key is taken: this very finding was stored already (a poll
                # retried within the hour). Merge into it; never notify twice.
                existing = alert_by_key(conn, key)
                assert existing is not None
                _merge(conn, existing.id, finding, now)
                return _outcome(finding, Decision.UPDATE, existing.id)
            alert_id = stored.id
        else:
            assert previous is not None
            alert_id = previous.id
            _merge(conn, alert_id, finding, now, reopen=decision is Decision.REOPEN)
            if decision is Decision.REOPEN:
                set_alert_state(conn, alert_id, AlertState.OPEN, now)
        if decision.notifies:
            plan_notification(
                conn,
                alert_id,
                targets(settings, finding.severity, notify_managers(decision, finding.severity)),
                severity=finding.severity,
                reason=decision.value,
                now=now,
            )
    if decision.notifies:
        log.warning(
            "alert %d (%s) %s: %s %s",
            alert_id,
            decision.value,
            finding.severity,
            finding.rule,
            finding.subject,
        )
    return _outcome(finding, decision, alert_id)


def policy_of(settings: Settings) -> AlertPolicy:
    cfg = settings.alerts
    return AlertPolicy(
        cooldown=cfg.cooldown, quiet_gap=cfg.quiet_gap, reopen_within=cfg.reopen_within
    )


def hourly_series(conn: Connection, brand: str, now: datetime, days: int) -> list[HourBucket]:
    """A brand's hourly (total, negative) counts for the last `days`, summed over sources and
    languages; the current hour counts only what was published before `now`."""
    moment = naive_utc(now)
    current = hour_of(moment)
    r = hourly_rollup.c
    rows = conn.execute(
        select(r.hour, func.sum(r.mentions), func.sum(r.negative))
        .where(r.brand == brand, r.hour >= current - timedelta(days=days), r.hour < current)
        .group_by(r.hour)
    ).all()
    series = [HourBucket(hour, int(total), int(negative)) for hour, total, negative in rows]
    total, negative = counts_between(conn, brand, current, moment)
    if total:
        series.append(HourBucket(current, total, negative))
    return series


def counts_between(conn: Connection, brand: str, start: datetime, end: datetime) -> tuple[int, int]:
    """A brand's (total, negative) mentions published in [start, end), counted exactly."""
    m = mentions.c
    total, negative = conn.execute(
        select(
            func.count(), func.coalesce(func.sum(case((m.sentiment == "negative", 1), else_=0)), 0)
        ).where(
            m.brand == brand, m.published_at >= naive_utc(start), m.published_at < naive_utc(end)
        )
    ).one()
    return int(total), int(negative)


def top_negative(
    conn: Connection, brand: str, start: datetime, end: datetime, limit: int = TOP_MENTIONS
) -> list[dict[str, Any]]:
    """The most negative mentions of `brand` published in [start, end), as evidence."""
    m = mentions.c
    rows = conn.execute(
        select(m.source, m.author, m.published_at, m.url, m.text, m.compound)
        .where(
            m.brand == brand,
            m.sentiment == "negative",
            m.published_at >= naive_utc(start),
            m.published_at < naive_utc(end),
        )
        .order_by(m.compound.asc(), m.published_at.desc())
        .limit(limit)
    ).mappings()
    return [_mention_evidence(**row) for row in rows]


def thread_data(
    conn: Connection, brand: str, since: datetime, now: datetime
) -> tuple[list[ThreadPost], list[EngagementSnapshot]]:
    """The brand's recent mentions plus every recent post of the threads they belong to (replies
    seldom repeat the brand's name), and the engagement snapshots of those posts."""
    m = mentions.c
    start, end = naive_utc(since), naive_utc(now)
    thread = func.coalesce(m.thread_id, m.source_id)
    brand_threads = (
        select(m.source.label("source"), thread.label("thread"))
        .where(m.brand == brand, m.published_at >= start, m.published_at < end)
        .distinct()
        .subquery()
    )
    # Members (thread_id = thread) and roots (source_id = thread) in two joins: each uses its
    # index, where one OR-ed join made SQLite scan every mention of the source per thread.
    rows = [
        row
        for member in (m.thread_id, m.source_id)
        for row in conn.execute(
            select(
                m.id,
                m.source,
                m.source_id,
                m.thread_id,
                m.parent_id,
                m.author,
                m.published_at,
                m.url,
                m.text,
                m.compound,
                m.sentiment,
            )
            .join(
                brand_threads,
                and_(m.source == brand_threads.c.source, member == brand_threads.c.thread),
            )
            .where(m.published_at >= start, m.published_at < end)
            .order_by(m.published_at.desc())
            .limit(_MAX_THREAD_POSTS)
        ).all()
    ]
    posts: dict[int, ThreadPost] = {}
    for row in rows:
        posts[row.id] = ThreadPost(
            source=row.source,
            source_id=row.source_id,
            thread_id=row.thread_id,
            parent_id=row.parent_id,
            author=row.author,
            published=row.published_at,
            url=row.url,
            text=row.text,
            compound=row.compound,
            negative=row.sentiment == "negative",
        )
    s = engagement_snapshots.c
    snapshots: list[EngagementSnapshot] = []
    ids = list(posts)
    for offset in range(0, len(ids), _CHUNK):
        chunk = ids[offset : offset + _CHUNK]
        for snap in conn.execute(
            select(engagement_snapshots).where(s.mention_id.in_(chunk), s.observed_at < end)
        ).mappings():
            post = posts[snap["mention_id"]]
            snapshots.append(
                EngagementSnapshot(
                    source=post.source,
                    source_id=post.source_id,
                    observed=snap["observed_at"],
                    replies=snap["reply_count"] or 0,
                    reposts=snap["repost_count"] or 0,
                    likes=snap["like_count"] or 0,
                    score=snap["score"] or 0,
                    views=snap["view_count"] or 0,
                )
            )
    return list(posts.values()), snapshots


def _thread_finding(
    brand: str, thread: ThreadFinding, posts: Sequence[ThreadPost], step: timedelta
) -> Finding:
    inside = [
        p
        for p in posts
        if p.negative
        and p.source == thread.source
        and (p.thread_id == thread.thread_id or p.source_id == thread.thread_id)
        and thread.window_start <= utc(p.published) < thread.window_end
    ]
    # Most negative first, the newest among equals (as for spikes).
    inside.sort(
        key=lambda p: (p.compound if p.compound is not None else 0.0, -utc(p.published).timestamp())
    )
    evidence = {
        **thread.evidence,
        "brand": brand,
        "source": thread.source,
        "root_text": thread.root_text[:500],
        "series_step_minutes": round(step / timedelta(minutes=1)),
        "top": [
            _mention_evidence(p.source, p.author, p.published, p.url, p.text, p.compound)
            for p in inside[:TOP_MENTIONS]
        ],
    }
    return Finding(
        THREAD,
        thread.thread_key,
        brand,
        thread.severity,
        thread.window_start,
        thread.window_end,
        evidence,
    )


def _merge(
    conn: Connection, alert_id: int, finding: Finding, now: datetime, reopen: bool = False
) -> None:
    update_alert(
        conn,
        alert_id,
        severity=finding.severity,
        window_start=finding.window_start if reopen else None,
        window_end=finding.window_end,
        evidence=finding.evidence,
        now=now,
    )


def _brands_touched(
    ctx: AlertContext, source: str, brands: Iterable[str], updated: int, now: datetime
) -> set[str]:
    touched = set(brands)
    if updated:
        # Engagement moved on known posts: their threads may be accelerating though nothing new
        # arrived, and known posts are not re-analysed, so their brands come from the store.
        m = mentions.c
        with ctx.engine.connect() as conn:
            touched.update(
                conn.execute(
                    select(m.brand)
                    .where(
                        m.source == source,
                        m.brand.is_not(None),
                        m.published_at >= naive_utc(now - THREAD_LOOKBACK),
                    )
                    .distinct()
                ).scalars()
            )
    return touched


def _lookback(params: SpikeParams) -> int:
    days = max(params.baseline_days, 7 * params.baseline_weeks, params.warmup.days)
    return days + 1 + (params.long_window // timedelta(days=1))


def _spark_points(series: Sequence[HourBucket], now: datetime) -> list[list[Any]]:
    current = hour_of(naive_utc(now))
    counts = {naive_utc(b.hour): b for b in series}
    points = []
    for k in range(SPARK_HOURS - 1, -1, -1):
        hour = current - timedelta(hours=k)
        bucket = counts.get(hour)
        points.append(
            [
                hour.isoformat() + "Z",
                bucket.negative if bucket else 0,
                bucket.total if bucket else 0,
            ]
        )
    return points


def _mention_evidence(
    source: str,
    author: str | None,
    published_at: datetime,
    url: str,
    text: str,
    compound: float | None,
) -> dict[str, Any]:
    return {
        "source": source,
        "author": author,
        "published": _iso(published_at),
        "url": url,
        "text": " ".join(text.split())[:400],
        "compound": round(compound, 3) if compound is not None else None,
    }


def _iso(moment: datetime | None) -> str | None:
    return utc(moment).isoformat() if moment is not None else None


def _outcome(finding: Finding, decision: Decision, alert_id: int | None) -> AlertOutcome:
    return AlertOutcome(finding.rule, finding.subject, decision, alert_id, finding.severity)
