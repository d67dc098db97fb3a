"""Hostile servers against the real HTTP client and the real `vigia collect --once`.

Every case here once exhausted memory or never ended: a gzip bomb, an endless body, a 200 MB
feed, a body sent a byte a second, payloads nested 100,000 levels deep. Each must now end as a
clear error of its source, in bounded memory and time. Time bounds are generous: they prove the
request ended because of the limit (the per-read timeout is set far beyond the deadline), not
how fast it ended.
"""

from __future__ import annotations

import gzip
import json
import re
import subprocess
import sys
import textwrap
import threading
import time
import tracemalloc
import zlib
from collections.abc import Callable, Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import httpx
import pytest

from collectors import http
from collectors.base import (
    DeadlineExceededError,
    FetchState,
    PayloadTooLargeError,
    RateLimitedError,
    TransientError,
    UnparseableError,
)
from collectors.hackernews import HackerNewsCollector, HackerNewsOptions
from collectors.http import MAX_JSON_DEPTH, HostLimiter, HttpPolicy, make_client
from collectors.rss import MAX_XML_DEPTH, RssCollector, RssOptions
from tests.hostile import (
    FEED,
    HostileServer,
    MiB,
    Route,
    deep_json,
    send_head,
    whole,
)
from vigia.config import ConfigError, HttpConfig, parse_settings
from vigia.pipeline import Runtime
from vigia.scheduler import run_until_stopped
from vigia.storage.sources import SourceHealth, load_health

CAP = 2 * MiB
DEADLINE = 3.0
# Per-read timeout far beyond the deadline: only the deadline can end these requests in time.
SLOW_READS = 30.0
MARGIN = 5.0  # scheduling slack on a busy machine; a missed deadline would take SLOW_READS


@pytest.fixture(scope="module")
def hostile() -> Iterator[HostileServer]:
    with HostileServer() as server:
        yield server


@pytest.fixture
def limited() -> Iterator[httpx.Client]:
    policy = HttpPolicy(
        timeout=SLOW_READS,
        retries=2,
        backoff_base=0.01,
        backoff_max=0.05,
        min_interval_per_host=0.0,
        max_response_bytes=CAP,
        deadline=DEADLINE,
    )
    with make_client(policy, HostLimiter(0.0)) as client:
        yield client


def rss(server: HostileServer, client: httpx.Client, path: str) -> RssCollector:
    return RssCollector("hostile", RssOptions(url=f"{server.url}{path}"), client)


@pytest.mark.parametrize("path", ["/gzip-bomb.xml", "/endless.xml", "/200mb.xml"])
def test_oversized_bodies_stop_at_the_cap_as_a_bad_payload(
    hostile: HostileServer, limited: httpx.Client, path: str
) -> None:
    started = time.monotonic()
    with pytest.raises(PayloadTooLargeError) as caught:
        list(rss(hostile, limited, path).fetch(FetchState()))
    assert str(caught.value) == "response from 127.0.0.1 exceeded 2 MB (http.max_response_size)"
    assert isinstance(caught.value, UnparseableError), "too large is a bad payload"
    assert time.monotonic() - started < DEADLINE + MARGIN


def test_gzip_bomb_never_holds_much_more_than_the_cap(
    hostile: HostileServer, limited: httpx.Client
) -> None:
    # About 1 MB of gzip that inflates to 1 GB. Inflating a whole 64 KiB network read at once
    # would already make 64 MB; decoding in small steps keeps the peak near the cap.
    tracemalloc.start()
    try:
        with pytest.raises(PayloadTooLargeError):
            http.get(limited, f"{hostile.url}/gzip-bomb.xml")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 3 * CAP, f"peak {peak / MiB:.1f} MB of Python memory for a {CAP // MiB} MB cap"


@pytest.mark.parametrize(
    "route",
    [
        "/one-byte-a-second.xml",  # a chunk every second: per-read timeouts never fire
        "/stalls-mid-body.xml",  # headers and part of the body, then silence
        "/one-byte-a-second-headers.xml",  # even the status line trickles
    ],
)
def test_slow_or_stalled_responses_end_at_the_deadline(
    hostile: HostileServer, limited: httpx.Client, route: str
) -> None:
    hostile.routes["/stalls-mid-body.xml"] = _stalls_mid_body
    hostile.routes["/one-byte-a-second-headers.xml"] = _trickled_headers
    started = time.monotonic()
    with pytest.raises(DeadlineExceededError) as caught:
        list(rss(hostile, limited, route).fetch(FetchState()))
    elapsed = time.monotonic() - started
    assert str(caught.value) == "no complete response from 127.0.0.1 within 3 s (http.deadline)"
    assert isinstance(caught.value, TransientError)
    assert DEADLINE - 0.5 < elapsed < DEADLINE + MARGIN


