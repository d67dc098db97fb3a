"""Payload pieces of the demo's feeds: one sample item (or its id) in a platform's own shape.

Pure functions of a DemoItem, and of the time for the counts that grow; vigia.demo.feeds routes
the requests and assembles the pages.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any
from urllib.parse import urlsplit
from xml.sax.saxutils import escape, quoteattr

from vigia.demo.story import DemoItem

YOUTUBE_CHANNEL = "UCvell0ra0demo0channel00"
APP_ID = "1234567890"


def question(item: DemoItem, now: datetime) -> dict[str, Any]:
    """A Stack Exchange /search/advanced item (a question, with its body)."""
    question_id = 79_000_000 + item.seq
    host = "es.stackoverflow.com" if item.lang == "es" else "stackoverflow.com"
    hours = (now - item.at) / timedelta(hours=1)
    return {
        "tags": ["vellora-api", "oauth" if "token" in item.text else "rest"],
        "owner": {"display_name": item.author, "user_type": "registered"},
        "is_answered": item.likes > 1,
        "view_count": int(20 + hours * 3),
        "answer_count": min(item.likes, 3),
        "score": item.likes,
        "creation_date": int(item.at.timestamp()),
        "question_id": question_id,
        "link": f"https://{host}/questions/{question_id}/{slug(item.title or item.text)}",
        "title": escape(item.title or "", {"'": "&#39;", '"': "&quot;"}),
        "body": f"<p>{escape(item.text)}</p>",
    }


def review(item: DemoItem, country: str) -> dict[str, Any]:
    """An App Store customer-reviews feed entry; every value sits under `label`."""
    review_id = str(int(item.at.timestamp()) * 100 + item.seq % 100)
    return {
        "author": {
            "uri": {
                "label": f"https://itunes.apple.com/{country}/reviews/id{account_id(item.author)}"
            },
            "name": {"label": item.author},
            "label": "",
        },
        "updated": {"label": item.at.isoformat(timespec="seconds")},
        "im:rating": {"label": str(item.rating or 3)},
        "im:version": {"label": "5.2.1"},
        "id": {"label": review_id},
        "title": {"label": item.title or ""},
        "content": {"label": item.text, "attributes": {"type": "text"}},
        "link": {
            "attributes": {
                "rel": "related",
                "href": f"https://itunes.apple.com/{country}/review?id={APP_ID}&type=Purple%20Software",
            }
        },
        "im:voteSum": {"label": str(item.likes)},
        "im:contentType": {"attributes": {"term": "Application", "label": "Application"}},
        "im:voteCount": {"label": str(item.likes + item.reposts)},
    }


def listing(children: list[dict[str, Any]], after: str | None) -> dict[str, Any]:
    """A Reddit Listing wrapping `children`, with `after` for the next page."""
    return {
        "kind": "Listing",
        "data": {"after": after, "before": None, "dist": len(children), "children": children},
    }


def reddit_id(item: DemoItem) -> str:
    """A Reddit-style base-36 id."""
    value, digits = item.seq + 36**5, ""
    while value:
        value, rest = divmod(value, 36)
        digits = "0123456789abcdefghijklmnopqrstuvwxyz"[rest] + digits
    return digits


def reddit_name(item: DemoItem) -> str:
    """The fullname (t3_…) of a Reddit post."""
    return f"t3_{reddit_id(item)}"


def slug(text: str) -> str:
    """The URL slug Reddit puts after a post's id."""
    return re.sub(r"[^a-z0-9]+", "_", text.lower())[:40].strip("_")


def bsky_did(author: str) -> str:
    """A stable fake DID for an author."""
    return "did:plc:" + hashlib.sha1(author.encode()).hexdigest()[:24]


def bsky_uri(item: DemoItem) -> str:
    """The at:// URI of a Bluesky post."""
    rkey = "3l" + hashlib.sha1(f"post{item.seq}".encode()).hexdigest()[:11]
    return f"at://{bsky_did(item.author)}/app.bsky.feed.post/{rkey}"


def bsky_ref(item: DemoItem) -> dict[str, str]:
    """A strong ref (uri + cid), as reply roots and parents are given."""
    return {
        "uri": bsky_uri(item),
        "cid": "bafyrei" + hashlib.sha1(bsky_uri(item).encode()).hexdigest(),
    }


def parse_time(value: str | None) -> datetime | None:
    """An ISO time from a query parameter, or None."""
    if not value:
        return None
    return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC)


def engagement(item: DemoItem, now: datetime) -> tuple[int, int]:
    """(likes, reposts) of `item` at `now`: fixed, except for the viral post, which keeps growing."""
    if not item.viral:
        return item.likes, item.reposts
    minutes = max(0.0, (now - item.at) / timedelta(minutes=1))
    likes = int(2 * minutes + 0.03 * minutes**2)
    return likes, likes // 3


def mastodon_id(item: DemoItem) -> str:
    """The status id the demo gives `item` (also what the config's watched `threads` name)."""
    # Mastodon's snowflake: milliseconds since the epoch above 16 bits of sequence.
    return str(int(item.at.timestamp() * 1000) << 16 | (item.seq & 0xFFFF))


