"""Replay a synthetic scenario through the detectors and alert policy; print recall, false alerts
and time-to-alert per sensitivity preset.

``python -m bench.eval_detection [--seed N] [--weeks W] [--poll-minutes M] [--presets low,medium]``

A simulated clock polls every ``--poll-minutes``. At each poll every brand's detectors see only
what was published before the clock: hourly buckets (the current hour partial) for the spike
detector, the last six hours of posts and the engagement observed so far for the thread
detector. Findings go through :func:`vigia.alerts.policy.decide`; a NEW or REOPEN decision is a
notification. A notification for a brand between an incident's start and two hours after its
end detects it; any other notification (including during a decoy) is a false alert.
"""

from __future__ import annotations

import argparse
from bisect import bisect_left
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from statistics import median

from analysis import spikes, threads
from analysis.spikes import HourBucket, detect_spike
from analysis.threads import EngagementSnapshot, ThreadPost, detect_spreading_threads
from bench.scenarios import INCIDENT_KINDS, Incident, Scenario, SyntheticMention, generate
from vigia.alerts.policy import (
    AlertPolicy,
    AlertState,
    Decision,
    PreviousAlert,
    Severity,
    decide,
)

HOUR = timedelta(hours=1)
MINUTE = timedelta(minutes=1)
# Matching slack after an incident's end: an alert that late still points at it.
GRACE = 2 * HOUR
THREAD_LOOKBACK = 6 * HOUR


@dataclass(frozen=True, slots=True)
class Notification:
    """One notification the policy let through."""

    brand: str
    rule: str
    subject: str
    at: datetime
    severity: Severity
    decision: Decision


@dataclass(frozen=True, slots=True)
class Outcome:
    """What one preset did on a scenario."""

    preset: str
    notifications: tuple[Notification, ...]
    detected: dict[Incident, timedelta]  # incident -> time to first alert
    false_alerts: int
    decoy_alerts: int
    brand_weeks: float


class _BrandStream:
    """One brand's mentions, indexed for replay without looking past the clock."""

    def __init__(self, mentions: Sequence[SyntheticMention]) -> None:
        self.mentions = sorted(mentions, key=lambda m: m.published)
        self.times = [m.published for m in self.mentions]
        self.posts = [_thread_post(m) for m in self.mentions]
        self.first_hour = _floor_hour(self.times[0])
        complete: dict[datetime, list[int]] = defaultdict(lambda: [0, 0])
        for m in self.mentions:
            slot = complete[_floor_hour(m.published)]
            slot[0] += 1
            slot[1] += m.negative
        self.hours = {h: HourBucket(h, t, n) for h, (t, n) in complete.items()}
        self.observed = {
            (m.source, m.source_id): [s.observed for s in m.engagement]
            for m in self.mentions
            if m.engagement
        }

    def buckets(self, now: datetime, lookback: timedelta) -> list[HourBucket]:
        """Hourly buckets from ``now - lookback`` (or the first hour) to ``now``; the current
        hour holds only what was published before ``now``."""
        current = _floor_hour(now)
        start = max(self.first_hour, current - lookback)
        # The first bucket marks the start of history for the detector's warm-up.
        out = [self.hours[self.first_hour]] if start > self.first_hour else []
        hour = start
        while hour < current:
            bucket = self.hours.get(hour)
            if bucket is not None:
                out.append(bucket)
            hour += HOUR
        lo, hi = bisect_left(self.times, current), bisect_left(self.times, now)
        if hi > lo:
            negative = sum(m.negative for m in self.mentions[lo:hi])
            out.append(HourBucket(current, hi - lo, negative))
        return out

    def recent(
        self, now: datetime, lookback: timedelta
    ) -> tuple[list[ThreadPost], list[EngagementSnapshot]]:
        lo, hi = bisect_left(self.times, now - lookback), bisect_left(self.times, now)
        snaps: list[EngagementSnapshot] = []
        for m in self.mentions[lo:hi]:
            if m.engagement:
                seen = bisect_left(self.observed[(m.source, m.source_id)], now)
                snaps.extend(m.engagement[:seen])
        return self.posts[lo:hi], snaps


