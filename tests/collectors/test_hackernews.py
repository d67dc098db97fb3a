"""Hacker News collector: 2014 recordings and a documented-shape 2026 page mapped; paging, cursor, HTTP."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from collectors.base import FetchState, NeedsHumanError, UnparseableError
from collectors.hackernews import (
    OVERLAP_SECONDS,
    HackerNewsCollector,
    HackerNewsOptions,
    item_to_mention,
)
from tests.replay import ReplayServer, Reply, recorded

STORY = "hackernews/fraction-search_by_date-story-apple.json"
COMMENT = "hackernews/fraction-search_by_date-comment-apple.json"
ASK_PAGE2 = "hackernews/fraction-search_by_date-ask_hn-page2.json"
CAPPED = "hackernews/fraction-search-comment-nbPages-capped.json"
HTML_404 = "youtube/newpipe-youtube-channel-not-found-404.html"
# Built by hand from the API's documented response (no real response newer than 2014 exists).
DOCUMENTED = Path(__file__).parent / "fixtures" / "hackernews-documented-shape-2026.json"
PATH = "/search_by_date"


def collector(server: ReplayServer, client: httpx.Client, **options: Any) -> HackerNewsCollector:
    opts = HackerNewsOptions.model_validate({"query": "vellora", "base_url": server.url, **options})
    return HackerNewsCollector("hn", opts, client)


def documented() -> Reply:
    return Reply(DOCUMENTED.read_bytes(), headers={"Content-Type": "application/json"})


def test_2014_story_and_comment_map(shared_feeds: Path) -> None:
    story = item_to_mention("hn", json.loads((shared_feeds / STORY).read_bytes())["hits"][0])
    assert story is not None
    assert story.source_id == "7919424" and story.thread_id == "7919424"
    assert story.parent_id is None
    assert story.url == "https://news.ycombinator.com/item?id=7919424"
    assert story.text == "Judge says concerned about Apple, Google hiring settlement"
    assert story.engagement.score == 1 and story.engagement.replies == 0
    assert story.published.timestamp() == 1403235346
    assert story.raw is not None and "_highlightResult" not in story.raw

    comment = item_to_mention("hn", json.loads((shared_feeds / COMMENT).read_bytes())["hits"][0])
    assert comment is not None
    assert (comment.thread_id, comment.parent_id) == ("7918547", "7919290")
    assert "aren't contributing to the scholarship" in comment.text  # entities and tags decoded
    assert "<i>" not in comment.text and "&#x27;" not in comment.text


@pytest.mark.parametrize("name", [ASK_PAGE2, CAPPED])
def test_other_2014_hits_map(shared_feeds: Path, name: str) -> None:
    hit = json.loads((shared_feeds / name).read_bytes())["hits"][0]
    mention = item_to_mention("hn", hit)
    assert mention is not None and mention.text and mention.author == hit["author"]


def test_documented_2026_shape_maps_thread_and_parents() -> None:
    hits = json.loads(DOCUMENTED.read_bytes())["hits"]
    reply, comment, story = (item_to_mention("hn", h) for h in hits)
    assert reply and comment and story
    assert story.thread_id == comment.thread_id == reply.thread_id == "46100001"
    assert (comment.parent_id, reply.parent_id) == ("46100001", "46100003")
    assert story.engagement.score == 14 and story.engagement.replies == 2
    assert reply.text.endswith('a fix is "coming".')


def test_hit_without_time_or_text_is_none(shared_feeds: Path) -> None:
    hit = json.loads((shared_feeds / COMMENT).read_bytes())["hits"][0]
    assert item_to_mention("hn", {**hit, "created_at_i": None, "created_at": None}) is None
    assert item_to_mention("hn", {**hit, "comment_text": ""}) is None
    assert item_to_mention("hn", {**hit, "created_at_i": None})  # created_at is enough


def test_pages_until_max_pages_and_cursor_is_newest_created(
    replay: ReplayServer, client: httpx.Client, shared_feeds: Path
) -> None:
    replay.route(PATH, recorded(STORY), recorded(COMMENT), recorded(ASK_PAGE2))
    state = FetchState()
    mentions = list(collector(replay, client, max_pages=2).fetch(state))
    assert [m.source_id for m in mentions] == ["7919424", "7919418"]
    pages = [seen.query for seen in replay.hits(PATH)]
    assert [q["page"] for q in pages] == ["0", "1"]  # nbPages is 1000: max_pages stops it
    assert pages[0]["tags"] == "(story,comment)" and "numericFilters" not in pages[0]
    assert state.cursor == "1403235346"


def test_cursor_asks_only_for_newer_items_and_stops_at_last_page(
    replay: ReplayServer, client: httpx.Client
) -> None:
    replay.route(PATH, documented())
    state = FetchState(cursor="1772440000")
    assert len(list(collector(replay, client).fetch(state))) == 3
    (seen,) = replay.hits(PATH)  # nbPages is 1
    assert seen.query["numericFilters"] == f"created_at_i>{1772440000 - OVERLAP_SECONDS}"
    assert state.cursor == "1772446625"


def test_etag_then_304(replay: ReplayServer, client: httpx.Client) -> None:
    reply = documented()
    reply.headers["ETag"] = '"hn1"'
    replay.route(PATH, reply, Reply(status=304))
    state = FetchState()
    assert len(list(collector(replay, client).fetch(state))) == 3
    assert list(collector(replay, client).fetch(state)) == []
    assert replay.hits(PATH)[1].headers["If-None-Match"] == '"hn1"'
    assert state.cursor == "1772446625"


def test_429_with_retry_after_then_success(replay: ReplayServer, client: httpx.Client) -> None:
    replay.route(PATH, Reply(status=429, headers={"Retry-After": "0"}), documented())
    assert len(list(collector(replay, client).fetch(FetchState()))) == 3


def test_server_error_then_success(replay: ReplayServer, client: httpx.Client) -> None:
    replay.route(PATH, Reply(status=502), documented())
    assert len(list(collector(replay, client).fetch(FetchState()))) == 3


def test_html_404_page_where_json_was_expected(
    replay: ReplayServer, client: httpx.Client, shared_feeds: Path
) -> None:
    replay.route(PATH, recorded(HTML_404))
    with pytest.raises(NeedsHumanError, match="HTTP 404"):
        list(collector(replay, client).fetch(FetchState()))
    replay.route(PATH, recorded(HTML_404, status=200))
    with pytest.raises(UnparseableError, match="expected JSON"):
        list(collector(replay, client).fetch(FetchState()))


def test_truncated_body_and_wrong_shape_are_unparseable(
    replay: ReplayServer, client: httpx.Client
) -> None:
    replay.route(PATH, Reply(DOCUMENTED.read_bytes()[:900]))
    with pytest.raises(UnparseableError, match="expected JSON"):
        list(collector(replay, client).fetch(FetchState()))
    replay.route(PATH, Reply(b'{"message": "Invalid query", "status": 200}'))
    with pytest.raises(UnparseableError, match="'hits' list"):
        list(collector(replay, client).fetch(FetchState()))


def test_bad_hit_is_skipped_and_counted(replay: ReplayServer, client: httpx.Client) -> None:
    body = json.loads(DOCUMENTED.read_bytes())
    del body["hits"][1]["created_at_i"], body["hits"][1]["created_at"]  # edited copy: undated
    replay.route(PATH, Reply(json.dumps(body).encode()))
    state = FetchState()
    assert [m.source_id for m in collector(replay, client).fetch(state)] == ["46100007", "46100001"]
    assert state.skipped == 1 and "46100003" in state.skip_reasons[0]
