"""The one HTTP client factory: timeouts, a Vigía User-Agent, per-host pacing, retries, conditional GETs.

Politeness lives in a transport wrapped around httpx's own, so every collector gets it by using the
client it is handed: requests to one host are spaced by a shared limiter, 5xx and timeouts are retried
with exponential backoff and jitter, a short ``Retry-After`` is waited out, and rate-limit headers
(``X-RateLimit-*``, ``RateLimit-*``) that announce an exhausted quota hold the host until its reset.

The transport also reads each body itself, so every request is bounded whoever sends it:

- **size**: the body is decoded (gzip, deflate) in small steps and counted after decoding, so a
  compression bomb or an endless body stops at ``max_response_bytes`` (``http.max_response_size``)
  with about that much in memory, as a PayloadTooLargeError (a bad payload);
- **time**: ``deadline`` (``http.deadline``) bounds a whole request, pacing waits, retries with their
  backoff and redirects included, as a DeadlineExceededError. Each read's timeout (``http.timeout``)
  is capped by the time left, and a watchdog shuts the socket down at the deadline, because a server
  that sends a byte a second never trips a per-read timeout. A wait or a retry that would not fit
  before the deadline is not started: the last answer (a 429, a 5xx) or network error is reported.

Callers get an ordinary, fully read ``httpx.Response`` (without ``Content-Encoding``: the body in
it is already decoded).
"""

from __future__ import annotations

import contextlib
import json
import random
import socket
import threading
import time
import zlib
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import httpx

from collectors.base import (
    DeadlineExceededError,
    FetchState,
    NeedsHumanError,
    PayloadTooLargeError,
    RateLimitedError,
    TransientError,
    UnparseableError,
)

VERSION = "0.1.0"
USER_AGENT = f"Vigia/{VERSION} (+https://github.com/vigia-monitor/vigia; reputation monitoring)"

KB, MB, GB = 1024, 1024**2, 1024**3
# The largest pages Vigía reads (a Reddit thread of 500 comments, a Bluesky search page of 100
# posts) are a few MB; 20 MB leaves room for those while a bomb or an endless body stops early.
MAX_RESPONSE_BYTES = 20 * MB
# A page that has not fully arrived within a minute is stalled or trickling; waiting longer would
# hold up every source polled after it.
DEADLINE = 60.0
# The most decoded bytes one step may produce: 64 KiB of a gzip bomb inflate to 64 MB at once.
DECODE_STEP = 64 * KB
# Real payloads nest at most ~50 levels (a Reddit comment tree: five per reply level, ten reply
# levels a page). 200 leaves room while staying far below Python's recursion limit (1000), so code
# that walks a payload recursively (Reddit's comment walk, repr() in messages, json.dumps of the raw
# item) cannot overflow the stack.
MAX_JSON_DEPTH = 200
# Content codings the transport can decode in bounded steps; the only ones Vigía asks for.
ACCEPT_ENCODING = "gzip, deflate"
_DEADLINE = "vigia.deadline"  # request extension: monotonic time by which the request must end


