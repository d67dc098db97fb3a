"""YouTube channel and playlist feeds (feeds/videos.xml): the latest uploads with view and like counts."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from typing import Any

from pydantic import model_validator

from collectors import http, rss
from collectors.base import (
    Collector,
    CollectorOptions,
    Engagement,
    FetchState,
    HttpUrl,
    Mention,
    NeedsHumanError,
    as_count,
    parse_iso,
)

WATCH_URL = "https://www.youtube.com/watch?v="


class YoutubeOptions(CollectorOptions):
    """Exactly one of `channel_id` (UC…), `user` (a legacy channel name) or `playlist_id` (PL…/UU…)."""

    channel_id: str | None = None
    user: str | None = None
    playlist_id: str | None = None
    base_url: HttpUrl = "https://www.youtube.com"

    @model_validator(mode="after")
    def _one_feed(self) -> YoutubeOptions:
        given = [k for k in ("channel_id", "user", "playlist_id") if getattr(self, k)]
        if len(given) != 1:
            raise ValueError("expected exactly one of channel_id, user or playlist_id")
        return self

    @property
    def feed_param(self) -> tuple[str, str]:
        """The query parameter naming the feed, e.g. ("channel_id", "UC…")."""
        for key in ("channel_id", "user", "playlist_id"):
            value = getattr(self, key)
            if value:
                return key, value
        raise AssertionError("validated to have one")  # pragma: no cover


class YoutubeCollector(Collector):
    name = "youtube"
    description = (
        "The uploads of a YouTube channel (channel_id, or a legacy user name) or of a playlist, "
        "from YouTube's public feed: no API key or account needed. The feed only ever holds the 15 "
        "latest videos (shorts included) and YouTube caches it for 15 minutes, so poll every 15m or "
        "slower; each poll refreshes the view and like counts of those 15 videos. Comments are not "
        "in the feed. An unknown or closed channel is reported as a configuration error."
    )
    Options = YoutubeOptions
    options: YoutubeOptions

    def fetch(self, state: FetchState) -> Iterator[Mention]:
        key, value = self.options.feed_param
        url = self.options.base_url.rstrip("/") + "/feeds/videos.xml"
        try:
            response = http.get(self.client, url, params={key: value}, state=state)
        except NeedsHumanError as exc:
            raise NeedsHumanError(
                f"YouTube has no public feed for {key}={value} (unknown, private or closed "
                f"channel/playlist; check the id in the channel's URL): {exc}"
            ) from exc
        if response is None:
            return
        newest = parse_iso(state.cursor)  # None for a cursor this collector did not write
        # Every entry is yielded, not only those newer than the cursor: re-reading the 15 videos
        # is how their view and like counts get updated. The cursor records the newest upload.
        for mention in rss.parse_feed(
            self.source, response.content, response.headers, state, item_to_mention
        ):
            newest = max(newest or mention.published, mention.published)
            yield mention
        if newest is not None:
            state.cursor = newest.isoformat()


def item_to_mention(
    source: str, raw: Mapping[str, Any], now: datetime | None = None
) -> Mention | None:
    """One feed entry (as feedparser reads it): video id, title + description, views and likes.

    None when the entry has no video id (the one field no fallback can stand in for).
    """
    mention = rss.entry_to_mention(source, raw, now or datetime.now(UTC))
    entry_id = str(raw.get("id") or "")
    video_id = raw.get("yt_videoid") or (entry_id[9:] if entry_id.startswith("yt:video:") else "")
    if mention is None or not video_id:
        return None
    url = mention.url if mention.url.startswith("http") else f"{WATCH_URL}{video_id}"
    stats = raw.get("media_statistics")
    rating = raw.get("media_starrating")
    extra = {k: raw[k] for k in _EXTRA if k in raw}
    return dataclasses.replace(
        mention,
        source_id=video_id,
        url=url,
        # The star rating's `count` is the like count since YouTube hid dislikes.
        engagement=Engagement(
            views=as_count(stats.get("views")) if isinstance(stats, Mapping) else None,
            likes=as_count(rating.get("count")) if isinstance(rating, Mapping) else None,
        ),
        raw={**(mention.raw or {}), **extra},
    )


_EXTRA = ("yt_videoid", "yt_channelid", "media_statistics", "media_starrating")