def id_page(
    items: list[DemoItem], query: Mapping[str, str], limit: int, id_of: Callable[[DemoItem], str]
) -> list[DemoItem]:
    """A page newest first, bounded by max_id/since_id, or the page just after min_id."""

    def order(item: DemoItem) -> tuple[int, str]:
        value = id_of(item)
        return (len(value), value)

    def bound(key: str) -> tuple[int, str] | None:
        return (len(query[key]), query[key]) if query.get(key) else None

    upper, since, min_id = bound("max_id"), bound("since_id"), bound("min_id")
    chosen = [
        i
        for i in items
        if (upper is None or order(i) < upper)
        and (since is None or order(i) > since)
        and (min_id is None or order(i) > min_id)
    ]
    chosen.sort(key=order)
    # With min_id Mastodon returns the statuses right after it; otherwise the newest ones.
    page = chosen[:limit] if min_id is not None else chosen[-limit:]
    return page[::-1]


def handle(author: str) -> str:
    """An author name as a platform user name."""
    return re.sub(r"[^A-Za-z0-9_]", "_", author)


def followers(item: DemoItem) -> int:
    """The author's followers: the story's figure, or one fixed per author from its name (not
    from the story's random draws, which it would shift) — mostly tens to hundreds, about one
    author in twelve with a few thousand."""
    if item.followers is not None:
        return item.followers
    digest = int(hashlib.sha1(f"followers:{item.author}".encode()).hexdigest()[:8], 16)
    share = digest % 1000 / 1000  # even in [0, 1): counts spread evenly on a log scale
    if digest // 1000 % 12 == 0:
        return int(10 ** (3 + 0.7 * share))  # 1,000 to 5,000
    return int(10 ** (1.2 + 1.5 * share))  # 15 to 500


def account_id(author: str) -> str:
    """A stable numeric account id for an author."""
    return str(int(hashlib.sha1(author.encode()).hexdigest()[:12], 16))


def iso(moment: datetime) -> str:
    """The millisecond ISO form with Z that Mastodon and Bluesky use."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def item_url(item: DemoItem) -> str:
    """The article's URL, or a forum thread URL for posts that have none."""
    return item.url or f"https://foro.compras.example/t/{item.seq}"


def rss_item(item: DemoItem) -> str:
    """One RSS 2.0 <item>."""
    title = item.title or item.text[:80]
    url = item_url(item)
    return (
        f"<item><title>{escape(title)}</title><link>{escape(url)}</link>"
        f'<guid isPermaLink="false">vellora-demo-{item.seq}</guid>'
        f"<description>{escape(item.text)}</description>"
        f"<dc:creator>{escape(item.author)}</dc:creator>"
        f"<pubDate>{format_datetime(item.at, usegmt=True)}</pubDate></item>"
    )


def google_news_item(item: DemoItem) -> str:
    """One Google News <item>: title with " - Outlet", redirect link, <source>."""
    token = "CBMi" + hashlib.sha1(str(item.seq).encode()).hexdigest()
    link = f"https://news.google.com/rss/articles/{token}?oc=5"
    title = f"{item.title} - {item.author}"
    outlet_url = urlsplit(item.url or "https://news.example").netloc
    description = f'<a href="{link}" target="_blank">{escape(item.title or "")}</a>&nbsp;&nbsp;<font color="#6f6f6f">{escape(item.author)}</font>'
    return (
        f"<item><title>{escape(title)}</title><link>{link}</link>"
        f'<guid isPermaLink="false">{token}</guid>'
        f"<pubDate>{format_datetime(item.at, usegmt=True)}</pubDate>"
        f"<description>{escape(description)}</description>"
        f"<source url={quoteattr('https://' + outlet_url)}>{escape(item.author)}</source></item>"
    )


def youtube_entry(item: DemoItem, now: datetime) -> str:
    """One channel-feed <entry> with media:statistics views and star-rating likes."""
    video_id = hashlib.sha1(f"video{item.seq}".encode()).hexdigest()[:11]
    hours = max(1.0, (now - item.at) / timedelta(hours=1))
    views = int(item.likes * 30 + hours * 12)
    return (
        f"<entry><id>yt:video:{video_id}</id><yt:videoId>{video_id}</yt:videoId>"
        f"<yt:channelId>{YOUTUBE_CHANNEL}</yt:channelId><title>{escape(item.title or '')}</title>"
        f'<link rel="alternate" href="https://www.youtube.com/watch?v={video_id}"/>'
        f"<author><name>Vellora</name><uri>https://www.youtube.com/channel/{YOUTUBE_CHANNEL}</uri></author>"
        f"<published>{iso(item.at)}</published><updated>{iso(now)}</updated>"
        f"<media:group><media:title>{escape(item.title or '')}</media:title>"
        f"<media:description>{escape(item.text)}</media:description>"
        f'<media:community><media:starRating count="{item.likes}" average="5.00" min="1" max="5"/>'
        f'<media:statistics views="{views}"/></media:community></media:group></entry>'
    )
