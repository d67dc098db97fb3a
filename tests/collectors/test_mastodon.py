"""Mastodon collector against recorded tag-timeline, search and context responses."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from collectors.base import (
    FetchState,
    NeedsHumanError,
    TransientError,
    UnparseableError,
)
from collectors.mastodon import MastodonCollector, MastodonOptions, item_to_mention
from tests.replay import ReplayServer, Reply, recorded

TAG = "fgiztsshwiaqqiztpmmjbtvmescsculuvmgjgopwoeidbcrixp"
TAG_PATH = f"/api/v1/timelines/tag/{TAG}"
PAGE1 = "mastodon/mastodonpy-localdev-tag-timeline-page1.json"
PAGE2 = "mastodon/mastodonpy-localdev-tag-timeline-page2-max_id.json"
END = "mastodon/mastodonpy-localdev-tag-timeline-end-empty.json"
SEARCH = "mastodon/mastodonpy-mastodon-social-v2-search-halcy.json"
CONTEXT = "mastodon/mastodonpy-mastodon-social-status-context.json"
NEWEST_ON_PAGE1 = "117020581413876942"


def load(feeds: Path, relative: str) -> Any:
    return json.loads((feeds / relative).read_bytes())


def tag_collector(replay: ReplayServer, client: httpx.Client, **options: Any) -> MastodonCollector:
    opts = MastodonOptions(instance=replay.url, hashtag=f"#{TAG}", limit=10, **options)
    return MastodonCollector("masto-tag", opts, client)


def test_a_tag_timeline_status_maps_to_a_root_mention(shared_feeds: Path) -> None:
    status = load(shared_feeds, PAGE1)[0]
    mention = item_to_mention("masto-tag", status)
    assert mention is not None
    assert mention.source_id == NEWEST_ON_PAGE1
    assert mention.url == "http://localhost:3000/@mastodonpy_test_2/117020581413876942"
    assert mention.published == datetime(2026, 8, 1, 13, 52, 47, 767000, tzinfo=UTC)
    assert mention.text == f"Toot number 29! #{TAG}"
    assert mention.language == "ja"
    # A local account gets its instance's domain, so it reads the same from every instance.
    assert mention.author == "mastodonpy_test_2@localhost:3000"
    # A fresh test account: no followers, which is a count (0), not an unknown (None).
    assert mention.author_followers == 0
    assert (mention.thread_id, mention.parent_id) == (NEWEST_ON_PAGE1, None)
    assert (mention.engagement.replies, mention.engagement.reposts) == (0, 0)
    assert (mention.engagement.likes, mention.engagement.quotes) == (0, 0)
    assert mention.raw is not None and mention.raw["uri"].endswith("/statuses/117020581413876942")


def test_a_search_reply_keeps_its_parent_and_leaves_the_root_to_the_thread_detector(
    shared_feeds: Path,
) -> None:
    status = load(shared_feeds, SEARCH)["statuses"][0]
    mention = item_to_mention("masto-search", status)
    assert mention is not None
    assert mention.parent_id == "116387888508422624"
    assert mention.thread_id is None
    assert mention.author == "greg@icosahedron.website"
    assert mention.text.startswith("@cancel ")
    assert mention.language == "en"


def test_a_boost_is_the_boosted_post_and_the_content_warning_is_part_of_the_text(
    shared_feeds: Path,
) -> None:
    # Edited copies of real statuses: the first one with a content warning, boosted by the second.
    original, booster = load(shared_feeds, PAGE1)[:2]
    original = {**original, "spoiler_text": "Vellora: queja"}
    # The booster has a following of its own; the reach counted is the original author's.
    account = {**booster["account"], "followers_count": 5400}
    boost = {
        **booster,
        "id": "117020581499999999",
        "content": "",
        "reblog": original,
        "account": account,
    }
    mention = item_to_mention("masto-tag", boost)
    assert mention is not None
    assert mention.source_id == original["id"]
    assert mention.text == f"Vellora: queja\nToot number 29! #{TAG}"
    assert mention.author_followers == original["account"]["followers_count"] == 0
    assert mention.raw == boost


def test_first_poll_pages_back_through_link_next_until_the_empty_page(
    shared_feeds: Path, replay: ReplayServer, client: httpx.Client
) -> None:
    replay.route(TAG_PATH, recorded(PAGE1), recorded(PAGE2), recorded(END))
    state = FetchState()
    mentions = list(tag_collector(replay, client).fetch(state))

    assert len(mentions) == 20
    hits = replay.hits(TAG_PATH)
    # The recorded Link headers name localhost:3000; only their ids are used, on our instance.
    assert [h.query.get("max_id") for h in hits] == [
        None,
        "117020581339834938",
        "117020581259486622",
    ]
    assert state.cursor == NEWEST_ON_PAGE1


def test_paging_is_bounded_by_max_pages(
    shared_feeds: Path, replay: ReplayServer, client: httpx.Client
) -> None:
    replay.route(TAG_PATH, recorded(PAGE1), recorded(PAGE2))
    state = FetchState()
    assert len(list(tag_collector(replay, client, max_pages=1).fetch(state))) == 10
    assert len(replay.hits(TAG_PATH)) == 1
    assert state.cursor == NEWEST_ON_PAGE1


def test_later_polls_move_forward_from_the_cursor_with_min_id_and_link_prev(
    shared_feeds: Path, replay: ReplayServer, client: httpx.Client
) -> None:
    # Page 2 is what comes right after an older cursor; its Link rel="prev" leads on to newer ones.
    replay.route(TAG_PATH, recorded(PAGE2), recorded(END))
    state = FetchState(cursor="117020581250000000")
    mentions = list(tag_collector(replay, client).fetch(state))

    assert len(mentions) == 10
    assert [h.query.get("min_id") for h in replay.hits(TAG_PATH)] == [
        "117020581250000000",
        "117020581331681768",
    ]
    assert state.cursor == "117020581331681768"


def test_an_unchanged_first_page_answers_304_and_keeps_the_cursor(
    shared_feeds: Path, replay: ReplayServer, client: httpx.Client
) -> None:
    replay.route(TAG_PATH, recorded(PAGE1, ETag='W/"tag-p1"'), recorded(END), Reply(status=304))
    state = FetchState()
    list(tag_collector(replay, client, max_pages=2).fetch(state))
    assert state.etag == 'W/"tag-p1"'

    state.cursor = "117020581413876942"
    assert list(tag_collector(replay, client).fetch(state)) == []
    assert replay.hits(TAG_PATH)[-1].headers["If-None-Match"] == 'W/"tag-p1"'
    assert state.cursor == NEWEST_ON_PAGE1


def test_429_with_retry_after_then_success(
    shared_feeds: Path, replay: ReplayServer, client: httpx.Client
) -> None:
    replay.route(TAG_PATH, Reply(b"", 429, {"Retry-After": "0"}), recorded(PAGE1), recorded(END))
    assert len(list(tag_collector(replay, client).fetch(FetchState()))) == 10


def test_server_error_then_success(
    shared_feeds: Path, replay: ReplayServer, client: httpx.Client
) -> None:
    replay.route(TAG_PATH, Reply(b"upstream down", 502), recorded(PAGE1), recorded(END))
    assert len(list(tag_collector(replay, client).fetch(FetchState()))) == 10


def test_an_html_404_page_asks_for_a_config_fix(
    shared_feeds: Path, replay: ReplayServer, client: httpx.Client
) -> None:
    html = shared_feeds / "youtube/newpipe-youtube-channel-not-found-404.html"
    replay.route(TAG_PATH, Reply(html.read_bytes(), 404, {"Content-Type": "text/html"}))
    with pytest.raises(NeedsHumanError, match="404"):
        list(tag_collector(replay, client).fetch(FetchState()))


def test_an_html_page_served_as_success_is_unparseable(
    shared_feeds: Path, replay: ReplayServer, client: httpx.Client
) -> None:
    html = shared_feeds / "youtube/newpipe-youtube-channel-not-found-404.html"
    replay.route(TAG_PATH, Reply(html.read_bytes(), 200, {"Content-Type": "text/html"}))
    with pytest.raises(UnparseableError, match="expected JSON"):
        list(tag_collector(replay, client).fetch(FetchState()))


def test_a_json_object_where_a_list_was_expected_is_unparseable(
    replay: ReplayServer, client: httpx.Client
) -> None:
    replay.route(TAG_PATH, Reply(b'{"error": "This method requires an authenticated user"}'))
    with pytest.raises(UnparseableError, match="list of statuses"):
        list(tag_collector(replay, client).fetch(FetchState()))


def test_a_body_cut_short_by_the_connection_is_transient(
    shared_feeds: Path, replay: ReplayServer, client: httpx.Client
) -> None:
    cut = recorded(PAGE1)
    cut.truncate = 4000
    replay.route(TAG_PATH, cut)
    with pytest.raises(TransientError):
        list(tag_collector(replay, client).fetch(FetchState()))


def test_a_truncated_json_document_is_unparseable(
    shared_feeds: Path, replay: ReplayServer, client: httpx.Client
) -> None:
    body = (shared_feeds / PAGE1).read_bytes()[:4000]
    replay.route(TAG_PATH, Reply(body, 200, {"Content-Type": "application/json"}))
    with pytest.raises(UnparseableError):
        list(tag_collector(replay, client).fetch(FetchState()))


def test_a_bad_status_is_skipped_and_counted_not_the_page(
    shared_feeds: Path, replay: ReplayServer, client: httpx.Client
) -> None:
    statuses = load(shared_feeds, PAGE1)
    del statuses[0]["created_at"]  # the newest: the cursor still passes it, not to re-skip it
    statuses[5] = "not a status"
    replay.route(TAG_PATH, Reply(json.dumps(statuses).encode()), recorded(END))
    state = FetchState()
    mentions = list(tag_collector(replay, client).fetch(state))
    assert len(mentions) == 8
    assert state.skipped == 2
    assert state.cursor == NEWEST_ON_PAGE1


def test_status_search_sends_the_query_and_stops_on_a_short_page(
    shared_feeds: Path, replay: ReplayServer, client: httpx.Client
) -> None:
    replay.route("/api/v2/search", recorded(SEARCH))
    opts = MastodonOptions(instance=replay.url, query="halcy")
    state = FetchState(cursor="116388000000000000")
    mentions = list(MastodonCollector("masto-search", opts, client).fetch(state))

    assert [m.source_id for m in mentions] == ["116388149027005349", "116388107849695302"]
    # Remote authors: mastodon.social's copy of each account's `followers_count`.
    assert [m.author_followers for m in mentions] == [455, 893]
    (hit,) = replay.hits("/api/v2/search")
    assert hit.query == {
        "q": "halcy",
        "type": "statuses",
        "limit": "40",
        "resolve": "false",
        "min_id": "116388000000000000",
    }
    assert state.cursor == "116388149027005349"


def test_a_watched_thread_files_ancestors_and_replies_under_the_root(
    shared_feeds: Path, replay: ReplayServer, client: httpx.Client
) -> None:
    watched = "110446983926957470"
    context = load(shared_feeds, CONTEXT)
    root = context["ancestors"][0]
    # The watched status itself was not recorded: an edited copy of its parent stands in for it.
    status = {**root, "id": watched, "in_reply_to_id": root["id"], "content": "<p>second</p>"}
    replay.route(f"/api/v1/statuses/{watched}", Reply(json.dumps(status).encode()))
    replay.route(f"/api/v1/statuses/{watched}/context", recorded(CONTEXT))
    opts = MastodonOptions(
        instance=replay.url, threads=[f"https://mastodon.social/@halcy/{watched}"]
    )
    state = FetchState()
    mentions = list(MastodonCollector("masto-thread", opts, client).fetch(state))

    assert [(m.source_id, m.parent_id) for m in mentions] == [
        ("110446983178245440", None),
        (watched, "110446983178245440"),
        ("110446984249325790", watched),
    ]
    assert {m.thread_id for m in mentions} == {"110446983178245440"}
    assert {m.author_followers for m in mentions} == {126}  # all three are halcy's
    assert state.cursor is None  # a watched thread is re-read every poll; it moves no cursor


@pytest.mark.parametrize(
    ("options", "problem"),
    [
        ({"hashtag": "a", "query": "b"}, "not both"),
        ({}, "set hashtag, query or threads"),
        ({"threads": ["https://mastodon.social/@x/"]}, "status id"),
    ],
)
def test_options_name_what_is_wrong(options: dict[str, Any], problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        MastodonOptions(instance="https://mastodon.social", **options)


def watched_conversation(feeds: Path, replay: ReplayServer) -> tuple[str, str]:
    """Route a three-post conversation on the replay server; return (root id, reply id).

    The recorded context is of the middle post; for its root, an edited copy moves the middle
    post (itself an edited copy of the root, as the status was not recorded) into `descendants`,
    and the root's counts have grown since it was first stored.
    """
    context = load(feeds, CONTEXT)
    root = {**context["ancestors"][0], "replies_count": 2, "favourites_count": 7}
    middle = {
        **context["ancestors"][0],
        "id": "110446983926957470",
        "in_reply_to_id": root["id"],
        "content": "<p>second</p>",
    }
    root_context = {"ancestors": [], "descendants": [middle, *context["descendants"]]}
    replay.route(f"/api/v1/statuses/{root['id']}", Reply(json.dumps(root).encode()))
    replay.route(f"/api/v1/statuses/{root['id']}/context", Reply(json.dumps(root_context).encode()))
    return root["id"], middle["id"]


def test_a_watched_root_is_reread_after_the_timeline_with_its_replies_and_new_counts(
    shared_feeds: Path, replay: ReplayServer, client: httpx.Client
) -> None:
    root, middle = watched_conversation(shared_feeds, replay)
    replay.route(TAG_PATH, recorded(END))  # nothing new on the tag: the replies never name it
    state = FetchState(cursor=NEWEST_ON_PAGE1, watch=(root,))
    mentions = list(tag_collector(replay, client).fetch(state))

    assert [(m.source_id, m.thread_id, m.parent_id) for m in mentions] == [
        (root, root, None),
        (middle, root, root),
        ("110446984249325790", root, middle),
    ]
    assert (mentions[0].engagement.replies, mentions[0].engagement.likes) == (2, 7)
    assert state.cursor == NEWEST_ON_PAGE1  # thread re-reads never move the timeline cursor
    assert MastodonCollector.rereads_threads


def test_a_watched_thread_that_is_gone_is_skipped_and_counted_and_the_rest_still_read(
    shared_feeds: Path, replay: ReplayServer, client: httpx.Client
) -> None:
    root, _ = watched_conversation(shared_feeds, replay)
    replay.route(TAG_PATH, recorded(END))
    replay.route("/api/v1/statuses/110000000000000001", Reply(b'{"error":"Record not found"}', 404))
    # A malformed id (never a path to another endpoint) is passed over the same way.
    state = FetchState(cursor=NEWEST_ON_PAGE1, watch=("110000000000000001", "../admin", root))
    mentions = list(tag_collector(replay, client).fetch(state))

    assert len(mentions) == 3
    assert state.skipped == 2
    assert "110000000000000001" in state.skip_reasons[0]
    assert replay.hits("/api/v1/statuses/110000000000000001/context") == []


def test_a_watched_root_also_in_threads_is_read_once(
    shared_feeds: Path, replay: ReplayServer, client: httpx.Client
) -> None:
    root, _ = watched_conversation(shared_feeds, replay)
    opts = MastodonOptions(instance=replay.url, threads=[root])
    state = FetchState(watch=(root, root))
    mentions = list(MastodonCollector("masto-thread", opts, client).fetch(state))

    assert len(mentions) == 3
    assert len(replay.hits(f"/api/v1/statuses/{root}")) == 1
    assert len(replay.hits(f"/api/v1/statuses/{root}/context")) == 1


def test_a_configured_thread_that_is_gone_still_asks_for_a_config_fix(
    replay: ReplayServer, client: httpx.Client
) -> None:
    replay.route("/api/v1/statuses/110000000000000001", Reply(b'{"error":"Record not found"}', 404))
    opts = MastodonOptions(instance=replay.url, threads=["110000000000000001"])
    with pytest.raises(NeedsHumanError, match="404"):
        list(MastodonCollector("masto-thread", opts, client).fetch(FetchState()))
