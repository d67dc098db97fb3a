"""The real scheduler polling the web collectors against the replay server, on a real SQLite file."""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Any

import pytest
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
OURS = ("vigia", "collectors")  # loggers whose warnings mean a failed poll or a skipped item
# A poll's follow-up pages carry one of these query parameters; its first request neither.
PAGING = ("cursor", "max_id")
TAG = "fgiztsshwiaqqiztpmmjbtvmescsculuvmgjgopwoeidbcrixp"
TAG_PATH = f"/api/v1/timelines/tag/{TAG}"
TOOT = "117020581413876942"  # the newest status of the tag timeline's first page
SKEET = "at://did:plc:kkergqgbhb56ptpwj2wenkje/app.bsky.feed.post/3lpk2u6qo222m"  # newest found
SEARCH = "/xrpc/app.bsky.feed.searchPosts"
REVIEWS = "/gb/rss/customerreviews/page={}/id=1510826067/sortby=mostrecent/json"


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
        **_feed_and_social_routes(replay, shared),
        "reddit-thread": "/comments/54hhwl.json",
        "reddit-new": "/r/vellora/new.json",
        "hn": "/search_by_date",
        "so": "/search/advanced",
        "yt": "/feeds/videos.xml",
        "news": "/rss/search",
    }


def _feed_and_social_routes(replay: ReplayServer, shared: Path) -> dict[str, str]:
    """RSS, Mastodon, Bluesky and App Store: paged first polls, then what later polls are told."""
    replay.route(
        "/frontpage.rss",
        recorded("rss_atom/feedjira-hn-frontpage-rss-comments.xml", ETag='"hn1"'),
        Reply(status=304),
    )

    # Mastodon: the first poll pages back by the Link header's max_id to the empty page; later
    # polls ask for what is newer than the cursor (nothing). A hashtag timeline never shows a
    # stored status again, so the like count moves on the watched status, re-read every poll.
    tag = "mastodon/mastodonpy-localdev-tag-timeline-"
    replay.route(f"{TAG_PATH}?limit=40", recorded(tag + "page1.json"))
    replay.route(
        f"{TAG_PATH}?limit=40&max_id=117020581339834938", recorded(tag + "page2-max_id.json")
    )
    replay.route(f"{TAG_PATH}?limit=40&max_id=117020581259486622", recorded(tag + "end-empty.json"))
    replay.route(f"{TAG_PATH}?limit=40&min_id={TOOT}", recorded(tag + "end-empty.json"))
    toot = json.loads((shared / f"{tag}page1.json").read_bytes())[0]
    assert toot["id"] == TOOT and toot["favourites_count"] == 0
    replay.route(f"/api/v1/statuses/{TOOT}", _json(toot), _json({**toot, "favourites_count": 3}))
    # No recorded context for this status: the documented shape of a post nobody answered.
    replay.route(f"/api/v1/statuses/{TOOT}/context", _json({"ancestors": [], "descendants": []}))

    # Bluesky: two pages (the second empty and cursor-less, as at the end of a search), then
    # `since` the newest post, which the API includes, with its counts moved.
    found = json.loads(
        (shared / "bluesky/bskyr-searchPosts-q-redistricting-2025.json").read_bytes()
    )
    newest = found["posts"][0]
    assert newest["uri"] == SKEET and newest["likeCount"] == 0
    replay.route(
        SEARCH,
        recorded("bluesky/bskyr-searchPosts-q-redistricting-2025.json"),
        _json({"posts": []}),
        _json({"posts": [{**newest, "likeCount": 5, "repostCount": 1}]}),
    )

    # App Store: page 1 then page 2 past the last review; later polls find nothing new on page 1
    # (a review's helpful votes moved) and stop there.
    later = json.loads((shared / "appstore/jcoynel-gb-small-page1.json").read_bytes())
    later["feed"]["entry"][0]["im:voteSum"]["label"] = "2"
    replay.route(REVIEWS.format(1), recorded("appstore/jcoynel-gb-small-page1.json"), _json(later))
    replay.route(REVIEWS.format(2), recorded("appstore/jcoynel-gb-page2-no-entry-key.json"))
    return {"rss": "/frontpage.rss", "masto": TAG_PATH, "bsky": SEARCH, "app": REVIEWS.format(1)}


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
    sources = [{**s, "base_url": url} for s in sources]
    sources += [
        {"name": "rss", "type": "rss", "url": f"{url}/frontpage.rss"},
        {
            "name": "masto",
            "type": "mastodon",
            "instance": url,
            "hashtag": f"#{TAG}",
            "threads": [TOOT],
        },
        {"name": "bsky", "type": "bluesky", "query": "vellora", "service": url},
        {
            "name": "app",
            "type": "appstore",
            "app_id": 1510826067,
            "country": "GB",
            "base_url": url,
            "match": "always",
        },
    ]
    return [{**s, "brand": "Vellora", "interval": "5s"} for s in sources]


