"""Collectors: one module per public source, each turning raw payloads into Mentions.

REGISTRY maps the `type` of a `sources:` entry in config.yaml to its collector class.
"""

from collectors.appstore import AppStoreCollector
from collectors.base import Collector
from collectors.bluesky import BlueskyCollector
from collectors.google_news import GoogleNewsCollector
from collectors.hackernews import HackerNewsCollector
from collectors.mastodon import MastodonCollector
from collectors.reddit import RedditCollector
from collectors.rss import RssCollector
from collectors.stackexchange import StackExchangeCollector
from collectors.youtube import YoutubeCollector

REGISTRY: dict[str, type[Collector]] = {
    collector.name: collector
    for collector in (
        RssCollector,
        MastodonCollector,
        BlueskyCollector,
        AppStoreCollector,
        GoogleNewsCollector,
        RedditCollector,
        HackerNewsCollector,
        YoutubeCollector,
        StackExchangeCollector,
    )
}
