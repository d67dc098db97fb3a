"""Response times on hand-made timelines: business hours, weekends, day boundaries and 24/7.

The team works Monday to Friday, 09:00-18:00 Madrid time; targets are 30 min (urgent) and 4 h
(normal). Week of 2026-11-16: Monday 16 … Friday 20, Saturday 21, Sunday 22, Monday 23. Madrid
is UTC+1 in November, so 09:00 there is 08:00 UTC; every time below is written in Madrid time.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from vigia.config import BusinessHours, InboxConfig
from vigia.inbox.stats import median, percentile, timing
from vigia.inbox.targets import due_at, target, working_time

MADRID = ZoneInfo("Europe/Madrid")
OFFICE = InboxConfig(hours=BusinessHours())
AROUND_THE_CLOCK = InboxConfig(hours="24/7")


def at(day: int, hour: int, minute: int = 0) -> datetime:
    """November `day`, 2026, at hour:minute in Madrid."""
    return datetime(2026, 11, day, hour, minute, tzinfo=MADRID)


def minutes(n: float) -> timedelta:
    return timedelta(minutes=n)


@dataclass(frozen=True)
class Item:
    """An item's timeline as the inbox stores it."""

    opened_at: datetime
    urgent: bool = False
    state: str = "new"
    first_response_at: datetime | None = None
    closed_at: datetime | None = None
    config: InboxConfig = OFFICE

    @property
    def due_at(self) -> datetime:
        return due_at(self.opened_at, target(self.config, self.urgent), self.config, MADRID)


def test_friday_evening_runs_on_into_monday() -> None:
    # Opened Friday 17:00: one working hour that day, the other three on Monday from 09:00.
    opened = at(20, 17)
    assert due_at(opened, timedelta(hours=4), OFFICE, MADRID) == at(23, 12)
    # Answered Monday 10:30: 1 h on Friday + 1 h 30 on Monday; the weekend does not count.
    assert working_time(opened, at(23, 10, 30), OFFICE, MADRID) == minutes(150)


def test_a_weekend_counts_for_nothing() -> None:
    # Posted Saturday 11:00 and answered Sunday 20:00: no working time at all.
    assert working_time(at(21, 11), at(22, 20), OFFICE, MADRID) == timedelta(0)
    # Answered Monday 09:20: only the 20 minutes after opening time count.
    assert working_time(at(21, 11), at(23, 9, 20), OFFICE, MADRID) == minutes(20)
    # An urgent item posted on Saturday is due 30 minutes after Monday's opening.
    assert due_at(at(21, 11), minutes(30), OFFICE, MADRID) == at(23, 9, 30)


def test_a_target_crossing_the_day_boundary() -> None:
    # Tuesday 16:30 with 4 h: 1 h 30 on Tuesday, 2 h 30 on Wednesday from 09:00.
    assert due_at(at(17, 16, 30), timedelta(hours=4), OFFICE, MADRID) == at(18, 11, 30)
    # Posted at night (03:00): the clock starts at 09:00 the same day.
    assert due_at(at(17, 3), timedelta(hours=4), OFFICE, MADRID) == at(17, 13)
    late = Item(at(17, 16, 30), state="answered", first_response_at=at(18, 12))
    assert timing(late, OFFICE, MADRID, at(18, 12)).first_response == minutes(270)
    assert timing(late, OFFICE, MADRID, at(18, 12)).within_target is False


def test_around_the_clock_counts_every_minute() -> None:
    # 24/7: Friday 23:00 to Saturday 01:00 is two hours, and 4 h run out at 03:00.
    assert working_time(at(20, 23), at(21, 1), AROUND_THE_CLOCK, MADRID) == minutes(120)
    assert due_at(at(20, 23), timedelta(hours=4), AROUND_THE_CLOCK, MADRID) == at(21, 3)
    # The same item in business hours would have waited till Monday 13:00.
    assert due_at(at(20, 23), timedelta(hours=4), OFFICE, MADRID) == at(23, 13)


def test_an_end_before_the_start_is_no_time() -> None:
    assert working_time(at(18, 12), at(18, 10), OFFICE, MADRID) == timedelta(0)
    assert working_time(at(18, 12), at(18, 10), AROUND_THE_CLOCK, MADRID) == timedelta(0)