def _stalls_mid_body(handler: BaseHTTPRequestHandler, stop: threading.Event) -> None:
    send_head(handler, "application/rss+xml", {"Content-Length": "5000"})
    handler.wfile.write(b'<?xml version="1.0"?><rss version="2.0"><channel>')
    handler.wfile.flush()
    stop.wait(60)


def _trickled_headers(handler: BaseHTTPRequestHandler, stop: threading.Event) -> None:
    for byte in b"HTTP/1.1 200 OK\r\nContent-Type: application/rss+xml\r\n" * 10:
        if stop.wait(1):
            return
        handler.wfile.write(bytes([byte]))
        handler.wfile.flush()


def test_the_deadline_bounds_retries_and_their_waits(
    hostile: HostileServer, limited: httpx.Client
) -> None:
    hostile.routes["/busy.xml"] = _unavailable_for(2)
    before = hostile.hits.count("/busy.xml")
    started = time.monotonic()
    with pytest.raises(TransientError, match="HTTP 503"):
        http.get(limited, f"{hostile.url}/busy.xml")
    # The first 2 s wait fits in the 3 s deadline; the second would not, so the 503 is reported.
    assert hostile.hits.count("/busy.xml") - before == 2
    assert time.monotonic() - started < DEADLINE + MARGIN


def test_a_host_held_past_the_deadline_is_rate_limited_without_waiting(
    hostile: HostileServer,
) -> None:
    limiter = HostLimiter(0.0)
    limiter.hold("127.0.0.1", 600)  # e.g. an exhausted quota announced by an earlier response
    policy = HttpPolicy(min_interval_per_host=0.0, deadline=DEADLINE)
    before = len(hostile.hits)
    started = time.monotonic()
    with make_client(policy, limiter) as client, pytest.raises(RateLimitedError) as caught:
        http.get(client, f"{hostile.url}/normal.xml")
    assert caught.value.retry_after == pytest.approx(600, abs=5)
    assert "past this request's deadline of 3 s (http.deadline)" in str(caught.value)
    assert len(hostile.hits) == before
    assert time.monotonic() - started < MARGIN


def _unavailable_for(seconds: int) -> Route:
    def route(handler: BaseHTTPRequestHandler, _: threading.Event) -> None:
        handler.send_response(503)
        handler.send_header("Retry-After", str(seconds))
        handler.send_header("Content-Length", "0")
        handler.end_headers()

    return route


@pytest.mark.parametrize("levels", [100_000, MAX_JSON_DEPTH + 1])
def test_json_nested_too_deep_is_a_bad_payload(
    hostile: HostileServer, limited: httpx.Client, levels: int
) -> None:
    hostile.routes["/nested/search_by_date"] = whole(deep_json(levels), "application/json")
    collector = HackerNewsCollector(
        "hn", HackerNewsOptions(query="vellora", base_url=f"{hostile.url}/nested"), limited
    )
    with pytest.raises(UnparseableError, match=f"nested deeper than {MAX_JSON_DEPTH} levels"):
        list(collector.fetch(FetchState()))


def test_json_as_deep_as_allowed_is_read(hostile: HostileServer, limited: httpx.Client) -> None:
    hostile.routes["/deep-ok.json"] = whole(deep_json(MAX_JSON_DEPTH), "application/json")
    response = http.get(limited, f"{hostile.url}/deep-ok.json")
    assert response is not None
    assert http.json_body(response) is not None


def test_xml_nested_100000_levels_is_a_bad_payload(
    hostile: HostileServer, limited: httpx.Client
) -> None:
    # Under the size cap, such a document would still cost feedparser gigabytes and minutes
    # (half a kilobyte per open element): the depth is checked before parsing.
    with pytest.raises(UnparseableError, match=f"nested deeper than {MAX_XML_DEPTH} levels"):
        list(rss(hostile, limited, "/deep.xml").fetch(FetchState()))


def test_billion_laughs_is_not_expanded(hostile: HostileServer, limited: httpx.Client) -> None:
    # expat (2.4+) refuses the entity amplification; feedparser then reads the feed loosely,
    # leaving the entity as it was written instead of a billion "lol"s.
    mentions = list(rss(hostile, limited, "/laughs.xml").fetch(FetchState()))
    assert [m.text for m in mentions] == ["Vellora &lol9;"]


