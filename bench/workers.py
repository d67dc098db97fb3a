"""Worker-scaling benchmark: ingest throughput of 1, 2 and 4 `vigia run` processes on one PostgreSQL.

Run with ``make bench`` or ``python -m bench.workers [--sources 24] [--items 800] [--json]``. A
local HTTP server serves SOURCES feeds, each on its own path: half Hacker News Algolia JSON
payloads, half RSS documents, ITEMS synthetic Spanish and English mentions each (the texts of
``bench.ingest``). For each worker count the bench creates a fresh database, starts that many
real ``vigia run`` processes on it (every source due at once, per-host pacing off since every
feed is on 127.0.0.1), and times from the start of the processes until every source's items are
stored, polling the database; each count runs `--repeat` times (default 3), in turns, and the
median is kept. It prints mentions/s per worker count and the ratio to one worker, all measured
in the same run; the databases are dropped at the end.

Each worker is one Python process, so its polls share one core (the GIL); PostgreSQL runs on the
same machine and needs CPU too. More workers than cores cannot scale linearly: the table says
how many cores the machine has beside what was measured.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import psycopg
import yaml

from bench.ingest import json_payload, rss_document, synthetic_texts
from vigia.demo.server import LocalServer

ROOT = Path(__file__).resolve().parents[1]
# The server the benchmark databases are made on (the same default as the test suite's).
ADMIN_URL = os.environ.get("VIGIA_BENCH_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres")
WORKER_COUNTS = (1, 2, 4)
INTERVAL = "10m"  # long enough that each source is polled once while a run lasts
DEADLINE = 600.0  # seconds a run may take before the bench gives up


@dataclass(frozen=True, slots=True)
class Result:
    workers: int
    seconds: float  # median over the repeats, from starting the processes to every item stored
    runs: list[float]  # each repeat's seconds
    mentions: int
    mentions_per_s: float  # at the median time
    ratio: float  # mentions/s against one worker, measured in the same run
    polls_per_worker: list[list[int]]  # each repeat: how many polls each worker ran


class Feeds(LocalServer):
    """The benchmark's feeds on 127.0.0.1 at a free port: path -> (content type, body)."""

    def __init__(self, pages: Mapping[str, tuple[str, bytes]]) -> None:
        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
                content_type, body = pages.get(self.path.split("?")[0], ("text/plain", b""))
                self.send_response(200 if body else 404)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *_: object) -> None:
                pass

        super().__init__(Handler)


def build_feeds(sources: int, items: int) -> dict[str, tuple[str, bytes]]:
    """Each source's payload on its own path: even sources HN JSON, odd ones RSS."""
    start = datetime.now(UTC) - timedelta(seconds=30 * items + 3600)  # all in the past
    pages = {}
    for k in range(sources):
        texts = synthetic_texts(items, seed=k)
        if k % 2 == 0:
            pages[f"/s{k}/search_by_date"] = ("application/json", json_payload(texts, start))
        else:
            pages[f"/s{k}/feed.xml"] = ("application/rss+xml", rss_document(texts, start))
    return pages


def write_config(folder: Path, base_url: str, sources: int) -> Path:
    entries: list[dict[str, Any]] = []
    for k in range(sources):
        entry: dict[str, Any] = {"name": f"bench-{k}", "interval": INTERVAL}
        if k % 2 == 0:
            entry |= {"type": "hackernews", "query": "vellora", "base_url": f"{base_url}/s{k}"}
        else:
            entry |= {"type": "rss", "url": f"{base_url}/s{k}/feed.xml"}
        entries.append(entry)
    data = {
        "brands": [{"name": "Vellora", "keywords": ["vellora"], "aliases": ["@vellora_ayuda"]}],
        "sources": entries,
        "http": {"timeout": 30, "retries": 1, "min_interval_per_host": 0},
        "analysis": {"languages": ["es", "en"]},
    }
    path = folder / "config.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), "utf-8")
    return path


@contextmanager
def fresh_database() -> Iterator[str]:
    """A new, empty database on ADMIN_URL's server, dropped afterwards; yields its URL."""
    name = f"vigia_bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(ADMIN_URL, autocommit=True, connect_timeout=5) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s",
                (name,),
            )
            admin.execute(f'DROP DATABASE IF EXISTS "{name}"')


def stored(url: str) -> int:
    try:
        with psycopg.connect(url, connect_timeout=5) as conn:
            row = conn.execute("SELECT count(*) FROM mentions").fetchone()
    except psycopg.errors.UndefinedTable:  # the first worker has not made the schema yet
        return 0
    return int(row[0]) if row else 0


