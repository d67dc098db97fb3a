"""Reddit: keyword search, a subreddit's new posts, and the comment trees of watched threads."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from typing import Any

from pydantic import Field, field_validator, model_validator

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
)
from collectors.text import join_text

SITE = "https://www.reddit.com"
_THREAD = re.compile(r"/comments/([a-z0-9]+)|^(?:t3_)?([a-z0-9]+)$", re.IGNORECASE)
_FULLNAME = re.compile(r"(?:t3_)?([a-z0-9]+)", re.IGNORECASE)


class RedditOptions(CollectorOptions):
    """`query` and/or `subreddit` for a listing, or `threads` (ids or URLs) whose comments to follow."""

    query: str | None = None
    subreddit: str | None = Field(None, pattern=r"^[A-Za-z0-9_]{2,21}$")
    threads: list[str] = []
    limit: int = Field(100, ge=1, le=100)
    max_pages: int = Field(3, ge=1, le=10)
    base_url: HttpUrl = SITE

    @field_validator("threads")
    @classmethod
    def _thread_ids(cls, values: list[str]) -> list[str]:
        ids = []
        for value in values:
            match = _THREAD.search(value.strip())
            if not match:
                raise ValueError(f"expected a thread id such as 54hhwl or its URL, got {value!r}")
            ids.append((match[1] or match[2]).lower())
        return ids

    @model_validator(mode="after")
    def _one_mode(self) -> RedditOptions:
        listing = bool(self.query or self.subreddit)
        if listing == bool(self.threads):
            raise ValueError("expected either query/subreddit (a listing) or threads, not both")
        return self


class RedditCollector(Collector):
    name = "reddit"
    description = (
        "Reddit posts matching a search `query` (site-wide, or within `subreddit`), a subreddit's "
        "new posts, or every comment of the `threads` you watch (re-read each poll so scores and "
        "comment counts stay current; thread = link_id, parent = parent_id). Uses the public "
        ".json listings, newest first, reading at most max_pages pages of up to 100 items per "
        "poll. Active threads the pipeline points at are re-read each poll in every mode, so "
        "comments that never name the brand and moving scores are seen. Reddit's Data API terms "
        "expect OAuth, and anonymous traffic is throttled or refused (429/403) more and more: "
        "poll slowly (15m or more)."
    )
    Options = RedditOptions
    options: RedditOptions
    rereads_threads = True

    def fetch(self, state: FetchState) -> Iterator[Mention]:
        if self.options.threads:
            for thread in self.options.threads:
                yield from self._thread(thread, state)
        else:
            yield from self._listing(state)
        # The `t3_` roots the pipeline asks to refresh, each read once and not again when it is
        # also configured; one deleted since it was stored is passed over, not a failed poll.
        watched: dict[str, None] = {}
        for fullname in state.watch:
            match = _FULLNAME.fullmatch(fullname)
            if match is None:
                state.skip(f"watched thread is not a t3_ fullname: {fullname[:60]!r}")
            elif match[1].lower() not in self.options.threads:
                watched[match[1].lower()] = None
        for thread in watched:
            yield from self._thread(thread, state, watched=True)

    def _listing(self, state: FetchState) -> Iterator[Mention]:
        o = self.options
        params: dict[str, str | int] = {"limit": o.limit, "raw_json": 1}
        if o.query:
            params.update(q=o.query, sort="new", t="all")
            path = f"/r/{o.subreddit}/search.json" if o.subreddit else "/search.json"
            if o.subreddit:
                params["restrict_sr"] = 1
        else:
            path = f"/r/{o.subreddit}/new.json"
        url = o.base_url.rstrip("/") + path
        since, _ = parse_cursor(state.cursor)
        newest, newest_created = state.cursor, since
        for page in range(o.max_pages):
            # Only the first page is conditional: later pages are new URLs (after=…).
            response = http.get(self.client, url, params=params, state=state if page == 0 else None)
            if response is None:
                return
            data = _listing_data(http.json_body(response), str(response.request.url))
            reached_known = False
            for child in data["children"]:
                mention = item_to_mention(self.source, child)
                if mention is None:
                    state.skip(f"reddit item without id, date or text: {_name(child)!r}")
                    continue
                created = mention.published.timestamp()
                if since is not None and created < since:
                    reached_known = True  # newest first: the rest was read by an earlier poll
                    continue
                if newest_created is None or created > newest_created:
                    newest, newest_created = f"{created:.0f}:{mention.source_id}", created
                yield mention
            after = data.get("after")
            if reached_known or not after:
                break
            params["after"] = after
        state.cursor = newest

    def _thread(self, thread: str, state: FetchState, watched: bool = False) -> Iterator[Mention]:
        """The post and comment tree of one thread; a `watched` one that is gone (404/410) is
        skipped and counted, where a configured one asks for a config fix."""
        url = f"{self.options.base_url.rstrip('/')}/comments/{thread}.json"
        params = {"sort": "new", "limit": 500, "raw_json": 1}
        response = http.send(self.client, "GET", url, params=params)
        if watched and response.status_code in (404, 410):
            state.skip(f"watched thread t3_{thread} is gone")
            return
        http.raise_for_status(response)
        body = http.json_body(response)
        if not (isinstance(body, list) and len(body) == 2):
            raise UnparseableError(
                f"expected [post listing, comment listing] from {response.request.url}, "
                f"got {type(body).__name__}"
            )
        for listing in body:
            for child in _walk(_listing_data(listing, str(response.request.url))["children"]):
                mention = item_to_mention(self.source, child)
                if mention is None:
                    state.skip(f"reddit item without id, date or text: {_name(child)!r}")
                else:
                    yield mention


def item_to_mention(source: str, raw: Mapping[str, Any]) -> Mention | None:
    """A listing child (`{"kind": "t3"|"t1", "data": …}`) as a Mention; None if unusable.

    Posts are their own thread; comments carry `link_id` as thread and `parent_id` as parent.
    Removed or deleted comments (no text left) are None, so they are counted as skipped.
    """
    kind = raw.get("kind")
    data = raw.get("data")
    if kind not in ("t3", "t1") or not isinstance(data, Mapping):
        return None
    name = data.get("name") or (f"{kind}_{data['id']}" if data.get("id") else None)
    created = data.get("created_utc")
    permalink = data.get("permalink") or _comment_path(data)
    if not name or not isinstance(created, int | float) or not permalink:
        return None
    if kind == "t3":
        text = join_text(data.get("title"), data.get("selftext"))
        thread_id, parent_id = name, None
    else:
        body = data.get("body") or ""
        text = "" if body in ("[removed]", "[deleted]") else body
        thread_id, parent_id = data.get("link_id"), data.get("parent_id")
    if not text.strip():
        return None
    author = data.get("author")
    return Mention(
        source=source,
        source_id=name,
        url=SITE + permalink,
        published=datetime.fromtimestamp(created, UTC),
        text=text.strip(),
        author=author if author and author != "[deleted]" else None,
        thread_id=thread_id,
        parent_id=parent_id,
        engagement=Engagement(
            score=as_count(data.get("score")),
            replies=as_count(data.get("num_comments")) if kind == "t3" else None,
        ),
        raw={k: v for k, v in data.items() if k != "replies"},
    )


def parse_cursor(cursor: str | None) -> tuple[float | None, str | None]:
    """(created_utc, fullname) of the newest item a previous poll saw."""
    if not cursor or ":" not in cursor:
        return None, None
    created, _, name = cursor.partition(":")
    try:
        return float(created), name
    except ValueError:
        return None, None


def _listing_data(body: Any, url: str) -> Mapping[str, Any]:
    data = body.get("data") if isinstance(body, Mapping) else None
    if not isinstance(data, Mapping) or body.get("kind") != "Listing":
        raise UnparseableError(f"expected a Reddit Listing from {url}, got {str(body)[:80]!r}")
    if not isinstance(data.get("children"), list):
        raise UnparseableError(f"Reddit Listing from {url} has no children list")
    return data


def _walk(children: list[Any]) -> Iterator[Mapping[str, Any]]:
    """Depth-first over a comment tree; `more` stubs (unexpanded replies) are passed over."""
    for child in children:
        if not isinstance(child, Mapping) or child.get("kind") == "more":
            continue
        yield child
        replies = (child.get("data") or {}).get("replies")
        if isinstance(replies, Mapping):
            yield from _walk((replies.get("data") or {}).get("children") or [])


def _comment_path(data: Mapping[str, Any]) -> str | None:
    """Comments recorded before Reddit added `permalink` (2014) are linked through their thread."""
    link_id, comment_id = data.get("link_id"), data.get("id")
    if isinstance(link_id, str) and link_id.startswith("t3_") and comment_id:
        return f"/comments/{link_id[3:]}/_/{comment_id}/"
    return None


def _name(child: Any) -> str:
    data = child.get("data") if isinstance(child, Mapping) else None
    return str(data.get("name") or data.get("id")) if isinstance(data, Mapping) else "?"
