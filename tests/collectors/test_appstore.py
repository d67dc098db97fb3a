"""App Store reviews collector against the recorded customer-reviews JSON pages."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from collectors.appstore import AppStoreCollector, AppStoreOptions, item_to_mention
from collectors.base import FetchState, NeedsHumanError, TransientError, UnparseableError
from tests.replay import ReplayServer, Reply, recorded

XCODE_FR = "appstore/jcoynel-xcode-fr-page1.json"
SMALL_GB = "appstore/jcoynel-gb-small-page1.json"
NO_ENTRY = "appstore/jcoynel-gb-page2-no-entry-key.json"
UNKNOWN_APP = "appstore/jcoynel-unknown-app-empty-links.json"
DEPTH_LIMIT = "appstore/jcoynel-page11-depth-limit-error.txt"
INSTAGRAM_2025 = "appstore/mishavyb-instagram-us-page1-2025.json"
NEWEST_XCODE_REVIEW = "6918761820"


def page_path(page: int, app_id: int = 497799835, country: str = "fr") -> str:
    return f"/{country}/rss/customerreviews/page={page}/id={app_id}/sortby=mostrecent/json"


def load(feeds: Path, relative: str) -> Any:
    return json.loads((feeds / relative).read_bytes())


def as_reply(body: Any) -> Reply:
    return Reply(json.dumps(body).encode(), headers={"Content-Type": "application/json"})


def collector(
    replay: ReplayServer, client: httpx.Client, app_id: int = 497799835, **options: Any
) -> AppStoreCollector:
    opts = AppStoreOptions(app_id=app_id, country="FR", base_url=replay.url, **options)
    return AppStoreCollector("xcode-fr", opts, client)


def test_a_review_keeps_its_rating_title_and_text(shared_feeds: Path) -> None:
    entry = load(shared_feeds, XCODE_FR)["feed"]["entry"][1]
    seen = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
    mention = item_to_mention("xcode-fr", entry, seen)
    assert mention is not None
    assert mention.source_id == "6856326071"
    assert mention.rating == 1
    assert mention.text.startswith("Not enought free space\nI have 39Go free")
    assert mention.author == "Maxime3874"
    assert (
        mention.url == "https://itunes.apple.com/fr/review?id=497799835&l=en&type=Purple%20Software"
    )
    assert mention.engagement.score == 2
    assert mention.language is None  # an English review in the French storefront
    assert mention.published == seen  # 2021 captures have no per-review date
    assert mention.raw == entry


def test_a_2025_review_is_dated_by_its_updated_field(shared_feeds: Path) -> None:
    entry = load(shared_feeds, INSTAGRAM_2025)["feed"]["entry"][0]
    mention = item_to_mention("instagram-us", entry)
    assert mention is not None
    assert mention.published == datetime(2025, 9, 28, 18, 55, 46, tzinfo=UTC)
    assert mention.rating == 3


def test_first_poll_pages_until_a_page_without_entries(
    shared_feeds: Path, replay: ReplayServer, client: httpx.Client
) -> None:
    replay.route(page_path(1), recorded(XCODE_FR))
    replay.route(page_path(2), recorded(NO_ENTRY))
    state = FetchState()
    mentions = list(collector(replay, client).fetch(state))

    assert len(mentions) == 50
    assert [len(replay.hits(page_path(n))) for n in (1, 2, 3)] == [1, 1, 0]
    assert state.cursor == NEWEST_XCODE_REVIEW


def test_a_later_poll_stops_at_the_first_page_with_nothing_new(
    shared_feeds: Path, replay: ReplayServer, client: httpx.Client
) -> None:
    replay.route(page_path(1), recorded(XCODE_FR))
    state = FetchState(cursor=NEWEST_XCODE_REVIEW)
    # Known reviews are still handed on: their helpfulness votes may have moved.
    assert len(list(collector(replay, client).fetch(state))) == 50
    assert len(replay.requests) == 1
    assert state.cursor == NEWEST_XCODE_REVIEW


def test_a_full_backfill_reads_ten_pages_and_never_asks_for_page_eleven(
    shared_feeds: Path, replay: ReplayServer, client: httpx.Client
) -> None:
    for page in range(1, 12):
        replay.route(page_path(page), recorded(XCODE_FR))
    replay.route(page_path(11), Reply((shared_feeds / DEPTH_LIMIT).read_bytes()))
    list(collector(replay, client).fetch(FetchState()))
    assert sorted(seen.path for seen in replay.requests) == sorted(
        page_path(n) for n in range(1, 11)
    )
    with pytest.raises(ValueError, match="less than or equal to 10"):
        AppStoreOptions(app_id=1, max_pages=11)


def test_paging_is_bounded_by_max_pages(
    shared_feeds: Path, replay: ReplayServer, client: httpx.Client
) -> None:
    replay.route(page_path(1), recorded(XCODE_FR))
    list(collector(replay, client, max_pages=1).fetch(FetchState()))
    assert len(replay.requests) == 1


def test_an_unchanged_first_page_answers_304(
    shared_feeds: Path, replay: ReplayServer, client: httpx.Client
) -> None:
    replay.route(page_path(1), recorded(XCODE_FR, ETag='"reviews-1"'), Reply(status=304))
    state = FetchState()
    list(collector(replay, client, max_pages=1).fetch(state))
    assert list(collector(replay, client).fetch(state)) == []
    assert replay.requests[-1].headers["If-None-Match"] == '"reviews-1"'
    assert state.cursor == NEWEST_XCODE_REVIEW


def test_the_app_entry_that_opens_older_feeds_is_not_a_review(
    shared_feeds: Path, replay: ReplayServer, client: httpx.Client
) -> None:
    body = load(shared_feeds, SMALL_GB)
    # Older feeds put the app itself first: this entry has the shape of one, built by hand.
    app = {
        "im:name": {"label": "Visited"},
        "im:artist": {"label": "56 North Ltd"},
        "im:price": {"label": "Get", "attributes": {"amount": "0.00", "currency": "GBP"}},
        "id": {"label": "https://apps.apple.com/gb/app/id1510826067", "attributes": {"im:id": "1"}},
        "title": {"label": "Visited - 56 North Ltd"},
    }
    body["feed"]["entry"].insert(0, app)
    replay.route(page_path(1, 1510826067, "gb"), as_reply(body))
    replay.route(page_path(2, 1510826067, "gb"), recorded(NO_ENTRY))
    state = FetchState()
    opts = AppStoreOptions(app_id=1510826067, country="gb", base_url=replay.url)
    mentions = list(AppStoreCollector("visited-gb", opts, client).fetch(state))
    assert [m.rating for m in mentions] == [5, 5, 5, 5]
    assert state.skipped == 0


def test_an_unknown_app_id_asks_to_check_the_config(
    shared_feeds: Path, replay: ReplayServer, client: httpx.Client
) -> None:
    replay.route(page_path(1, 1, "fr"), recorded(UNKNOWN_APP))
    with pytest.raises(NeedsHumanError, match="app 1 in storefront 'fr'"):
        list(collector(replay, client, app_id=1).fetch(FetchState()))


def test_a_single_entry_object_is_read_as_one_review(
    shared_feeds: Path, replay: ReplayServer, client: httpx.Client
) -> None:
    body = load(shared_feeds, SMALL_GB)
    body["feed"]["entry"] = body["feed"]["entry"][0]
    replay.route(page_path(1), as_reply(body))
    replay.route(page_path(2), recorded(NO_ENTRY))
    assert [m.source_id for m in collector(replay, client).fetch(FetchState())] == ["6504352127"]


def test_a_bad_review_is_skipped_and_counted_not_the_page(
    shared_feeds: Path, replay: ReplayServer, client: httpx.Client
) -> None:
    body = load(shared_feeds, XCODE_FR)
    del body["feed"]["entry"][3]["id"]
    body["feed"]["entry"][8]["title"] = body["feed"]["entry"][8]["content"] = {"label": " "}
    replay.route(page_path(1), as_reply(body))
    state = FetchState()
    assert len(list(collector(replay, client, max_pages=1).fetch(state))) == 48
    assert state.skipped == 2


def test_the_plain_text_depth_error_is_unparseable(
    shared_feeds: Path, replay: ReplayServer, client: httpx.Client
) -> None:
    text = (shared_feeds / DEPTH_LIMIT).read_bytes()
    replay.route(page_path(1), Reply(text, headers={"Content-Type": "text/plain"}))
    with pytest.raises(UnparseableError, match="expected JSON.*CustomerReviews RSS page depth"):
        list(collector(replay, client).fetch(FetchState()))


def test_an_object_without_a_feed_is_unparseable(
    replay: ReplayServer, client: httpx.Client
) -> None:
    replay.route(page_path(1), as_reply({"reviews": []}))
    with pytest.raises(UnparseableError, match="'feed' object"):
        list(collector(replay, client).fetch(FetchState()))


def test_429_with_retry_after_then_success(
    shared_feeds: Path, replay: ReplayServer, client: httpx.Client
) -> None:
    replay.route(page_path(1), Reply(b"", 429, {"Retry-After": "0"}), recorded(XCODE_FR))
    assert len(list(collector(replay, client, max_pages=1).fetch(FetchState()))) == 50


def test_server_error_then_success(
    shared_feeds: Path, replay: ReplayServer, client: httpx.Client
) -> None:
    replay.route(page_path(1), Reply(b"Service Unavailable", 503), recorded(XCODE_FR))
    assert len(list(collector(replay, client, max_pages=1).fetch(FetchState()))) == 50


def test_an_html_404_page_asks_for_a_config_fix(
    shared_feeds: Path, replay: ReplayServer, client: httpx.Client
) -> None:
    html = shared_feeds / "youtube/newpipe-youtube-channel-not-found-404.html"
    replay.route(page_path(1), Reply(html.read_bytes(), 404, {"Content-Type": "text/html"}))
    with pytest.raises(NeedsHumanError, match="404"):
        list(collector(replay, client).fetch(FetchState()))


def test_a_body_cut_short_by_the_connection_is_transient(
    shared_feeds: Path, replay: ReplayServer, client: httpx.Client
) -> None:
    cut = recorded(XCODE_FR)
    cut.truncate = 10_000
    replay.route(page_path(1), cut)
    with pytest.raises(TransientError):
        list(collector(replay, client).fetch(FetchState()))


def test_a_truncated_json_document_is_unparseable(
    shared_feeds: Path, replay: ReplayServer, client: httpx.Client
) -> None:
    replay.route(page_path(1), Reply((shared_feeds / XCODE_FR).read_bytes()[:10_000]))
    with pytest.raises(UnparseableError, match="expected JSON"):
        list(collector(replay, client).fetch(FetchState()))