@dataclass(frozen=True, slots=True)
class HttpPolicy:
    """How patient and how polite the client is; config.yaml's `http:` section fills it."""

    timeout: float = 20.0
    retries: int = 3
    backoff_base: float = 1.0
    backoff_max: float = 60.0
    max_inline_wait: float = 30.0
    min_interval_per_host: float = 1.0
    max_response_bytes: int = MAX_RESPONSE_BYTES
    deadline: float = DEADLINE


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
    """Wraps a transport with host pacing, retries with backoff and jitter, Retry-After, and the
    size and time limits; returns responses whose body is already read and decoded."""

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
        # Set on the first hop; a redirect's request copies the extensions, so it keeps the deadline.
        deadline = request.extensions.setdefault(
            _DEADLINE, time.monotonic() + self._policy.deadline
        )
        watchdog = _Watchdog(deadline - time.monotonic())
        trace = request.extensions.get("trace")
        if trace is None or isinstance(getattr(trace, "__self__", None), _Watchdog):
            request.extensions["trace"] = watchdog.trace
        try:
            return self._attempts(request, deadline, watchdog)
        finally:
            watchdog.stop()

    def _attempts(
        self, request: httpx.Request, deadline: float, watchdog: _Watchdog
    ) -> httpx.Response:
        host = request.url.host
        timeouts = dict(request.extensions.get("timeout") or {})
        attempt = 0
        while True:
            self._pause(self._limiter.reserve(host), request, deadline)
            left = deadline - time.monotonic()
            if left <= 0:
                raise self._too_late(request)
            request.extensions["timeout"] = {
                phase: left if limit is None else min(limit, left)
                for phase, limit in timeouts.items()
            }
            try:
                response = self._inner.handle_request(request)
                wait = self._retry_wait(response, attempt)
                if wait is None or not _fits(wait, deadline):
                    reset = quota_exhausted_for(response.headers)
                    if reset:
                        self._limiter.hold(host, min(reset, self._policy.backoff_max * 10))
                    return self._read(response, request, deadline, watchdog)
                response.close()
            except httpx.TransportError as exc:
                if watchdog.fired or time.monotonic() >= deadline:
                    raise self._too_late(request) from exc
                wait = self._backoff(attempt)
                retryable = isinstance(exc, httpx.TimeoutException | httpx.NetworkError)
                if not retryable or attempt >= self._policy.retries or not _fits(wait, deadline):
                    raise
            self._pause(wait, request, deadline)
            attempt += 1

    def _pause(self, seconds: float, request: httpx.Request, deadline: float) -> None:
        """Sleep `seconds` (pacing, backoff, Retry-After) unless that would pass the deadline."""
        left = deadline - time.monotonic()
        if left <= 0:
            raise self._too_late(request)
        if seconds > left:
            raise RateLimitedError(
                f"requests to {request.url.host} are held for {seconds:.0f} s (a rate limit or "
                f"pacing), past this request's deadline of {self._policy.deadline:g} s "
                "(http.deadline)",
                seconds,
            )
        self._sleep(seconds)

    def _read(
        self, response: httpx.Response, request: httpx.Request, deadline: float, watchdog: _Watchdog
    ) -> httpx.Response:
        """`response` with its whole body read and decoded, within the size and time limits."""
        limit = self._policy.max_response_bytes
        codings = _content_codings(response.headers)
        stream = response.stream
        assert isinstance(stream, httpx.SyncByteStream)  # what a sync transport returns
        body = bytearray()
        watchdog.watch(response.extensions.get("network_stream"))
        try:
            declared = response.headers.get("content-length", "")
            if not codings and declared.isdigit() and int(declared) > limit:
                raise self._too_large(request)
            for chunk in _decoded(stream, codings, request.url.host):
                if len(body) + len(chunk) > limit:
                    raise self._too_large(request)
                body += chunk
                if time.monotonic() >= deadline:
                    raise self._too_late(request)
        finally:
            watchdog.release()  # before close() hands the connection back to the pool
            response.close()
        if watchdog.fired:  # the socket was shut down: a body read to EOF may be cut short
            raise self._too_late(request)
        return httpx.Response(
            response.status_code,
            # The body is decoded and whole: drop the headers that described it on the wire, so
            # httpx neither decodes it again nor expects a different length.
            headers=[
                (name, value)
                for name, value in response.headers.raw
                if name.lower()
                not in (b"content-encoding", b"content-length", b"transfer-encoding")
            ],
            content=bytes(body),
            extensions={k: v for k, v in response.extensions.items() if k != "network_stream"},
        )

    def _too_large(self, request: httpx.Request) -> PayloadTooLargeError:
        return PayloadTooLargeError(
            f"response from {request.url.host} exceeded {size_text(self._policy.max_response_bytes)}"
            " (http.max_response_size)"
        )

    def _too_late(self, request: httpx.Request) -> DeadlineExceededError:
        return DeadlineExceededError(
            f"no complete response from {request.url.host} within {self._policy.deadline:g} s "
            "(http.deadline)"
        )

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


def _fits(seconds: float, deadline: float) -> bool:
    return time.monotonic() + seconds < deadline


class _Watchdog:
    """Shuts down the socket of a request still running at its deadline.

    A per-read timeout never fires on a server that sends a byte a second. Shutting the socket
    down from this timer's thread makes a read blocked on it return at once, and the transport
    then reports the deadline. The socket is known once httpcore opens the connection (reported
    through the `trace` request extension) or returns the response; a reused keep-alive
    connection that trickles its response headers is cut by the per-read timeouts instead.
    """

    def __init__(self, seconds: float) -> None:
        self.fired = False
        self._socket: socket.socket | None = None
        self._lock = threading.Lock()
        self._timer = threading.Timer(max(0.0, seconds), self._fire)
        self._timer.daemon = True
        self._timer.start()

    def trace(self, event: str, info: Mapping[str, Any]) -> None:
        """httpcore's `trace` extension: learn the socket of each new connection."""
        if event in ("connection.connect_tcp.complete", "connection.start_tls.complete"):
            self.watch(info.get("return_value"))

    def watch(self, stream: Any) -> None:
        """Cut `stream` (an httpcore network stream) if the deadline passes while it is in use."""
        sock = stream.get_extra_info("socket") if stream is not None else None
        with self._lock:
            self._socket = sock if isinstance(sock, socket.socket) else None
            if self.fired:
                self._shutdown()

    def release(self) -> None:
        """Forget the socket: its connection may go back to the pool, never to be cut later."""
        with self._lock:
            self._socket = None

    def stop(self) -> None:
        self.release()
        self._timer.cancel()

    def _fire(self) -> None:
        with self._lock:
            self.fired = True
            self._shutdown()

    def _shutdown(self) -> None:
        if self._socket is None:
            return
        # socket.socket's own shutdown, not SSLSocket's, which would also drop the TLS object the
        # reading thread is using; an OSError means the connection is already closed.
        with contextlib.suppress(OSError):
            socket.socket.shutdown(self._socket, socket.SHUT_RDWR)