def replay(
    scenario: Scenario,
    preset: str,
    poll: timedelta = timedelta(minutes=15),
    policy: AlertPolicy | None = None,
) -> Outcome:
    """Poll every brand every ``poll`` through the whole scenario with one preset."""
    policy = policy or AlertPolicy()
    spike_params, thread_params = spikes.PRESETS[preset], threads.PRESETS[preset]
    lookback = (
        max(
            timedelta(days=spike_params.baseline_days),
            7 * spike_params.baseline_weeks * timedelta(1),
        )
        + spike_params.long_window
        + 2 * HOUR
    )
    by_brand: dict[str, list[SyntheticMention]] = defaultdict(list)
    for m in scenario.mentions:
        by_brand[m.brand].append(m)
    streams = {brand: _BrandStream(ms) for brand, ms in by_brand.items()}
    state: dict[tuple[str, str], PreviousAlert] = {}
    sent: list[Notification] = []

    def handle(brand: str, rule: str, subject: str, severity: Severity, now: datetime) -> None:
        previous = state.get((rule, subject))
        decision = decide(previous, severity, now, rule=rule, subject=subject, policy=policy)
        if decision is Decision.SUPPRESS:
            return
        if decision.notifies:
            sent.append(Notification(brand, rule, subject, now, severity, decision))
        # Nobody acknowledges or resolves in the replay: alerts stay open until the policy's
        # quiet gap ends their episode.
        state[(rule, subject)] = PreviousAlert(
            AlertState.OPEN,
            severity if decision.notifies or previous is None else previous.severity,
            now,
            now if decision.notifies or previous is None else previous.last_notified,
        )

    now = scenario.start + poll
    while now <= scenario.end:
        for brand, stream in streams.items():
            finding = detect_spike(stream.buckets(now, lookback), now, spike_params)
            if finding is not None:
                handle(brand, "negative_spike", brand, finding.severity, now)
            posts, snaps = stream.recent(now, THREAD_LOOKBACK)
            for thread in detect_spreading_threads(posts, snaps, now, thread_params):
                handle(brand, "spreading_thread", thread.thread_key, thread.severity, now)
        now += poll
    return _score(scenario, preset, sent, spike_params.warmup)


def _score(scenario: Scenario, preset: str, sent: list[Notification], warmup: timedelta) -> Outcome:
    detected: dict[Incident, timedelta] = {}
    false_alerts = decoy_alerts = 0
    for note in sent:
        if note.decision is Decision.ESCALATE:
            continue  # a follow-up of an alert already counted
        hits = [
            i
            for i in scenario.incidents
            if i.brand == note.brand and i.start <= note.at <= i.end + GRACE
        ]
        real = [i for i in hits if not i.decoy]
        for incident in real:
            detected.setdefault(incident, note.at - incident.start)
        if not real:
            false_alerts += 1
            decoy_alerts += bool(hits)
    # Alerts are possible only after the warm-up; count brand-weeks from there.
    weeks = (scenario.end - scenario.start - warmup) / timedelta(weeks=1)
    return Outcome(
        preset, tuple(sent), detected, false_alerts, decoy_alerts, weeks * len(scenario.brands)
    )


def report(scenario: Scenario, outcomes: Sequence[Outcome], poll: timedelta) -> str:
    """The evaluation table as text."""
    real = [i for i in scenario.incidents if not i.decoy]
    decoys = len(scenario.incidents) - len(real)
    lines = [
        f"scenario: {len(scenario.brands)} brands, "
        f"{(scenario.end - scenario.start) / timedelta(weeks=1):.0f} weeks, "
        f"{len(scenario.mentions)} mentions, {len(real)} incidents, {decoys} decoys; "
        f"poll every {poll / timedelta(minutes=1):.0f} min",
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
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> None:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--weeks", type=int, default=8)
    parser.add_argument("--poll-minutes", type=float, default=15)
    parser.add_argument("--presets", default="low,medium,high")
    args = parser.parse_args(argv)
    scenario = generate(seed=args.seed, weeks=args.weeks)
    poll = timedelta(minutes=args.poll_minutes)
    outcomes = [replay(scenario, p, poll) for p in args.presets.split(",")]
    print(report(scenario, outcomes, poll))


def _thread_post(m: SyntheticMention) -> ThreadPost:
    return ThreadPost(
        m.source, m.source_id, m.thread_id, m.parent_id, m.author, m.published, m.url, m.text,
        m.compound, m.negative,
    )  # fmt: skip


def _floor_hour(moment: datetime) -> datetime:
    return moment.replace(minute=0, second=0, microsecond=0)


def _minutes(minutes: float) -> str:
    return f"{minutes:.0f} min"


if __name__ == "__main__":
    main()
