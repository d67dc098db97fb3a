"""Several `vigia run` workers on one database: each due poll once, a dead worker's sources taken
over, e-mails sent once, rollups equal to a GROUP BY however many writers there are.

The worker scenarios run real processes for a bounded time against the demo's local feeds (all
source types, a live trickle and a crisis that raises alerts) and a real SMTP server (aiosmtpd),
and judge them from the outside: the feed server's request log, the workers' logs, the database
and the received e-mails.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email import message_from_bytes
from email.header import decode_header, make_header
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import Engine, case, func, insert, select

from analysis.sentiment import Sentiment
from collectors import REGISTRY
from collectors.base import Engagement, Mention
from tests.conftest import make_settings
from tests.replay import ReplayServer
from tests.replay import Reply as Canned
from vigia.analyse import AnalysedMention
from vigia.demo.feeds import RSS_PATH, DemoFeeds, Reply
from vigia.demo.runner import Inbox, demo_config, smtp_sink, write_config
from vigia.demo.story import Timeline, build_timeline
from vigia.pipeline import Runtime
from vigia.scheduler import MAX_POLL_THREADS, run_once_per_period, run_until_stopped
from vigia.storage import connect, open_engine
from vigia.storage.mentions import save_batch
from vigia.storage.schema import hourly_rollup, mentions, period_runs, source_state, topic_rollup

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="kills workers with SIGKILL")

ROOT = Path(__file__).resolve().parents[2]
INTERVAL = 5  # seconds between two polls of a source: the shortest allowed, so a run sees many
LEASE = 6  # workers.lease: a dead worker's source is taken over within INTERVAL + LEASE
# A poll's first request leaves the worker a little after its claim (a transaction, the state,
# and on two busy cores a wait for the GIL while another thread analyses a batch: over a second
# was seen); two polls of a source may therefore be up to that much less than INTERVAL apart on
# the wire. A doubled poll is concurrent (less than a tick, 1 s, apart), or shows as more polls
# than intervals, which the rate check catches.
TOLERANCE = 2.0
MAX_RATE = 1.1  # polls per source per interval, as the feed server sees them
SUMMARY = re.compile(
    r"^(?P<at>\S+ \S+) (?:INFO|WARNING) vigia\.scheduler: (?P<source>[a-z0-9_.-]+): "
    r"(?P<fetched>\d+) fetched, (?P<new>\d+) new, (?P<updated>\d+) updated",
    re.MULTILINE,
)


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A SQLite file, then a throwaway PostgreSQL database (skipped when none answers)."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'vigia.db'}"
    return str(request.getfixturevalue("postgres_url"))


# -- the feed server: the demo's feeds with a request log and one request that can be held ------


@dataclass(frozen=True, slots=True)
class Request:
    at: float  # time.time() when it arrived
    path: str
    status: int = 0  # 0: never answered (held for a worker that was killed)
    items: int = 0  # <item>s in an RSS answer


class LoggedFeeds(DemoFeeds):
    """The demo feeds, recording every request; the first request to `hold` waits for `release`."""

    def __init__(self, timeline: Timeline, hold: str | None = None) -> None:
        super().__init__(timeline)
        self.requests: list[Request] = []
        self.hold = hold
        self.held = threading.Event()  # the held request has arrived
        self.release = threading.Event()
        self._lock = threading.Lock()
        # The held request's worker is killed: answering its closed socket is expected to fail.
        self._httpd.handle_error = lambda request, address: None

    def answer(self, path: str, headers: Mapping[str, str]) -> Reply:
        arrived = time.time()
        with self._lock:
            holding = urlsplit(path).path == self.hold and not self.held.is_set()
            if holding:
                self.held.set()
                self.requests.append(Request(arrived, path))
        if holding:
            self.release.wait(timeout=20)
            return super().answer(path, headers)
        reply = super().answer(path, headers)
        with self._lock:
            self.requests.append(Request(arrived, path, reply.status, reply.body.count(b"<item>")))
        return reply

    def log(self) -> list[Request]:
        with self._lock:
            return sorted(self.requests, key=lambda r: r.at)


def poll_start(path: str) -> str | None:
    """The source type whose poll `path` opens (its first request); None for any later request.

    Paged collectors ask for their first page without a paging parameter (or with the first
    page's number); Mastodon is configured to read one page a poll, its watched threads apart.
    """
    parts = urlsplit(path)
    query = parse_qs(parts.query)
    single = {RSS_PATH: "rss", "/rss/search": "google_news", "/feeds/videos.xml": "youtube"}
    if parts.path in single:
        return single[parts.path]
    if parts.path.startswith("/api/v1/timelines/tag/"):
        return "mastodon"
    if parts.path == "/xrpc/app.bsky.feed.searchPosts":
        return None if "cursor" in query else "bluesky"
    if parts.path.endswith(("/search.json", "/new.json")):
        return None if "after" in query else "reddit"
    if parts.path == "/api/v1/search_by_date":
        return "hackernews" if query.get("page", ["0"]) == ["0"] else None
    if parts.path == "/2.3/search/advanced":
        return "stackexchange" if query.get("page", ["1"]) == ["1"] else None
    if "/rss/customerreviews/page=1/" in parts.path:
        return "appstore"
    return None


# -- the workers -------------------------------------------------------------------------------


@dataclass
class Worker:
    process: subprocess.Popen[bytes]
    log: Path

    def output(self) -> str:
        return self.log.read_text("utf-8", errors="replace")

    def polls(self) -> list[re.Match[str]]:
        return list(SUMMARY.finditer(self.output()))


@dataclass
class Cluster:
    """Worker processes sharing one database, their feeds, SMTP inbox and configuration."""

    workers: list[Worker]
    feeds: LoggedFeeds
    inbox: Inbox
    sources: dict[str, str]  # source type -> source name
    database_url: str
    killed: set[int] = field(default_factory=set)

    def stop(self) -> None:
        """SIGTERM every live worker and wait for it: running polls commit, then it exits."""
        live = [w for w in self.workers if w.process.poll() is None]
        for worker in live:
            worker.process.send_signal(signal.SIGTERM)
        for worker in live:
            try:
                worker.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                worker.process.kill()
                worker.process.wait()
                pytest.fail(f"worker {worker.process.pid} did not stop within 30 s of SIGTERM")

    def kill(self, pid: int) -> None:
        worker = next(w for w in self.workers if w.process.pid == pid)
        worker.process.send_signal(signal.SIGKILL)
        worker.process.wait(timeout=10)
        self.killed.add(pid)

    def poll_starts(self) -> dict[str, list[float]]:
        """Source name -> the times its polls began, as the feed server saw them."""
        starts: dict[str, list[float]] = defaultdict(list)
        for request in self.feeds.log():
            kind = poll_start(request.path)
            if kind is not None:
                starts[self.sources[kind]].append(request.at)
        return starts


@contextmanager
def cluster(
    tmp_path: Path,
    database_url: str,
    workers: int,
    kinds: set[str] | None = None,
    hold: str | None = None,
    timeout: float = 5.0,
) -> Iterator[Cluster]:
    """`workers` real `vigia run` processes on the demo's feeds, all sources every INTERVAL."""
    kinds = kinds or set(REGISTRY)
    timeline = build_timeline(datetime.now(UTC), kinds)
    with (
        LoggedFeeds(timeline, hold=hold) as feeds,
        smtp_sink(tmp_path / "inbox") as (inbox, smtp_port),
    ):
        data = demo_config(feeds, timeline, smtp_port, kinds)
        for source in data["sources"]:
            source["interval"] = f"{INTERVAL}s"
            if source["type"] == "mastodon":
                source["max_pages"] = 1  # one timeline request a poll (see poll_start)
        data["database_url"] = database_url
        data["workers"] = {"lease": f"{LEASE}s"}
        # No retries: a retried first page would look like a second poll on the wire.
        data["http"] = {"timeout": timeout, "retries": 0, "min_interval_per_host": 0}
        config = write_config(tmp_path, data)
        env = {**os.environ, "PYTHONUNBUFFERED": "1", "VIGIA_DATABASE_URL": database_url}
        running = Cluster(
            workers=[],
            feeds=feeds,
            inbox=inbox,
            sources={s["type"]: s["name"] for s in data["sources"]},
            database_url=database_url,
        )
        try:
            for n in range(workers):
                log = tmp_path / f"worker-{n}.log"
                with log.open("wb") as out:
                    process = subprocess.Popen(
                        [sys.executable, "-m", "vigia.cli", "-c", str(config), "run"],
                        cwd=ROOT,
                        env=env,
                        stdout=out,
                        stderr=subprocess.STDOUT,
                    )
                running.workers.append(Worker(process, log))
            yield running
        finally:
            feeds.release.set()
            running.stop()
            # What the feed server saw, beside the workers' logs, for whoever reads a failure.
            (tmp_path / "requests.log").write_text(
                "".join(f"{r.at:.3f} {r.status} {r.items} {r.path}\n" for r in feeds.log())
            )


# -- what every shared run must show -----------------------------------------------------------


def assert_clean_logs(run: Cluster) -> None:
    for worker in run.workers:
        output = worker.output()
        assert "Traceback" not in output, output
        assert "database is locked" not in output, output
        if worker.process.pid not in run.killed:
            assert worker.process.returncode == 0, output


def assert_polls_spaced(run: Cluster, min_polls: int) -> dict[str, float]:
    """No source polled twice within an interval; the polls per source per interval."""
    starts = run.poll_starts()
    assert set(starts) == set(run.sources.values())
    rates = {}
    for source, times in starts.items():
        gaps = [b - a for a, b in zip(times, times[1:], strict=False)]
        assert len(times) >= min_polls, (source, times)
        assert min(gaps) >= INTERVAL - TOLERANCE, (source, [round(g, 2) for g in gaps])
        rates[source] = (len(times) - 1) / ((times[-1] - times[0]) / INTERVAL)
        assert rates[source] <= MAX_RATE, (source, [round(g, 2) for g in gaps])
    return rates


def new_by_source(workers: Sequence[Worker]) -> Counter[str]:
    """The "N new" figures of the workers' poll summaries, summed per source."""
    return Counter(
        {
            source: sum(int(m["new"]) for w in workers for m in w.polls() if m["source"] == source)
            for source in {m["source"] for w in workers for m in w.polls()}
        }
    )


def stored_by_source(engine: Engine) -> Counter[str]:
    with engine.connect() as conn:
        rows = conn.execute(
            select(mentions.c.source, func.count()).group_by(mentions.c.source)
        ).all()
        doubled = conn.execute(
            select(mentions.c.source, mentions.c.source_id)
            .group_by(mentions.c.source, mentions.c.source_id)
            .having(func.count() > 1)
        ).all()
    assert doubled == []
    return Counter(dict(rows))


def assert_rollups_match_mentions(engine: Engine) -> None:
    """hourly_rollup and topic_rollup hold exactly what a GROUP BY over mentions gives."""
    m = mentions.c

    def count(label: str) -> Any:
        return func.sum(case((m.sentiment == label, 1), else_=0))

    language = func.coalesce(m.language, "")
    grouped = (
        select(
            m.brand,
            m.source,
            language,
            m.published_hour,
            func.count(),
            count("negative"),
            count("neutral"),
            count("positive"),
            func.count(m.compound),
            func.coalesce(func.sum(m.compound), 0.0),
        )
        .where(m.brand.is_not(None))
        .group_by(m.brand, m.source, language, m.published_hour)
    )
    names = ("mentions", "negative", "neutral", "positive", "scored", "compound_sum")
    with engine.connect() as conn:
        expected = {
            (*row[:4], name): value
            for row in conn.execute(grouped)
            for name, value in zip(names, row[4:], strict=True)
        }
        actual = {
            (row.brand, row.source, row.language, row.hour, name): getattr(row, name)
            for row in conn.execute(select(hourly_rollup))
            for name in names
        }
        topics: Counter[tuple[Any, ...]] = Counter()
        for brand, words, hour, sentiment in conn.execute(
            select(m.brand, m.topics, m.published_hour, m.sentiment).where(
                m.brand.is_not(None), m.topics.is_not(None)
            )
        ):
            for topic in words.split():
                topics[(brand, topic, hour, "mentions")] += 1
                topics[(brand, topic, hour, "negative")] += sentiment == "negative"
        t = topic_rollup.c
        topic_actual = {
            (row.brand, row.topic, row.hour, name): getattr(row, name)
            for row in conn.execute(select(t.brand, t.topic, t.hour, t.mentions, t.negative))
            for name in ("mentions", "negative")
        }
    assert expected, "no brand mentions were stored"
    assert actual == pytest.approx(expected, abs=1e-6)
    assert topic_actual == dict(topics)


def received_emails(inbox: Inbox) -> list[tuple[str, str, str, str]]:
    """(Message-ID, alert key, subject, To) of every e-mail the SMTP server received."""
    found = []
    for path in inbox.received:
        message = message_from_bytes(path.read_bytes())
        subject = str(make_header(decode_header(message["Subject"] or "")))
        found.append((message["Message-ID"], message["X-Vigia-Alert"], subject, message["To"]))
    return found


def assert_emails_once(inbox: Inbox) -> list[tuple[str, str, str, str]]:
    """No message received twice, and no alert notified twice at one severity to one person.

    Two alerts may share a subject (two threads of one brand spreading); one alert may not: in a
    run this short nobody resolves an alert, so a second round at one severity would be a
    notification planned twice.
    """
    emails = received_emails(inbox)
    doubled_ids = [k for k, n in Counter(e[0] for e in emails).items() if n > 1]
    doubled = [k for k, n in Counter(e[1:] for e in emails).items() if n > 1]
    assert doubled_ids == [] and doubled == [], emails
    return emails


def check_shared_run(run: Cluster, min_polls: int) -> dict[str, Any]:
    """Everything a run of several workers must show; what was measured, for the report."""
    assert_clean_logs(run)
    polls_per_worker = [len(w.polls()) for w in run.workers]
    assert all(polls_per_worker), polls_per_worker  # the work is shared: each worker polled
    rates = assert_polls_spaced(run, min_polls)
    engine = open_engine(run.database_url)
    try:
        stored = stored_by_source(engine)
        assert new_by_source(run.workers) == stored
        assert_rollups_match_mentions(engine)
    finally:
        engine.dispose()
    emails = assert_emails_once(run.inbox)
    assert emails, "the demo's crisis raised no alert e-mail"
    return {"polls_per_worker": polls_per_worker, "rates": rates, "emails": len(emails)}


# -- a: three workers on PostgreSQL ------------------------------------------------------------


def test_three_workers_on_postgresql_poll_each_source_once_per_interval(
    tmp_path: Path, postgres_url: str
) -> None:
    with cluster(tmp_path, postgres_url, workers=3) as run:
        time.sleep(30)
        run.stop()
    measured = check_shared_run(run, min_polls=4)
    print("three workers:", measured)


# -- b: a worker killed with -9 in the middle of a poll ----------------------------------------


def _claim(engine: Engine, source: str) -> tuple[str | None, datetime | None]:
    with engine.connect() as conn:
        row = conn.execute(
            select(source_state.c.claimed_by, source_state.c.claimed_until).where(
                source_state.c.source == source
            )
        ).first()
    return (row[0], row[1]) if row else (None, None)


def _wait_for(condition: Callable[[], Any], timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if found := condition():
            return found
        time.sleep(0.1)
    pytest.fail(f"timed out after {timeout} s waiting for {what}")


def test_a_worker_killed_mid_poll_has_its_source_taken_over_within_interval_plus_lease(
    tmp_path: Path, postgres_url: str
) -> None:
    kinds = {"rss", "google_news", "youtube", "hackernews"}
    # The press feed's first answer takes 20 s: whoever polls it first is inside the poll when
    # it is killed. The HTTP timeout is longer, so only the kill ends that poll.
    with cluster(tmp_path, postgres_url, 3, kinds, hold=RSS_PATH, timeout=30) as run:
        press = run.sources["rss"]
        engine = open_engine(postgres_url)
        try:
            _wait_for(run.feeds.held.is_set, 30, "the first poll of the press feed")
            holder = _wait_for(lambda: _claim(engine, press)[0], 10, "the press feed's claim")
            pid = int(holder.split(":")[1])
            killed_at = time.time()
            run.kill(pid)
            _, lease_end = _claim(engine, press)
            assert lease_end is not None
            lease_end_at = lease_end.replace(tzinfo=UTC).timestamp()

            def takeover() -> Request | None:
                return next(
                    (r for r in run.feeds.log() if r.path == RSS_PATH and r.at > killed_at), None
                )

            taken = _wait_for(takeover, INTERVAL + LEASE + 10, "another worker to poll the press")
            # Let the survivors poll everything a few more times, then stop them.
            time.sleep(3 * INTERVAL)
            run.stop()
            new_holder, _ = _claim(engine, press)
            stored = stored_by_source(engine)
            assert_rollups_match_mentions(engine)
        finally:
            engine.dispose()

    # The dead worker's claim was respected while it lasted, and taken over once it ran out.
    assert taken.at >= lease_end_at - 0.25, (taken.at, lease_end_at)
    assert taken.at - killed_at <= INTERVAL + LEASE + 2, taken.at - killed_at
    assert new_holder is None  # released by the worker that took it over
    survivors = [w for w in run.workers if w.process.pid != pid]
    assert_clean_logs(run)
    assert all(w.polls() for w in survivors)
    # The press feed's items are stored once: all those of its last answer, as the surviving
    # workers' logs counted them (the killed poll stored nothing).
    last = [r for r in run.feeds.log() if r.path == RSS_PATH and r.status == 200][-1]
    assert stored[press] == last.items > 0
    assert new_by_source(survivors)[press] == stored[press]
    killed = next(w for w in run.workers if w.process.pid == pid)
    assert not any(m["source"] == press for m in killed.polls())
    assert_polls_spaced(run, min_polls=2)
    print(f"press feed taken over {taken.at - killed_at:.1f} s after the kill")


# -- b': claims renewed while every poll thread is busy -----------------------------------------


class TimedReplay(ReplayServer):
    """The replay server, noting when each request arrived."""

    def __init__(self) -> None:
        super().__init__()
        self.arrivals: dict[str, list[float]] = defaultdict(list)

    def _answer(self, handler: BaseHTTPRequestHandler) -> None:
        with self._lock:
            self.arrivals[urlsplit(handler.path).path].append(time.time())
        super()._answer(handler)


def test_claims_stay_renewed_while_all_poll_threads_are_busy(
    tmp_path: Path, database_url: str
) -> None:
    """More sources than poll threads, every feed slower than the lease: the polls fill the
    worker's thread pool, and its claims must still be renewed, or a second worker takes the
    sources over and polls them again while the first is still reading them."""
    sources = MAX_POLL_THREADS + 8
    feed = (ROOT / "tests" / "fixtures" / "vellora-es.rss.xml").read_bytes()
    with TimedReplay() as replay:
        for n in range(sources):
            replay.route(f"/feeds/{n}.xml", Canned(feed, delay=6.0))
        settings = make_settings(
            tmp_path,
            database_url=database_url,
            sources=[
                {
                    "name": f"forum-{n}",
                    "type": "rss",
                    "url": f"{replay.url}/feeds/{n}.xml",
                    "interval": f"{INTERVAL}s",
                }
                for n in range(sources)
            ],
            workers={"lease": "3s"},
            http={"timeout": 20, "retries": 0, "min_interval_per_host": 0},
        )
        workers = [Runtime.build(settings), Runtime.build(settings)]
        stop = threading.Event()
        runners = [threading.Thread(target=run_until_stopped, args=(rt, stop)) for rt in workers]
        try:
            runners[0].start()
            time.sleep(1.0)  # the first worker fills its threads with polls
            runners[1].start()
            time.sleep(8.0)
        finally:
            stop.set()
            for runner in runners:
                runner.join(timeout=60)
            for rt in workers:
                rt.close()
    doubled = {
        path: [round(b - a, 1) for a, b in zip(times, times[1:], strict=False)]
        for path, times in replay.arrivals.items()
        if any(b - a < INTERVAL - TOLERANCE for a, b in zip(times, times[1:], strict=False))
    }
    assert len(replay.arrivals) == sources and doubled == {}


# -- c: two workers on one SQLite file ---------------------------------------------------------


def test_two_workers_on_one_sqlite_file_coordinate_the_same_way(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'vigia.db'}"
    with cluster(tmp_path, url, workers=2) as run:
        time.sleep(25)
        run.stop()
    measured = check_shared_run(run, min_polls=3)
    print("two workers on SQLite:", measured)


# -- d: rollups under concurrent writers -------------------------------------------------------

T0 = datetime(2026, 11, 16, 6, 0, tzinfo=UTC)
SHARED = 240  # mentions every writer writes (in its own order and batches)
OWN = 60  # mentions only one writer writes
ROUNDS = 6


def _mention(n: int) -> Mention:
    source = ("forum-a", "forum-b")[n % 2]
    return Mention(
        source=source,
        source_id=f"{source}-{n}",
        url=f"https://forum.example/{n}",
        published=T0 + timedelta(minutes=7 * (n % 50)),  # six hours, several sources a cell
        text=f"Vellora #{n}",
        thread_id=f"t{n % 5}",
        engagement=Engagement(likes=n % 11),
    )


def _analysed(items: Sequence[Mention]) -> list[AnalysedMention]:
    """A deterministic stand-in analysis, the same in every writer: mixed brands, languages,
    labels and topics, some unbranded (no rollup) and some unscored."""
    out = []
    for m in items:
        n = int(m.source_id.rsplit("-", 1)[1])
        label = (None, "negative", "neutral", "positive")[n % 4]
        out.append(
            AnalysedMention(
                mention=m,
                brand=None if n % 9 == 0 else ("Vellora", "Korvo")[n % 3 == 0],
                language=(None, "es", "en")[n % 3],
                sentiment=None if label is None else Sentiment((n % 7 - 3) / 4, 0.2, 0.6, 0.2),
                label=label,
                topics=(("delivery",), ("refunds", "delivery"), ())[n % 3],
            )
        )
    return out


def writer_batches(writer: int) -> list[list[Mention]]:
    """Writer `writer`'s batches: overlapping windows of the shared mentions in its own order
    (every other writer backwards), then its own; one source a batch."""
    step, offset = 1 + writer % 4, writer % (1 + writer % 4)
    order = list(range(offset, SHARED, step)) + [n for n in range(SHARED) if n % step != offset]
    numbers = order + [SHARED + writer * OWN + n for n in range(OWN)]
    size = -(-len(numbers) // ROUNDS)
    batches = []
    for start in range(0, len(numbers), size):
        chunk = numbers[start : start + size + 20]  # windows overlap their neighbours
        for source in ("forum-a", "forum-b"):
            batch = [m for m in map(_mention, chunk) if m.source == source]
            if writer % 2:
                batch.reverse()
            if batch:
                batches.append(batch)
    return batches


def write_concurrently(url: str, writer: int, start_at: float) -> tuple[int, int]:
    """Write `writer`'s batches from `start_at` on: (mentions it added, mentions another writer
    added between its look-up and its insert).

    Run in threads and, through `python -c`, in processes. The analysis takes a little while,
    as the real one does, so writers that looked up the same mentions insert them at once; they
    take rows in one order, so they wait for each other and never deadlock (PostgreSQL would
    abort one of them).
    """
    engine = open_engine(url)
    looked: list[int] = []

    def analyse(items: Sequence[Mention]) -> list[AnalysedMention]:
        looked.append(len(items))  # not stored yet when this writer looked them up
        time.sleep(0.02)
        return _analysed(items)

    added = 0
    try:
        time.sleep(max(0.0, start_at - time.time()))
        for batch in writer_batches(writer):
            with engine.begin() as conn:
                added += save_batch(conn, batch[0].source, batch, analyse, T0).new
    finally:
        engine.dispose()
    raced = sum(looked) - added
    return added, raced


def test_rollups_equal_a_group_by_after_concurrent_writers(database_url: str) -> None:
    connect(database_url).dispose()  # the schema, before the writers race
    threads_n = 4
    processes_n = 3 if database_url.startswith("postgresql") else 0
    start_at = time.time() + 1.5 + 1.5 * processes_n  # the processes start while we wait
    script = (
        "import sys; from tests.vigia.test_workers import write_concurrently; "
        "print(*write_concurrently(sys.argv[1], int(sys.argv[2]), float(sys.argv[3])))"
    )
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", script, database_url, str(threads_n + n), str(start_at)],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for n in range(processes_n)
    ]
    counts: list[tuple[int, int]] = []
    errors: list[BaseException] = []

    def in_thread(writer: int) -> None:
        try:
            counts.append(write_concurrently(database_url, writer, start_at))
        except BaseException as exc:  # reported below, not lost in the thread
            errors.append(exc)

    threads = [threading.Thread(target=in_thread, args=(n,)) for n in range(threads_n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    for process in processes:
        out, err = process.communicate(timeout=120)
        assert process.returncode == 0, err.decode()
        added, raced = map(int, out.split())
        counts.append((added, raced))
    assert errors == []

    engine = open_engine(database_url)
    try:
        stored = stored_by_source(engine)
        assert_rollups_match_mentions(engine)
    finally:
        engine.dispose()
    writers = threads_n + processes_n
    added, raced = (sum(c[i] for c in counts) for i in range(2))
    # Each mention stored once and counted as added by exactly one writer; the writers did
    # race for the same mentions.
    assert sum(stored.values()) == added == SHARED + writers * OWN
    assert raced > 0
    print(f"{writers} writers: {raced} mentions raced for")


# -- e: jobs run once per period ---------------------------------------------------------------


def _runtimes(tmp_path: Path, url: str, n: int) -> list[Runtime]:
    settings = make_settings(tmp_path, database_url=url, workers={"lease": "6s"})
    return [Runtime.build(settings) for _ in range(n)]


def test_a_periodic_job_runs_once_whatever_the_number_of_workers(
    tmp_path: Path, database_url: str
) -> None:
    runtimes = _runtimes(tmp_path, database_url, 4)
    ran: list[str] = []
    results: list[bool] = []
    barrier = threading.Barrier(len(runtimes))

    def worker(rt: Runtime) -> None:
        def work() -> None:
            ran.append(rt.worker)
            time.sleep(0.5)  # still running while the others try

        barrier.wait()
        results.append(run_once_per_period(rt, "export:weekly", "2026-W47", work))

    try:
        threads = [threading.Thread(target=worker, args=(rt,)) for rt in runtimes]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)
        # Done for this period: nobody runs it again; the next period runs once more.
        again = [
            run_once_per_period(rt, "export:weekly", "2026-W47", lambda: None) for rt in runtimes
        ]
        later: list[str] = []
        for rt in runtimes:
            run_once_per_period(
                rt, "export:weekly", "2026-W48", lambda rt=rt: later.append(rt.worker)
            )
    finally:
        for rt in runtimes:
            rt.close()
    assert len(ran) == 1 and sorted(results) == [False, False, False, True]
    assert again == [False] * 4
    assert later == [runtimes[0].worker]


def test_a_period_claimed_by_a_dead_worker_is_taken_over(tmp_path: Path, database_url: str) -> None:
    runtimes = _runtimes(tmp_path, database_url, 3)
    now = datetime.now(UTC).replace(tzinfo=None)
    ran: list[str] = []
    try:
        with runtimes[0].engine.begin() as conn:
            conn.execute(
                insert(period_runs),
                [
                    # Its worker died mid-run: the lease ran out, the job never finished.
                    {
                        "job": "alerts:digest",
                        "period": "2026-11-30",
                        "claimed_by": "gone:1:dead",
                        "claimed_until": now - timedelta(seconds=30),
                    },
                    # Its worker is alive and renewing: left alone.
                    {
                        "job": "alerts:digest",
                        "period": "2026-12-01",
                        "claimed_by": "busy:2:beef",
                        "claimed_until": now + timedelta(minutes=5),
                    },
                ],
            )
        barrier = threading.Barrier(len(runtimes))

        def worker(rt: Runtime) -> None:
            barrier.wait()
            for day in ("2026-11-30", "2026-12-01"):
                run_once_per_period(
                    rt,
                    "alerts:digest",
                    day,
                    lambda rt=rt, day=day: ran.append(f"{day} {rt.worker}"),
                )

        threads = [threading.Thread(target=worker, args=(rt,)) for rt in runtimes]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)
        with runtimes[0].engine.connect() as conn:
            rows = {
                row.period: row
                for row in conn.execute(
                    select(period_runs).where(period_runs.c.job == "alerts:digest")
                )
            }
    finally:
        for rt in runtimes:
            rt.close()
    assert len(ran) == 1 and ran[0].startswith("2026-11-30 ")
    taken = rows["2026-11-30"]
    assert taken.claimed_by == ran[0].split(" ", 1)[1] and taken.done_at is not None
    assert rows["2026-12-01"].claimed_by == "busy:2:beef" and rows["2026-12-01"].done_at is None
