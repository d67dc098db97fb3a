"""Google News RSS search: the headlines Google News finds for a query, in one language and country."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

from pydantic import Field

from collectors import http, rss
from collectors.base import (
    Collector,
    CollectorOptions,
    FetchState,
    HttpUrl,
    Mention,
    language_code,
    parse_iso,
)
from collectors.text import html_to_text

# Search results are ranked by relevance, so an article can surface days after it was published;
# items this much older than the newest one already seen are still taken (duplicates are harmless).
LATE_ARRIVAL = timedelta(days=2)


class GoogleNewsOptions(CollectorOptions):
    """`query` as typed in Google News (quotes, OR, `when:1d`); `language` (hl) and `country` (gl)."""

    query: str = Field(min_length=1)
    language: str = Field("es", pattern=r"^[a-z]{2,3}(-[A-Za-z]{2,4})?$")
    country: str = Field("ES", pattern=r"^[A-Z]{2}$")
    base_url: HttpUrl = "https://news.google.com"


class GoogleNewsCollector(Collector):
    name = "google_news"
    description = (
        "Google News search results for a query (news.google.com/rss/search), in the configured "
        "language (hl) and country (gl); the outlet is kept as the author and the link is Google's "
        "redirect to the article. Needs no account. Note the feed's own notice: Google makes it "
        "available solely for rendering results in a personal feed reader for personal, "
        "non-commercial use, and prohibits any other use; decide whether your use fits those terms "
        "(an RSS source with a publisher's own feed, or Google Alerts, may suit you better)."
    )
    Options = GoogleNewsOptions
    options: GoogleNewsOptions

    def fetch(self, state: FetchState) -> Iterator[Mention]:
        o = self.options
        params = {
            "q": o.query,
            "hl": o.language,
            "gl": o.country,
            "ceid": f"{o.country}:{o.language.split('-')[0]}",
        }
        url = o.base_url.rstrip("/") + "/rss/search"
        response = http.get(self.client, url, params=params, state=state)
        if response is None:
            return
        since = parse_iso(state.cursor)  # None for a cursor this collector did not write
        newest = since
        to_mention = partial(item_to_mention, language=o.language)
        for mention in rss.parse_feed(
            self.source, response.content, response.headers, state, to_mention
        ):
            if since is not None and mention.published < since - LATE_ARRIVAL:
                continue
            newest = max(newest or mention.published, mention.published)
            yield mention
        if newest is not None:
            state.cursor = newest.isoformat()


def item_to_mention(
    source: str, raw: Mapping[str, Any], now: datetime | None = None, language: str | None = None
) -> Mention | None:
    """One Google News item (a feedparser entry) as a Mention, or None when it has no link or title."""
    mention = rss.entry_to_mention(source, raw, now or datetime.now(UTC))
    return with_outlet(mention, language) if mention is not None else None


def with_outlet(mention: Mention, language: str | None = None) -> Mention:
    """The headline without its " - Outlet" suffix as text, the outlet (RSS `<source>`) as author."""
    raw = mention.raw or {}
    source = raw.get("source")
    outlet = (source.get("title") or "").strip() if isinstance(source, Mapping) else ""
    # The description only repeats the headline and outlet, or lists other outlets' headlines.
    text = html_to_text(raw.get("title")) or mention.text
    if outlet and text.endswith(f" - {outlet}"):
        text = text[: -len(outlet) - 3].rstrip() or text
    return dataclasses.replace(
        mention,
        text=text,
        author=outlet or mention.author,
        language=mention.language or language_code(language),
    )
