"""A real local HTTP server that misbehaves on purpose, for testing the HTTP client's limits.

Each route is a function that writes a whole HTTP/1.1 response to the socket, so a route can do
what a well-behaved server never does: a gzip bomb, an endless chunked body, a body far larger
than any page, a body sent one byte a second, payloads nested 100,000 levels deep. Bodies are
generated as they are sent, never held whole. `python -m tests.hostile` serves the routes until
Ctrl-C, for measuring `vigia collect --once` by hand.
"""

from __future__ import annotations

import contextlib
import functools
import threading
import time
import zlib
from collections.abc import Callable, Iterable, Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path

from vigia.demo.server import LocalServer

FEED = Path(__file__).resolve().parent / "fixtures" / "vellora-es.rss.xml"
RSS = "application/rss+xml"
MiB = 1024 * 1024
NESTING = 100_000  # levels of the deeply nested payloads

Route = Callable[[BaseHTTPRequestHandler, threading.Event], None]


@functools.cache
def gzip_bomb(expanded: int = 1024 * MiB) -> bytes:
    """About 1 MB of gzip that inflates to `expanded` bytes of zeros (compressed as a stream)."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, zlib.MAX_WBITS | 16)
    block = bytes(MiB)
    parts = [compressor.compress(block) for _ in range(expanded // MiB)]
    return b"".join([*parts, compressor.flush()])


def rss_around(middle: bytes) -> tuple[bytes, bytes]:
    """The start and end of an RSS document with one item about Vellora, `middle` in its body."""
    head = (
        b'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>hostile</title>'
        b"<item><title>Vellora hostile item</title><link>https://example.org/hostile</link>"
        b"<description>"
    )
    return head + middle, b"</description></item></channel></rss>"


def send_head(
    handler: BaseHTTPRequestHandler, content_type: str, headers: dict[str, str] | None = None
) -> None:
    handler.send_response(200)
    handler.send_header("Content-Type", content_type)
    for name, value in (headers or {}).items():
        handler.send_header(name, value)
    handler.end_headers()


def whole(body: bytes, content_type: str = RSS, **headers: str) -> Route:
    """A well-formed response with a Content-Length."""

    def route(handler: BaseHTTPRequestHandler, _: threading.Event) -> None:
        send_head(handler, content_type, {"Content-Length": str(len(body)), **headers})
        handler.wfile.write(body)

    return route


def chunked(pieces: Callable[[], Iterable[bytes]], content_type: str = RSS) -> Route:
    """A chunked response whose pieces come from a generator (so it may never end)."""

    def route(handler: BaseHTTPRequestHandler, stop: threading.Event) -> None:
        send_head(handler, content_type, {"Transfer-Encoding": "chunked"})
        for piece in pieces():
            if stop.is_set():
                return
            handler.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
        handler.wfile.write(b"0\r\n\r\n")

    return route


def sized(size: int, pieces: Callable[[], Iterable[bytes]], content_type: str = RSS) -> Route:
    """A response announcing `size` bytes, written from a generator as the client reads."""

    def route(handler: BaseHTTPRequestHandler, stop: threading.Event) -> None:
        send_head(handler, content_type, {"Content-Length": str(size)})
        for piece in pieces():
            if stop.is_set():
                return
            handler.wfile.write(piece)

    return route


def endless() -> Iterator[bytes]:
    head, _ = rss_around(b"")
    yield head
    while True:
        yield b"Vellora " * 8192  # 64 KiB of an item description that never ends


def two_hundred_mb() -> Iterator[bytes]:
    head, tail = rss_around(b"")
    yield head
    filler = 200 * MiB - len(head) - len(tail)
    block = b"x" * MiB
    for _ in range(filler // MiB):
        yield block
    yield b"x" * (filler % MiB) + tail


def one_byte_a_second() -> Iterator[bytes]:
    head, tail = rss_around(b"slow " * 100)
    for byte in head + tail:
        yield bytes([byte])
        time.sleep(1)


def deep_json(levels: int = NESTING) -> bytes:
    return b"[" * levels + b"]" * levels


def deep_xml(levels: int = NESTING) -> bytes:
    """A feed whose one item's description nests `levels` XML elements."""
    head, tail = rss_around(b"<a>" * levels + b"</a>" * levels)
    return head + tail


def billion_laughs() -> bytes:
    """A feed whose title expands, through ten levels of entities, to 10**9 'lol's."""
    entities = '<!ENTITY lol0 "lol">' + "".join(
        f'<!ENTITY lol{i} "{f"&lol{i - 1};" * 10}">' for i in range(1, 10)
    )
    return (
        f'<?xml version="1.0"?><!DOCTYPE rss [{entities}]><rss version="2.0"><channel>'
        "<title>laughs</title><item><title>Vellora &lol9;</title>"
        "<link>https://example.org/laughs</link></item></channel></rss>"
    ).encode()


def hostile_routes() -> dict[str, Route]:
    """Every hostile case, plus one normal feed, by path."""
    return {
        "/gzip-bomb.xml": whole(gzip_bomb(), **{"Content-Encoding": "gzip"}),
        "/endless.xml": chunked(endless),
        "/200mb.xml": sized(200 * MiB, two_hundred_mb),
        "/one-byte-a-second.xml": chunked(one_byte_a_second),
        "/deep.xml": whole(deep_xml()),
        "/laughs.xml": whole(billion_laughs()),
        # The Hacker News collector asks for {base_url}/search_by_date.
        "/deep-json/search_by_date": whole(deep_json(), "application/json"),
        "/normal.xml": whole(FEED.read_bytes()),
    }


class HostileServer(LocalServer):
    """Serves `routes` on 127.0.0.1 at a free port; use as a context manager."""

    def __init__(self, routes: dict[str, Route] | None = None) -> None:
        self.routes = hostile_routes() if routes is None else routes
        self.hits: list[str] = []
        self._stop = threading.Event()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
                path = self.path.split("?", 1)[0]
                server.hits.append(path)
                route = server.routes.get(path)
                try:
                    if route is None:
                        self.send_error(404)
                    else:
                        route(self, server._stop)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up, as it should
                self.close_connection = True

            def log_message(self, *_: object) -> None:
                pass

        super().__init__(Handler)

    def stop(self) -> None:
        self._stop.set()  # ends the endless and trickling bodies still being sent
        super().stop()


if __name__ == "__main__":
    with HostileServer() as hostile:
        print(f"serving on {hostile.url}:")
        for path in hostile.routes:
            print(f"  {hostile.url}{path}")
        with contextlib.suppress(KeyboardInterrupt):
            threading.Event().wait()
