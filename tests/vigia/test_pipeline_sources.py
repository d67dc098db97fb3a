"""The real scheduler polling the web collectors against the replay server, on a real SQLite file."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy import func, select

from tests.replay import ReplayServer, Reply, recorded
from vigia.pipeline import Runtime
from vigia.scheduler import build_scheduler
from vigia.storage.schema import mentions, source_state

LOCAL = Path(__file__).resolve().parents[1] / "collectors" / "fixtures"
HN = LOCAL / "hackernews-documented-shape-2026.json"
SE = LOCAL / "stackexchange-documented-shape-search-advanced.json"
JSON = {"Content-Type": "application/json"}
POLLS = 3


def _json(body: Any) -> Reply:
    return Reply(json.dumps(body).encode(), headers=JSON)


def _routes(replay: ReplayServer, shared: Path) -> dict[str, str]:
    """Each source's first answer, then an edited copy whose engagement counts moved."""
    thread = json.loads(
        (shared / "reddit/asyncpraw-thread-54hhwl-comment-context.json").read_bytes()
    )
    replay.route("/comments/54hhwl.json", _json(thread), _json(_bump_reddit(thread)))
    replay.route("/r/vellora/new.json", recorded("reddit/asyncpraw-r-all-new-before-cursor.json"))
    hn = json.loads(HN.read_bytes())
    hn_later = json.loads(HN.read_bytes())
    hn_later["hits"][2]["points"] = 140
    replay.route("/search_by_date", _json(hn), _json(hn_later))
    se = {**json.loads(SE.read_bytes()), "has_more": False}
    se_later = json.loads(json.dumps(se))
    se_later["items"][1]["score"] = 19
    replay.route("/search/advanced", _json(se), _json(se_later))
    video = "youtube/newpipe-youtube-user-kurzgesagt-2026.xml"
    youtube = (shared / video).read_bytes()
    later = youtube.replace(
        b'<media:statistics views="1086938"/>', b'<media:statistics views="1200000"/>'
    )
    assert later != youtube
    replay.route(
        "/feeds/videos.xml", recorded(video), Reply(later, headers={"Content-Type": "text/xml"})
    )
    news = "google_news/monument-watch-search-bears-ears-monument-2026.xml"
    replay.route("/rss/search", recorded(news, ETag='"gn1"'), Reply(status=304))
    return {
        "reddit-thread": "/comments/54hhwl.json",
        "reddit-new": "/r/vellora/new.json",
        "hn": "/search_by_date",
        "so": "/search/advanced",
        "yt": "/feeds/videos.xml",
        "news": "/rss/search",
    }


def _bump_reddit(thread: list[Any]) -> list[Any]:
    later = json.loads(json.dumps(thread))
    post = later[0]["data"]["children"][0]["data"]
    post["score"], post["num_comments"] = 250, 42
    return later


def _sources(url: str) -> list[dict[str, Any]]:
    sources = [
        {"name": "reddit-thread", "type": "reddit", "threads": ["54hhwl"]},
        {"name": "reddit-new", "type": "reddit", "subreddit": "vellora"},
        {"name": "hn", "type": "hackernews", "query": "vellora"},
        {"name": "so", "type": "stackexchange", "q": "vellora", "first_days": 365},
        {"name": "yt", "type": "youtube", "user": "Kurzgesagt", "match": "always"},
        {"name": "news", "type": "google_news", "query": "vellora"},
    ]
    return [{**s, "brand": "Vellora", "interval": "5s", "base_url": url} for s in sources]


def _value(rt: Runtime, source: str, source_id: str, column: str) -> Any:
    with rt.engine.connect() as conn:
        return conn.execute(
            select(mentions.c[column]).where(
                mentions.c.source == source, mentions.c.source_id == source_id
            )
        ).scalar_one()


def test_scheduler_polls_every_web_source_incrementally(
    replay: ReplayServer, runtime_factory, shared_feeds: Path
) -> None:
    paths = _routes(replay, shared_feeds)
    rt = runtime_factory(sources=_sources(replay.url))
    scheduler = build_scheduler(rt)
    # Config keeps polls at least 5s apart; the test runs the same jobs every second.
    for job in scheduler.get_jobs():
        if job.id.startswith("poll:"):
            job.reschedule(IntervalTrigger(seconds=1))
    scheduler.start()
    try:
        deadline = time.monotonic() + 30
        while any(len(replay.hits(p)) < POLLS for p in paths.values()):
            assert time.monotonic() < deadline, {s: len(replay.hits(p)) for s, p in paths.items()}
            time.sleep(0.1)
    finally:
        rt.stopping.set()
        scheduler.shutdown(wait=True)

    with rt.engine.connect() as conn:
        counts = dict(
            conn.execute(select(mentions.c.source, func.count()).group_by(mentions.c.source)).all()
        )
        states = {row.source: row for row in conn.execute(select(source_state))}
    # Every item stored once, however many polls saw it.
    assert counts == {"reddit-thread": 11, "reddit-new": 7, "hn": 3, "so": 2, "yt": 15, "news": 92}
    for name in paths:
        assert states[name].last_error is None and states[name].consecutive_failures == 0
    # Cursors moved to the newest item each source saw.
    assert states["hn"].cursor == "1772446625"
    assert json.loads(states["so"].cursor) == {"fromdate": 1772448311}
    assert states["reddit-new"].cursor == "1610930670:t3_kzj68x"
    assert states["yt"].cursor == "2026-01-22T15:01:42+00:00"
    assert states["news"].cursor == "2026-07-14T03:33:16+00:00" and states["news"].etag == '"gn1"'
    # Engagement moved on re-poll and the stored rows followed.
    assert _value(rt, "reddit-thread", "t3_54hhwl", "score") == 250
    assert _value(rt, "reddit-thread", "t3_54hhwl", "reply_count") == 42
    assert _value(rt, "hn", "46100001", "score") == 140
    assert _value(rt, "so", "79900002", "score") == 19
    assert _value(rt, "yt", "zg40FHOAqC0", "view_count") == 1200000
    assert _value(rt, "reddit-thread", "t1_d81vwef", "thread_id") == "t3_54hhwl"