def _content_codings(headers: httpx.Headers) -> list[str]:
    """The response's content codings in the order they were applied, `identity` left out."""
    codings = [c.strip().lower() for c in headers.get("content-encoding", "").split(",")]
    return [c for c in codings if c and c != "identity"]


def _decoded(chunks: Iterable[bytes], codings: list[str], host: str) -> Iterator[bytes]:
    """The body's bytes with `codings` undone, in pieces of at most DECODE_STEP bytes."""
    for coding in reversed(codings):
        if coding not in ("gzip", "x-gzip", "deflate"):
            raise UnparseableError(f"{host} sent a body in {coding!r}, which Vigía does not read")
        chunks = _inflate(chunks, coding, host)
    yield from chunks


def _inflate(chunks: Iterable[bytes], coding: str, host: str) -> Iterator[bytes]:
    """Gzip or deflate undone a step at a time; what follows the end of the stream is not read."""
    decompressor = zlib.decompressobj(
        zlib.MAX_WBITS if coding == "deflate" else zlib.MAX_WBITS | 16
    )
    started = False
    for data in chunks:
        while data or started:
            try:
                out = decompressor.decompress(data, DECODE_STEP)
            except zlib.error as exc:
                if coding == "deflate" and not started:
                    # "deflate" should be zlib-wrapped, but some servers send it raw (httpx reads both).
                    started, decompressor = True, zlib.decompressobj(-zlib.MAX_WBITS)
                    continue
                raise UnparseableError(
                    f"could not decode the {coding} body from {host}: {exc}"
                ) from exc
            started = True
            yield out  # even empty, so the caller checks the deadline between steps
            if decompressor.eof:
                return
            data = decompressor.unconsumed_tail
            # A full step may leave output inside the decompressor: ask again, with no new input.
            if not data and len(out) < DECODE_STEP:
                break


def size_text(size: int) -> str:
    """A byte count as config.yaml writes it: 20 MB, 512 KB, 1 GB (binary units), else bytes."""
    for unit, factor in (("GB", GB), ("MB", MB), ("KB", KB)):
        if size >= factor and size % factor == 0:
            return f"{size // factor} {unit}"
    return f"{size:,} bytes"


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
        headers={"User-Agent": USER_AGENT, "Accept-Encoding": ACCEPT_ENCODING},
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
    """One request with network failures mapped to TransientError; the status is left to the caller.

    With a client from `make_client`, the response is read whole within the policy's size and
    time limits, or a PayloadTooLargeError or DeadlineExceededError says which limit it hit.
    """
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
    """The response's JSON, or an UnparseableError naming the URL and what came instead.

    A payload nested deeper than MAX_JSON_DEPTH is a bad payload too, whether the parser itself
    gives up (RecursionError) or the document parses and would overflow code that walks it.
    """
    too_deep = (
        f"bad payload from {response.request.url}: nested deeper than {MAX_JSON_DEPTH} levels"
    )
    try:
        body = json.loads(response.content)
    except RecursionError as exc:
        raise UnparseableError(too_deep) from exc
    except ValueError as exc:
        kind = response.headers.get("content-type", "unknown type")
        start = response.text[:60].strip().replace("\n", " ")
        raise UnparseableError(
            f"expected JSON from {response.request.url}, got {kind} starting {start!r}"
        ) from exc
    if nested_deeper_than(body, MAX_JSON_DEPTH):
        raise UnparseableError(too_deep)
    return body


def nested_deeper_than(value: Any, limit: int) -> bool:
    """Whether parsed JSON has lists or objects more than `limit` levels deep (checked without
    recursion, so any depth is safe to check)."""
    stack = [(value, 1)] if isinstance(value, dict | list) else []
    while stack:
        item, depth = stack.pop()
        if depth > limit:
            return True
        children = item.values() if isinstance(item, dict) else item
        stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return False


def items_of(body: Any, key: str | None, what: str, url: object) -> list[Any]:
    """The list of items of a parsed JSON page: the body itself (`key` None) or its `key` member."""
    items = body if key is None else body.get(key) if isinstance(body, dict) else None
    if not isinstance(items, list):
        where = "a JSON list" if key is None else f"a '{key}' list"
        raise UnparseableError(f"expected {what} ({where}) from {url}")
    return items
