"""A real local HTTP server that replays recorded payloads, for testing collectors end to end.

Routes map a path (and optionally query parameters) to a sequence of responses; each request to a
route takes the next response, the last one repeating. Every request is recorded, so tests can
check conditional headers, paging parameters and the User-Agent.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

from vigia.demo.server import LocalServer

SHARED_FEEDS = Path(__file__).resolve().parents[1].parent / "shared" / "fixtures" / "feeds"


@dataclass
class Reply:
    """One canned response."""

    body: bytes = b""
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0  # seconds to wait before answering (for timeout tests)
    truncate: int | None = None  # send only this many bytes of the body, then close


@dataclass
class Seen:
    """One request the server received."""

    path: str
    query: dict[str, str]
    headers: Mapping[str, str]
    method: str = "GET"
    body: bytes = b""


def shared_fixture(relative: str) -> Path:
    """A recorded payload from ../shared/fixtures/feeds; the caller skips when it is absent."""
    return SHARED_FEEDS / relative


def recorded(relative: str, status: int | None = None, **overrides: str) -> Reply:
    """A Reply from a shared fixture body plus its `.headers.json` sidecar, when there is one."""
    body_path = shared_fixture(relative)
    headers: dict[str, str] = {}
    sidecar = body_path.with_suffix(".headers.json")
    recorded_status = 200
    if sidecar.exists():
        meta = json.loads(sidecar.read_text(encoding="utf-8"))
        recorded_status = int(meta.get("status", 200))
        for name, value in (meta.get("headers") or {}).items():
            if name.lower() not in (
                "content-length",
                "transfer-encoding",
                "content-encoding",
                "connection",
            ):
                # vcrpy sidecars keep each header as a list of values; the wire joins them.
                values = value if isinstance(value, list) else [value]
                headers[name] = ", ".join(str(v) for v in values)
    headers.update(overrides)
    return Reply(body=body_path.read_bytes(), status=status or recorded_status, headers=headers)


class ReplayServer(LocalServer):
    """Serves routes on 127.0.0.1 at a free port; use as a context manager."""

    def __init__(self) -> None:
        self.routes: dict[str, list[Reply]] = {}
        self.requests: list[Seen] = []
        self._counts: dict[str, int] = {}
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
                server._answer(self)

            def do_POST(self) -> None:  # noqa: N802
                server._answer(self)

            def log_message(self, *_: object) -> None:
                pass

        super().__init__(Handler)

    def route(self, path: str, *replies: Reply) -> None:
        """Answer `path` (optionally with `?query` to match exactly) with `replies` in turn."""
        self.routes[path] = list(replies)

    def hits(self, path: str) -> list[Seen]:
        return [seen for seen in self.requests if seen.path == path]

    def _pick(self, path: str, query: str) -> Reply | None:
        with self._lock:
            key = f"{path}?{query}" if f"{path}?{query}" in self.routes else path
            replies = self.routes.get(key)
            if not replies:
                return None
            index = self._counts.get(key, 0)
            self._counts[key] = index + 1
            return replies[min(index, len(replies) - 1)]

    def _answer(self, handler: BaseHTTPRequestHandler) -> None:
        parts = urlsplit(handler.path)
        length = int(handler.headers.get("content-length") or 0)
        body = handler.rfile.read(length) if length else b""
        with self._lock:
            self.requests.append(
                Seen(
                    parts.path,
                    dict(parse_qsl(parts.query)),
                    dict(handler.headers),
                    handler.command,
                    body,
                )
            )
        reply = self._pick(parts.path, parts.query) or Reply(b"no such route", 404)
        if reply.delay:
            time.sleep(reply.delay)
        body = reply.body if reply.truncate is None else reply.body[: reply.truncate]
        try:
            handler.send_response(reply.status)
            for name, value in reply.headers.items():
                handler.send_header(name, value)
            handler.send_header("Content-Length", str(len(reply.body)))
            handler.end_headers()
            handler.wfile.write(body)
            if reply.truncate is not None:
                handler.close_connection = True
        except (BrokenPipeError, ConnectionResetError):
            pass
