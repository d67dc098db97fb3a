"""Mastodon: hashtag timelines, status search and watched conversations on one instance."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import replace
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

import httpx
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
    language_code,
    parse_iso,
)
from collectors.text import html_to_text, join_text

_STATUS_ID = re.compile(r"[A-Za-z0-9]+")


class MastodonOptions(CollectorOptions):
    """`instance` URL, one of `hashtag` / `query`; `threads`: status ids or URLs to follow."""

    instance: HttpUrl
    hashtag: str | None = None
    query: str | None = None
    threads: list[str] = Field(default=[], max_length=20)
    max_pages: int = Field(default=4, ge=1, le=50)
    limit: int = Field(default=40, ge=1, le=40)

    @field_validator("instance")
    @classmethod
    def _instance_root(cls, value: str) -> str:
        if urlsplit(value).path not in ("", "/"):
            raise ValueError(
                f"expected the instance's address alone, such as https://mastodon.social, got {value!r}"
            )
        return value

    @field_validator("hashtag")
    @classmethod
    def _bare_tag(cls, value: str | None) -> str | None:
        return value.lstrip("#") if value else value

    @field_validator("threads")
    @classmethod
    def _status_ids(cls, values: list[str]) -> list[str]:
        # Accept a pasted status URL (https://host/@user/1234) as well as the bare id.
        ids = [value.rstrip("/").rsplit("/", 1)[-1] for value in values]
        for value, status_id in zip(values, ids, strict=True):
            if not _STATUS_ID.fullmatch(status_id):
                raise ValueError(f"expected a status id or status URL, got {value!r}")
        return ids

    @model_validator(mode="after")
    def _one_stream(self) -> MastodonOptions:
        if self.hashtag and self.query:
            raise ValueError("set either hashtag or query, not both (use two sources)")
        if not (self.hashtag or self.query or self.threads):
            raise ValueError("set hashtag, query or threads")
        return self


class MastodonCollector(Collector):
    name = "mastodon"
    description = (
        "Public posts on one Mastodon instance: a hashtag timeline (`hashtag`, readable "
        "anonymously on most instances) or a status search (`query`, which needs the instance's "
        "full-text search and only finds posts whose authors allow indexing), plus the whole "
        "conversation of watched posts (`threads`). Each instance only knows the posts that "
        "reached it, so watch several. No account or token needed; polls catch up page by page "
        "from the newest status id seen (`max_pages` per poll). Active conversations the "
        "pipeline points at are re-read each poll too, so replies that never name the brand and "
        "growing counts are seen."
    )
    Options = MastodonOptions
    options: MastodonOptions
    rereads_threads = True

    def fetch(self, state: FetchState) -> Iterator[Mention]:
        base = self.options.instance.rstrip("/")
        if self.options.hashtag:
            yield from self._timeline(
                f"{base}/api/v1/timelines/tag/{quote(self.options.hashtag)}", state
            )
        elif self.options.query:
            yield from self._search(f"{base}/api/v2/search", state)
        # The configured `threads`, then the roots the pipeline asks to refresh, each read once;
        # a watched one deleted since it was stored is passed over rather than failing the poll.
        configured = set(self.options.threads)
        for status_id in dict.fromkeys([*self.options.threads, *state.watch]):
            watched = status_id not in configured
            if watched and not _STATUS_ID.fullmatch(status_id):
                state.skip(f"watched thread is not a status id: {status_id[:60]!r}")
                continue
            yield from self._conversation(base, status_id, state, watched)

    def _timeline(self, url: str, state: FetchState) -> Iterator[Mention]:
        """First poll: the newest pages, going back. Later: forward from the cursor, gap-free."""
        forward = state.cursor is not None
        params: dict[str, Any] = {"limit": self.options.limit}
        if forward:  # the page right after the cursor, so a busy tag loses nothing
            params["min_id"] = state.cursor
        for page in range(self.options.max_pages):
            response = http.get(self.client, url, params=params, state=state if page == 0 else None)
            if response is None:
                return
            statuses = http.items_of(
                http.json_body(response), None, "a list of statuses", response.request.url
            )
            yield from self._mentions(statuses, state)
            step = link_params(response, "prev" if forward else "next")
            if not statuses or step is None:
                return
            params = {"limit": self.options.limit, **step}

    def _search(self, url: str, state: FetchState) -> Iterator[Mention]:
        """Results newest first down to the cursor; v2 search sends no Link, so page by max_id."""
        params: dict[str, Any] = {
            "q": self.options.query,
            "type": "statuses",
            "limit": self.options.limit,
            "resolve": "false",
        }
        if state.cursor:
            params["min_id"] = state.cursor
        for _ in range(self.options.max_pages):
            statuses = http.items_of(self._json(url, params), "statuses", "search results", url)
            yield from self._mentions(statuses, state)
            ids = [
                s["id"] for s in statuses if isinstance(s, Mapping) and isinstance(s.get("id"), str)
            ]
            if len(statuses) < self.options.limit or not ids:
                return
            params["max_id"] = min(ids, key=id_order)

    def _conversation(
        self, base: str, status_id: str, state: FetchState, watched: bool = False
    ) -> Iterator[Mention]:
        """A watched post, its ancestors and replies, all filed under the conversation's root.

        With `watched` (a root the pipeline chose, not one the user configured), a status the
        instance no longer has (404/410: deleted, or its author suspended) is skipped and counted.
        """
        status = self._json(f"{base}/api/v1/statuses/{status_id}", gone_ok=watched)
        if status is _GONE:
            state.skip(f"watched thread {status_id} is gone from {base}")
            return
        context = self._json(f"{base}/api/v1/statuses/{status_id}/context", gone_ok=watched)
        if context is _GONE:
            state.skip(f"watched thread {status_id} is gone from {base}")
            return
        if not isinstance(context, Mapping) or not isinstance(status, Mapping):
            raise UnparseableError(f"expected status {status_id} and its context from {base}")
        ancestors, descendants = context.get("ancestors"), context.get("descendants")
        if not isinstance(ancestors, list) or not isinstance(descendants, list):
            raise UnparseableError(
                f"expected ancestors and descendants lists for status {status_id}"
            )
        # Ancestors come oldest first, so the first is the root (or the oldest post we may see).
        root = (
            ancestors[0].get("id") if ancestors and isinstance(ancestors[0], Mapping) else status_id
        )
        for raw in [*ancestors, status, *descendants]:
            mention = item_to_mention(self.source, raw)
            if mention is None:
                state.skip(f"unreadable status in the conversation of {status_id}")
            else:
                yield replace(mention, thread_id=root)

    def _json(
        self, url: str, params: Mapping[str, Any] | None = None, gone_ok: bool = False
    ) -> Any:
        """The JSON at `url`; with `gone_ok`, `_GONE` when the server answers 404 or 410."""
        response = http.send(self.client, "GET", url, params=params)
        if gone_ok and response.status_code in (404, 410):
            return _GONE
        http.raise_for_status(response)
        return http.json_body(response)

    def _mentions(self, statuses: list[Any], state: FetchState) -> Iterator[Mention]:
        for raw in statuses:
            # The cursor follows the timeline's own ids (a boost's id, not the boosted post's),
            # including an unreadable status's, so it is not fetched and skipped again.
            status_id = raw.get("id") if isinstance(raw, Mapping) else None
            if isinstance(status_id, str) and (
                state.cursor is None or id_order(status_id) > id_order(state.cursor)
            ):
                state.cursor = status_id
            mention = item_to_mention(self.source, raw)
            if mention is None:
                state.skip(f"status without id, date or URL: {str(raw)[:60]!r}")
            else:
                yield mention


_GONE = object()  # what `_json` returns for a watched status the instance no longer has


def item_to_mention(source: str, raw: Any) -> Mention | None:
    """One Mastodon status as a Mention (a boost as the boosted post), or None when unusable."""
    if not isinstance(raw, Mapping) or not isinstance(raw.get("id"), str):
        return None
    status = raw["reblog"] if isinstance(raw.get("reblog"), Mapping) else raw
    status_id, url = status.get("id"), status.get("url") or status.get("uri")
    published = parse_iso(status.get("created_at"))
    if not isinstance(status_id, str) or not isinstance(url, str) or published is None:
        return None
    parent = status.get("in_reply_to_id")
    return Mention(
        source=source,
        source_id=status_id,
        url=url,
        published=published,
        text=join_text(
            html_to_text(status.get("spoiler_text")), html_to_text(status.get("content"))
        ),
        author=_author(status.get("account")),
        author_followers=_followers(status.get("account")),
        language=language_code(status.get("language")),
        # A post that answers nothing starts its own thread; for a reply the root is unknown here
        # (the thread detector follows parent ids, and watched threads fill it from /context).
        thread_id=None if parent else status_id,
        parent_id=str(parent) if parent else None,
        engagement=Engagement(
            replies=as_count(status.get("replies_count")),
            reposts=as_count(status.get("reblogs_count")),
            likes=as_count(status.get("favourites_count")),
            quotes=as_count(status.get("quotes_count")),
        ),
        raw=raw,
    )


def link_params(response: httpx.Response, rel: str) -> dict[str, str] | None:
    """The `max_id`/`min_id` of the Link header's `rel` target (RFC 8288), or None at the end.

    Only the ids are taken, not the whole URL: requests stay on the configured instance even when
    a proxy or a recording names another host.
    """
    target = response.links.get(rel, {}).get("url")
    if not target:
        return None
    query = parse_qs(urlsplit(target).query)
    step = {key: query[key][0] for key in ("max_id", "min_id", "since_id") if query.get(key)}
    return step or None


def id_order(status_id: str) -> tuple[int, str]:
    """Sort key for status ids: Mastodon snowflakes are decimal, other servers' fixed-width."""
    return (len(status_id), status_id)


def _author(account: Any) -> str | None:
    if not isinstance(account, Mapping) or not account.get("acct"):
        return None
    acct = str(account["acct"])
    # Local accounts come without a domain; add it so one person reads the same on every instance.
    host = urlsplit(str(account.get("url") or "")).netloc
    return acct if "@" in acct or not host else f"{acct}@{host}"


def _followers(account: Any) -> int | None:
    """The account's `followers_count` as this instance reports it (for a remote account, the
    count it last fetched from the account's home instance, so it may lag)."""
    return as_count(account.get("followers_count")) if isinstance(account, Mapping) else None