def test_first_response_and_closing_in_working_time() -> None:
    # Friday 17:00, escalated Friday 17:40 (its first response), answered Monday 09:30.
    item = Item(at(20, 17), state="answered", first_response_at=at(20, 17, 40),
                closed_at=at(23, 9, 30))  # fmt: skip
    found = timing(item, OFFICE, MADRID, at(23, 10))
    assert found.first_response == minutes(40)
    assert found.to_close == minutes(60 + 30)  # Friday's last hour, Monday's first half hour
    assert found.within_target is True
    assert not found.overdue and not found.close_to_target  # closed items are neither


def test_close_to_target_is_the_last_quarter_in_working_time() -> None:
    # Urgent, opened Tuesday 10:00, due 10:30; the last quarter is the last 7.5 minutes.
    item = Item(at(17, 10), urgent=True)
    assert item.due_at == at(17, 10, 30)
    assert not timing(item, OFFICE, MADRID, at(17, 10, 20)).close_to_target  # 10 min left
    assert timing(item, OFFICE, MADRID, at(17, 10, 25)).close_to_target  # 5 min left
    # Still undecided while not due; past 10:30 it is overdue and has missed its target.
    assert timing(item, OFFICE, MADRID, at(17, 10, 25)).within_target is None
    past = timing(item, OFFICE, MADRID, at(17, 10, 31))
    assert (past.overdue, past.close_to_target, past.within_target) == (True, False, False)


def test_close_to_target_over_a_weekend() -> None:
    # Urgent, opened Friday 17:35: 25 minutes that day, due Monday 09:05.
    item = Item(at(20, 17, 35), urgent=True)
    assert item.due_at == at(23, 9, 5)
    # Friday 17:55: 5 min left that day + 5 on Monday = 10 working minutes: not yet close.
    assert not timing(item, OFFICE, MADRID, at(20, 17, 55)).close_to_target
    # Saturday noon: only Monday's 5 minutes are left, though the deadline is two days away.
    assert timing(item, OFFICE, MADRID, at(21, 12)).close_to_target
    assert not timing(item, OFFICE, MADRID, at(21, 12)).overdue


def test_overdue_is_only_for_open_items() -> None:
    opened = at(17, 10)
    answered_late = Item(opened, state="answered", first_response_at=at(17, 15),
                         closed_at=at(17, 15))  # fmt: skip
    dismissed = Item(opened, state="dismissed", closed_at=at(17, 15))
    escalated = Item(opened, state="escalated", first_response_at=at(17, 11))
    now = at(18, 12)
    late = timing(answered_late, OFFICE, MADRID, now)
    assert (late.overdue, late.within_target) == (False, False)  # 5 h > 4 h
    gone = timing(dismissed, OFFICE, MADRID, now)
    assert (gone.overdue, gone.within_target) == (False, None)  # nothing to judge
    # Escalated within an hour (within target) but still open past its due time: overdue.
    flagged = timing(escalated, OFFICE, MADRID, now)
    assert (flagged.overdue, flagged.within_target) == (True, True)


@pytest.mark.parametrize(
    ("values", "p90"),
    [
        ([10], 10),
        ([10, 20], 20),  # ceil(1.8) = 2nd
        (list(range(1, 11)), 9),  # ten values: the ninth
        (list(range(1, 12)), 10),  # eleven: ceil(9.9) = 10th
        (list(range(1, 21)), 18),
    ],
)
def test_p90_is_the_nearest_rank(values: list[int], p90: int) -> None:
    assert percentile([minutes(v) for v in values], 0.9) == minutes(p90)


@pytest.mark.parametrize(
    ("values", "middle"),
    [([7], 7), ([10, 20, 90], 20), ([10, 20, 30, 45], 25), ([1, 1, 2, 300], 1.5)],
)
def test_median_takes_the_middle_or_the_mean_of_the_two_middle_values(
    values: list[int], middle: float
) -> None:
    assert median([minutes(v) for v in values]) == minutes(middle)


def test_no_values_have_no_median_or_percentile() -> None:
    assert median([]) is None and percentile([], 0.9) is None
