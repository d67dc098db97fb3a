"""Bluesky: post search (searchPosts) and watched threads (getPostThread), with or without login."""

from __future__ import annotations

import json
import os
import re
import threading
from collections.abc import Iterator, Mapping
from datetime import datetime
from typing import Any, ClassVar

import httpx
from pydantic import Field

from collectors import http
from collectors.base import (
    Collector,
    CollectorOptions,
    Engagement,
    FetchState,
    Mention,
    NeedsHumanError,
    UnparseableError,
    as_count,
    language_code,
    parse_iso,
)
from collectors.text import join_text

_SEARCH = "/xrpc/app.bsky.feed.searchPosts"
_THREAD = "/xrpc/app.bsky.feed.getPostThread"
_THREAD_VIEW = "app.bsky.feed.defs#threadViewPost"
_CREATE_SESSION = "/xrpc/com.atproto.server.createSession"
_STALE_TOKEN = frozenset({"ExpiredToken", "InvalidToken"})


class BlueskyOptions(CollectorOptions):
    """`query` to search; `handle` (app password in the environment) if anonymous search fails."""

    query: str = Field(min_length=1)
    service: str = Field(default="https://public.api.bsky.app", pattern=r"^https?://\S+$")
    lang: str | None = Field(default=None, pattern=r"^[A-Za-z]{2,3}(-[A-Za-z0-9]+)*$")
    handle: str | None = None
    pds: str = Field(default="https://bsky.social", pattern=r"^https?://\S+$")
    app_password_env: str | None = Field(default=None, pattern=r"^[A-Z_][A-Z0-9_]*$")
    max_pages: int = Field(default=5, ge=1, le=100)
    limit: int = Field(default=100, ge=1, le=100)


def app_password_env(source: str) -> str:
    """VIGIA_SOURCES_<SOURCE>_APP_PASSWORD, the name Vigía's config derives for this secret."""
    return "VIGIA_SOURCES_" + re.sub(r"[^A-Za-z0-9]+", "_", source).upper() + "_APP_PASSWORD"


