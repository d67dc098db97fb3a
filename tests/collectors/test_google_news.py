"""Google News collector: real search feeds mapped, and its HTTP behaviour against a replay server."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import feedparser
import httpx
import pytest

from collectors.base import FetchState, NeedsHumanError, TransientError, UnparseableError
from collectors.google_news import GoogleNewsCollector, GoogleNewsOptions, item_to_mention
from collectors.text import html_to_text
from tests.replay import ReplayServer, Reply, recorded

SEARCH = "google_news/monument-watch-search-bears-ears-monument-2026.xml"
TOP_STORIES_JA = "google_news/summary-jp-top-stories-2024-bs4-prettified.xml"
NOT_FOUND_HTML = "youtube/newpipe-youtube-channel-not-found-404.html"


def collector(server: ReplayServer, client: httpx.Client, **options: object) -> GoogleNewsCollector:
    opts = GoogleNewsOptions.model_validate({"query": "vellora", "base_url": server.url, **options})
    return GoogleNewsCollector("news", opts, client)


@pytest.mark.parametrize("name", [SEARCH, TOP_STORIES_JA])
def test_every_real_item_maps_to_headline_and_outlet(shared_feeds: Path, name: str) -> None:
    entries = feedparser.parse((shared_feeds / name).read_bytes()).entries
    mentions = [item_to_mention("news", e, language="es") for e in entries]
    assert entries and all(m is not None for m in mentions)
    for entry, m in zip(entries, mentions, strict=True):
        assert m is not None
        outlet = entry["source"]["title"].strip()
        assert m.author == outlet
        # The outlet is the author; only the one suffix Google adds is taken off the headline.
        assert html_to_text(entry["title"]) == f"{m.text} - {outlet}"
        assert m.source_id == entry["id"]
        assert m.url.startswith("https://news.google.com/rss/articles/")
        assert m.published.tzinfo is not None
        assert m.raw is not None and m.raw["source"]["title"] == entry["source"]["title"]


def test_first_search_item_in_detail(shared_feeds: Path) -> None:
    entry = feedparser.parse((shared_feeds / SEARCH).read_bytes()).entries[0]
    m = item_to_mention("news", entry, language="en-US")
    assert m is not None
    assert m.text == "Trump again shrinks two national monuments in Utah"
    assert m.author == "The Washington Post"
    assert m.published == datetime(2026, 7, 14, 3, 33, 16, tzinfo=UTC)
    assert m.language == "en"


def test_description_states_the_feed_terms() -> None:
    assert "personal, non-commercial" in GoogleNewsCollector.description


def test_fetch_sends_query_language_country_and_moves_cursor(
    replay: ReplayServer, client: httpx.Client, shared_feeds: Path
) -> None:
    replay.route("/rss/search", recorded(SEARCH))
    state = FetchState()
    mentions = list(collector(replay, client, language="en-US", country="US").fetch(state))
    assert len(mentions) == 92
    seen = replay.hits("/rss/search")[0]
    assert seen.query == {"q": "vellora", "hl": "en-US", "gl": "US", "ceid": "US:en"}
    assert seen.headers["User-Agent"].startswith("Vigia/")
    assert state.cursor == max(m.published for m in mentions).isoformat()


def test_cursor_drops_items_long_before_the_newest_seen(
    replay: ReplayServer, client: httpx.Client, shared_feeds: Path
) -> None:
    replay.route("/rss/search", recorded(SEARCH))
    state = FetchState(cursor="2026-07-14T04:00:00+00:00")
    mentions = list(collector(replay, client).fetch(state))
    # Late arrivals within two days are kept; the feed also carries older, already-seen news.
    assert 0 < len(mentions) < 92
    assert all(m.published >= datetime(2026, 7, 12, 4, tzinfo=UTC) for m in mentions)
    assert state.cursor == "2026-07-14T04:00:00+00:00"


def test_etag_then_304(replay: ReplayServer, client: httpx.Client, shared_feeds: Path) -> None:
    replay.route("/rss/search", recorded(SEARCH, ETag='"v1"'), Reply(status=304))
    state = FetchState()
    assert len(list(collector(replay, client).fetch(state))) == 92
    cursor = state.cursor
    assert list(collector(replay, client).fetch(state)) == []
    assert replay.hits("/rss/search")[1].headers["If-None-Match"] == '"v1"'
    assert state.cursor == cursor and state.etag == '"v1"'


def test_429_with_retry_after_then_success(
    replay: ReplayServer, client: httpx.Client, shared_feeds: Path
) -> None:
    replay.route("/rss/search", Reply(status=429, headers={"Retry-After": "0"}), recorded(SEARCH))
    assert len(list(collector(replay, client).fetch(FetchState()))) == 92
    assert len(replay.hits("/rss/search")) == 2


def test_server_error_then_success(
    replay: ReplayServer, client: httpx.Client, shared_feeds: Path
) -> None:
    replay.route("/rss/search", Reply(b"oops", status=502), recorded(SEARCH))
    assert len(list(collector(replay, client).fetch(FetchState()))) == 92


def test_html_404_page_needs_a_human(
    replay: ReplayServer, client: httpx.Client, shared_feeds: Path
) -> None:
    replay.route("/rss/search", recorded(NOT_FOUND_HTML))
    with pytest.raises(NeedsHumanError, match="HTTP 404"):
        list(collector(replay, client).fetch(FetchState()))


def test_html_page_with_200_is_unparseable(
    replay: ReplayServer, client: httpx.Client, shared_feeds: Path
) -> None:
    page = (shared_feeds / NOT_FOUND_HTML).read_bytes()
    replay.route("/rss/search", Reply(page, headers={"Content-Type": "text/html"}))
    state = FetchState()
    with pytest.raises(UnparseableError, match="not a readable RSS/Atom feed"):
        list(collector(replay, client).fetch(state))
    assert state.cursor is None


def test_connection_cut_mid_body_is_transient(
    replay: ReplayServer, client: httpx.Client, shared_feeds: Path
) -> None:
    replay.route("/rss/search", Reply((shared_feeds / SEARCH).read_bytes(), truncate=5000))
    with pytest.raises(TransientError):
        list(collector(replay, client).fetch(FetchState()))


def test_item_without_title_or_link_is_skipped_and_counted(
    replay: ReplayServer, client: httpx.Client, shared_feeds: Path
) -> None:
    body = (shared_feeds / SEARCH).read_bytes()
    # An edited copy of the real feed: the first item keeps only its guid and date.
    broken = re.sub(
        rb"<item>.*?(<guid[^>]*>[^<]*</guid><pubDate>[^<]*</pubDate>).*?</item>",
        rb"<item>\1</item>",
        body,
        count=1,
    )
    replay.route("/rss/search", Reply(broken))
    state = FetchState()
    assert len(list(collector(replay, client).fetch(state))) == 91
    assert state.skipped == 1