@pytest.mark.parametrize(
    ("coding", "compress"),
    [
        ("gzip", gzip.compress),
        ("deflate", zlib.compress),  # zlib-wrapped, as RFC 9110 says
        ("deflate", lambda body: zlib.compress(body)[2:-4]),  # raw, as some servers send it
    ],
)
def test_compressed_bodies_are_decoded_once(
    hostile: HostileServer, limited: httpx.Client, coding: str, compress: Callable[[bytes], bytes]
) -> None:
    hostile.routes["/packed.xml"] = whole(
        compress(FEED.read_bytes()), **{"Content-Encoding": coding}
    )
    response = http.get(limited, f"{hostile.url}/packed.xml")
    assert response is not None and response.content == FEED.read_bytes()
    assert "content-encoding" not in response.headers
    assert len(list(rss(hostile, limited, "/packed.xml").fetch(FetchState()))) == 3


def test_a_coding_vigia_did_not_ask_for_is_a_bad_payload(
    hostile: HostileServer, limited: httpx.Client
) -> None:
    hostile.routes["/brotli.xml"] = whole(b"\x1b\x00", **{"Content-Encoding": "br"})
    with pytest.raises(UnparseableError, match="'br', which Vigía does not read"):
        http.get(limited, f"{hostile.url}/brotli.xml")


def test_a_body_naming_a_local_file_is_not_read_from_disk(
    hostile: HostileServer, limited: httpx.Client, tmp_path: Path
) -> None:
    # feedparser.parse(bytes) first tries the bytes as a file name: a feed server answering with
    # a path would have Vigía read that local file (and b"/dev/zero" would read forever).
    secret = tmp_path / "secret.xml"
    secret.write_bytes(FEED.read_bytes().replace(b"Vellora", b"LOCAL-FILE"))
    hostile.routes["/path.xml"] = whole(str(secret).encode())
    try:
        mentions = list(rss(hostile, limited, "/path.xml").fetch(FetchState()))
    except UnparseableError:
        mentions = []
    assert not any("LOCAL-FILE" in m.text for m in mentions)


def test_limits_are_read_from_config(tmp_path: Path) -> None:
    def http_settings(**http: object) -> HttpConfig:
        data = {"brands": [{"name": "Vellora", "keywords": ["vellora"]}], "http": http}
        return parse_settings(data, tmp_path).http

    assert (http_settings().max_response_size, http_settings().deadline) == (
        20 * MiB,
        timedelta(seconds=60),
    )
    custom = http_settings(max_response_size="512KB", deadline="2m")
    assert (custom.max_response_size, custom.deadline) == (512 * 1024, timedelta(minutes=2))
    assert http_settings(max_response_size=1000).max_response_size == 1000
    with pytest.raises(ConfigError) as caught:
        http_settings(max_response_size="lots", deadline="0s")
    assert str(caught.value).splitlines() == [
        "config: http.deadline: expected a positive duration such as 30s or 2m",
        "config: http.max_response_size: expected a size such as 512KB, 20MB or 1GB, or a "
        "number of bytes",
    ]


# The end-to-end run: one source per hostile case and one normal feed, default-ish limits.
E2E_DEADLINE = 10
HOSTILE_SOURCES = {
    "gzip-bomb": ("rss", "/gzip-bomb.xml"),
    "endless": ("rss", "/endless.xml"),
    "two-hundred-mb": ("rss", "/200mb.xml"),
    "one-byte-a-second": ("rss", "/one-byte-a-second.xml"),
    "deep-xml": ("rss", "/deep.xml"),
    "laughs": ("rss", "/laughs.xml"),
    "deep-json": ("hackernews", "/deep-json"),
}
TOO_LARGE = "PayloadTooLargeError: response from 127.0.0.1 exceeded 20 MB (http.max_response_size)"
EXPECTED = {  # what each source's line of the report says after "ERROR"
    "gzip-bomb": TOO_LARGE,
    "endless": TOO_LARGE,
    "two-hundred-mb": TOO_LARGE,
    "one-byte-a-second": "DeadlineExceededError: no complete response from 127.0.0.1 within "
    f"{E2E_DEADLINE} s (http.deadline)",
    "deep-json": "UnparseableError: bad payload from {url}/deep-json/search_by_date?",
}
PEAK_RSS_MB = 300
# Runs argv[2:] with a timeout of argv[1] seconds and reports its peak memory: RUSAGE_CHILDREN
# is the largest of the children reaped so far, and this fresh process has only that one.
MEASURE = textwrap.dedent(
    """
    import json, resource, subprocess, sys, time
    started = time.monotonic()
    done = subprocess.run(sys.argv[2:], capture_output=True, text=True, timeout=float(sys.argv[1]))
    print(json.dumps({
        "returncode": done.returncode, "stdout": done.stdout, "stderr": done.stderr,
        "seconds": time.monotonic() - started,
        "peak_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024,
    }))
    """
)