class BlueskyCollector(Collector):
    name = "bluesky"
    description = (
        "Bluesky posts matching `query` (app.bsky.feed.searchPosts, newest first, optional "
        "`lang`). "
        "Anonymous search on the public AppView is often refused (HTTP 403); then set `handle` to "
        "a Bluesky account and its app password (Settings -> App passwords, never the account "
        "password) in the environment variable VIGIA_SOURCES_<SOURCE NAME>_APP_PASSWORD (or the "
        "one named by `app_password_env`); the search then goes through that account's PDS "
        "(`pds`, default bsky.social). Polls catch up from the newest post seen, `max_pages` "
        "pages at a time. Active conversations the pipeline points at are re-read each poll "
        "(app.bsky.feed.getPostThread), so replies that never name the brand and growing counts "
        "are seen."
    )
    Options = BlueskyOptions
    options: BlueskyOptions
    rereads_threads = True
    # How far down a watched thread's replies are read, and how many posts all of them may yield
    # in one poll: a viral thread must not turn one poll into thousands of mentions.
    thread_depth: ClassVar[int] = 6
    thread_posts: ClassVar[int] = 1000

    # searchPosts stops paging around 10 000 results; deeper reads restart with `until`.
    cursor_depth: ClassVar[int] = 10_000
    _sessions: ClassVar[dict[tuple[str, str], str]] = {}
    _sessions_lock: ClassVar[threading.Lock] = threading.Lock()

    def fetch(self, state: FetchState) -> Iterator[Mention]:
        # Cursor: `since` (all older posts are read), and while a catch-up is under way the
        # `until` bound reached so far and the `newest` sortAt it started from.
        mark = _load_mark(state.cursor)
        url = self._base() + _SEARCH
        params: dict[str, Any] = {"q": self.options.query, "sort": "latest"}
        params |= {"limit": self.options.limit, "lang": self.options.lang}
        params |= {"since": mark.get("since"), "until": mark.get("until")}
        newest, oldest = parse_iso(mark.get("newest")), None
        depth, finished = 0, False
        for _ in range(self.options.max_pages):
            body = self._get(url, {k: v for k, v in params.items() if v is not None})
            posts = http.items_of(body, "posts", "Bluesky search results", url)
            for raw in posts:
                moment = sort_at(raw)
                if moment is not None:
                    newest = max(newest or moment, moment)
                    oldest = min(oldest or moment, moment)
                mention = item_to_mention(self.source, raw)
                if mention is None:
                    state.skip(f"post without uri, record or date: {str(raw)[:60]!r}")
                else:
                    yield mention
            depth += len(posts)
            if not posts or not body.get("cursor"):
                finished = True
                break
            if depth + self.options.limit > self.cursor_depth and oldest is not None:
                params["cursor"], params["until"], depth = None, _stamp(oldest), 0
            else:
                params["cursor"] = body["cursor"]
        if finished or "since" not in mark:  # a first poll reads max_pages, then goes forward
            state.cursor = json.dumps({"since": _stamp(newest)}) if newest else state.cursor
        else:
            until = _stamp(oldest) if oldest else mark.get("until")
            latest = _stamp(newest) if newest else mark.get("newest")
            catch_up = {"since": mark["since"], "until": until, "newest": latest}
            state.cursor = json.dumps(catch_up)
        yield from self._watched(state)

    def _watched(self, state: FetchState) -> Iterator[Mention]:
        """Every post of the threads in `state.watch` (each read once), counts as they are now.

        A root deleted since it was stored, and blocked or deleted replies, are skipped and
        counted; they do not fail the poll.
        """
        url, budget = self._base() + _THREAD, self.thread_posts
        for uri in dict.fromkeys(state.watch):
            if not uri.startswith("at://"):
                state.skip(f"watched thread is not an at:// uri: {uri[:60]!r}")
                continue
            params = {"uri": uri, "depth": self.thread_depth, "parentHeight": 0}
            body = self._get(url, params, gone_ok=True)
            if body is _GONE:
                state.skip(f"watched thread {uri} is gone")
                continue
            thread = body.get("thread") if isinstance(body, Mapping) else None
            if not isinstance(thread, Mapping):
                raise UnparseableError(f"expected an object with a 'thread' from {url} for {uri}")
            for post in thread_posts(thread, self.thread_depth):
                if budget <= 0:
                    return
                mention = item_to_mention(self.source, post) if post is not None else None
                if mention is None:
                    state.skip(f"blocked, deleted or unreadable post in the thread of {uri}")
                    continue
                budget -= 1
                yield mention

    def _base(self) -> str:
        """Where the calls go: the account's PDS with a handle, else the public service."""
        return (self.options.pds if self.options.handle else self.options.service).rstrip("/")

    def _get(self, url: str, params: Mapping[str, Any], gone_ok: bool = False) -> Any:
        """One XRPC query; with an account, a stale session token is renewed once."""
        handle = self.options.handle
        if not handle:
            return self._call("GET", url, params=params, gone_ok=gone_ok)
        try:
            return self._call("GET", url, params=params, gone_ok=gone_ok, token=self._token(handle))
        except _StaleToken:
            token = self._token(handle, renew=True)
            return self._call("GET", url, params=params, gone_ok=gone_ok, token=token)

    def _token(self, handle: str, renew: bool = False) -> str:
        """An access token for `handle`, from a session shared by this process's polls.

        Sessions are reused because createSession is tightly rate-limited (30 per 5 minutes).
        """
        key = (self.options.pds, handle)
        with self._sessions_lock:
            if not renew and key in self._sessions:
                return self._sessions[key]
        env = self._password_env()
        password = os.environ.get(env)
        if not password:
            raise NeedsHumanError(
                f"source {self.source}: set the app password of {handle} in {env}"
            )
        url = self.options.pds.rstrip("/") + _CREATE_SESSION
        body = self._call("POST", url, json={"identifier": handle, "password": password})
        token = body.get("accessJwt") if isinstance(body, Mapping) else None
        if not isinstance(token, str):
            raise UnparseableError(f"expected an accessJwt from {url}")
        with self._sessions_lock:
            self._sessions[key] = token
        return token

    def _call(
        self,
        method: str,
        url: str,
        token: str | None = None,
        gone_ok: bool = False,
        **kwargs: Any,
    ) -> Any:
        """The JSON answer of one XRPC call; with `gone_ok`, `_GONE` for a record not found."""
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        response = http.send(self.client, method, url, headers=headers, **kwargs)
        error = _xrpc_error(response)
        # getPostThread answers a deleted post with HTTP 400 and the XRPC error NotFound.
        if gone_ok and (error[0] == "NotFound" or response.status_code in (404, 410)):
            return _GONE
        if token and error[0] in _STALE_TOKEN:
            raise _StaleToken(f"HTTP {response.status_code} from {url}: {error[0]}: {error[1]}")
        try:
            http.raise_for_status(response)
        except NeedsHumanError as exc:
            # http.raise_for_status already quotes a JSON body; add the XRPC error only if not.
            detail = f" ({error[0]}: {error[1]})" if error[0] and error[0] not in str(exc) else ""
            if response.status_code in (401, 403) and url.endswith(_SEARCH) and not token:
                raise NeedsHumanError(
                    f"{exc}{detail}: anonymous search refused; set `handle` on source "
                    f"{self.source} and its app password in {self._password_env()}"
                ) from None
            raise NeedsHumanError(f"{exc}{detail}") from None
        return http.json_body(response)

    def _password_env(self) -> str:
        return self.options.app_password_env or app_password_env(self.source)


