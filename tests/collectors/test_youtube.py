"""YouTube collector: real channel feeds mapped (views, likes), and its HTTP behaviour."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import feedparser
import httpx
import pytest
from pydantic import ValidationError

from collectors.base import FetchState, NeedsHumanError, TransientError, UnparseableError
from collectors.youtube import YoutubeCollector, YoutubeOptions, item_to_mention
from tests.replay import ReplayServer, Reply, recorded

KURZGESAGT = "youtube/newpipe-youtube-user-kurzgesagt-2026.xml"
GOOGLE_2015 = "youtube/feedjira-youtube-user-google-2015.xml"
NOT_FOUND = "youtube/newpipe-youtube-channel-not-found-404.html"
FEED = "/feeds/videos.xml"


def collector(server: ReplayServer, client: httpx.Client, **options: str) -> YoutubeCollector:
    opts = YoutubeOptions.model_validate({"user": "Kurzgesagt", "base_url": server.url, **options})
    return YoutubeCollector("yt", opts, client)


def test_2026_feed_maps_video_id_views_and_likes(shared_feeds: Path) -> None:
    entries = feedparser.parse((shared_feeds / KURZGESAGT).read_bytes()).entries
    mentions = [item_to_mention("yt", e) for e in entries]
    assert len(mentions) == 15 and all(m is not None for m in mentions)
    first = mentions[0]
    assert first is not None
    assert first.source_id == "zg40FHOAqC0"
    assert first.url == "https://www.youtube.com/shorts/zg40FHOAqC0"
    assert first.text.startswith("Jupiter Made Earth Possible\nJupiter once wandered")
    assert first.author == "Kurzgesagt – In a Nutshell"
    assert first.published == datetime(2026, 1, 22, 15, 1, 42, tzinfo=UTC)
    assert first.engagement.views == 1086938
    assert first.engagement.likes == 58314
    assert first.raw is not None and first.raw["yt_channelid"] == "UCsXVk37bltHxD1rDPwtNM8Q"
    assert sum("/shorts/" in m.url for m in mentions if m) == 8


def test_2015_feed_with_leading_blank_line_still_maps(shared_feeds: Path) -> None:
    entries = feedparser.parse((shared_feeds / GOOGLE_2015).read_bytes()).entries
    mentions = [item_to_mention("yt", e) for e in entries]
    assert len(mentions) == 15 and all(m and m.engagement.views for m in mentions)
    assert mentions[0] is not None and mentions[0].source_id == "5shykyfmb28"


def test_options_need_exactly_one_feed() -> None:
    with pytest.raises(ValidationError, match="exactly one"):
        YoutubeOptions.model_validate({"user": "a", "channel_id": "UCx"})
    with pytest.raises(ValidationError, match="exactly one"):
        YoutubeOptions.model_validate({})


def test_fetch_yields_all_15_and_records_newest_upload(
    replay: ReplayServer, client: httpx.Client, shared_feeds: Path
) -> None:
    replay.route(FEED, recorded(KURZGESAGT))
    state = FetchState()
    mentions = list(collector(replay, client, channel_id="UCsX", user="").fetch(state))
    assert len(mentions) == 15
    assert replay.hits(FEED)[0].query == {"channel_id": "UCsX"}
    assert state.cursor == max(m.published for m in mentions).isoformat()
    # A later poll re-reads the same 15 videos: that is how their counts are refreshed.
    assert len(list(collector(replay, client).fetch(state))) == 15


def test_etag_then_304(replay: ReplayServer, client: httpx.Client, shared_feeds: Path) -> None:
    replay.route(FEED, recorded(KURZGESAGT, ETag='"abc"'), Reply(status=304))
    state = FetchState()
    assert len(list(collector(replay, client).fetch(state))) == 15
    assert list(collector(replay, client).fetch(state)) == []
    assert replay.hits(FEED)[1].headers["If-None-Match"] == '"abc"'


def test_429_with_retry_after_then_success(
    replay: ReplayServer, client: httpx.Client, shared_feeds: Path
) -> None:
    replay.route(FEED, Reply(status=429, headers={"Retry-After": "0"}), recorded(KURZGESAGT))
    assert len(list(collector(replay, client).fetch(FetchState()))) == 15
    assert len(replay.hits(FEED)) == 2


def test_server_error_then_success(
    replay: ReplayServer, client: httpx.Client, shared_feeds: Path
) -> None:
    replay.route(FEED, Reply(status=500), recorded(KURZGESAGT))
    assert len(list(collector(replay, client).fetch(FetchState()))) == 15


def test_recorded_404_page_for_unknown_channel_needs_a_human(
    replay: ReplayServer, client: httpx.Client, shared_feeds: Path
) -> None:
    replay.route(FEED, recorded(NOT_FOUND))
    with pytest.raises(NeedsHumanError, match="YouTube has no public feed for channel_id=UCTG"):
        list(collector(replay, client, user="", channel_id="UCTGjY2I").fetch(FetchState()))


def test_html_page_with_200_is_unparseable(
    replay: ReplayServer, client: httpx.Client, shared_feeds: Path
) -> None:
    replay.route(FEED, recorded(NOT_FOUND, status=200))
    with pytest.raises(UnparseableError):
        list(collector(replay, client).fetch(FetchState()))


def test_connection_cut_mid_body_is_transient(
    replay: ReplayServer, client: httpx.Client, shared_feeds: Path
) -> None:
    replay.route(FEED, Reply((shared_feeds / KURZGESAGT).read_bytes(), truncate=2000))
    with pytest.raises(TransientError):
        list(collector(replay, client).fetch(FetchState()))


def test_truncated_document_keeps_the_complete_entries(
    replay: ReplayServer, client: httpx.Client, shared_feeds: Path
) -> None:
    body = (shared_feeds / KURZGESAGT).read_bytes()
    cut = body[: body.index(b"<entry>", body.index(b"<entry>") + 1) + 200]
    replay.route(FEED, Reply(cut))
    mentions = list(collector(replay, client).fetch(FetchState()))
    assert [m.source_id for m in mentions][:1] == ["zg40FHOAqC0"]


def test_entry_without_video_id_is_skipped_and_counted(
    replay: ReplayServer, client: httpx.Client, shared_feeds: Path
) -> None:
    body = (shared_feeds / KURZGESAGT).read_bytes()
    # An edited copy: the first entry loses its <id> and <yt:videoId>.
    broken = re.sub(
        rb"<id>yt:video:[^<]*</id>\s*<yt:videoId>[^<]*</yt:videoId>", b"", body, count=1
    )
    replay.route(FEED, Reply(broken))
    state = FetchState()
    mentions = list(collector(replay, client).fetch(state))
    assert len(mentions) == 14 and "zg40FHOAqC0" not in {m.source_id for m in mentions}
    assert state.skipped == 1


def test_entry_without_link_gets_the_watch_url() -> None:
    entry = {"id": "yt:video:abc123", "title": "Vellora unboxing", "link": "yt:video:abc123"}
    mention = item_to_mention("yt", entry)
    assert mention is not None
    assert mention.url == "https://www.youtube.com/watch?v=abc123"
