"""Negative spikes: hand-made hourly series; each comment says where the spike is and why not."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from analysis.spikes import PRESETS, HourBucket, SpikeParams, detect_spike, rollup

MEDIUM = PRESETS["medium"]
# 2024-01-01 is a Monday; every series starts there.
START = datetime(2024, 1, 1, tzinfo=UTC)
H = timedelta(hours=1)
D = timedelta(days=1)

Shape = Callable[[datetime], tuple[int, int] | None]


def build(end: datetime, shape: Shape | None = None, normal: tuple[int, int] = (20, 2)):
    """Hourly buckets from START up to (not including) ``end``: ``normal`` unless ``shape``
    returns other (total, negative) counts for an hour."""
    buckets = []
    hour = START
    while hour < end:
        total, negative = (shape(hour) if shape else None) or normal
        buckets.append(HourBucket(hour, total, negative))
        hour += H
    return buckets


def test_sudden_spike_against_flat_history_fires():
    # Two calm weeks (20 mentions/h, 2 negative); on day 15 the 10:00 hour has 20 negatives of
    # 40: ten times the baseline and half of all mentions.
    now = START + 14 * D + 11 * H
    series = build(now, lambda h: (40, 20) if h == now - H else None)
    finding = detect_spike(series, now, MEDIUM)
    assert finding is not None
    assert (finding.window_start, finding.window_end) == (now - H, now)
    assert finding.negative == 20
    assert finding.expected == 2
    assert finding.share == 0.5 and finding.baseline_share == 0.1
    assert finding.severity == "critical"
    json.dumps(finding.evidence)
    # The hour before it was ordinary: nothing to report there.
    assert detect_spike(series[:-1], now - H, MEDIUM) is None


def test_current_partial_hour_counts_as_is_and_the_previous_hour_pro_rata():
    # At 10:15 the window is 09:15-10:15: three quarters of the calm 09:00 hour (1.5 negatives)
    # plus the 12 negatives already published since 10:00. The baseline covers the same minutes
    # of previous days: 0.75 * 2 + 0.25 * 2 = 2.
    now = START + 14 * D + 10 * H + timedelta(minutes=15)
    series = build(now, lambda h: (16, 12) if h == START + 14 * D + 10 * H else None)
    finding = detect_spike(series, now, MEDIUM)
    assert finding is not None
    assert finding.window_start == now - H
    assert finding.negative == round(0.75 * 2 + 12)
    assert finding.expected == 2


def test_monday_morning_rhythm_peak_is_not_a_spike_but_the_same_peak_on_wednesday_is():
    # Every Monday 09:00 the brand's newsletter brings 60 mentions, 12 negative. On the fourth
    # Monday the same happens: previous Mondays at 09:00 were as high, so the weekly baseline
    # expects it. The same 60/12 on a Wednesday at 09:00 has only calm Wednesdays and
    # weekdays behind it and fires.
    def mondays(h: datetime) -> tuple[int, int] | None:
        return (60, 12) if h.weekday() == 0 and h.hour == 9 else None

    monday = START + 21 * D + 10 * H
    assert monday.weekday() == 0
    assert detect_spike(build(monday, mondays), monday, MEDIUM) is None

    wednesday = START + 23 * D + 10 * H

    def and_wednesday(h: datetime) -> tuple[int, int] | None:
        return (60, 12) if h == wednesday - H else mondays(h)

    finding = detect_spike(build(wednesday, and_wednesday), wednesday, MEDIUM)
    assert finding is not None and finding.negative == 12


def test_angry_posts_on_a_quiet_night_stay_below_the_minimum():
    # A quiet brand: one mention every few hours, never negative (the series holds only the
    # hours that had mentions; the gaps are zero). At 03:00 a handful of angry posts arrive: far
    # above the baseline (z well over the threshold), but below min_negative, so nobody is
    # paged: five for the medium preset (minimum 6), three for the high one (minimum 4).
    # Eight would be a spike.
    now = START + 14 * D + 4 * H

    def quiet(angry: int) -> list[HourBucket]:
        buckets = [HourBucket(START + k * 5 * H, 1, 0) for k in range(14 * 24 // 5)]
        return buckets + [HourBucket(now - H, angry, angry)]

    assert detect_spike(quiet(5), now, MEDIUM) is None
    assert detect_spike(quiet(3), now, PRESETS["high"]) is None
    finding = detect_spike(quiet(8), now, MEDIUM)
    assert finding is not None
    # The floor of 0.5 negatives/hour stands in for the zero baseline.
    assert finding.expected == MEDIUM.min_expected_per_hour


def test_a_past_spike_does_not_inflate_the_baseline():
    # Two days ago at 10:00 there was a spike of 40 negatives. Today's 10:00 has 14: with a
    # mean-based baseline the old spike would lift the expectation to ~7 and hide it; the median
    # of the seven previous days is still 2.
    now = START + 14 * D + 11 * H

    def shape(h: datetime) -> tuple[int, int] | None:
        if h == now - H - 2 * D:
            return (60, 40)
        if h == now - H:
            return (34, 14)
        return None

    finding = detect_spike(build(now, shape), now, MEDIUM)
    assert finding is not None
    assert finding.expected == 2
    assert finding.negative == 14


def test_no_alert_during_warm_up():
    # The same spike after five days of history is ignored (warm-up is seven days); after eight
    # days it fires.
    def spike_at(now: datetime) -> Shape:
        return lambda h: (40, 20) if h == now - H else None

    early = START + 5 * D + 11 * H
    assert detect_spike(build(early, spike_at(early)), early, MEDIUM) is None
    later = START + 8 * D + 11 * H
    assert detect_spike(build(later, spike_at(later)), later, MEDIUM) is not None


def test_volume_peak_with_the_usual_negative_share_is_not_a_crisis():
    # A product launch: 200 mentions in an hour, 20 negative, the brand's usual 10 %. The
    # negatives are ten times the baseline but the share did not move. 60 negatives of 200
    # (30 %) in the same hour would fire.
    now = START + 14 * D + 11 * H
    launch = build(now, lambda h: (200, 20) if h == now - H else None)
    assert detect_spike(launch, now, MEDIUM) is None
    angry_launch = build(now, lambda h: (200, 60) if h == now - H else None)
    assert detect_spike(angry_launch, now, MEDIUM) is not None


def test_short_burst_after_a_lull_is_not_confirmed_by_the_long_window():
    # The brand usually has 60 mentions/h, 6 negative. A collector was down for two hours
    # (no mentions at all), then the last hour has 17 negatives: above the short-window
    # threshold (z ~ 4.5) but over three hours there are fewer negatives than usual, so the
    # long window does not confirm it. With the two hours before it normal, it fires.
    now = START + 14 * D + 11 * H
    normal = (60, 6)

    def with_lull(h: datetime) -> tuple[int, int] | None:
        if h == now - H:
            return (71, 17)
        if now - 3 * H <= h < now - H:
            return (0, 0)
        return None

    assert detect_spike(build(now, with_lull, normal), now, MEDIUM) is None
    burst = build(now, lambda h: (71, 17) if h == now - H else None, normal)
    finding = detect_spike(burst, now, MEDIUM)
    assert finding is not None and finding.severity == "warning"


def test_sensitivity_presets_order_the_same_spike():
    # 9 negatives against a baseline of 2: enough for medium and high, not for low (min 10).
    now = START + 14 * D + 11 * H
    series = build(now, lambda h: (27, 9) if h == now - H else None)
    assert detect_spike(series, now, PRESETS["low"]) is None
    assert detect_spike(series, now, PRESETS["medium"]) is not None
    assert detect_spike(series, now, PRESETS["high"]) is not None
    strict = SpikeParams(min_negative=20)
    assert detect_spike(series, now, strict) is None


def test_rollup_counts_only_mentions_before_until():
    t = START + 10 * H
    mentions = [
        (t + timedelta(minutes=5), True),
        (t + timedelta(minutes=50), False),
        (t + H + timedelta(minutes=1), True),
        (t + H + timedelta(minutes=30), True),  # after `until`: not yet seen
    ]
    assert rollup(mentions, until=t + H + timedelta(minutes=15)) == [
        HourBucket(t, 2, 1),
        HourBucket(t + H, 1, 1),
    ]


def test_big_brand_needs_the_negatives_to_double_not_just_a_significant_rise():
    # A big brand: 200 mentions/h, 20 negative. 38 negatives (of 218) is statistically
    # significant (z ~ 4) and the share rose from 10 % to 17 %, but it is under twice the usual
    # count (min_ratio 2): a bad hour, not a crisis. 45 negatives fire.
    now = START + 14 * D + 11 * H
    normal = (200, 20)
    assert (
        detect_spike(build(now, lambda h: (218, 38) if h == now - H else None, normal), now, MEDIUM)
        is None
    )
    finding = detect_spike(
        build(now, lambda h: (225, 45) if h == now - H else None, normal), now, MEDIUM
    )
    assert finding is not None and finding.expected == 20


def test_fast_window_pages_a_sharp_rise_before_an_hour_of_negatives_piles_up():
    # A brand that is never negative (20 mentions/h, 0 negative). At 10:10 five negatives have
    # arrived since 10:00: too few for the one-hour window (minimum 6), but in the 30-minute
    # window 09:40-10:10 they stand against a floor of 0.25 expected (z ~ 9.5, 20 times the
    # baseline, a third of the mentions), so the fast window fires. The three-hour window
    # confirms it (5 against a floor of 1.5, z ~ 2.9) and z passes z_critical: critical.
    now = START + 14 * D + 10 * H + timedelta(minutes=10)
    series = build(now, lambda h: (8, 5) if h == now - timedelta(minutes=10) else None, (20, 0))
    finding = detect_spike(series, now, MEDIUM)
    assert finding is not None
    assert finding.evidence["rule_window"] == "fast"
    assert (finding.window_start, finding.window_end) == (now - MEDIUM.fast_window, now)
    assert finding.negative == 5 and finding.expected == 0.25
    assert finding.severity == "critical"
    # The neighbour, three negatives by 10:10, is below the fast minimum (4): nothing yet.
    calm = build(now, lambda h: (6, 3) if h == now - timedelta(minutes=10) else None, (20, 0))
    assert detect_spike(calm, now, MEDIUM) is None


def test_fast_window_asks_for_stronger_evidence_at_a_busy_brand():
    # The same five negatives by 10:10 at a brand that usually has 40 mentions/h, 8 negative:
    # the 30-minute window holds a third of 09:00 pro rata (2.7) plus the five, 7.7 against an
    # expected 4 (z ~ 1.8, under z_fast 5): ordinary noise for this brand. Twenty negatives
    # by 10:10 fire (the one-hour window agrees: 26.7 against 8).
    now = START + 14 * D + 10 * H + timedelta(minutes=10)
    current = now - timedelta(minutes=10)
    busy = (40, 8)
    assert (
        detect_spike(build(now, lambda h: (10, 5) if h == current else None, busy), now, MEDIUM)
        is None
    )
    finding = detect_spike(
        build(now, lambda h: (26, 20) if h == current else None, busy), now, MEDIUM
    )
    assert finding is not None and finding.severity == "warning"


def test_exact_recent_counts_catch_an_onset_that_whole_hour_buckets_dilute():
    # A brand that is never negative (20 mentions/h). Five negatives arrive at 10:50-10:59 and
    # the poll runs at 11:00. From the buckets alone the 30-minute window 10:30-11:00 holds half
    # of 10:00's count (2.5 negatives, under the fast minimum of 4): nothing. The pipeline counts
    # the window exactly (``recent``: 8 mentions, 5 negative) and the spike fires one poll
    # earlier. The neighbour with three exact negatives stays under the minimum.
    now = START + 14 * D + 11 * H
    series = build(now, lambda h: (25, 5) if h == now - H else None, (20, 0))
    assert detect_spike(series, now, MEDIUM) is None
    finding = detect_spike(series, now, MEDIUM, recent=(8, 5))
    assert finding is not None and finding.evidence["rule_window"] == "fast"
    assert finding.negative == 5 and finding.expected == 0.25
    assert detect_spike(series, now, MEDIUM, recent=(8, 3)) is None