class _StaleToken(NeedsHumanError):
    """The cached session token expired; create a new session."""


_GONE = object()  # what `_call` returns, when asked, for a record that no longer exists


def item_to_mention(source: str, raw: Any) -> Mention | None:
    """One `postView` (of searchPosts or getPostThread) as a Mention, or None when it lacks its
    uri, record or date."""
    if not isinstance(raw, Mapping):
        return None
    uri, record, author = raw.get("uri"), raw.get("record"), raw.get("author")
    if not isinstance(uri, str) or not uri.startswith("at://") or not isinstance(record, Mapping):
        return None
    published = sort_at(raw)
    if published is None or not isinstance(author, Mapping):
        return None
    handle = author.get("handle")
    profile = handle if handle and handle != "handle.invalid" else uri.split("/")[2]
    reply: Mapping[str, Any] = record["reply"] if isinstance(record.get("reply"), Mapping) else {}
    langs = record.get("langs")
    return Mention(
        source=source,
        source_id=uri,
        url=f"https://bsky.app/profile/{profile}/post/{uri.rsplit('/', 1)[-1]}",
        published=published,
        text=join_text(str(record.get("text") or ""), *_link_card(raw.get("embed"))),
        author=handle or None,
        language=language_code(langs[0]) if isinstance(langs, list) and langs else None,
        thread_id=_ref(reply.get("root")) or uri,
        parent_id=_ref(reply.get("parent")),
        engagement=Engagement(
            replies=as_count(raw.get("replyCount")),
            reposts=as_count(raw.get("repostCount")),
            likes=as_count(raw.get("likeCount")),
            quotes=as_count(raw.get("quoteCount")),
        ),
        raw=raw,
    )


def thread_posts(node: Mapping[str, Any], depth: int) -> Iterator[Any]:
    """The postViews of a getPostThread tree, root first then each reply's subtree, `depth`
    levels of replies deep; None for each #blockedPost, #notFoundPost or unknown stub."""
    if node.get("$type", _THREAD_VIEW) != _THREAD_VIEW or not isinstance(node.get("post"), Mapping):
        yield None
        return
    yield node["post"]
    replies = node.get("replies")
    if depth > 0 and isinstance(replies, list):
        for reply in replies:
            if isinstance(reply, Mapping):
                yield from thread_posts(reply, depth - 1)
            else:
                yield None


def sort_at(raw: Any) -> datetime | None:
    """The post's time as search orders it: createdAt, but never after indexedAt (back-dating is
    allowed, future-dating is not believed)."""
    if not isinstance(raw, Mapping) or not isinstance(raw.get("record"), Mapping):
        return None
    times = [
        t for t in (parse_iso(raw["record"].get("createdAt")), parse_iso(raw.get("indexedAt"))) if t
    ]
    return min(times) if times else None


def _link_card(embed: Any) -> list[str]:
    """Title and description of a shared link's card: often where the brand is named."""
    card = embed.get("external") if isinstance(embed, Mapping) else None
    if not isinstance(card, Mapping):
        return []
    return [str(card.get(key) or "") for key in ("title", "description")]


def _ref(value: Any) -> str | None:
    uri = value.get("uri") if isinstance(value, Mapping) else None
    return uri if isinstance(uri, str) and uri else None


def _xrpc_error(response: httpx.Response) -> tuple[str, str]:
    """The XRPC `error` and `message` of a failed call, or empty strings."""
    if response.status_code < 400:
        return "", ""
    try:
        body = json.loads(response.content)
    except ValueError:
        return "", ""
    if not isinstance(body, Mapping):
        return "", ""
    return str(body.get("error") or ""), str(body.get("message") or "")


def _load_mark(cursor: str | None) -> dict[str, Any]:
    """The stored search window; an unreadable one starts afresh rather than failing every poll."""
    try:
        mark = json.loads(cursor) if cursor else {}
    except ValueError:
        return {}
    return mark if isinstance(mark, dict) else {}


def _stamp(value: datetime) -> str:
    return value.isoformat(timespec="milliseconds").replace("+00:00", "Z")
