"""Time helpers every layer may import: aware UTC, the naive-UTC form the database stores, hours."""

from __future__ import annotations

from datetime import UTC, datetime


def utc_now() -> datetime:
    """The current time as an aware UTC datetime."""
    return datetime.now(UTC)


def utc(value: datetime) -> datetime:
    """Return `value` as an aware UTC datetime (naive values are taken to be UTC)."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def naive_utc(value: datetime) -> datetime:
    """The naive-UTC form stored in the database."""
    return utc(value).replace(tzinfo=None)


def hour_of(value: datetime) -> datetime:
    """The start of `value`'s hour."""
    return value.replace(minute=0, second=0, microsecond=0)
