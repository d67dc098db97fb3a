"""The collector contract: the Mention record, the Collector base class and the error tree.

Errors a collector may raise, all caught per source by the pipeline::

    CollectorError                 anything that fails one poll of one source
    ├── TransientError             network trouble, timeouts, 5xx: retry later with backoff
    │   ├── RateLimitedError       429 or an exhausted quota: wait ``retry_after`` seconds
    │   └── DeadlineExceededError  no complete response within ``http.deadline``
    ├── NeedsHumanError            401/403/404, bad query or credentials: fix the config
    └── UnparseableError           the payload is not what the platform documents (a bad payload)
        └── PayloadTooLargeError   the body, decoded, outgrew ``http.max_response_size``
"""

from __future__ import annotations

import hashlib
import logging
from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Annotated, Any, ClassVar

import httpx
from pydantic import AfterValidator, BaseModel, ConfigDict

from collectors.text import web_url
from timeutil import utc

log = logging.getLogger(__name__)


class CollectorError(Exception):
    """One poll of one source failed; the message says what and where."""


class TransientError(CollectorError):
    """A failure that may go away by itself (network, timeout, server error)."""


class RateLimitedError(TransientError):
    """The platform asked us to slow down."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class DeadlineExceededError(TransientError):
    """The server did not deliver a whole response in time (a stalled or trickling body)."""


class NeedsHumanError(CollectorError):
    """Retrying will not help: credentials, permissions or the configured query are wrong."""


class UnparseableError(CollectorError):
    """The response body does not have the documented shape."""


class PayloadTooLargeError(UnparseableError):
    """The response body is larger than any page of the platform should be (or a compression bomb)."""


@dataclass(frozen=True, slots=True)
class Engagement:
    """Engagement counts as the platform reported them when the item was fetched."""

    replies: int | None = None
    reposts: int | None = None
    likes: int | None = None
    quotes: int | None = None
    score: int | None = None
    views: int | None = None


@dataclass(frozen=True, slots=True)
class Mention:
    """One post, comment, article or review, as fetched; analysis results are stored beside it."""

    source: str
    source_id: str
    url: str
    published: datetime
    text: str
    author: str | None = None
    # The author's follower count when the platform reports it with the item, as fetched.
    author_followers: int | None = None
    language: str | None = None
    thread_id: str | None = None
    parent_id: str | None = None
    engagement: Engagement = field(default_factory=Engagement)
    rating: int | None = None
    raw: Mapping[str, Any] | None = None

    def __post_init__(self) -> None:
        # Every collector builds Mentions, so this one check keeps a `javascript:` or `data:`
        # link of any platform out of the database: the link is dropped, the item is kept.
        url = web_url(self.url)
        if self.url and not url:
            log.warning(
                "%s: item %s: dropped a link that is not http(s): %r",
                self.source,
                self.source_id,
                self.url[:60],
            )
        if url != self.url:
            object.__setattr__(self, "url", url)


@dataclass(slots=True)
class FetchState:
    """What a source remembers between polls; the pipeline saves it only after the mentions commit."""

    cursor: str | None = None
    etag: str | None = None
    last_modified: str | None = None
    # Thread roots (the platform's ids) the pipeline asks to re-read this poll, for collectors
    # with `rereads_threads`: new replies and moved engagement of conversations that are active.
    watch: tuple[str, ...] = ()
    skipped: int = 0
    skip_reasons: list[str] = field(default_factory=list)

    def skip(self, reason: str) -> None:
        """Count one item that could not be turned into a Mention, keeping the first few reasons."""
        self.skipped += 1
        if len(self.skip_reasons) < 5:
            self.skip_reasons.append(reason)


def http_url(value: str) -> str:
    """`value` if it is an absolute http(s) URL with a host; else ValueError quoting it, so a
    typo fails the configuration check instead of every poll."""
    if not isinstance(value, str) or web_url(value) != value.strip() or value != value.strip():
        raise ValueError(
            f"expected an http(s) URL such as https://example.com/feed.xml, got {value!r}"
        )
    return value


# Every collector option holding an address is of this type: one check for all of them.
HttpUrl = Annotated[str, AfterValidator(http_url)]


class CollectorOptions(BaseModel):
    """Base of each collector's source options (the keys of its `sources:` entry in config.yaml)."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class Collector(ABC):
    """Fetches new items of one configured source; one subclass per platform."""

    name: ClassVar[str]
    description: ClassVar[str]
    Options: ClassVar[type[CollectorOptions]]
    rereads_threads: ClassVar[bool] = False

    def __init__(self, source: str, options: CollectorOptions, client: httpx.Client) -> None:
        self.source = source
        self.options = options
        self.client = client

    @abstractmethod
    def fetch(self, state: FetchState) -> Iterator[Mention]:
        """Yield the items published since `state`, updating `state` (cursor, validators) as it goes."""


def parse_iso(value: Any) -> datetime | None:
    """An ISO 8601 timestamp from a payload field as aware UTC; None when absent or unreadable."""
    if not isinstance(value, str):
        return None
    try:
        return utc(datetime.fromisoformat(value))
    except ValueError:
        return None


def language_code(tag: Any) -> str | None:
    """The primary subtag of a language tag, lower-cased ("pt-BR" -> "pt"); None if there is none."""
    if not isinstance(tag, str):
        return None
    return tag.split("-")[0].lower() or None


def as_count(value: Any) -> int | None:
    """An engagement count from a payload field (int, float or digit string); None for anything else."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return int(value)
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    return None


def stable_id(*parts: str | None) -> str:
    """A short deterministic id for items whose platform gives none (e.g. RSS items without guid)."""
    digest = hashlib.sha1("\x1f".join(p or "" for p in parts).encode("utf-8")).hexdigest()
    return f"sha1:{digest[:20]}"