def run(config: Path, folder: Path, workers: int, expected: int) -> tuple[float, list[int]]:
    """Start `workers` processes on a fresh database; seconds until `expected` mentions are stored."""
    with fresh_database() as url:
        env = {**os.environ, "PYTHONUNBUFFERED": "1", "VIGIA_DATABASE_URL": url}
        logs = [folder / f"run{workers}-worker{n}.log" for n in range(workers)]
        processes = []
        started = time.perf_counter()
        try:
            for log in logs:
                with log.open("wb") as out:
                    processes.append(
                        subprocess.Popen(
                            [sys.executable, "-m", "vigia.cli", "-c", str(config), "run"],
                            cwd=ROOT,
                            env=env,
                            stdout=out,
                            stderr=subprocess.STDOUT,
                        )
                    )
            while (count := stored(url)) < expected:
                if time.perf_counter() - started > DEADLINE:
                    raise SystemExit(f"{workers} workers: only {count}/{expected} stored in time")
                for process, log in zip(processes, logs, strict=True):
                    if process.poll() is not None:
                        tail = log.read_text("utf-8", errors="replace")[-2000:]
                        raise SystemExit(f"a worker exited early:\n{tail}")
                time.sleep(0.1)
            seconds = time.perf_counter() - started
        finally:
            for process in processes:
                process.send_signal(signal.SIGTERM)
            for process in processes:
                try:
                    process.wait(timeout=60)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
    # Each poll logs one summary line ("N fetched, N new, N updated").
    polls = [log.read_text("utf-8").count(" new, ") for log in logs]
    return seconds, polls


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sources", type=int, default=24, help="feeds served (default 24)")
    parser.add_argument("--items", type=int, default=800, help="mentions a feed (default 800)")
    parser.add_argument("--repeat", type=int, default=3, help="runs per worker count (median)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()
    expected = args.sources * args.items
    try:
        psycopg.connect(ADMIN_URL, connect_timeout=5).close()
    except psycopg.OperationalError as exc:
        raise SystemExit(
            f"PostgreSQL not reachable at {ADMIN_URL} (VIGIA_BENCH_POSTGRES): {exc}"
        ) from None
    seconds: dict[int, list[float]] = {n: [] for n in WORKER_COUNTS}
    polls: dict[int, list[list[int]]] = {n: [] for n in WORKER_COUNTS}
    with (
        tempfile.TemporaryDirectory() as tmp,
        Feeds(build_feeds(args.sources, args.items)) as feeds,
    ):
        folder = Path(tmp)
        config = write_config(folder, feeds.url, args.sources)
        # Worker counts take turns, so a machine that slows down over time biases none of them.
        for _ in range(args.repeat):
            for workers in WORKER_COUNTS:
                took, split = run(config, folder, workers, expected)
                seconds[workers].append(took)
                polls[workers].append(split)
    baseline = expected / statistics.median(seconds[WORKER_COUNTS[0]])
    results = []
    for workers in WORKER_COUNTS:
        rate = expected / statistics.median(seconds[workers])
        results.append(
            Result(
                workers,
                statistics.median(seconds[workers]),
                seconds[workers],
                expected,
                rate,
                rate / baseline,
                polls[workers],
            )
        )
    cores = os.cpu_count() or 1
    if args.json:
        summary = {"sources": args.sources, "items_per_source": args.items, "cores": cores}
        print(json.dumps({**summary, "runs": [asdict(r) for r in results]}))
        return
    print(
        f"Vigía worker scaling: {args.sources} sources x {args.items} mentions = {expected} "
        f"mentions, one PostgreSQL database on this machine, {cores} cores, median of "
        f"{args.repeat} runs"
    )
    print(
        f"\n{'workers':>7}  {'seconds':>8}  {'mentions/s':>10}  {'x 1 worker':>10}  "
        "runs (s)            polls per worker, each run"
    )
    for r in results:
        runs = " ".join(f"{s:.1f}" for s in r.runs)
        split = "  ".join("/".join(map(str, p)) for p in r.polls_per_worker)
        print(
            f"{r.workers:>7}  {r.seconds:>8.1f}  {r.mentions_per_s:>10,.0f}  {r.ratio:>10.2f}  "
            f"{runs:<18}  {split}"
        )
    print(
        "\nTime runs from starting the processes (start-up and schema migration included) until "
        "every item is stored.\nEvery source is due at once: each worker claims what is due when "
        "it ticks, so the first workers up take most of the first polls."
    )


if __name__ == "__main__":
    main()
