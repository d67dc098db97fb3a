"""Negative-mention spikes per brand against a seasonal, robust (median + MAD) baseline.

The detector looks at the window of ``short_window`` ending at ``now`` and compares the brand's
negative mentions in it with the *same window* on previous days (same hour of day) and in previous
weeks (same hour of week). Working on whole windows instead of single hours lets one rule handle
the current, partial hour:

* Counts are hourly (the storage keeps an hourly rollup). A bucket that the window only partly
  covers counts pro rata, assuming mentions are spread evenly inside the hour.
* The current hour is the exception: its bucket holds only what was published up to ``now``, so
  it counts **as-is**, and the baseline windows, shifted back by whole days, cover the same
  minutes of their hours pro rata. At 10:15 with a one-hour window the observation is
  ``0.75 * count(09:00) + count(10:00 so far)`` and each baseline sample is
  ``0.75 * count(09:00 d days ago) + 0.25 * count(10:00 d days ago)``.

Why these statistics:

* **Median + MAD** of the per-offset samples, so one past spike among seven days (or four weeks)
  moves neither the expected value nor the spread.
* **Seasonality**: the expected value is the larger of the daily median (same hour, previous
  days) and the weekly median (same hour of week, previous weeks, from the first one on). A Monday-morning peak is then compared with previous Monday mornings.
* **Poisson floor**: the spread is at least ``sqrt(expected)`` and the expected value at least
  ``min_expected_per_hour`` per hour, so a brand with a zero baseline is not paged for every
  mention and a perfectly regular brand (MAD 0) does not yield infinite scores.
* **Negative share**: the window's negative share must be ``min_share_lift`` times the brand's
  share over all the history given before the window (pooled: per-window shares of a few
  mentions are too noisy, and one past spike barely moves weeks of counts), so a volume peak (a
  launch, a TV spot) whose negatives grow in proportion is not a crisis.
* **Ratio**: negatives must also be ``min_ratio`` times the expected count: for a big brand a
  Poisson-sized spread makes a 40 % rise look significant, which nobody wants to be paged for.
* **Confirmation**: the longer window ending at ``now`` must also be elevated (``z_confirm``),
  which drops a single noisy short window in an otherwise calm afternoon.
* **Fast window**: a crisis should page within a poll or two, before an hour's worth of
  negatives has piled up. So the ``fast_window`` (15-30 min) ending at ``now`` is judged too, on
  the same pro-rated baselines, and fires *without* the longer window's confirmation, but only
  on stronger evidence: ``z_fast`` (above ``z_warning``) and ``min_negative_fast`` negatives,
  with the same ratio and share tests. Hourly buckets cannot place mentions inside an hour, and
  pro-rating would dilute an onset, so the caller passes the window's exact counts
  (``recent``); the baselines stay pro-rated, being averages anyway. Without exact counts the
  window reaches back to the top of the current hour at least. The short window is judged
  first, so the fast one adds findings and changes none. Either way, ``critical`` needs the
  longer window confirmed.
* **Warm-up**: nothing fires before ``warmup`` of history (counted from the series' first
  bucket) and at least ``_MIN_SAMPLES`` baseline samples.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from statistics import median
from typing import Any, Literal

from timeutil import utc

Severity = Literal["warning", "critical"]

HOUR = timedelta(hours=1)
DAY = timedelta(days=1)
WEEK = timedelta(days=7)
# Scale factor that turns a MAD into a standard deviation for normal data.
_MAD_TO_SD = 1.4826
# Fewer daily samples than this is too little history to call anything unusual.
_MIN_SAMPLES = 3
# The weekly median is used from the first previous week on: a weekly rhythm (Monday's
# newsletter) is far more common than an incident at the very same hour a week before.
_MIN_WEEKLY_SAMPLES = 1


@dataclass(frozen=True, slots=True)
class HourBucket:
    """Mentions of one brand in one hour (UTC, start of hour); a missing hour means zero."""

    hour: datetime
    total: int
    negative: int


@dataclass(frozen=True, slots=True)
class SpikeParams:
    """Tunables of :func:`detect_spike`; see :data:`PRESETS` for the documented presets."""

    short_window: timedelta = timedelta(hours=1)
    long_window: timedelta = timedelta(hours=3)
    baseline_days: int = 7
    baseline_weeks: int = 4
    min_negative: int = 6
    min_ratio: float = 2.0
    min_expected_per_hour: float = 0.5
    z_warning: float = 4.0
    z_confirm: float = 2.0
    z_critical: float = 8.0
    min_share_lift: float = 1.5
    share_floor: float = 0.05
    warmup: timedelta = timedelta(days=7)
    fast_window: timedelta = timedelta(minutes=30)
    min_negative_fast: int = 4
    z_fast: float = 5.0

    def __post_init__(self) -> None:
        # A zero floor would let a zero baseline divide by zero; a long window shorter than the
        # short one would confirm nothing; a fast window longer than the short one is not fast.
        if self.min_expected_per_hour <= 0:
            raise ValueError("min_expected_per_hour must be > 0")
        if self.long_window < self.short_window:
            raise ValueError("long_window must be at least short_window")
        if not timedelta(0) < self.fast_window <= self.short_window:
            raise ValueError("fast_window must be > 0 and at most short_window")


PRESETS: Mapping[str, SpikeParams] = {
    "low": SpikeParams(
        short_window=timedelta(hours=1),
        long_window=timedelta(hours=3),
        min_negative=10,
        min_ratio=3.0,
        z_warning=6.0,
        z_confirm=3.0,
        z_critical=10.0,
        min_share_lift=2.0,
        fast_window=timedelta(minutes=30),
        min_negative_fast=10,
        z_fast=8.0,
    ),
    "medium": SpikeParams(),
    "high": SpikeParams(
        short_window=timedelta(minutes=30),
        long_window=timedelta(hours=2),
        min_negative=4,
        min_ratio=1.5,
        z_warning=3.0,
        z_confirm=1.5,
        z_critical=6.0,
        min_share_lift=1.3,
        fast_window=timedelta(minutes=15),
        min_negative_fast=4,
        z_fast=5.0,
    ),
}
"""Sensitivity presets.

