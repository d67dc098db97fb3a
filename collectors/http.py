"""The one HTTP client factory: timeouts, a Vigía User-Agent, per-host pacing, retries, conditional GETs.

Politeness lives in a transport wrapped around httpx's own, so every collector gets it by using the
client it is handed: requests to one host are spaced by a shared limiter, 5xx and timeouts are retried
with exponential backoff and jitter, a short ``Retry-After`` is waited out, and rate-limit headers
(``X-RateLimit-*``, ``RateLimit-*``) that announce an exhausted quota hold the host until its reset.
"""

from __future__ import annotations

import json
import random
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import httpx

from collectors.base import (
    FetchState,
    NeedsHumanError,
    RateLimitedError,
    TransientError,
    UnparseableError,
)

VERSION = "0.1.0"
USER_AGENT = f"Vigia/{VERSION} (+https://github.com/vigia-monitor/vigia; reputation monitoring)"


@dataclass(frozen=True, slots=True)
class HttpPolicy:
    """How patient and how polite the client is; config.yaml's `http:` section fills it."""

    timeout: float = 20.0
    retries: int = 3
    backoff_base: float = 1.0
    backoff_max: float = 60.0
    max_inline_wait: float = 30.0
    min_interval_per_host: float = 1.0


class HostLimiter:
    """Spaces requests to each host and holds a host whose quota is exhausted; shared by all sources."""

    def __init__(self, min_interval: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._min_interval = min_interval
        self._clock = clock
        self._next_slot: dict[str, float] = {}
        self._lock = threading.Lock()

    def reserve(self, host: str) -> float:
        """Book the next slot for `host` and return how many seconds to wait for it."""
        with self._lock:
            now = self._clock()
            slot = max(now, self._next_slot.get(host, now))
            self._next_slot[host] = slot + self._min_interval
            return slot - now

    def hold(self, host: str, seconds: float) -> None:
        """Let no request reach `host` for `seconds` (a rate-limit window announced by the server)."""
        with self._lock:
            until = self._clock() + seconds
            self._next_slot[host] = max(self._next_slot.get(host, 0.0), until)


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def parse_reset(value: str, now: datetime | None = None) -> float | None:
    """Seconds until a rate-limit reset given as delta seconds, epoch seconds or an ISO timestamp."""
    now = now or datetime.now(UTC)
    try:
        number = float(value)
    except ValueError:
        try:
            when = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
        return max(0.0, (when - now).total_seconds())
    if number > 1_000_000_000:  # an epoch timestamp (Bluesky), not a delta (Reddit, IETF draft)
        return max(0.0, number - now.timestamp())
    return max(0.0, number)


def quota_exhausted_for(headers: httpx.Headers) -> float | None:
    """If the headers say no requests remain, the seconds until the quota resets."""
    for prefix in ("x-ratelimit-", "ratelimit-"):
        remaining = headers.get(prefix + "remaining")
        reset = headers.get(prefix + "reset")
        if remaining is None or reset is None:
            continue
        try:
            if float(remaining) >= 1:
                return None
        except ValueError:
            continue
        return parse_reset(reset)
    return None


class PoliteTransport(httpx.BaseTransport):
    """Wraps a transport with host pacing, retries with backoff and jitter, and Retry-After."""

    def __init__(
        self,
        inner: httpx.BaseTransport,
        policy: HttpPolicy,
        limiter: HostLimiter,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._inner = inner
        self._policy = policy
        self._limiter = limiter
        self._sleep = sleep

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        host = request.url.host
        attempt = 0
        while True:
            self._sleep(self._limiter.reserve(host))
            try:
                response = self._inner.handle_request(request)
            except (httpx.TimeoutException, httpx.NetworkError):
                if attempt >= self._policy.retries:
                    raise
                self._sleep(self._backoff(attempt))
                attempt += 1
                continue
            wait = self._retry_wait(response, attempt)
            if wait is None:
                reset = quota_exhausted_for(response.headers)
                if reset:
                    self._limiter.hold(host, min(reset, self._policy.backoff_max * 10))
                return response
            response.close()
            self._sleep(wait)
            attempt += 1

    def _retry_wait(self, response: httpx.Response, attempt: int) -> float | None:
        """Seconds to wait before retrying `response`, or None to hand it to the caller."""
        if attempt >= self._policy.retries:
            return None
        if response.status_code == 429 or response.status_code == 503:
            retry_after = parse_retry_after(response.headers.get("retry-after"))
            if retry_after is not None:
                return retry_after if retry_after <= self._policy.max_inline_wait else None
            return self._backoff(attempt) if response.status_code == 503 else None
        if response.status_code >= 500:
            return self._backoff(attempt)
        return None

    def _backoff(self, attempt: int) -> float:
        ceiling = min(self._policy.backoff_max, self._policy.backoff_base * 2**attempt)
        return random.uniform(ceiling / 2, ceiling)  # "equal jitter": never zero, never in lockstep

    def close(self) -> None:
        self._inner.close()


def make_client(
    policy: HttpPolicy | None = None,
    limiter: HostLimiter | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> httpx.Client:
    """The client every collector uses; share one `limiter` between clients that poll the same hosts."""
    policy = policy or HttpPolicy()
    transport = PoliteTransport(
        httpx.HTTPTransport(),
        policy,
        limiter or HostLimiter(policy.min_interval_per_host),
        sleep,
    )
    return httpx.Client(
        transport=transport,
        timeout=policy.timeout,
        follow_redirects=True,
        headers={"User-Agent": USER_AGENT},
    )


def get(
    client: httpx.Client,
    url: str,
    *,
    params: Mapping[str, Any] | None = None,
    headers: Mapping[str, str] | None = None,
    state: FetchState | None = None,
) -> httpx.Response | None:
    """GET `url`, mapping failures to the error tree; with `state`, a conditional GET (None on 304)."""
    request_headers = dict(headers or {})
    if state is not None:
        if state.etag:
            request_headers["If-None-Match"] = state.etag
        if state.last_modified:
            request_headers["If-Modified-Since"] = state.last_modified
    response = send(client, "GET", url, params=params, headers=request_headers)
    if response.status_code == 304:
        return None
    raise_for_status(response)
    if state is not None:
        state.etag = response.headers.get("etag") or state.etag
        state.last_modified = response.headers.get("last-modified") or state.last_modified
    return response


def send(client: httpx.Client, method: str, url: str, **kwargs: Any) -> httpx.Response:
    """One request with network failures mapped to TransientError; the status is left to the caller."""
    try:
        return client.request(method, url, **kwargs)
    except httpx.TimeoutException as exc:
        raise TransientError(f"timed out fetching {url}") from exc
    except httpx.TransportError as exc:
        raise TransientError(f"could not reach {url}: {exc}") from exc


def raise_for_status(response: httpx.Response) -> None:
    """Raise the collector error that matches a non-2xx response."""
    status = response.status_code
    if status < 400:
        return
    where = f"HTTP {status} from {response.request.url}"
    if "json" in response.headers.get("content-type", ""):
        # JSON APIs explain a refusal in the body (Stack Exchange's error_message, Mastodon's error).
        where += f" ({response.text[:200].strip()})"
    if status == 429 or quota_exhausted_for(response.headers) is not None and status == 403:
        # Reddit answers 429 without Retry-After but with x-ratelimit-reset: wait for that instead.
        retry_after = parse_retry_after(response.headers.get("retry-after"))
        if retry_after is None:
            retry_after = quota_exhausted_for(response.headers)
        raise RateLimitedError(f"{where}: rate limited", retry_after)
    if status >= 500:
        raise TransientError(f"{where}: server error")
    if status in (401, 403):
        raise NeedsHumanError(f"{where}: access refused; check the source's credentials")
    if status in (404, 410):
        raise NeedsHumanError(f"{where}: not found; check the source's URL, id or query")
    raise NeedsHumanError(f"{where}: request rejected; check the source's settings")


def json_body(response: httpx.Response) -> Any:
    """The response's JSON, or an UnparseableError naming the URL and what came instead."""
    try:
        return json.loads(response.content)
    except ValueError as exc:
        kind = response.headers.get("content-type", "unknown type")
        start = response.text[:60].strip().replace("\n", " ")
        raise UnparseableError(
            f"expected JSON from {response.request.url}, got {kind} starting {start!r}"
        ) from exc


def items_of(body: Any, key: str | None, what: str, url: object) -> list[Any]:
    """The list of items of a parsed JSON page: the body itself (`key` None) or its `key` member."""
    items = body if key is None else body.get(key) if isinstance(body, dict) else None
    if not isinstance(items, list):
        where = "a JSON list" if key is None else f"a '{key}' list"
        raise UnparseableError(f"expected {what} ({where}) from {url}")
    return items
