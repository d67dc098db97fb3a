"""Collectors: one module per public source, each turning raw payloads into Mentions.

REGISTRY maps the `type` of a `sources:` entry in config.yaml to its collector class.
"""

from collectors.base import Collector
from collectors.bluesky import BlueskyCollector
from collectors.mastodon import MastodonCollector
from collectors.rss import RssCollector

REGISTRY: dict[str, type[Collector]] = {
    collector.name: collector for collector in (RssCollector, MastodonCollector, BlueskyCollector)
}