def _polls(replay: ReplayServer, path: str) -> int:
    """How many polls have reached `path`: requests that are not a follow-up page."""
    return sum(not any(k in hit.query for k in PAGING) for hit in replay.hits(path))


def _value(rt: Runtime, source: str, source_id: str, column: str) -> Any:
    with rt.engine.connect() as conn:
        return conn.execute(
            select(mentions.c[column]).where(
                mentions.c.source == source, mentions.c.source_id == source_id
            )
        ).scalar_one()


def test_scheduler_polls_every_web_source_incrementally(
    replay: ReplayServer, runtime_factory, shared_feeds: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
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
        while any(_polls(replay, p) < POLLS for p in paths.values()):
            assert time.monotonic() < deadline, {s: _polls(replay, p) for s, p in paths.items()}
            time.sleep(0.1)
    finally:
        rt.stopping.set()
        scheduler.shutdown(wait=True)

    with rt.engine.connect() as conn:
        counts = dict(
            conn.execute(select(mentions.c.source, func.count()).group_by(mentions.c.source)).all()
        )
        states = {row.source: row for row in conn.execute(select(source_state))}
        ratings = conn.execute(select(mentions.c.rating).where(mentions.c.source == "app")).all()
    # No poll of any source failed or skipped an item (last_error only tells of the last poll).
    assert [r.getMessage() for r in caplog.records if r.name.startswith(OURS)] == []
    # Every item stored once, however many polls saw it.
    assert counts == {
        **{"reddit-thread": 11, "reddit-new": 7, "hn": 3, "so": 2, "yt": 15, "news": 92},
        **{"rss": 30, "masto": 20, "bsky": 25, "app": 4},
    }
    for name in paths:
        assert states[name].last_error is None and states[name].consecutive_failures == 0
    # Cursors moved to the newest item each source saw.
    assert states["hn"].cursor == "1772446625"
    assert json.loads(states["so"].cursor) == {"fromdate": 1772448311}
    assert states["reddit-new"].cursor == "1610930670:t3_kzj68x"
    assert states["yt"].cursor == "2026-01-22T15:01:42+00:00"
    assert states["news"].cursor == "2026-07-14T03:33:16+00:00" and states["news"].etag == '"gn1"'
    assert states["rss"].etag == '"hn1"'
    assert states["masto"].cursor == TOOT
    assert json.loads(states["bsky"].cursor) == {"since": "2025-05-19T17:10:09.561Z"}
    assert states["app"].cursor == "6504352127"
    # The requests show the paging: conditional, by Link ids, by cursor then `since`, page 2 once.
    rss = replay.hits("/frontpage.rss")
    assert [h.headers.get("If-None-Match") for h in rss[:2]] == [None, '"hn1"']
    masto = [(h.query.get("max_id"), h.query.get("min_id")) for h in replay.hits(TAG_PATH)]
    assert masto[:3] == [(None, None), ("117020581339834938", None), ("117020581259486622", None)]
    assert set(masto[3:]) == {(None, TOOT)}
    bsky = [(h.query.get("cursor"), h.query.get("since")) for h in replay.hits(SEARCH)]
    assert bsky[:2] == [(None, None), ("25", None)]
    assert set(bsky[2:]) == {(None, "2025-05-19T17:10:09.561Z")}
    assert len(replay.hits(REVIEWS.format(2))) == 1
    # Engagement moved on re-poll and the stored rows followed.
    assert _value(rt, "reddit-thread", "t3_54hhwl", "score") == 250
    assert _value(rt, "reddit-thread", "t3_54hhwl", "reply_count") == 42
    assert _value(rt, "hn", "46100001", "score") == 140
    assert _value(rt, "so", "79900002", "score") == 19
    assert _value(rt, "yt", "zg40FHOAqC0", "view_count") == 1200000
    assert _value(rt, "masto", TOOT, "like_count") == 3
    assert _value(rt, "bsky", SKEET, "like_count") == 5
    assert _value(rt, "bsky", SKEET, "repost_count") == 1
    assert _value(rt, "app", "6504352127", "score") == 2
    assert [rating for (rating,) in ratings] == [5, 5, 5, 5]
    assert _value(rt, "reddit-thread", "t1_d81vwef", "thread_id") == "t3_54hhwl"
    # The author's followers are stored where the platform gives them (a fresh test account's
    # 0 on Mastodon), and left empty where it does not (Bluesky's search gives no count).
    assert _value(rt, "masto", TOOT, "author_followers") == 0
    assert _value(rt, "bsky", SKEET, "author_followers") is None
