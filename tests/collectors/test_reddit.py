"""Reddit collector: real listings and threads mapped, paging, cursor and HTTP failures."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import ValidationError

from collectors.base import (
    FetchState,
    NeedsHumanError,
    RateLimitedError,
    UnparseableError,
)
from collectors.reddit import RedditCollector, RedditOptions, item_to_mention
from tests.replay import ReplayServer, Reply, recorded

NEW = "reddit/asyncpraw-r-all-new-before-cursor.json"
SEARCH = "reddit/asyncpraw-r-all-search-relevance.json"
COMMENTS = "reddit/asyncpraw-r-askreddit-comments-before-cursor.json"
THREAD = "reddit/asyncpraw-thread-54hhwl-comment-context.json"
THREAD_2025 = "reddit/asyncpraw-thread-bb24k7-comment-context-2025.json"
THREAD_MORE = "reddit/asyncpraw-thread-hlrjn9-context-with-more-stub.json"
THREAD_2016 = "reddit/praw-thread-2gmzqe-comments.json"
HTML_404 = "youtube/newpipe-youtube-channel-not-found-404.html"


def load(shared: Path, name: str) -> Any:
    return json.loads((shared / name).read_bytes())


def collector(server: ReplayServer, client: httpx.Client, **options: Any) -> RedditCollector:
    opts = RedditOptions.model_validate({"subreddit": "all", "base_url": server.url, **options})
    return RedditCollector("reddit", opts, client)


def with_after(shared: Path, name: str, after: str | None) -> bytes:
    """An edited copy of a real listing whose `after` points at an older page."""
    body = load(shared, name)
    body["data"]["after"] = after
    return json.dumps(body).encode()


def test_posts_map_with_score_comments_and_themselves_as_thread(shared_feeds: Path) -> None:
    children = load(shared_feeds, SEARCH)["data"]["children"]
    mentions = [item_to_mention("reddit", c) for c in children]
    assert len(mentions) == 31 and all(mentions)
    first = mentions[0]
    assert first is not None
    assert first.source_id == "t3_6ganxe" and first.thread_id == "t3_6ganxe"
    assert first.parent_id is None
    assert first.url.startswith("https://www.reddit.com/r/learnpython/comments/6ganxe/")
    assert first.text.startswith("How to check if a username is available")
    assert first.author == "cheesycow5"
    assert first.engagement.score == 3 and first.engagement.replies == 24
    assert first.published.timestamp() == 1497036556.0
    assert first.raw is not None and first.raw["subreddit"] == "learnpython"


def test_comments_map_link_id_as_thread_and_parent(shared_feeds: Path) -> None:
    child = load(shared_feeds, COMMENTS)["data"]["children"][0]
    m = item_to_mention("reddit", child)
    assert m is not None
    assert (m.source_id, m.thread_id, m.parent_id) == ("t1_hjlzwgw", "t3_qobxt9", "t3_qobxt9")
    assert m.engagement.replies is None  # a comment's num_comments is its thread's


def test_2014_comment_without_permalink_is_linked_through_its_thread(shared_feeds: Path) -> None:
    child = load(shared_feeds, THREAD_2016)[1]["data"]["children"][0]
    m = item_to_mention("reddit", child)
    assert m is not None
    assert m.url == "https://www.reddit.com/comments/2gmzqe/_/cklfmye/"


def test_removed_comment_and_item_without_date_are_none(shared_feeds: Path) -> None:
    child = load(shared_feeds, COMMENTS)["data"]["children"][0]
    removed = {**child, "data": {**child["data"], "body": "[removed]"}}
    undated = {**child, "data": {k: v for k, v in child["data"].items() if k != "created_utc"}}
    assert item_to_mention("reddit", removed) is None
    assert item_to_mention("reddit", undated) is None
    assert item_to_mention("reddit", {"kind": "more", "data": {}}) is None


def test_options_take_one_mode_and_normalise_thread_ids() -> None:
    opts = RedditOptions(threads=["https://www.reddit.com/r/x/comments/54HHWL/t/", "t3_bb24k7"])
    assert opts.threads == ["54hhwl", "bb24k7"]
    with pytest.raises(ValidationError, match="not both"):
        RedditOptions(query="vellora", threads=["54hhwl"])
    with pytest.raises(ValidationError, match="not both"):
        RedditOptions()


def test_listing_pages_with_after_and_cursor_is_newest_seen(
    replay: ReplayServer, client: httpx.Client, shared_feeds: Path
) -> None:
    replay.route(
        "/r/all/new.json",
        Reply(with_after(shared_feeds, NEW, "t3_kzj68k")),
        Reply(with_after(shared_feeds, SEARCH, "t3_older")),
    )
    state = FetchState()
    mentions = list(collector(replay, client, max_pages=2).fetch(state))
    assert len(mentions) == 7 + 31
    first, second = replay.hits("/r/all/new.json")
    assert first.query == {"limit": "100", "raw_json": "1"}
    assert second.query["after"] == "t3_kzj68k"
    assert len(replay.hits("/r/all/new.json")) == 2  # max_pages bounds the poll
    newest = max(mentions, key=lambda m: m.published)
    assert state.cursor == f"{newest.published.timestamp():.0f}:{newest.source_id}"


def test_next_poll_stops_at_what_the_cursor_has_seen(
    replay: ReplayServer, client: httpx.Client, shared_feeds: Path
) -> None:
    replay.route(
        "/r/all/new.json",
        Reply(with_after(shared_feeds, NEW, "t3_kzj68k")),  # 7 posts, all in the cursor's second
        Reply(with_after(shared_feeds, SEARCH, "t3_older")),  # 2015-2019 posts: already seen
    )
    state = FetchState(cursor="1610930670:t3_kzj68x")
    mentions = list(collector(replay, client, max_pages=3).fetch(state))
    # Same-second posts are taken again (storage ignores duplicates); older ones end the poll.
    assert len(mentions) == 7
    assert len(replay.hits("/r/all/new.json")) == 2
    assert state.cursor == "1610930670:t3_kzj68x"


def test_search_within_a_subreddit(
    replay: ReplayServer, client: httpx.Client, shared_feeds: Path
) -> None:
    replay.route("/r/redditdev/search.json", recorded(SEARCH))
    opts = {"subreddit": "redditdev", "query": "vellora app"}
    assert len(list(collector(replay, client, **opts).fetch(FetchState()))) == 31
    seen = replay.hits("/r/redditdev/search.json")[0].query
    assert seen["q"] == "vellora app" and seen["sort"] == "new" and seen["restrict_sr"] == "1"


@pytest.mark.parametrize(
    ("name", "count"), [(THREAD, 11), (THREAD_2025, 2), (THREAD_MORE, 4), (THREAD_2016, 3)]
)
def test_watched_thread_yields_post_and_comment_tree(
    replay: ReplayServer, client: httpx.Client, shared_feeds: Path, name: str, count: int
) -> None:
    replay.route("/comments/abc123.json", recorded(name))
    mentions = list(
        collector(replay, client, subreddit=None, threads=["abc123"]).fetch(FetchState())
    )
    assert len(mentions) == count
    post = mentions[0]
    assert post.source_id.startswith("t3_") and post.thread_id == post.source_id
    assert all(m.thread_id == post.source_id for m in mentions)
    replies = mentions[1:]
    assert all(m.parent_id for m in replies)
    assert {m.parent_id for m in replies} <= {m.source_id for m in mentions}


def test_listing_etag_then_304(
    replay: ReplayServer, client: httpx.Client, shared_feeds: Path
) -> None:
    replay.route("/r/all/new.json", recorded(NEW, ETag='W/"n1"'), Reply(status=304))
    state = FetchState()
    assert len(list(collector(replay, client).fetch(state))) == 7
    cursor = state.cursor
    assert list(collector(replay, client).fetch(state)) == []
    assert replay.hits("/r/all/new.json")[1].headers["If-None-Match"] == 'W/"n1"'
    assert state.cursor == cursor


def test_429_with_retry_after_then_success(
    replay: ReplayServer, client: httpx.Client, shared_feeds: Path
) -> None:
    replay.route("/r/all/new.json", Reply(status=429, headers={"Retry-After": "0"}), recorded(NEW))
    assert len(list(collector(replay, client).fetch(FetchState()))) == 7


def test_429_without_retry_after_waits_for_the_ratelimit_reset(
    replay: ReplayServer, client: httpx.Client, shared_feeds: Path
) -> None:
    limited = recorded(NEW, status=429, **{"x-ratelimit-remaining": "0"})
    replay.route("/r/all/new.json", Reply(b"{}", 429, limited.headers))
    with pytest.raises(RateLimitedError) as caught:
        list(collector(replay, client).fetch(FetchState()))
    assert caught.value.retry_after == 320  # the recorded x-ratelimit-reset


def test_server_error_then_success(
    replay: ReplayServer, client: httpx.Client, shared_feeds: Path
) -> None:
    replay.route("/r/all/new.json", Reply(status=500), Reply(status=503), recorded(NEW))
    assert len(list(collector(replay, client).fetch(FetchState()))) == 7


def test_html_404_page_where_json_was_expected(
    replay: ReplayServer, client: httpx.Client, shared_feeds: Path
) -> None:
    replay.route("/r/all/new.json", recorded(HTML_404))
    with pytest.raises(NeedsHumanError, match="HTTP 404"):
        list(collector(replay, client).fetch(FetchState()))
    replay.route("/r/all/new.json", recorded(HTML_404, status=200))
    with pytest.raises(UnparseableError, match="expected JSON"):
        list(collector(replay, client).fetch(FetchState()))


def test_truncated_body_is_unparseable(
    replay: ReplayServer, client: httpx.Client, shared_feeds: Path
) -> None:
    replay.route("/r/all/new.json", Reply((shared_feeds / NEW).read_bytes()[:4000]))
    state = FetchState()
    with pytest.raises(UnparseableError, match="expected JSON"):
        list(collector(replay, client).fetch(state))
    assert state.cursor is None


def test_unexpected_shape_is_unparseable(replay: ReplayServer, client: httpx.Client) -> None:
    replay.route("/r/all/new.json", Reply(b'{"kind": "t5", "data": {"name": "t5_2qh1i"}}'))
    with pytest.raises(UnparseableError, match="expected a Reddit Listing"):
        list(collector(replay, client).fetch(FetchState()))
    replay.route("/comments/abc123.json", Reply(b'{"kind": "Listing", "data": {"children": []}}'))
    with pytest.raises(UnparseableError, match="post listing, comment listing"):
        list(collector(replay, client, subreddit=None, threads=["abc123"]).fetch(FetchState()))


def test_bad_item_is_skipped_and_counted(
    replay: ReplayServer, client: httpx.Client, shared_feeds: Path
) -> None:
    body = load(shared_feeds, NEW)
    del body["data"]["children"][2]["data"]["created_utc"]  # an edited copy: one post undated
    replay.route("/r/all/new.json", Reply(json.dumps(body).encode()))
    state = FetchState()
    assert len(list(collector(replay, client).fetch(state))) == 6
    assert state.skipped == 1 and "t3_" in state.skip_reasons[0]


NOT_FOUND = Reply(
    b'{"message": "Not Found", "error": 404}', 404, {"Content-Type": "application/json"}
)


def test_a_watched_thread_is_reread_after_a_search_with_its_comment_tree_and_counts(
    replay: ReplayServer, client: httpx.Client, shared_feeds: Path
) -> None:
    replay.route("/search.json", recorded(SEARCH))  # 2015-2019 posts: all behind the cursor
    replay.route("/comments/54hhwl.json", recorded(THREAD))
    state = FetchState(cursor="1800000000:t3_newer", watch=("t3_54hhwl",))
    mentions = list(collector(replay, client, subreddit=None, query="vellora").fetch(state))

    assert len(mentions) == 11  # the post and its ten comments; none of the search's
    post, first = mentions[:2]
    assert (post.source_id, post.thread_id, post.parent_id) == ("t3_54hhwl", "t3_54hhwl", None)
    assert (post.engagement.score, post.engagement.replies) == (1, 10)
    assert (first.source_id, first.thread_id, first.parent_id) == (
        "t1_d81vwef",
        "t3_54hhwl",
        "t3_54hhwl",
    )
    assert all(m.thread_id == "t3_54hhwl" for m in mentions)
    assert replay.hits("/comments/54hhwl.json")[0].query["sort"] == "new"
    assert state.cursor == "1800000000:t3_newer"  # re-reads never move the listing cursor
    assert RedditCollector.rereads_threads


def test_a_watched_thread_that_is_gone_is_skipped_and_counted_in_subreddit_mode(
    replay: ReplayServer, client: httpx.Client, shared_feeds: Path
) -> None:
    replay.route("/r/all/new.json", recorded(NEW))
    replay.route("/comments/zzzzzz.json", NOT_FOUND)
    replay.route("/comments/bb24k7.json", recorded(THREAD_2025))
    state = FetchState(watch=("t3_zzzzzz", "not a fullname!", "t3_bb24k7"))
    mentions = list(collector(replay, client).fetch(state))

    assert len(mentions) == 7 + 2
    assert state.skipped == 2
    assert any("t3_zzzzzz is gone" in reason for reason in state.skip_reasons)


def test_a_configured_thread_that_is_gone_still_asks_for_a_config_fix(
    replay: ReplayServer, client: httpx.Client
) -> None:
    replay.route("/comments/zzzzzz.json", NOT_FOUND)
    with pytest.raises(NeedsHumanError, match="HTTP 404"):
        list(collector(replay, client, subreddit=None, threads=["zzzzzz"]).fetch(FetchState()))


def test_a_watched_thread_also_in_threads_is_read_once(
    replay: ReplayServer, client: httpx.Client, shared_feeds: Path
) -> None:
    replay.route("/comments/54hhwl.json", recorded(THREAD))
    replay.route("/comments/bb24k7.json", recorded(THREAD_2025))
    state = FetchState(watch=("t3_54hhwl", "t3_bb24k7", "t3_BB24K7"))
    opts = {"subreddit": None, "threads": ["54hhwl"]}
    assert len(list(collector(replay, client, **opts).fetch(state))) == 11 + 2
    assert len(replay.hits("/comments/54hhwl.json")) == 1
    assert len(replay.hits("/comments/bb24k7.json")) == 1
