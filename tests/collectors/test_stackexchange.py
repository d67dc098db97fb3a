"""Stack Exchange collector on a documented-shape page: paging, cursor, backoff, quota, gzip, HTTP."""

from __future__ import annotations

import gzip
import json
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import ValidationError

from collectors.base import FetchState, NeedsHumanError, UnparseableError
from collectors.stackexchange import (
    StackExchangeCollector,
    StackExchangeOptions,
    item_to_mention,
    load_cursor,
)
from tests.replay import ReplayServer, Reply, recorded

# Built by hand from the API's documented shape: no real /search/advanced recording exists.
DOCUMENTED = (
    Path(__file__).parent / "fixtures" / "stackexchange-documented-shape-search-advanced.json"
)
HTML_404 = "youtube/newpipe-youtube-channel-not-found-404.html"
PATH = "/search/advanced"


def collector(server: ReplayServer, client: httpx.Client, **options: Any) -> StackExchangeCollector:
    opts = StackExchangeOptions.model_validate({"q": "vellora", "base_url": server.url, **options})
    return StackExchangeCollector("so", opts, client)


def page(**changes: Any) -> Reply:
    """The documented page, or an edited copy of it (last page, backoff, low quota…)."""
    body = {**json.loads(DOCUMENTED.read_bytes()), **changes}
    return Reply(json.dumps(body).encode(), headers={"Content-Type": "application/json"})


def test_question_maps_title_body_counts_and_escaped_names() -> None:
    first, second = (item_to_mention("so", i) for i in json.loads(DOCUMENTED.read_bytes())["items"])
    assert first and second
    assert first.source_id == first.thread_id == "79900001"
    assert first.text.startswith('Vellora SDK token refresh fails with 401 after "invalid_grant"\n')
    assert "client.refresh()" in first.text and "<code>" not in first.text
    assert first.author == "Lucía G."
    assert first.url.startswith("https://stackoverflow.com/questions/79900001/")
    assert first.published.timestamp() == 1772445900
    assert (second.engagement.score, second.engagement.replies, second.engagement.views) == (
        7,
        3,
        1280,
    )
    assert second.text.startswith("Why doesn't the Vellora app link open")


def test_item_without_title_or_date_is_none() -> None:
    item = json.loads(DOCUMENTED.read_bytes())["items"][0]
    assert item_to_mention("so", {**item, "title": ""}) is None
    assert item_to_mention("so", {**item, "creation_date": None}) is None


def test_options_need_q_or_tagged() -> None:
    with pytest.raises(ValidationError, match="q \\(search words\\) or tagged"):
        StackExchangeOptions()
    assert StackExchangeOptions(tagged="vellora;android").tagged == "vellora;android"


def test_pages_oldest_first_from_the_cursor(replay: ReplayServer, client: httpx.Client) -> None:
    replay.route(PATH, page(), page(has_more=False))
    state = FetchState(cursor=json.dumps({"fromdate": 1772440000}))
    mentions = list(collector(replay, client, tagged="vellora").fetch(state))
    assert len(mentions) == 4  # two pages; storage ignores the repeated ids
    first, second = (seen.query for seen in replay.hits(PATH))
    assert first["fromdate"] == "1772440000" and first["sort"] == "creation"
    assert first["order"] == "asc" and first["filter"] == "withbody"
    assert (
        first["q"] == "vellora"
        and first["tagged"] == "vellora"
        and first["site"] == "stackoverflow"
    )
    assert (first["page"], second["page"]) == ("1", "2")
    assert load_cursor(state.cursor) == {"fromdate": 1772448311}


def test_first_poll_starts_first_days_back_and_max_pages_bounds_it(
    replay: ReplayServer, client: httpx.Client
) -> None:
    replay.route(PATH, page())  # has_more stays true
    state = FetchState()
    before = time.time()
    list(collector(replay, client, first_days=2, max_pages=3).fetch(state))
    hits = replay.hits(PATH)
    assert len(hits) == 3
    assert abs(int(hits[0].query["fromdate"]) - (before - 2 * 86400)) < 5