def test_collect_once_against_hostile_sources_ends_with_clear_errors(
    hostile: HostileServer, tmp_path: Path
) -> None:
    sources = [
        {"name": name, "type": kind, "brand": "Vellora", "language": "es"}
        | ({"url": f"{hostile.url}{path}"} if kind == "rss" else {})
        | ({"query": "vellora", "base_url": f"{hostile.url}{path}"} if kind != "rss" else {})
        for name, (kind, path) in HOSTILE_SOURCES.items()
    ]
    sources.append(
        {"name": "normal", "type": "rss", "url": f"{hostile.url}/normal.xml", "language": "es"}
    )
    config = tmp_path / "config.yaml"
    config.write_text(
        json.dumps(  # JSON is YAML
            {
                "database_url": "sqlite:///data/hostile.db",
                "brands": [{"name": "Vellora", "keywords": ["vellora"]}],
                "sources": sources,
                "http": {
                    "max_response_size": "20MB",
                    "deadline": f"{E2E_DEADLINE}s",
                    "min_interval_per_host": 0,
                },
            }
        ),
        encoding="utf-8",
    )
    command = [sys.executable, "-m", "vigia.cli", "-c", str(config), "collect", "--once"]
    # Every source ends within its deadline; the bound only proves that the run terminates.
    bound = (len(HOSTILE_SOURCES) + 1) * E2E_DEADLINE + 120
    run = subprocess.run(
        [sys.executable, "-c", MEASURE, str(bound), *command],
        capture_output=True, text=True, check=True, timeout=bound + 30,
    )  # fmt: skip
    result = json.loads(run.stdout)
    # Without the poll's duration (" in 0.4s"), which varies.
    report = {
        line.split(":", 1)[0]: re.sub(r" in \d+\.\ds\b", "", line)
        for line in result["stdout"].splitlines()
    }
    for name, error in EXPECTED.items():
        assert f" — ERROR {error.format(url=hostile.url)}" in report[name], report[name]
    assert report["deep-json"].endswith(f"nested deeper than {MAX_JSON_DEPTH} levels")
    parsed_or_refused = (
        "deep-xml: 1 fetched, 1 new",
        "deep-xml: 0 fetched, 0 new, 0 updated — ERROR UnparseableError: bad payload",
    )
    assert report["deep-xml"].startswith(parsed_or_refused), report["deep-xml"]
    assert report["laughs"].startswith("laughs: 1 fetched")
    assert report["normal"].startswith("normal: 3 fetched, 3 new"), report["normal"]
    assert "crashed" not in result["stderr"] and "Traceback" not in result["stderr"]
    assert result["returncode"] == 1, "failed sources make the exit status non-zero"
    assert result["peak_mb"] < PEAK_RSS_MB, f"peak RSS {result['peak_mb']:.0f} MB"


SLOW = "/one-byte-a-second.xml"


def test_a_trickling_source_holds_up_no_other_source_under_vigia_run(
    hostile: HostileServer, runtime_factory: Callable[..., Runtime]
) -> None:
    # The scheduler gives each source its own thread: while one fetch trickles until its
    # deadline, the normal feed keeps being polled at its interval.
    rt = runtime_factory(
        sources=[
            {"name": "slow", "type": "rss", "url": f"{hostile.url}{SLOW}"},
            {"name": "normal", "type": "rss", "url": f"{hostile.url}/normal.xml", "interval": "5s"},
        ],
        http={"deadline": "12s", "min_interval_per_host": 0, "retries": 0},
    )
    normal_before, slow_before = (hostile.hits.count(p) for p in ("/normal.xml", SLOW))
    stop = threading.Event()
    runner = threading.Thread(target=run_until_stopped, args=(rt, stop))
    runner.start()
    try:
        bounded = time.monotonic() + 30
        while time.monotonic() < bounded and hostile.hits.count("/normal.xml") < normal_before + 2:
            time.sleep(0.1)
        slow = load_health_of(rt, "slow")
    finally:
        stop.set()
        runner.join(timeout=30)
    assert hostile.hits.count("/normal.xml") >= normal_before + 2
    # ... and the slow source was still inside its one fetch meanwhile.
    assert hostile.hits.count(SLOW) == slow_before + 1
    assert slow.last_attempt_at is None
    assert not runner.is_alive()
    assert "within 12 s (http.deadline)" in (load_health_of(rt, "slow").last_error or "")


def load_health_of(rt: Runtime, source: str) -> SourceHealth:
    with rt.engine.connect() as conn:
        return load_health(conn, source)