=================  =======  =======  =======  ==========================================
parameter          low      medium   high     meaning
=================  =======  =======  =======  ==========================================
short_window       1 h      1 h      30 min   window ending at ``now`` that is judged
long_window        3 h      3 h      2 h      confirmation window ending at ``now``
baseline_days      7        7        7        same-hour samples from previous days
baseline_weeks     4        4        4        same-hour-of-week samples from past weeks
min_negative       10       6        4        negatives needed in the short window
min_ratio          3        2        1.5      negatives / expected needed
min_expected/h     0.5      0.5      0.5      floor of the baseline rate (mentions/hour)
z_warning          6        4        3        robust z of the short window to fire
z_confirm          3        2        1.5      robust z the long window must reach too
z_critical         10       8        6        z (either window, long one confirmed): critical
fast_window        30 min   30 min   15 min   window judged without confirmation
min_negative_fast  10       4        4        negatives needed in the fast window
z_fast             8        5        5        robust z of the fast window to fire
min_share_lift     2.0      1.5      1.3      negative share / baseline share needed
share_floor        0.05     0.05     0.05     baseline share never taken below this
warmup             7 d      7 d      7 d      history needed before the first alert
=================  =======  =======  =======  ==========================================
"""


@dataclass(frozen=True, slots=True)
class SpikeFinding:
    """A negative spike in ``[window_start, window_end)``; ``evidence`` is JSON-serialisable."""

    window_start: datetime
    window_end: datetime
    negative: int
    expected: float
    share: float
    baseline_share: float
    score: float
    severity: Severity
    evidence: dict[str, Any]


@dataclass(frozen=True, slots=True)
class _WindowStats:
    negative: float
    total: float
    expected: float
    scale: float
    samples: int

    @property
    def z(self) -> float:
        return (self.negative - self.expected) / self.scale

    @property
    def share(self) -> float:
        return self.negative / self.total if self.total else 0.0


class _Hours:
    """Hour -> (total, negative) lookup over a series whose gaps are zero."""

    __slots__ = ("_counts", "first")

    def __init__(self, series: Iterable[HourBucket]) -> None:
        self._counts: dict[datetime, tuple[int, int]] = {}
        for bucket in series:
            hour = _floor_hour(bucket.hour)
            total, negative = self._counts.get(hour, (0, 0))
            self._counts[hour] = (total + bucket.total, negative + bucket.negative)
        self.first: datetime | None = min(self._counts) if self._counts else None

    def share_before(self, end: datetime) -> float:
        """Negative share of all mentions in the hours before ``end``."""
        total = negative = 0
        for hour, (t, n) in self._counts.items():
            if hour + HOUR <= end:
                total += t
                negative += n
        return negative / total if total else 0.0

    def window(self, start: datetime, end: datetime, now: datetime) -> tuple[float, float]:
        """(total, negative) in ``[start, end)``; buckets past ``now`` hold data only up to it."""
        total = negative = 0.0
        hour = _floor_hour(start)
        while hour < end:
            # A bucket's data covers the whole hour, or only up to `now` for the current hour.
            covered = min(hour + HOUR, now) - hour
            overlap = min(hour + HOUR, end) - max(hour, start)
            if covered > timedelta(0) and overlap > timedelta(0):
                counts = self._counts.get(hour)
                if counts is not None:
                    weight = min(1.0, overlap / covered)
                    total += counts[0] * weight
                    negative += counts[1] * weight
            hour += HOUR
        return total, negative


def detect_spike(
    series: Sequence[HourBucket],
    now: datetime,
    params: SpikeParams,
    recent: tuple[int, int] | None = None,
) -> SpikeFinding | None:
    """Judge the windows ending at ``now`` (short, then fast); return a finding or ``None``.

    ``series`` is one brand's hourly buckets (any order, gaps are zero) covering at least the
    baseline look-back (``max(baseline_days, 7 * baseline_weeks)`` days plus the long window);
    its first bucket marks the start of history for the warm-up. The bucket of the current hour
    must hold only mentions published before ``now``. ``recent`` is the exact (total, negative)
    published in the ``fast_window`` before ``now``, when the caller can count it; without it
    the fast window is read from the buckets (see :data:`SpikeParams`).
    """
    now = utc(now)
    hours = _Hours(series)
    if hours.first is None or now - hours.first < params.warmup:
        return None
    long: _WindowStats | None = None
    rules = (
        ("short", params.short_window, params.min_negative, params.z_warning, True),
        ("fast", params.fast_window, params.min_negative_fast, params.z_fast, False),
    )
    for name, length, min_negative, z_needed, needs_confirmation in rules:
        observed = None
        if name == "fast":
            if recent is not None:
                observed = (float(recent[0]), float(recent[1]))
            else:
                # Buckets cannot say where inside an hour its mentions fall; pro-rating the
                # current one would dilute an onset (at 10:45 a 30-minute window would keep two
                # thirds of 10:00's count), so the window reaches back to the top of the hour.
                length = max(length, now - _floor_hour(now))
        window = _window_stats(hours, now, length, params, observed)
        if window is None or window.samples < _MIN_SAMPLES:
            continue
        if window.negative < min_negative or window.z < z_needed:
            continue
        if window.negative < params.min_ratio * window.expected:
            continue
        baseline_share = hours.share_before(now - length)
        if window.share < params.min_share_lift * max(baseline_share, params.share_floor):
            continue
        long = long or _window_stats(hours, now, params.long_window, params)
        if long is None:
            continue
        confirmed = long.z >= params.z_confirm
        if needs_confirmation and not confirmed:
            continue
        critical = confirmed and max(window.z, long.z) >= params.z_critical
        return _finding(name, now, length, window, long, baseline_share, critical, params)
    return None


def _finding(
    name: str,
    now: datetime,
    length: timedelta,
    window: _WindowStats,
    long: _WindowStats,
    baseline_share: float,
    critical: bool,
    params: SpikeParams,
) -> SpikeFinding:
    start = now - length
    return SpikeFinding(
        window_start=start,
        window_end=now,
        negative=round(window.negative),
        expected=window.expected,
        share=window.share,
        baseline_share=baseline_share,
        score=window.z,
        severity="critical" if critical else "warning",
        evidence={
            "rule_window": name,
            "window_start": start.isoformat(),
            "window_end": now.isoformat(),
            "negative": round(window.negative),
            "total": round(window.total),
            "expected": round(window.expected, 2),
            "share": round(window.share, 3),
            "baseline_share": round(baseline_share, 3),
            "z": round(window.z, 2),
            "long_window_hours": params.long_window / HOUR,
            "long_negative": round(long.negative),
            "long_expected": round(long.expected, 2),
            "long_z": round(long.z, 2),
            "baseline_samples": window.samples,
        },
    )


def rollup(mentions: Iterable[tuple[datetime, bool]], until: datetime) -> list[HourBucket]:
    """Hourly buckets of ``(published, negative)`` pairs published before ``until``.

    The same shape the storage's hourly rollup yields; handy for tests and replays.
    """
    until = utc(until)
    counts: dict[datetime, list[int]] = {}
    for published, negative in mentions:
        published = utc(published)
        if published >= until:
            continue
        slot = counts.setdefault(_floor_hour(published), [0, 0])
        slot[0] += 1
        slot[1] += int(negative)
    return [HourBucket(hour, total, neg) for hour, (total, neg) in sorted(counts.items())]


def _window_stats(
    hours: _Hours,
    now: datetime,
    length: timedelta,
    params: SpikeParams,
    observed: tuple[float, float] | None = None,
) -> _WindowStats | None:
    assert hours.first is not None
    start = now - length
    total, negative = observed or hours.window(start, now, now)

    def samples(step: timedelta, count: int) -> list[tuple[float, float]]:
        # Only windows fully inside the history: before the first bucket is unknown, not zero.
        return [
            hours.window(start - step * k, now - step * k, now)
            for k in range(1, count + 1)
            if start - step * k >= hours.first  # type: ignore[operator]
        ]

    daily = samples(DAY, params.baseline_days)
    weekly = samples(WEEK, params.baseline_weeks)
    if not daily:
        return None
    expected, spread = _median_mad([neg for _, neg in daily])
    if len(weekly) >= _MIN_WEEKLY_SAMPLES:
        weekly_expected, weekly_spread = _median_mad([neg for _, neg in weekly])
        if weekly_expected > expected:
            expected, spread = weekly_expected, weekly_spread
    expected = max(expected, params.min_expected_per_hour * (length / HOUR))
    scale = max(_MAD_TO_SD * spread, math.sqrt(expected))
    return _WindowStats(
        negative=negative,
        total=total,
        expected=expected,
        scale=scale,
        samples=len(daily),
    )


def _median_mad(values: list[float]) -> tuple[float, float]:
    mid = median(values)
    return mid, median(abs(v - mid) for v in values)


def _floor_hour(moment: datetime) -> datetime:
    return utc(moment).replace(minute=0, second=0, microsecond=0)
