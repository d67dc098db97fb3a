"""Stack Exchange questions (Stack Overflow, Super User, …) from the API's /search/advanced."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import Field, model_validator

from collectors import http
from collectors.base import (
    Collector,
    CollectorOptions,
    Engagement,
    FetchState,
    HttpUrl,
    Mention,
    as_count,
)
from collectors.text import html_to_text, join_text


class StackExchangeOptions(CollectorOptions):
    """`site` (api_site_parameter, e.g. stackoverflow); `q` (free text) and/or `tagged` (a;b)."""

    site: str = Field("stackoverflow", pattern=r"^[a-z0-9.-]+$")
    q: str | None = None
    tagged: str | None = None
    key: str | None = None  # an app key is not a secret; it raises the daily quota to 10,000
    first_days: int = Field(7, ge=1, le=365)
    page_size: int = Field(100, ge=1, le=100)
    max_pages: int = Field(3, ge=1, le=25)
    quota_reserve: int = Field(10, ge=0)
    base_url: HttpUrl = "https://api.stackexchange.com/2.3"

    @model_validator(mode="after")
    def _something_to_search(self) -> StackExchangeOptions:
        if not (self.q or self.tagged):
            raise ValueError("expected q (search words) or tagged (tags separated by ;)")
        return self


class StackExchangeCollector(Collector):
    name = "stackexchange"
    description = (
        "Questions on a Stack Exchange site (Stack Overflow by default) matching search words "
        "(`q`) and/or tags (`tagged`), via the public API's /search/advanced, with score, answer "
        "and view counts. Reads oldest-first from the last question seen, so a poll cut short "
        "loses nothing; at most max_pages pages a poll. Without an app `key` the API allows 300 "
        "requests a day per IP: paging stops when the day's quota falls to quota_reserve, and "
        "the API's `backoff` is obeyed by skipping polls until it has passed."
    )
    Options = StackExchangeOptions
    options: StackExchangeOptions

    def fetch(self, state: FetchState) -> Iterator[Mention]:
        o = self.options
        cursor = load_cursor(state.cursor)
        now = time.time()
        if cursor.get("wait_until", 0) > now:
            return  # the API asked for a pause (backoff) or the day's quota is spent
        fromdate = cursor.get("fromdate") or int(now - o.first_days * 86400)
        params: dict[str, str | int] = {
            "site": o.site,
            "sort": "creation",
            "order": "asc",  # oldest first, so stopping early leaves no gap behind the cursor
            "fromdate": fromdate,
            "pagesize": o.page_size,
            "filter": "withbody",
        }
        params.update({k: v for k, v in (("q", o.q), ("tagged", o.tagged), ("key", o.key)) if v})
        url = o.base_url.rstrip("/") + "/search/advanced"
        newest = fromdate
        wait_until: float | None = None
        for page in range(1, o.max_pages + 1):
            params["page"] = page
            response = http.get(self.client, url, params=params, state=state if page == 1 else None)
            if response is None:
                return
            body = http.json_body(response)
            for item in http.items_of(
                body, "items", "Stack Exchange results", response.request.url
            ):
                mention = item_to_mention(self.source, item)
                if mention is None:
                    state.skip(f"question without id, date or title: {_question_id(item)!r}")
                    continue
                newest = max(newest, int(mention.published.timestamp()))
                yield mention
            wait_until = _pause_until(body, o.quota_reserve)
            if wait_until is not None or not body.get("has_more"):
                break
        state.cursor = json.dumps(
            {"fromdate": newest, **({"wait_until": wait_until} if wait_until else {})}
        )


def item_to_mention(source: str, raw: Mapping[str, Any]) -> Mention | None:
    """One question as a Mention (title + body as text); None without id, date, link or title."""
    if not isinstance(raw, Mapping):
        return None
    question_id, created, link = raw.get("question_id"), raw.get("creation_date"), raw.get("link")
    title = html_to_text(raw.get("title"))  # titles come HTML-escaped (&#39;, &quot;)
    if not isinstance(question_id, int) or not isinstance(created, int) or not link or not title:
        return None
    owner = raw.get("owner")
    author = html_to_text(owner.get("display_name")) if isinstance(owner, Mapping) else ""
    return Mention(
        source=source,
        source_id=str(question_id),
        url=str(link),
        published=datetime.fromtimestamp(created, UTC),
        text=join_text(title, html_to_text(raw.get("body"))),
        author=author or None,
        thread_id=str(question_id),
        engagement=Engagement(
            score=as_count(raw.get("score")),
            replies=as_count(raw.get("answer_count")),
            views=as_count(raw.get("view_count")),
        ),
        raw=dict(raw),
    )


def load_cursor(cursor: str | None) -> dict[str, Any]:
    """{"fromdate": epoch of the newest question seen, "wait_until": epoch before which not to ask}."""
    try:
        value = json.loads(cursor) if cursor else {}
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _pause_until(body: Mapping[str, Any], reserve: int) -> float | None:
    """When the next request may be made, if the API said to wait (backoff) or the quota is low."""
    backoff = body.get("backoff")
    if isinstance(backoff, int | float) and backoff > 0:
        return time.time() + backoff
    remaining = body.get("quota_remaining")
    if isinstance(remaining, int) and remaining <= reserve:
        # The daily quota resets at midnight UTC.
        tomorrow = datetime.now(UTC).date() + timedelta(days=1)
        return datetime(tomorrow.year, tomorrow.month, tomorrow.day, tzinfo=UTC).timestamp()
    return None


def _question_id(item: Any) -> str:
    return str(item.get("question_id")) if isinstance(item, Mapping) else "?"