def test_backoff_is_obeyed_by_the_next_poll(replay: ReplayServer, client: httpx.Client) -> None:
    replay.route(PATH, page(backoff=10))
    state = FetchState(cursor=json.dumps({"fromdate": 1772440000}))
    assert len(list(collector(replay, client).fetch(state))) == 2  # the page is kept
    assert len(replay.hits(PATH)) == 1  # …but no second page while backing off
    cursor = load_cursor(state.cursor)
    assert cursor["fromdate"] == 1772448311 and cursor["wait_until"] > time.time() + 5
    assert list(collector(replay, client).fetch(state)) == []  # the next poll waits
    assert len(replay.hits(PATH)) == 1


def test_low_daily_quota_stops_paging_until_midnight_utc(
    replay: ReplayServer, client: httpx.Client
) -> None:
    replay.route(PATH, page(quota_remaining=3))
    state = FetchState()
    assert len(list(collector(replay, client, quota_reserve=5).fetch(state))) == 2
    assert len(replay.hits(PATH)) == 1
    wait = load_cursor(state.cursor)["wait_until"] - time.time()
    assert 0 < wait <= 86400 and int(load_cursor(state.cursor)["wait_until"]) % 86400 == 0


def test_gzip_body_is_decoded(replay: ReplayServer, client: httpx.Client) -> None:
    body = gzip.compress(DOCUMENTED.read_bytes())
    replay.route(PATH, Reply(body, headers={"Content-Encoding": "gzip"}))
    assert len(list(collector(replay, client, max_pages=1).fetch(FetchState()))) == 2


def test_etag_then_304(replay: ReplayServer, client: httpx.Client) -> None:
    reply = page(has_more=False)
    reply.headers["ETag"] = '"se1"'
    replay.route(PATH, reply, Reply(status=304))
    state = FetchState()
    assert len(list(collector(replay, client).fetch(state))) == 2
    cursor = state.cursor
    assert list(collector(replay, client).fetch(state)) == []
    assert replay.hits(PATH)[1].headers["If-None-Match"] == '"se1"'
    assert state.cursor == cursor


def test_429_with_retry_after_then_success(replay: ReplayServer, client: httpx.Client) -> None:
    replay.route(PATH, Reply(status=429, headers={"Retry-After": "0"}), page(has_more=False))
    assert len(list(collector(replay, client).fetch(FetchState()))) == 2


def test_server_error_then_success(replay: ReplayServer, client: httpx.Client) -> None:
    replay.route(PATH, Reply(status=503), page(has_more=False))
    assert len(list(collector(replay, client).fetch(FetchState()))) == 2


def test_api_error_message_reaches_the_user(replay: ReplayServer, client: httpx.Client) -> None:
    error = b'{"error_id":400,"error_message":"site is required","error_name":"bad_parameter"}'
    replay.route(PATH, Reply(error, 400, {"Content-Type": "application/json; charset=utf-8"}))
    with pytest.raises(NeedsHumanError, match="site is required"):
        list(collector(replay, client).fetch(FetchState()))


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
    replay.route(PATH, Reply(DOCUMENTED.read_bytes()[:700]))
    with pytest.raises(UnparseableError, match="expected JSON"):
        list(collector(replay, client).fetch(FetchState()))
    replay.route(PATH, Reply(b'{"quota_remaining": 200}'))
    with pytest.raises(UnparseableError, match="'items' list"):
        list(collector(replay, client).fetch(FetchState()))


def test_bad_item_is_skipped_and_counted(replay: ReplayServer, client: httpx.Client) -> None:
    items = json.loads(DOCUMENTED.read_bytes())["items"]
    del items[0]["creation_date"]  # an edited copy: the first question undated
    replay.route(PATH, page(items=items, has_more=False))
    state = FetchState()
    assert [m.source_id for m in collector(replay, client).fetch(state)] == ["79900002"]
    assert state.skipped == 1 and "79900001" in state.skip_reasons[0]
