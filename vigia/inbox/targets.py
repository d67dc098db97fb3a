"""Response targets: deadlines and elapsed times counted in business hours or around the clock."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from vigia.config import BusinessHours, InboxConfig

_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


# An item is "due soon" in the last quarter of its target.
DUE_SOON_SHARE = 0.25


def target(config: InboxConfig, urgent: bool) -> timedelta:
    return config.targets["urgent" if urgent else "normal"]


def soon(now: datetime, config: InboxConfig, zone: ZoneInfo) -> datetime:
    """Items due before this moment get the queue's "due soon" points: the last quarter of a
    normal target (an urgent item's whole target is shorter, so it gets them throughout)."""
    return due_at(now, DUE_SOON_SHARE * target(config, urgent=False), config, zone)


def _open_spans(
    start: datetime, hours: BusinessHours, zone: ZoneInfo
) -> Iterator[tuple[datetime, datetime]]:
    """The business-hour spans (aware, in `zone`) from the day of `start` on, endlessly."""
    day = start.astimezone(zone).date()
    while True:
        if _DAYS[day.weekday()] in hours.days:
            opens = datetime.combine(day, hours.start, tzinfo=zone)
            closes = datetime.combine(day, hours.end, tzinfo=zone)
            yield opens, closes
        day += timedelta(days=1)


def due_at(opened: datetime, allowed: timedelta, config: InboxConfig, zone: ZoneInfo) -> datetime:
    """When `allowed` working time after `opened` runs out (aware UTC in, aware out)."""
    if config.hours == "24/7":
        return opened + allowed
    left = allowed
    for opens, closes in _open_spans(opened, config.hours, zone):
        begin = max(opens, opened)
        if begin >= closes:
            continue
        if begin + left <= closes:
            return begin + left
        left -= closes - begin
    raise AssertionError("unreachable: the spans never end")


def working_time(start: datetime, end: datetime, config: InboxConfig, zone: ZoneInfo) -> timedelta:
    """The working time between `start` and `end` (zero if `end` is earlier)."""
    if end <= start:
        return timedelta(0)
    if config.hours == "24/7":
        return end - start
    total = timedelta(0)
    for opens, closes in _open_spans(start, config.hours, zone):
        if opens >= end:
            return total
        begin, finish = max(opens, start), min(closes, end)
        if finish > begin:
            total += finish - begin
    raise AssertionError("unreachable: the spans never end")
