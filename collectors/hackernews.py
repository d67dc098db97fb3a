"""Hacker News stories and comments, newest first, from the Algolia HN Search API (search_by_date)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from typing import Any

from pydantic import Field

from collectors import http
from collectors.base import (
    Collector,
    CollectorOptions,
    Engagement,
    FetchState,
    HttpUrl,
    Mention,
    as_count,
    parse_iso,
)
from collectors.text import html_to_text, join_text

ITEM_URL = "https://news.ycombinator.com/item?id="
# Algolia indexes an item some seconds after it is posted, so an item can appear with a creation
# time just before the newest one already read; each poll looks this far behind the cursor
# (re-read items are ignored by storage, and their points are refreshed).
OVERLAP_SECONDS = 300


class HackerNewsOptions(CollectorOptions):
    """`query` (words, or a "quoted phrase"); `tags` as Algolia takes them."""

    query: str = Field(min_length=1)
    tags: str = "(story,comment)"
    hits_per_page: int = Field(100, ge=1, le=1000)
    max_pages: int = Field(3, ge=1, le=20)
    base_url: HttpUrl = "https://hn.algolia.com/api/v1"


class HackerNewsCollector(Collector):
    name = "hackernews"
    description = (
        "Hacker News stories and comments matching a query, via the public Algolia HN Search API "
        "(no key). Each poll asks only for items created after the last one seen (plus a short "
        "overlap for indexing delay), newest first, at most max_pages pages; stories keep points "
        "and comment counts, comments their story (thread) and parent. Algolia allows 10,000 "
        "requests an hour per IP, far more than a poll every few minutes needs."
    )
    Options = HackerNewsOptions
    options: HackerNewsOptions

    def fetch(self, state: FetchState) -> Iterator[Mention]:
        o = self.options
        url = o.base_url.rstrip("/") + "/search_by_date"
        since = _cursor(state.cursor)
        params: dict[str, str | int] = {
            "query": o.query,
            "tags": o.tags,
            "hitsPerPage": o.hits_per_page,
        }
        if since is not None:
            params["numericFilters"] = f"created_at_i>{since - OVERLAP_SECONDS}"
        newest = since
        for page in range(o.max_pages):
            params["page"] = page
            response = http.get(self.client, url, params=params, state=state if page == 0 else None)
            if response is None:
                return
            body = http.json_body(response)
            for hit in http.items_of(body, "hits", "Algolia search results", response.request.url):
                mention = item_to_mention(self.source, hit)
                if mention is None:
                    state.skip(f"HN hit without id, date or text: {_object_id(hit)!r}")
                    continue
                created = int(mention.published.timestamp())
                newest = created if newest is None else max(newest, created)
                yield mention
            pages = body.get("nbPages")
            if not isinstance(pages, int) or page + 1 >= pages:
                break
        if newest is not None:
            state.cursor = str(newest)


def item_to_mention(source: str, raw: Mapping[str, Any]) -> Mention | None:
    """One Algolia hit (story or comment) as a Mention; None without id, time or text."""
    if not isinstance(raw, Mapping):
        return None
    object_id = raw.get("objectID")
    published = _published(raw)
    if not object_id or published is None:
        return None
    tags = raw.get("_tags") or []
    if "comment" in tags or raw.get("comment_text"):
        text = html_to_text(raw.get("comment_text"))
        thread_id, parent_id = _id(raw.get("story_id")), _id(raw.get("parent_id"))
    else:
        text = join_text(html_to_text(raw.get("title")), html_to_text(raw.get("story_text")))
        thread_id, parent_id = str(object_id), None
    if not text:
        return None
    return Mention(
        source=source,
        source_id=str(object_id),
        url=ITEM_URL + str(object_id),
        published=published,
        text=text,
        author=raw.get("author") or None,
        thread_id=thread_id,
        parent_id=parent_id,
        engagement=Engagement(
            score=as_count(raw.get("points")), replies=as_count(raw.get("num_comments"))
        ),
        raw={k: v for k, v in raw.items() if k != "_highlightResult"},
    )


def _published(raw: Mapping[str, Any]) -> datetime | None:
    epoch = raw.get("created_at_i")
    if isinstance(epoch, int | float) and not isinstance(epoch, bool):
        return datetime.fromtimestamp(epoch, UTC)
    return parse_iso(raw.get("created_at"))


def _id(value: Any) -> str | None:
    return str(value) if isinstance(value, int | str) and str(value) else None


def _object_id(hit: Any) -> str:
    return str(hit.get("objectID")) if isinstance(hit, Mapping) else "?"


def _cursor(cursor: str | None) -> int | None:
    return int(cursor) if cursor and cursor.isdigit() else None
