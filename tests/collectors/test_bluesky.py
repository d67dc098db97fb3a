"""Bluesky collector against the recorded searchPosts responses, anonymous and with a session."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from collectors.base import FetchState, NeedsHumanError, TransientError, UnparseableError
from collectors.bluesky import (
    BlueskyCollector,
    BlueskyOptions,
    app_password_env,
    item_to_mention,
    thread_posts,
)
from tests.replay import ReplayServer, Reply, recorded
from vigia.config import secret_env_name

SEARCH_PATH = "/xrpc/app.bsky.feed.searchPosts"
SESSION_PATH = "/xrpc/com.atproto.server.createSession"
SEARCH = "bluesky/bskyr-searchPosts-q-redistricting-2025.json"
SEARCH_2023 = "bluesky/atprotodart-searchPosts-2023-with-hitsTotal.json"
# sortAt of the newest and the oldest of the 25 recorded posts (milliseconds, as sent back).
NEWEST = "2025-05-19T17:10:09.561Z"
OLDEST = "2025-05-19T00:16:50.191Z"


def load(feeds: Path, relative: str) -> Any:
    return json.loads((feeds / relative).read_bytes())


def last_page(feeds: Path) -> Reply:
    """The recorded page without its `cursor`, as the search answers at the end of the results."""
    body = load(feeds, SEARCH)
    del body["cursor"]
    return Reply(json.dumps(body).encode(), headers={"Content-Type": "application/json"})


def collector(
    replay: ReplayServer, client: httpx.Client, name: str = "bsky-search", **options: Any
) -> BlueskyCollector:
    opts = BlueskyOptions(query="redistricting", service=replay.url, limit=25, **options)
    return BlueskyCollector(name, opts, client)


def test_a_post_maps_to_a_mention_with_its_bsky_app_url(shared_feeds: Path) -> None:
    post = load(shared_feeds, SEARCH)["posts"][0]
    mention = item_to_mention("bsky", post)
    assert mention is not None
    assert mention.source_id == post["uri"]
    assert mention.url == "https://bsky.app/profile/socpaperbot.bsky.social/post/3lpk2u6qo222m"
    assert mention.published == datetime(2025, 5, 19, 17, 10, 9, 561858, tzinfo=UTC)
    assert mention.text.startswith("Ends Versus Means: Public Opinion on Congressional")
    assert mention.author == "socpaperbot.bsky.social"
    assert mention.language is None  # this post declares no langs
    assert (mention.thread_id, mention.parent_id) == (post["uri"], None)
    assert mention.engagement.replies == mention.engagement.quotes == 0
    assert mention.raw == post


def test_a_reply_names_its_root_as_thread_and_its_parent(shared_feeds: Path) -> None:
    post = load(shared_feeds, SEARCH)["posts"][2]
    mention = item_to_mention("bsky", post)
    assert mention is not None
    did = "at://did:plc:7nagdvjqrzaquzk7mueohne5/app.bsky.feed.post/"
    assert mention.thread_id == did + "3lpjy3eabqs2l"
    assert mention.parent_id == did + "3lpjzgltpa22l"
    assert mention.language == "en"


def test_a_shared_links_card_is_part_of_the_text(shared_feeds: Path) -> None:
    posts = load(shared_feeds, SEARCH)["posts"]
    post = next(p for p in posts if p.get("embed", {}).get("external", {}).get("title"))
    mention = item_to_mention("bsky", post)
    assert mention is not None
    assert post["embed"]["external"]["title"] in mention.text


def test_an_older_post_without_quote_count_maps_its_other_counts(shared_feeds: Path) -> None:
    mention = item_to_mention("bsky", load(shared_feeds, SEARCH_2023)["posts"][0])
    assert mention is not None
    assert (mention.engagement.replies, mention.engagement.likes) == (8, 7)
    assert mention.engagement.quotes is None


def test_a_future_dated_post_is_dated_when_it_was_indexed(shared_feeds: Path) -> None:
    post = load(shared_feeds, SEARCH)["posts"][1]
    post["record"] = {**post["record"], "createdAt": "2031-01-01T00:00:00Z"}
    mention = item_to_mention("bsky", post)
    assert mention is not None
    assert mention.published == datetime(2025, 5, 19, 17, 8, 30, 414000, tzinfo=UTC)


def test_first_poll_pages_with_the_cursor_then_goes_forward_from_the_newest(
    shared_feeds: Path, replay: ReplayServer, client: httpx.Client
) -> None:
    replay.route(SEARCH_PATH, recorded(SEARCH))
    state = FetchState()
    mentions = list(collector(replay, client, max_pages=2, lang="en").fetch(state))

    assert len(mentions) == 50
    first, second = replay.hits(SEARCH_PATH)
    assert first.query == {"q": "redistricting", "sort": "latest", "limit": "25", "lang": "en"}
    assert second.query["cursor"] == "25"
    # A first poll reads a bounded slice, then only looks forward.
    assert json.loads(state.cursor or "") == {"since": NEWEST}


def test_a_catch_up_cut_by_max_pages_resumes_below_what_it_read(
    shared_feeds: Path, replay: ReplayServer, client: httpx.Client
) -> None:
    replay.route(SEARCH_PATH, recorded(SEARCH), last_page(shared_feeds))
    state = FetchState(cursor=json.dumps({"since": "2025-05-18T00:00:00.000Z"}))
    list(collector(replay, client, max_pages=1).fetch(state))
    assert json.loads(state.cursor or "") == {
        "since": "2025-05-18T00:00:00.000Z",
        "until": OLDEST,
        "newest": NEWEST,
    }

    list(collector(replay, client, max_pages=1).fetch(state))
    resumed = replay.hits(SEARCH_PATH)[-1].query
    assert (resumed["since"], resumed["until"]) == ("2025-05-18T00:00:00.000Z", OLDEST)
    assert "cursor" not in resumed
    assert json.loads(state.cursor or "") == {"since": NEWEST}


def test_deep_paging_restarts_the_window_with_until_before_the_cursor_limit(
    shared_feeds: Path, replay: ReplayServer, client: httpx.Client
) -> None:
    class ShallowSearch(BlueskyCollector):
        cursor_depth = 50  # the real limit is ~10 000 results; two pages of 25 make the point

    replay.route(SEARCH_PATH, recorded(SEARCH))
    opts = BlueskyOptions(query="redistricting", service=replay.url, limit=25, max_pages=3)
    list(ShallowSearch("bsky-deep", opts, client).fetch(FetchState()))

    queries = [hit.query for hit in replay.hits(SEARCH_PATH)]
    assert [(q.get("cursor"), q.get("until")) for q in queries] == [
        (None, None),
        ("25", None),
        (None, OLDEST),
    ]


def test_anonymous_search_refused_asks_for_a_handle_and_app_password(
    replay: ReplayServer, client: httpx.Client
) -> None:
    # No recorded 403 exists (see the fixtures README); this body has the XRPC error shape.
    refusal = b'{"error":"Forbidden","message":"Search requires authentication"}'
    replay.route(SEARCH_PATH, Reply(refusal, 403, {"Content-Type": "application/json"}))
    with pytest.raises(NeedsHumanError) as error:
        list(collector(replay, client, name="bsky-anon").fetch(FetchState()))
    assert "set `handle`" in str(error.value)
    assert "VIGIA_SOURCES_BSKY_ANON_APP_PASSWORD" in str(error.value)


def session(token: str) -> Reply:
    """A createSession answer with the documented fields (no recording of one is available)."""
    body = {"accessJwt": token, "refreshJwt": "refresh", "handle": "vigia.test", "did": "did:plc:x"}
    return Reply(json.dumps(body).encode(), headers={"Content-Type": "application/json"})


def test_with_a_handle_a_session_is_created_and_its_token_sent_and_reused(
    shared_feeds: Path, replay: ReplayServer, client: httpx.Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VIGIA_SOURCES_BSKY_AUTH_APP_PASSWORD", "abcd-efgh-ijkl-mnop")
    replay.route(SESSION_PATH, session("jwt-1"))
    replay.route(SEARCH_PATH, recorded(SEARCH))
    options = {"handle": "reuse.vigia.test", "pds": replay.url, "max_pages": 1}
    list(collector(replay, client, name="bsky-auth", **options).fetch(FetchState()))
    list(collector(replay, client, name="bsky-auth", **options).fetch(FetchState()))

    assert [seen.path for seen in replay.requests] == [SESSION_PATH, SEARCH_PATH, SEARCH_PATH]
    assert replay.requests[0].headers["Content-Type"] == "application/json"
    assert {s.headers["Authorization"] for s in replay.hits(SEARCH_PATH)} == {"Bearer jwt-1"}


def test_an_expired_token_is_renewed_once(
    shared_feeds: Path, replay: ReplayServer, client: httpx.Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VIGIA_SOURCES_BSKY_AUTH_APP_PASSWORD", "abcd-efgh-ijkl-mnop")
    expired = Reply(b'{"error":"ExpiredToken","message":"Token has expired"}', 400)
    replay.route(SESSION_PATH, session("jwt-1"), session("jwt-2"))
    replay.route(SEARCH_PATH, expired, recorded(SEARCH))
    options = {"handle": "renew.vigia.test", "pds": replay.url, "max_pages": 1}
    mentions = list(collector(replay, client, name="bsky-auth", **options).fetch(FetchState()))

    assert len(mentions) == 25
    assert len(replay.hits(SESSION_PATH)) == 2
    assert replay.hits(SEARCH_PATH)[-1].headers["Authorization"] == "Bearer jwt-2"


def test_a_missing_app_password_names_the_environment_variable(
    replay: ReplayServer, client: httpx.Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("VIGIA_SOURCES_BSKY_AUTH_APP_PASSWORD", raising=False)
    c = collector(replay, client, name="bsky-auth", handle="nopass.vigia.test", pds=replay.url)
    with pytest.raises(NeedsHumanError, match="VIGIA_SOURCES_BSKY_AUTH_APP_PASSWORD"):
        list(c.fetch(FetchState()))
    assert replay.requests == []


def test_a_refused_app_password_says_so(
    replay: ReplayServer, client: httpx.Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BSKY_PASSWORD", "wrong")
    refusal = b'{"error":"AuthenticationRequired","message":"Invalid identifier or password"}'
    replay.route(SESSION_PATH, Reply(refusal, 401))
    c = collector(
        replay, client, handle="wrong.vigia.test", pds=replay.url, app_password_env="BSKY_PASSWORD"
    )
    with pytest.raises(NeedsHumanError, match="Invalid identifier or password"):
        list(c.fetch(FetchState()))


def test_the_password_variable_is_the_one_vigia_config_derives() -> None:
    assert app_password_env("acme.bsky-es") == secret_env_name(
        "sources", "acme.bsky-es", "app_password"
    )


def test_429_with_retry_after_then_success(
    shared_feeds: Path, replay: ReplayServer, client: httpx.Client
) -> None:
    replay.route(SEARCH_PATH, Reply(b"", 429, {"Retry-After": "0"}), recorded(SEARCH))
    assert len(list(collector(replay, client, max_pages=1).fetch(FetchState()))) == 25


def test_server_error_then_success(
    shared_feeds: Path, replay: ReplayServer, client: httpx.Client
) -> None:
    replay.route(SEARCH_PATH, Reply(b"Bad Gateway", 502), recorded(SEARCH))
    assert len(list(collector(replay, client, max_pages=1).fetch(FetchState()))) == 25


def test_an_html_404_page_asks_for_a_config_fix(
    shared_feeds: Path, replay: ReplayServer, client: httpx.Client
) -> None:
    html = shared_feeds / "youtube/newpipe-youtube-channel-not-found-404.html"
    replay.route(SEARCH_PATH, Reply(html.read_bytes(), 404, {"Content-Type": "text/html"}))
    with pytest.raises(NeedsHumanError, match="404"):
        list(collector(replay, client).fetch(FetchState()))


def test_a_body_cut_short_by_the_connection_is_transient(
    shared_feeds: Path, replay: ReplayServer, client: httpx.Client
) -> None:
    cut = recorded(SEARCH)
    cut.truncate = 5000
    replay.route(SEARCH_PATH, cut)
    with pytest.raises(TransientError):
        list(collector(replay, client).fetch(FetchState()))


def test_a_truncated_json_document_is_unparseable(
    shared_feeds: Path, replay: ReplayServer, client: httpx.Client
) -> None:
    replay.route(SEARCH_PATH, Reply((shared_feeds / SEARCH).read_bytes()[:5000]))
    with pytest.raises(UnparseableError, match="expected JSON"):
        list(collector(replay, client).fetch(FetchState()))


def test_an_object_without_posts_is_unparseable(replay: ReplayServer, client: httpx.Client) -> None:
    replay.route(SEARCH_PATH, Reply(b'{"feed": []}'))
    with pytest.raises(UnparseableError, match="'posts' list"):
        list(collector(replay, client).fetch(FetchState()))


def test_a_bad_post_is_skipped_and_counted_not_the_page(
    shared_feeds: Path, replay: ReplayServer, client: httpx.Client
) -> None:
    body = load(shared_feeds, SEARCH)
    del body["cursor"]
    del body["posts"][4]["record"]
    body["posts"][7]["uri"] = None
    replay.route(SEARCH_PATH, Reply(json.dumps(body).encode()))
    state = FetchState()
    assert len(list(collector(replay, client).fetch(state))) == 23
    assert state.skipped == 2


THREAD_PATH = "/xrpc/app.bsky.feed.getPostThread"
THREAD_2025 = "bluesky/bskyr-getPostThread-2025.json"
THREAD_NESTED = "bluesky/atprotodart-getPostThread-2023-nested-replies.json"
ROOT_2025 = "at://did:plc:ic6zqvuw5ulmfpjiwnhsr2ns/app.bsky.feed.post/3k7qmjev5lr2s"
ROOT_NESTED = "at://did:plc:by3jhwdqgbtrcc7q4tkkv3cf/app.bsky.feed.post/3jtvi2jrijx2y"
REPLY_NESTED = "at://did:plc:o3muczkqodgc563d4rip3rpn/app.bsky.feed.post/3jtviwrkkbn2e"
NO_NEW_POSTS = Reply(b'{"posts": []}', headers={"Content-Type": "application/json"})
GONE = Reply(b'{"error":"NotFound","message":"Post not found: at://x"}', 400)


def test_a_thread_is_walked_root_first_with_its_stubs_marked(shared_feeds: Path) -> None:
    thread = load(shared_feeds, THREAD_NESTED)["thread"]
    posts = list(thread_posts(thread, 6))
    # Root, two replies, and a reply to the second; its two blocked and two deleted replies.
    assert [p["uri"] if p else None for p in posts] == [
        ROOT_NESTED,
        "at://did:plc:xbxpdv7nstw5ybmlneupnuaa/app.bsky.feed.post/3jtvjdinqcm2a",
        REPLY_NESTED,
        None,
        None,
        "at://did:plc:kef63ihhci7f5xhriu4asjhb/app.bsky.feed.post/3jtvu6gnhmk2r",
        None,
        None,
    ]
    # One level of replies only: the second reply's own replies are not reached.
    assert len(list(thread_posts(thread, 1))) == 3


def test_watched_threads_are_reread_after_the_search_with_thread_parent_and_counts(
    shared_feeds: Path, replay: ReplayServer, client: httpx.Client
) -> None:
    replay.route(SEARCH_PATH, NO_NEW_POSTS)  # the replies never name the query
    replay.route(THREAD_PATH, recorded(THREAD_NESTED), recorded(THREAD_2025))
    cursor = json.dumps({"since": NEWEST})
    state = FetchState(cursor=cursor, watch=(ROOT_NESTED, ROOT_2025))
    mentions = list(collector(replay, client).fetch(state))

    assert [h.query for h in replay.hits(THREAD_PATH)] == [
        {"uri": ROOT_NESTED, "depth": "6", "parentHeight": "0"},
        {"uri": ROOT_2025, "depth": "6", "parentHeight": "0"},
    ]
    assert len(mentions) == 5
    root, _, reply, _, _ = mentions
    assert (root.source_id, root.thread_id, root.parent_id) == (ROOT_NESTED, ROOT_NESTED, None)
    assert (reply.thread_id, reply.parent_id) == (ROOT_NESTED, ROOT_NESTED)
    assert (mentions[3].thread_id, mentions[3].parent_id) == (ROOT_NESTED, REPLY_NESTED)
    assert (root.engagement.replies, root.engagement.likes) == (2, 26)
    assert (mentions[4].source_id, mentions[4].engagement.likes) == (ROOT_2025, 4)
    assert state.skipped == 4  # two blocked and two deleted replies
    assert state.cursor == cursor  # thread re-reads never move the search window
    assert BlueskyCollector.rereads_threads


def test_a_watched_thread_that_is_gone_is_skipped_and_counted_and_each_read_once(
    shared_feeds: Path, replay: ReplayServer, client: httpx.Client
) -> None:
    replay.route(SEARCH_PATH, NO_NEW_POSTS)
    replay.route(THREAD_PATH, GONE, recorded(THREAD_2025))
    gone = "at://did:plc:ic6zqvuw5ulmfpjiwnhsr2ns/app.bsky.feed.post/3k7qmjev5lr2x"
    state = FetchState(cursor=json.dumps({"since": NEWEST}), watch=(gone, ROOT_2025, ROOT_2025))
    mentions = list(collector(replay, client).fetch(state))

    assert [m.source_id for m in mentions] == [ROOT_2025]
    assert len(replay.hits(THREAD_PATH)) == 2
    assert state.skipped == 1
    assert gone in state.skip_reasons[0]


def test_the_posts_of_watched_threads_are_bounded_per_poll(
    shared_feeds: Path, replay: ReplayServer, client: httpx.Client
) -> None:
    class Bounded(BlueskyCollector):
        thread_posts = 2

    replay.route(SEARCH_PATH, NO_NEW_POSTS)
    replay.route(THREAD_PATH, recorded(THREAD_NESTED))
    opts = BlueskyOptions(query="redistricting", service=replay.url)
    state = FetchState(watch=(ROOT_NESTED, ROOT_2025))
    assert len(list(Bounded("bsky-search", opts, client).fetch(state))) == 2
    assert len(replay.hits(THREAD_PATH)) == 1


def test_with_a_handle_watched_threads_are_read_through_the_session(
    shared_feeds: Path, replay: ReplayServer, client: httpx.Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VIGIA_SOURCES_BSKY_AUTH_APP_PASSWORD", "abcd-efgh-ijkl-mnop")
    replay.route(SESSION_PATH, session("jwt-1"))
    replay.route(SEARCH_PATH, NO_NEW_POSTS)
    replay.route(THREAD_PATH, recorded(THREAD_2025))
    options = {"handle": "watch.vigia.test", "pds": replay.url, "service": "http://127.0.0.1:9"}
    opts = BlueskyOptions(query="redistricting", **options)
    state = FetchState(watch=(ROOT_2025,))
    assert len(list(BlueskyCollector("bsky-auth", opts, client).fetch(state))) == 1
    assert replay.hits(THREAD_PATH)[0].headers["Authorization"] == "Bearer jwt-1"
