"""Apple App Store customer reviews of one app in one storefront (the iTunes reviews JSON feed)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from typing import Any

import httpx
from pydantic import Field, field_validator

from collectors import http
from collectors.base import (
    Collector,
    CollectorOptions,
    Engagement,
    FetchState,
    HttpUrl,
    Mention,
    NeedsHumanError,
    UnparseableError,
    parse_iso,
)
from collectors.text import join_text

# Apple serves at most 10 pages of 50 reviews; page 11 answers a plain-text error.
MAX_PAGES = 10


class AppStoreOptions(CollectorOptions):
    """`app_id` (the number in the app's App Store URL) and the storefront's `country` code."""

    app_id: int = Field(gt=0)
    country: str = Field(default="us", pattern=r"^[a-z]{2}$")
    base_url: HttpUrl = "https://itunes.apple.com"
    max_pages: int = Field(default=MAX_PAGES, ge=1, le=MAX_PAGES)

    @field_validator("country", mode="before")
    @classmethod
    def _lower(cls, value: Any) -> Any:
        return value.lower() if isinstance(value, str) else value


class AppStoreCollector(Collector):
    name = "appstore"
    description = (
        "Customer reviews of one iOS/macOS app in one App Store storefront (`app_id`, the number "
        "after 'id' in the app's URL, and a two-letter `country`; add one source per country). "
        "Each review keeps its 1-5 star rating beside the text's sentiment. No account needed. "
        "Apple serves only the 500 most recent reviews (10 pages); a poll stops at the first page "
        "with nothing new. Apple throttles aggressive polling: keep the interval at 30m or more."
    )
    Options = AppStoreOptions
    options: AppStoreOptions

    def fetch(self, state: FetchState) -> Iterator[Mention]:
        o = self.options
        seen_at = datetime.now(UTC)
        last_seen, newest = state.cursor, state.cursor
        for page in range(1, o.max_pages + 1):
            url = (
                f"{o.base_url.rstrip('/')}/{o.country}/rss/customerreviews/page={page}"
                f"/id={o.app_id}/sortby=mostrecent/json"
            )
            # Only page 1 has a stable meaning between polls, so only it is asked conditionally.
            response = http.get(self.client, url, state=state if page == 1 else None)
            if response is None:
                return
            feed = _feed(response)
            entries = page_entries(feed, url)
            if page == 1 and not entries and not _link(feed, "last"):
                raise NeedsHumanError(
                    f"{url}: the App Store has no reviews feed for app {o.app_id} in storefront "
                    f"'{o.country}' (unknown id, or not sold there); check app_id and country"
                )
            anything_new = False
            for raw in entries:
                if _is_app(raw):
                    continue
                mention = item_to_mention(self.source, raw, seen_at)
                if mention is None:
                    state.skip(f"review without id or text: {str(raw)[:60]!r}")
                    continue
                if last_seen is None or review_order(mention.source_id) > review_order(last_seen):
                    anything_new = True
                if newest is None or review_order(mention.source_id) > review_order(newest):
                    newest = mention.source_id
                yield mention
            if not anything_new:  # the rest is older than what the last poll stored
                break
        state.cursor = newest


def item_to_mention(source: str, raw: Any, seen_at: datetime | None = None) -> Mention | None:
    """One review entry as a Mention, or None when it has no id or no text.

    Entries from before 2022 carry no date; they are stamped `seen_at` (default: now).
    """
    if not isinstance(raw, Mapping):
        return None
    review_id = _label(raw.get("id"))
    text = join_text(_label(raw.get("title")), _label(raw.get("content")))
    if not review_id or not text:
        return None
    author: Mapping[str, Any] = raw["author"] if isinstance(raw.get("author"), Mapping) else {}
    rating = _number(_label(raw.get("im:rating")))
    return Mention(
        source=source,
        source_id=review_id,
        url=_review_url(raw.get("link")) or _label(author.get("uri")),
        published=parse_iso(_label(raw.get("updated"))) or seen_at or datetime.now(UTC),
        text=text,
        author=_label(author.get("name")) or None,
        language=None,  # the storefront says where the app was bought, not what language is used
        engagement=Engagement(score=_number(_label(raw.get("im:voteSum")))),
        rating=rating if rating is not None and 1 <= rating <= 5 else None,
        raw=raw,
    )


def page_entries(feed: Mapping[str, Any], url: str) -> list[Any]:
    """A page's review entries: none past the last page (no `entry` key), a lone one as a list."""
    entries = feed.get("entry")
    if entries is None:
        return []
    if isinstance(entries, Mapping):
        return [entries]
    if not isinstance(entries, list):
        raise UnparseableError(f"expected 'entry' to be a list of reviews in {url}")
    return entries


def review_order(review_id: str) -> tuple[int, str]:
    """Sort key for review ids: decimal numbers that grow with time."""
    return (len(review_id), review_id)


def _feed(response: httpx.Response) -> Mapping[str, Any]:
    body = http.json_body(response)
    feed = body.get("feed") if isinstance(body, Mapping) else None
    if not isinstance(feed, Mapping):
        raise UnparseableError(f"expected a reviews 'feed' object from {response.request.url}")
    return feed


def _is_app(raw: Any) -> bool:
    """Older feeds open page 1 with the app itself: it has a name and price but no rating."""
    return isinstance(raw, Mapping) and "im:rating" not in raw and "im:name" in raw


def _link(feed: Mapping[str, Any], rel: str) -> str:
    links = feed.get("link")
    for link in links if isinstance(links, list) else [links]:
        attributes = link.get("attributes") if isinstance(link, Mapping) else None
        if isinstance(attributes, Mapping) and attributes.get("rel") == rel:
            return str(attributes.get("href") or "")
    return ""


def _review_url(link: Any) -> str:
    attributes = link.get("attributes") if isinstance(link, Mapping) else None
    return str(attributes.get("href") or "") if isinstance(attributes, Mapping) else ""


def _label(node: Any) -> str:
    """Every value in this feed sits under a `label` key."""
    value = node.get("label") if isinstance(node, Mapping) else None
    return value.strip() if isinstance(value, str) else ""


def _number(value: str) -> int | None:
    try:
        return int(value)
    except ValueError:
        return None
