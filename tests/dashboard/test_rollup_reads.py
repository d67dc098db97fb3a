"""Trend charts read the rollups, never a GROUP BY over the mentions table (the ~1 s query)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, event

from tests.dashboard.conftest import Render
from tests.dashboard.seed import BRAND
from vigia.storage import reads

_FROM_MENTIONS = re.compile(r"\bFROM\s+mentions\b", re.IGNORECASE)


@contextmanager
def statements() -> Iterator[list[str]]:
    """Every SQL statement any engine runs inside the block."""
    seen: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        seen.append(" ".join(statement.split()))

    event.listen(Engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(Engine, "before_cursor_execute", record)


def test_overview_page_reads_rollups_only(app: Render) -> None:
    with statements() as seen:
        at = app("views/overview.py")
        at.segmented_control(key="overview_granularity").set_value("hour").run()
    assert not at.exception
    assert any("FROM hourly_rollup" in s for s in seen)
    assert any("FROM topic_rollup" in s for s in seen)
    on_mentions = [s for s in seen if _FROM_MENTIONS.search(s)]
    # The only look at `mentions` is the refresh watcher's max(id), answered by the primary key.
    assert on_mentions and all(s.startswith("SELECT max(mentions.id)") for s in on_mentions)
    assert not any("GROUP BY" in s for s in on_mentions)


def test_rollup_reads_agree_with_the_mentions(seeded: tuple[Path, Engine]) -> None:
    _, engine = seeded
    end = datetime.now(UTC) + timedelta(hours=1)
    start = end - timedelta(days=7)
    with engine.connect() as conn:
        with statements() as seen:
            totals = reads.rollup_totals(conn, start, end, [BRAND])
            series = reads.rollup_series(conn, start, end, [BRAND])
            topics = reads.topic_series(conn, start, end, [BRAND])
        listed = reads.latest_mentions(conn, start, end, [BRAND], negative_only=False, limit=1000)
    assert len(seen) == 3 and not any(_FROM_MENTIONS.search(s) for s in seen)
    assert totals["mentions"] == len(listed) == series["mentions"].sum() == 40
    assert totals["negative"] == (listed["sentiment"] == "negative").sum() == 10
    assert round(totals["compound_sum"], 6) == round(listed["compound"].sum(), 6)
    assert topics.groupby("topic")["negative"].sum().to_dict() == {
        "customer_service": 0,
        "delivery": 7,
        "refunds_returns": 3,
    }
