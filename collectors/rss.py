"""RSS and Atom feeds of any publisher (blogs, forums, press, Google Alerts), read with feedparser."""

from __future__ import annotations

import calendar
import io
import re
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

import feedparser

from collectors import http
from collectors.base import (
    Collector,
    CollectorOptions,
    Engagement,
    FetchState,
    HttpUrl,
    Mention,
    UnparseableError,
    as_count,
    language_code,
    stable_id,
)
from collectors.text import html_to_text, join_text

# Real feeds nest a few dozen elements deep. feedparser keeps about 0.5 KB per open element, so a
# document nested millions deep (20 MB of "<a>" fits in http.max_response_size) would take
# gigabytes and minutes; 1000 levels leave room for sloppy feeds full of unclosed <br>.
MAX_XML_DEPTH = 1000
# Tags, with the parts of a document whose "<" opens no element (CDATA, comments, <? ?>, <! >)
# matched first so they are passed over; group 1 is "/" for a closing tag, group 2 for an empty one.
_MARKUP = re.compile(rb"<!\[CDATA\[.*?\]\]>|<!--.*?-->|<[?!][^>]*>|<(/?)[A-Za-z_][^>]*?(/?)>", re.S)


class RssOptions(CollectorOptions):
    """`url`: the feed's address (RSS 0.9x/1.0/2.0 or Atom 0.3/1.0)."""

    url: HttpUrl


class RssCollector(Collector):
    name = "rss"
    description = (
        "Any RSS or Atom feed: a publisher's news feed, a forum or blog search feed, or a Google "
        "Alerts feed (Alerts -> deliver to RSS feed). Uses conditional GET (ETag/Last-Modified), so "
        "an unchanged feed costs one short request. Items without a date are stamped with the time "
        "they were first seen."
    )
    Options = RssOptions
    options: RssOptions

    def fetch(self, state: FetchState) -> Iterator[Mention]:
        response = http.get(self.client, self.options.url, state=state)
        if response is None:
            return
        yield from parse_feed(self.source, response.content, response.headers, state)


EntryMapper = Callable[[str, Mapping[str, Any], datetime], Mention | None]


def parse_feed(
    source: str,
    body: bytes,
    headers: Mapping[str, str],
    state: FetchState,
    to_mention: EntryMapper | None = None,
) -> Iterator[Mention]:
    """Mentions of a feed document; a broken document with no recoverable entry is an error.

    `to_mention` maps one entry (default `entry_to_mention`); feeds with platform extensions
    (YouTube's media:community, Google News' outlet) pass their own.
    """
    to_mention = to_mention or entry_to_mention
    if nested_deeper_than(body, MAX_XML_DEPTH):
        raise UnparseableError(f"bad payload: nested deeper than {MAX_XML_DEPTH} levels")
    http_headers = {k.lower(): v for k, v in headers.items()}
    # With headers but no Content-Type, feedparser follows RFC 3023 to ISO-8859-1, which never
    # fails to decode and so turns an undeclared Shift_JIS or UTF-8 feed into mojibake; without
    # headers it sniffs the bytes (chardet) instead.
    # A file object, not bytes: feedparser tries bytes as a file name first, so a server answering
    # "/etc/passwd" or "/dev/zero" would have it read that local file.
    parsed = feedparser.parse(
        io.BytesIO(body), response_headers=http_headers if "content-type" in http_headers else None
    )
    if parsed.bozo and not parsed.entries:
        reason = parsed.get("bozo_exception", "not a feed")
        raise UnparseableError(f"not a readable RSS/Atom feed: {reason}")
    now = datetime.now(UTC)
    for entry in parsed.entries:
        mention = to_mention(source, entry, now)
        if mention is None:
            state.skip(f"entry without link, id or text: {entry.get('title', '')[:40]!r}")
        else:
            yield mention


def nested_deeper_than(body: bytes, limit: int) -> bool:
    """Whether a feed document opens elements more than `limit` deep (counted on the markup, so
    a malformed document, which feedparser still reads loosely, is measured too)."""
    depth = 0
    for match in _MARKUP.finditer(body):
        closing, empty = match.groups()
        if closing is None:  # CDATA, a comment or a declaration
            continue
        if closing:
            depth = max(0, depth - 1)
        elif not empty:
            depth += 1
            if depth > limit:
                return True
    return False


def entry_to_mention(source: str, entry: Mapping[str, Any], now: datetime) -> Mention | None:
    """One feed entry as a Mention, or None when it has neither an address nor any text."""
    url = unwrap_redirect(entry.get("link") or "")
    title = html_to_text(entry.get("title"))
    body = _entry_body(entry)
    text = join_text(title, body if body != title else None)
    if not url and not text:
        return None
    source_id = entry.get("id") or url or stable_id(title, entry.get("published"))
    return Mention(
        source=source,
        source_id=source_id,
        url=url,
        published=_entry_time(entry) or now,
        text=text,
        author=entry.get("author") or None,
        language=_language(entry),
        engagement=Engagement(replies=as_count(entry.get("slash_comments"))),
        raw=_raw(entry),
    )


def unwrap_redirect(url: str) -> str:
    """The publisher's URL behind a Google redirect (Google Alerts wraps every link in one)."""
    parts = urlsplit(url)
    if parts.netloc.endswith("google.com") and parts.path == "/url":
        query = parse_qs(parts.query)
        for key in ("url", "q"):
            if query.get(key):
                return query[key][0]
    return url


def _entry_body(entry: Mapping[str, Any]) -> str:
    contents = entry.get("content") or []
    if contents:
        return html_to_text(contents[0].get("value"))
    return html_to_text(entry.get("summary"))


def _entry_time(entry: Mapping[str, Any]) -> datetime | None:
    for key in ("published_parsed", "updated_parsed", "created_parsed"):
        parsed = entry.get(key)
        if parsed:
            return datetime.fromtimestamp(calendar.timegm(parsed), UTC)
    return None


def _language(entry: Mapping[str, Any]) -> str | None:
    detail = entry.get("title_detail") or {}
    return language_code(detail.get("language")) if isinstance(detail, Mapping) else None


def _raw(entry: Mapping[str, Any]) -> dict[str, Any]:
    """The entry's plain fields, enough to re-map the row without fetching again."""
    keep = ("id", "link", "title", "summary", "author", "published", "updated", "tags", "source")
    return {key: entry[key] for key in keep if key in entry}
