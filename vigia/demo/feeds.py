"""The demo's local HTTP server: the sample mentions in each platform's own payload shape.

The real collectors read it unchanged, pointed at ``http://127.0.0.1:<port>`` through their
``base_url``/``instance``/``url`` options. An item is served once its time has come, so the
trickle after the start arrives live, and the spreading thread's engagement grows while the demo
runs. Every route answers from the timeline; nothing is fetched from anywhere.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit
from xml.sax.saxutils import escape

from vigia.demo.payloads import (
    APP_ID,
    YOUTUBE_CHANNEL,
    account_id,
    bsky_did,
    bsky_ref,
    bsky_uri,
    engagement,
    followers,
    google_news_item,
    handle,
    id_page,
    iso,
    listing,
    mastodon_id,
    parse_time,
    question,
    reddit_id,
    reddit_name,
    review,
    rss_item,
    slug,
    youtube_entry,
)
from vigia.demo.server import LocalServer
from vigia.demo.story import DemoItem, Timeline

Clock = Callable[[], datetime]
MASTODON_HOST = "social.example"
RSS_PATH = "/feeds/prensa.xml"
APPSTORE_PAGE = 50  # reviews per page; Apple serves ten pages at most
NEWS_LIMIT = 100  # Google News answers with at most about 100 items
YOUTUBE_LIMIT = 15  # a channel feed holds the 15 latest videos


@dataclass(frozen=True, slots=True)
class Reply:
    """One HTTP answer."""

    body: bytes
    status: int = 200
    content_type: str = "application/json; charset=utf-8"
    headers: Mapping[str, str] | None = None


def _json(data: Any, headers: Mapping[str, str] | None = None) -> Reply:
    return Reply(json.dumps(data, ensure_ascii=False).encode("utf-8"), headers=headers)


_NOT_FOUND = Reply(b'{"error": "Record not found"}', status=404)


class DemoFeeds(LocalServer):
    """Serves a Timeline on 127.0.0.1 at a free port until stopped; a context manager."""

    def __init__(self, timeline: Timeline, clock: Clock | None = None) -> None:
        self.timeline = timeline
        self.clock = clock or (lambda: datetime.now(UTC))
        feeds = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
                reply = feeds.answer(self.path, self.headers)
                self.send_response(reply.status)
                self.send_header("Content-Type", reply.content_type)
                self.send_header("Content-Length", str(len(reply.body)))
                for name, value in (reply.headers or {}).items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(reply.body)

            def log_message(self, format: str, *args: Any) -> None:
                pass  # the pipeline logs every poll; a line per request would drown it

        super().__init__(Handler)

    def answer(self, path: str, headers: Mapping[str, str]) -> Reply:
        """The reply to a GET of `path` (with its query) at the current time."""
        parts = urlsplit(path)
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        now = self.clock()
        for pattern, route in _ROUTES:
            match = re.fullmatch(pattern, parts.path)
            if match:
                return route(self, now, query, headers, *match.groups())
        return _NOT_FOUND

    # -- RSS: a press and forum feed, with ETag/Last-Modified ------------------------------------

    def rss(self, now: datetime, query: Mapping[str, str], headers: Mapping[str, str]) -> Reply:
        items = self.timeline.released("rss", now)[-500:]
        latest = items[-1] if items else None
        etag = f'"demo-{len(items)}-{latest.seq if latest else 0}"'
        modified = format_datetime(latest.at if latest else self.timeline.t0, usegmt=True)
        validators = {"ETag": etag, "Last-Modified": modified}
        if headers.get("If-None-Match") == etag:
            return Reply(b"", status=304, headers=validators)
        entries = "".join(rss_item(i) for i in reversed(items))
        body = (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            '<rss version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/">'
            "<channel><title>Prensa y foros: comercio online</title>"
            f"<link>{self.url}/</link><description>Demo feed</description>"
            f"<language>es</language>{entries}</channel></rss>"
        )
        return Reply(body.encode(), content_type="application/rss+xml", headers=validators)

    # -- Google News RSS search ------------------------------------------------------------------

    def google_news(
        self, now: datetime, query: Mapping[str, str], headers: Mapping[str, str]
    ) -> Reply:
        items = self.timeline.released("google_news", now)[-NEWS_LIMIT:]
        entries = "".join(google_news_item(i) for i in reversed(items))
        body = (
            '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
            '<rss version="2.0" xmlns:media="http://search.yahoo.com/mrss/"><channel>'
            f"<generator>NFE/5.0</generator><title>{escape(query.get('q', ''))} - Google News"
            "</title><link>https://news.google.com/search</link>"
            f"<language>{escape(query.get('hl', 'es'))}</language>"
            f"<lastBuildDate>{format_datetime(now, usegmt=True)}</lastBuildDate>"
            f"<description>Google News</description>{entries}</channel></rss>"
        )
        return Reply(body.encode(), content_type="application/xml; charset=utf-8")

    # -- YouTube channel feed --------------------------------------------------------------------

    def youtube(self, now: datetime, query: Mapping[str, str], headers: Mapping[str, str]) -> Reply:
        if query.get("channel_id") != YOUTUBE_CHANNEL:
            return Reply(b"<html><body>404 Not Found</body></html>", 404, "text/html")
        items = self.timeline.released("youtube", now)[-YOUTUBE_LIMIT:]
        entries = "".join(youtube_entry(i, now) for i in reversed(items))
        body = (
            '<?xml version="1.0" encoding="UTF-8"?>\n<feed xmlns:yt="http://www.youtube.com/xml/schemas/2015" '
            'xmlns:media="http://search.yahoo.com/mrss/" xmlns="http://www.w3.org/2005/Atom">'
            f"<id>yt:channel:{YOUTUBE_CHANNEL}</id><title>Vellora</title>"
            f"<author><name>Vellora</name></author>{entries}</feed>"
        )
        return Reply(body.encode(), content_type="application/atom+xml; charset=UTF-8")

    # -- Mastodon: tag timeline, status search, a status and its context -------------------------

    def mastodon_timeline(
        self, now: datetime, query: Mapping[str, str], headers: Mapping[str, str], tag: str
    ) -> Reply:
        statuses = self.timeline.released("mastodon", now)
        limit = min(int(query.get("limit", 20)), 40)
        page = id_page(statuses, query, limit, mastodon_id)
        base = f"{self.url}/api/v1/timelines/tag/{tag}"
        links = []
        if page:
            links.append(
                f'<{base}?{urlencode({"limit": limit, "max_id": mastodon_id(page[-1])})}>; rel="next"'
            )
            links.append(
                f'<{base}?{urlencode({"limit": limit, "min_id": mastodon_id(page[0])})}>; rel="prev"'
            )
        body = [self._status(i, now, tag) for i in page]
        return _json(body, {"Link": ", ".join(links)} if links else None)

    def mastodon_status(
        self,
        now: datetime,
        query: Mapping[str, str],
        headers: Mapping[str, str],
        status_id: str,
        context: str | None,
    ) -> Reply:
        item = next(
            (i for i in self.timeline.released("mastodon", now) if mastodon_id(i) == status_id),
            None,
        )
        if item is None:
            return _NOT_FOUND
        if not context:
            return _json(self._status(item, now))
        ancestors = []
        parent = item.parent
        while parent:
            ancestor = self.timeline.by_key[parent]
            ancestors.insert(0, self._status(ancestor, now))
            parent = ancestor.parent
        descendants = [self._status(i, now) for i in self._descendants(item, now)]
        return _json({"ancestors": ancestors, "descendants": descendants})

    # -- Bluesky: app.bsky.feed.searchPosts ------------------------------------------------------

    def bluesky_search(
        self, now: datetime, query: Mapping[str, str], headers: Mapping[str, str]
    ) -> Reply:
        since, until = parse_time(query.get("since")), parse_time(query.get("until"))
        posts = [
            i
            for i in reversed(self.timeline.released("bluesky", now))
            if (since is None or i.at >= since) and (until is None or i.at < until)
        ]
        offset = int(query.get("cursor") or 0)
        limit = min(int(query.get("limit", 25)), 100)
        page = posts[offset : offset + limit]
        body: dict[str, Any] = {
            "hitsTotal": len(posts),
            "posts": [self._post(i, now) for i in page],
        }
        if offset + limit < len(posts):
            body["cursor"] = str(offset + limit)
        return _json(body)

    def _post(self, item: DemoItem, now: datetime) -> dict[str, Any]:
        likes, reposts = engagement(item, now)
        record: dict[str, Any] = {
            "$type": "app.bsky.feed.post",
            "text": item.text,
            "createdAt": iso(item.at),
            "langs": [item.lang],
        }
        parent = self.timeline.by_key.get(item.parent or "")
        if parent is not None:
            root = parent
            while root.parent:
                root = self.timeline.by_key[root.parent]
            record["reply"] = {"root": bsky_ref(root), "parent": bsky_ref(parent)}
        return {
            "uri": bsky_uri(item),
            "cid": bsky_ref(item)["cid"],
            "author": {
                "did": bsky_did(item.author),
                "handle": f"{handle(item.author).replace('_', '-').strip('-')}.bsky.social",
                "displayName": item.author,
                "labels": [],
            },
            "record": record,
            "replyCount": len(self.timeline.replies_to(item.key, now)),
            "repostCount": reposts,
            "likeCount": likes,
            "quoteCount": 0,
            "indexedAt": iso(item.at),
            "labels": [],
        }

    # -- Reddit: search / subreddit listings and a thread's comments ------------------------------

    def reddit_listing(
        self, now: datetime, query: Mapping[str, str], headers: Mapping[str, str], *_: str
    ) -> Reply:
        posts = [i for i in reversed(self.timeline.released("reddit", now)) if not i.parent]
        after = query.get("after")
        start = next((n + 1 for n, i in enumerate(posts) if reddit_name(i) == after), 0)
        limit = min(int(query.get("limit", 25)), 100)
        page = posts[start : start + limit]
        more = start + limit < len(posts)
        children = [self._reddit_child(i, now) for i in page]
        return _json(listing(children, reddit_name(page[-1]) if page and more else None))

    def _reddit_child(self, item: DemoItem, now: datetime) -> dict[str, Any]:
        likes, _ = engagement(item, now)
        path = f"/r/compras/comments/{reddit_id(item)}/{slug(item.text)}/"
        data = {
            "id": reddit_id(item),
            "name": reddit_name(item),
            "author": handle(item.author),
            "created_utc": float(int(item.at.timestamp())),
            "score": likes + 1,
            "subreddit": "compras",
            "title": item.title or item.text,
            "selftext": item.text if item.title else "",
            "num_comments": len(self.timeline.replies_to(item.key, now)),
            "permalink": path,
            "url": "https://www.reddit.com" + path,
        }
        return {"kind": "t3", "data": data}

    # -- Hacker News: Algolia search_by_date -----------------------------------------------------

    def hackernews(
        self, now: datetime, query: Mapping[str, str], headers: Mapping[str, str]
    ) -> Reply:
        since = re.search(r"created_at_i>(\d+)", query.get("numericFilters", ""))
        hits = [
            i
            for i in reversed(self.timeline.released("hackernews", now))
            if since is None or i.at.timestamp() > int(since[1])
        ]
        per_page = min(int(query.get("hitsPerPage", 20)), 1000)
        page = int(query.get("page", 0))
        pages = max(1, -(-len(hits) // per_page))
        chosen = hits[page * per_page : (page + 1) * per_page]
        return _json(
            {
                "hits": [self._hit(i, now) for i in chosen],
                "nbHits": len(hits),
                "page": page,
                "nbPages": pages,
                "hitsPerPage": per_page,
                "query": query.get("query", ""),
            }
        )

    def _hit(self, item: DemoItem, now: datetime) -> dict[str, Any]:
        likes, _ = engagement(item, now)
        object_id = 40_000_000 + item.seq
        return {
            "created_at": iso(item.at),
            "created_at_i": int(item.at.timestamp()),
            "author": handle(item.author),
            "points": likes + 1,
            "objectID": str(object_id),
            "_tags": ["story", f"author_{handle(item.author)}", f"story_{object_id}"],
            "title": item.title or item.text,
            "url": item.url,
            "story_text": item.text if item.title else None,
            "num_comments": len(self.timeline.replies_to(item.key, now)),
        }

    # -- Stack Exchange: /search/advanced --------------------------------------------------------

    def stackexchange(
        self, now: datetime, query: Mapping[str, str], headers: Mapping[str, str]
    ) -> Reply:
        since = int(query.get("fromdate", 0))
        questions = [
            i for i in self.timeline.released("stackexchange", now) if i.at.timestamp() >= since
        ]
        size = min(int(query.get("pagesize", 30)), 100)
        page = int(query.get("page", 1))
        chosen = questions[(page - 1) * size : page * size]
        return _json(
            {
                "items": [question(i, now) for i in chosen],
                "has_more": page * size < len(questions),
                "quota_max": 300,
                "quota_remaining": 290,
            }
        )

    # -- App Store customer reviews (iTunes JSON feed) --------------------------------------------

    def appstore(
        self,
        now: datetime,
        query: Mapping[str, str],
        headers: Mapping[str, str],
        country: str,
        page: str,
        app_id: str,
    ) -> Reply:
        if app_id != APP_ID:
            return _json({"feed": {"author": {}, "link": [], "id": {"label": "unknown"}}})
        reviews = list(reversed(self.timeline.released("appstore", now)))[: APPSTORE_PAGE * 10]
        number = int(page)
        chosen = reviews[(number - 1) * APPSTORE_PAGE : number * APPSTORE_PAGE]
        last = max(1, -(-len(reviews) // APPSTORE_PAGE))
        base = f"{self.url}/{country}/rss/customerreviews"
        feed: dict[str, Any] = {
            "author": {
                "name": {"label": "iTunes Store"},
                "uri": {"label": "http://www.apple.com/itunes/"},
            },
            "updated": {"label": now.astimezone().isoformat(timespec="seconds")},
            "title": {"label": "iTunes Store: Customer Reviews"},
            "id": {"label": f"{base}/page={number}/id={app_id}/sortby=mostrecent/json"},
            "link": [
                {
                    "attributes": {
                        "rel": rel,
                        "href": f"{base}/page={n}/id={app_id}/sortby=mostrecent/xml",
                    }
                }
                for rel, n in (("first", 1), ("last", last))
            ],
        }
        if chosen:
            feed["entry"] = [review(i, country) for i in chosen]
        return _json({"feed": feed})

    def _descendants(self, item: DemoItem, now: datetime) -> list[DemoItem]:
        found, queue = [], [item.key]
        while queue:
            children = self.timeline.replies_to(queue.pop(0), now)
            found += children
            queue += [c.key for c in children]
        return sorted(found, key=lambda i: (i.at, i.seq))

    def _status(self, item: DemoItem, now: datetime, tag: str = "compras") -> dict[str, Any]:
        status_id = mastodon_id(item)
        user = handle(item.author)
        parent = self.timeline.by_key.get(item.parent or "")
        likes, reposts = engagement(item, now)
        tag_link = (
            f' <a href="https://{MASTODON_HOST}/tags/{tag}" class="mention hashtag" rel="tag">'
            f"#<span>{escape(tag)}</span></a>"
        )
        return {
            "id": status_id,
            "created_at": iso(item.at),
            "in_reply_to_id": mastodon_id(parent) if parent else None,
            "in_reply_to_account_id": account_id(parent.author) if parent else None,
            "sensitive": False,
            "spoiler_text": "",
            "visibility": "public",
            "language": item.lang,
            "uri": f"https://{MASTODON_HOST}/users/{user}/statuses/{status_id}",
            "url": f"https://{MASTODON_HOST}/@{user}/{status_id}",
            "replies_count": len(self.timeline.replies_to(item.key, now)),
            "reblogs_count": reposts,
            "favourites_count": likes,
            "quotes_count": 0,
            "edited_at": None,
            "content": f"<p>{escape(item.text)}{tag_link}</p>",
            "reblog": None,
            "account": {
                "id": account_id(item.author),
                "username": user,
                "acct": user,
                "display_name": item.author,
                "url": f"https://{MASTODON_HOST}/@{user}",
                "followers_count": followers(item),
            },
            "media_attachments": [],
            "mentions": [],
            "tags": [{"name": tag, "url": f"https://{MASTODON_HOST}/tags/{tag}"}],
            "emojis": [],
        }


_ROUTES: list[tuple[str, Callable[..., Reply]]] = [
    (re.escape(RSS_PATH), DemoFeeds.rss),
    (r"/rss/search", DemoFeeds.google_news),
    (r"/feeds/videos\.xml", DemoFeeds.youtube),
    (r"/api/v1/timelines/tag/([^/]+)", DemoFeeds.mastodon_timeline),
    (r"/api/v1/statuses/(\d+)(/context)?", DemoFeeds.mastodon_status),
    (r"/xrpc/app\.bsky\.feed\.searchPosts", DemoFeeds.bluesky_search),
    (r"(?:/r/([A-Za-z0-9_]+))?/(?:search|new)\.json", DemoFeeds.reddit_listing),
    (r"/api/v1/search_by_date", DemoFeeds.hackernews),
    (r"/2\.3/search/advanced", DemoFeeds.stackexchange),
    (
        r"/([a-z]{2})/rss/customerreviews/page=(\d+)/id=(\d+)/sortby=mostrecent/json",
        DemoFeeds.appstore,
    ),
]
