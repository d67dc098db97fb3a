"""RSS/Atom collector: every recorded feed (awkward and malformed ones included) and its HTTP behaviour."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from analysis.sentiment import Sentiment
from collectors.base import FetchState, Mention, TransientError, UnparseableError
from collectors.http import HostLimiter, HttpPolicy, make_client
from collectors.rss import RssCollector, RssOptions, parse_feed
from tests.replay import ReplayServer, Reply, recorded
from vigia.analyse import AnalysedMention
from vigia.storage import connect
from vigia.storage.mentions import save_batch
from vigia.storage.schema import mentions

# file -> entries that become mentions (the rest are skipped and counted)
FEEDS = {
    "rss_atom/feedjira-feedburner-atom-xhtml.xml": 10,
    "rss_atom/feedjira-google-alerts-atom-slack.xml": 20,
    "rss_atom/feedjira-hn-frontpage-rss-comments.xml": 30,
    "rss_atom/feedjira-huffpost-ca-cdata-whitespace.xml": 2,
    "rss_atom/feedjira-rss-dc-date-epoch.xml": 2,
    "rss_atom/feedparser-atom-shiftjis-no-encoding-decl.xml": 1,
    "rss_atom/feedparser-atom-title-type-html-escaped.xml": 1,
    "rss_atom/feedparser-atom-title-type-xhtml-inline.xml": 1,
    "rss_atom/feedparser-atom03-title-script-cdata.xml": 1,
    "rss_atom/feedparser-atom10-example.xml": 1,
    "rss_atom/feedparser-large-atom-cyrillic-html-content.xml": 15,
    "rss_atom/feedparser-rss-cdata-undecodable-bytes.xml": 1,
    "rss_atom/feedparser-rss-double-encoded-utf8-no-dates.xml": 1,
    "rss_atom/feedparser-rss-greek-iso8859-7-pubdate.xml": 0,  # a channel with no items
    "rss_atom/feedparser-rss-truncated-cdata.xml": 0,  # its one item is cut before any text
    "rss_atom/feedparser-rss-unclosed-root-escaped-amp-link.xml": 1,
    "rss_atom/feedparser-rss20-delicious-atom-ns.xml": 1,
    "rss_atom/feedparser-rss20-example.xml": 1,
    "google_news/monument-watch-search-bears-ears-monument-2026.xml": 92,
    "google_news/summary-jp-top-stories-2024-bs4-prettified.xml": 30,
}
SHIFT_JIS = "rss_atom/feedparser-atom-shiftjis-no-encoding-decl.xml"
EXAMPLE = "rss_atom/feedparser-rss20-example.xml"
ALERTS = "rss_atom/feedjira-google-alerts-atom-slack.xml"


def test_every_recorded_feed_is_listed(shared_feeds: Path) -> None:
    on_disk = {
        f"{folder}/{p.name}"
        for folder in ("rss_atom", "google_news")
        for p in (shared_feeds / folder).iterdir()
    }
    assert on_disk == set(FEEDS)


@pytest.mark.parametrize(("name", "count"), sorted(FEEDS.items()))
def test_recorded_feed_parses(shared_feeds: Path, name: str, count: int) -> None:
    state = FetchState()
    mentions = list(parse_feed("rss", (shared_feeds / name).read_bytes(), {}, state))
    assert len(mentions) == count
    for m in mentions:
        assert m.source_id and m.published.tzinfo is not None
        assert "<" not in m.text or "<" in (m.raw or {}).get("title", "")


def test_truncated_item_is_skipped_and_counted(shared_feeds: Path) -> None:
    state = FetchState()
    body = (shared_feeds / "rss_atom/feedparser-rss-truncated-cdata.xml").read_bytes()
    assert list(parse_feed("rss", body, {}, state)) == []
    assert state.skipped == 1


def test_shift_jis_without_declaration_decodes(shared_feeds: Path) -> None:
    (m,) = parse_feed("rss", (shared_feeds / SHIFT_JIS).read_bytes(), {}, FetchState())
    assert m.text.startswith("DrecomRSSに記事投稿が反映されない…\n色々調べてたら、MT3.2")


def test_awkward_fields(shared_feeds: Path) -> None:
    def first(name: str):  # type: ignore[no-untyped-def]
        return next(parse_feed("rss", (shared_feeds / name).read_bytes(), {}, FetchState()))

    link = first("rss_atom/feedparser-rss-unclosed-root-escaped-amp-link.xml")
    assert link.url == "http://link/get?a=1&b=2"
    assert first("rss_atom/feedparser-atom03-title-script-cdata.xml").text == "safe description"
    alert = first(ALERTS)
    assert not alert.url.startswith("https://www.google.com/url")  # the redirect is unwrapped


def collector(server: ReplayServer, client: httpx.Client) -> RssCollector:
    return RssCollector("feed", RssOptions(url=f"{server.url}/feed.xml"), client)


def test_shift_jis_served_without_charset_decodes(
    replay: ReplayServer, client: httpx.Client, shared_feeds: Path
) -> None:
    replay.route("/feed.xml", recorded(SHIFT_JIS))
    (m,) = collector(replay, client).fetch(FetchState())
    assert "記事投稿" in m.text


def test_conditional_get_and_304(
    replay: ReplayServer, client: httpx.Client, shared_feeds: Path
) -> None:
    modified = "Tue, 10 Jun 2003 04:00:00 GMT"
    replay.route(
        "/feed.xml",
        recorded(EXAMPLE, ETag='"r1"', **{"Last-Modified": modified}),
        Reply(status=304),
    )
    state = FetchState()
    assert len(list(collector(replay, client).fetch(state))) == 1
    assert list(collector(replay, client).fetch(state)) == []
    second = replay.hits("/feed.xml")[1].headers
    assert second["If-None-Match"] == '"r1"' and second["If-Modified-Since"] == modified


def test_timeout_is_transient(replay: ReplayServer, shared_feeds: Path) -> None:
    replay.route("/feed.xml", Reply((shared_feeds / EXAMPLE).read_bytes(), delay=1.0))
    policy = HttpPolicy(timeout=0.2, retries=0, min_interval_per_host=0.0)
    with (
        make_client(policy, HostLimiter(0.0)) as slow_client,
        pytest.raises(TransientError, match="timed out"),
    ):
        list(collector(replay, slow_client).fetch(FetchState()))


def test_500_then_success(replay: ReplayServer, client: httpx.Client, shared_feeds: Path) -> None:
    replay.route("/feed.xml", Reply(status=500), recorded(EXAMPLE))
    assert len(list(collector(replay, client).fetch(FetchState()))) == 1
    assert len(replay.hits("/feed.xml")) == 2


def test_malformed_xml_without_entries_is_unparseable(
    replay: ReplayServer, client: httpx.Client, shared_feeds: Path
) -> None:
    body = (shared_feeds / EXAMPLE).read_bytes()
    replay.route("/feed.xml", Reply(body[: body.index(b"<item>")]))  # cut before any item
    with pytest.raises(UnparseableError, match="not a readable RSS/Atom feed"):
        list(collector(replay, client).fetch(FetchState()))


VELLORA_FEED = Path(__file__).resolve().parents[1] / "fixtures" / "vellora-es.rss.xml"


def test_a_non_web_link_is_dropped_and_the_item_kept(
    replay: ReplayServer, client: httpx.Client, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The real forum feed with its first two links edited into `javascript:` and `data:`."""
    feed = VELLORA_FEED.read_text(encoding="utf-8")
    hostile = {
        "https://foro.example.es/t/1001": "javascript:alert(document.cookie)",
        "https://foro.example.es/t/1002": " DATA:text/html;base64,PHNjcmlwdD4=",
    }
    for link, evil in hostile.items():
        edited = feed.replace(f"<link>{link}</link>", f"<link>{evil}</link>").replace(
            f'<guid isPermaLink="true">{link}</guid>', f'<guid isPermaLink="false">{link}</guid>'
        )
        assert edited != feed
        feed = edited
    replay.route("/feed.xml", Reply(feed.encode("utf-8"), headers={"Content-Type": "text/xml"}))
    state = FetchState()
    with caplog.at_level("WARNING", logger="collectors.base"):
        fetched = list(collector(replay, client).fetch(state))

    assert len(fetched) == 3 and state.skipped == 0  # a bad link costs the link, not the item
    assert [m.url for m in fetched] == ["", "", "https://foro.example.es/t/1003"]
    assert fetched[0].text.startswith("Vellora me cobró dos veces")
    assert fetched[0].source_id == "https://foro.example.es/t/1001"  # still deduplicated
    assert "dropped a link that is not http(s): 'javascript:alert" in caplog.text

    # And nothing of it reaches the database.
    engine = connect(f"sqlite:///{tmp_path / 'v.db'}")
    try:
        with engine.begin() as conn:
            save_batch(conn, "feed", fetched, _unscored, datetime.now(UTC))
        with engine.connect() as conn:
            stored = conn.execute(select(mentions.c.source_id, mentions.c.url)).all()
    finally:
        engine.dispose()
    assert len(stored) == 3
    assert not [url for _, url in stored if "javascript" in url.lower() or "data:" in url.lower()]


def _unscored(items: Sequence[Mention]) -> list[AnalysedMention]:
    neutral = Sentiment(0.0, 0.0, 1.0, 0.0)
    return [AnalysedMention(m, "Vellora", "es", neutral, "neutral", ()) for m in items]
