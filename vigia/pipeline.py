"""The one orchestration path: fetch -> analyse -> store -> detect -> alert, per source.

The CLI, the scheduler and `--dry-run` all come through here. A source's failure is caught,
recorded in its state and backed off; it never reaches the other sources.
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from itertools import islice

import httpx
from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError

from collectors import REGISTRY
from collectors.base import Collector, CollectorError, FetchState, Mention, RateLimitedError
from collectors.http import HostLimiter, HttpPolicy, make_client
from timeutil import utc_now
from vigia.alerts.context import AlertContext
from vigia.alerts.detect import check_after_poll
from vigia.analyse import AnalysedMention, Analyser
from vigia.config import Settings, SourceConfig
from vigia.inbox.escalation import raise_alerts
from vigia.inbox.intake import take_in
from vigia.inbox.replies import seed
from vigia.storage import connect, describe_db_error, is_missing_table
from vigia.storage.claims import claim_source, release_source
from vigia.storage.exclusions import accepted as accepted_exclusions
from vigia.storage.mentions import active_thread_roots, save_batch
from vigia.storage.migrate import repair
from vigia.storage.sources import SourceHealth, load_health, record_failure, record_success

log = logging.getLogger(__name__)

BATCH_SIZE = 500
MAX_BACKOFF = timedelta(hours=6)
WATCH_WINDOW = timedelta(days=2)  # conversations older than this are no longer re-read
Clock = Callable[[], datetime]


@dataclass
class Runtime:
    """What a running Vigía holds: settings, database, HTTP client, analysis, clock, stop flag."""

    settings: Settings
    engine: Engine
    client: httpx.Client
    analyser: Analyser
    clock: Clock = utc_now
    stopping: threading.Event = field(default_factory=threading.Event)
    # Names this process in the claims it takes on sources and periodic jobs.
    worker: str = field(default_factory=lambda: worker_name())

    @classmethod
    def build(
        cls, settings: Settings, client: httpx.Client | None = None, clock: Clock = utc_now
    ) -> Runtime:
        engine = connect(settings.resolved_database_url)
        seed(engine, settings, clock())  # config.yaml's prepared replies, before the first poll
        return cls(
            settings=settings,
            engine=engine,
            client=client or http_client(settings),
            analyser=Analyser(settings),
            clock=clock,
        )

    @property
    def alert_context(self) -> AlertContext:
        return AlertContext(self.settings, self.engine, self.clock)

    def collector(self, source: SourceConfig) -> Collector:
        return REGISTRY[source.type](source.name, source.options, self.client)

    def close(self) -> None:
        self.client.close()
        self.engine.dispose()


def http_client(settings: Settings) -> httpx.Client:
    """The one HTTP client of a process, with the configured timeouts, retries and limits."""
    policy = HttpPolicy(
        timeout=settings.http.timeout,
        retries=settings.http.retries,
        backoff_base=settings.http.backoff_base,
        min_interval_per_host=settings.http.min_interval_per_host,
        max_response_bytes=settings.http.max_response_size,
        deadline=settings.http.deadline.total_seconds(),
    )
    return make_client(policy, HostLimiter(policy.min_interval_per_host))


@dataclass
class PollReport:
    """The outcome of one poll of one source."""

    source: str
    fetched: int = 0
    new: int = 0
    updated: int = 0
    skipped: int = 0
    error: str | None = None
    deferred_until: datetime | None = None
    busy_with: str | None = None  # the worker polling the source right now
    brands: set[str] = field(default_factory=set)
    inbox_opened: int = 0
    escalated: list[int] = field(default_factory=list)  # inbox items a rule escalated
    seconds: float | None = None  # how long the poll took, claim to commit

    @property
    def polled(self) -> bool:
        return self.deferred_until is None and self.busy_with is None

    def summary(self) -> str:
        if self.busy_with:
            return f"{self.source}: being polled by worker {self.busy_with}; skipped"
        if self.deferred_until:
            return f"{self.source}: backing off until {self.deferred_until:%Y-%m-%d %H:%M} UTC"
        text = f"{self.source}: {self.fetched} fetched, {self.new} new, {self.updated} updated"
        if self.inbox_opened:
            text += f", {self.inbox_opened} to the inbox"
        if self.skipped:
            text += f", {self.skipped} skipped"
        if self.seconds is not None:
            text += f" in {self.seconds:.1f}s"
        return text + (f" — ERROR {self.error}" if self.error else "")


def worker_name() -> str:
    """host:pid plus a random suffix, unique even when a container reuses a pid."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(2)}"


def _batches(items: Iterator[Mention], size: int) -> Iterator[list[Mention]]:
    while batch := list(islice(items, size)):
        yield batch


def poll_source(rt: Runtime, source: SourceConfig, force: bool = False) -> PollReport:
    """Fetch `source` once and store what is new; failures are recorded, never raised.

    The poll is claimed first, so no two workers sharing the database run it at once; without
    `force` it runs only once the source is due (its interval, or its back-off after a failure,
    has passed). A database error is reported in one line and the poll is retried at the next
    tick (missing tables are recreated through the migrations).
    """
    started = time.monotonic()
    try:
        report = _claimed_poll(rt, source, force)
    except DBAPIError as exc:
        report = PollReport(source.name, error=f"database error: {describe_db_error(exc)}")
        log.warning("%s: %s; the poll is retried at the next interval", source.name, report.error)
        if is_missing_table(exc):
            _recreate_schema(rt)
    report.seconds = time.monotonic() - started
    return report


def _claimed_poll(rt: Runtime, source: SourceConfig, force: bool) -> PollReport:
    report = PollReport(source.name)
    now = rt.clock()
    with rt.engine.begin() as conn:
        health = claim_source(
            conn,
            source.name,
            rt.worker,
            now,
            rt.settings.workers.lease,
            ignore_schedule=force,
        )
        if health is None:
            _explain_unclaimed(report, load_health(conn, source.name), rt.worker)
            return report
    try:
        _fetch_and_store(rt, source, health, report, started=now)
    finally:
        with rt.engine.begin() as conn:
            release_source(conn, source.name, rt.worker)
    _check_alerts(rt, report)
    return report


def _explain_unclaimed(report: PollReport, health: SourceHealth, worker: str) -> None:
    if health.claimed_by and health.claimed_by != worker:
        report.busy_with = health.claimed_by
    else:
        report.deferred_until = health.next_poll_at


def _fetch_and_store(
    rt: Runtime, source: SourceConfig, health: SourceHealth, report: PollReport, started: datetime
) -> None:
    state = health.fetch_state()
    collector = rt.collector(source)
    if collector.rereads_threads and source.watch_threads:
        with rt.engine.connect() as conn:
            state.watch = active_thread_roots(
                conn, source.name, rt.clock() - WATCH_WINDOW, source.watch_threads
            )
    try:
        for batch in _batches(collector.fetch(state), BATCH_SIZE):
            _store(rt, source.name, batch, report)
            # A short batch was the source's last: the poll is complete, so it succeeds.
            if rt.stopping.is_set() and len(batch) == BATCH_SIZE:
                raise CollectorError("stopped before the source was read to the end")
    except CollectorError as exc:
        _record_failure(rt, source, exc, health.consecutive_failures, report)
    except DBAPIError:
        raise  # the database, not the collector: poll_source reports it
    except Exception as exc:  # a collector bug must not take the scheduler down with it
        log.exception("collector %s crashed", source.name)
        _record_failure(rt, source, exc, health.consecutive_failures, report)
    else:
        report.skipped = state.skipped
        with rt.engine.begin() as conn:
            record_success(
                conn, source.name, state, rt.clock(), state.skipped, started + source.interval
            )
        if state.skipped:
            log.warning(
                "%s: skipped %d items: %s",
                source.name,
                state.skipped,
                "; ".join(state.skip_reasons),
            )


def _recreate_schema(rt: Runtime) -> None:
    try:
        done = repair(rt.engine)
    except DBAPIError as exc:
        log.error(
            "database tables are missing and could not be recreated: %s", describe_db_error(exc)
        )
    else:
        log.warning("database tables were missing: %s", done)


def _check_alerts(rt: Runtime, report: PollReport) -> None:
    # Neither a database fault nor a bug in detection or delivery may stop collection.
    try:
        check_after_poll(
            rt.alert_context,
            report.source,
            failed=report.error is not None,
            brands=report.brands,
            updated=report.updated,
        )
    except DBAPIError as exc:
        log.warning(
            "alert checks after polling %s: database error: %s",
            report.source,
            describe_db_error(exc),
        )
        if is_missing_table(exc):
            _recreate_schema(rt)
    except Exception:
        log.exception("alert checks after polling %s failed", report.source)


def _store(rt: Runtime, source: str, batch: Sequence[Mention], report: PollReport) -> None:
    with rt.engine.begin() as conn:
        now = rt.clock()
        rt.analyser.use_accepted_exclusions(accepted_exclusions(conn))
        result = save_batch(conn, source, batch, rt.analyser.analyse_all, now)
        # Same transaction: a mention is in the inbox exactly when it is stored.
        intake = take_in(
            conn, rt.settings.inbox, rt.settings.zone, result.stored, now, rt.settings.competitors
        )
        # The managers' e-mail is planned with the escalation it announces (both or neither);
        # _check_alerts then sends it.
        raise_alerts(conn, rt.settings, intake.escalated, now)
    report.inbox_opened += intake.opened
    report.escalated.extend(intake.escalated)
    report.fetched += len(batch)
    report.new += result.new
    report.updated += result.updated
    report.brands |= result.brands


def _record_failure(
    rt: Runtime, source: SourceConfig, exc: Exception, failures: int, report: PollReport
) -> None:
    now = rt.clock()
    delay = min(source.interval * 2**failures, MAX_BACKOFF)
    if isinstance(exc, RateLimitedError) and exc.retry_after:
        delay = max(delay, timedelta(seconds=exc.retry_after))
    message = f"{type(exc).__name__}: {exc}"
    with rt.engine.begin() as conn:
        record_failure(conn, source.name, message, now, now + delay)
    report.error = message
    log.warning("source %s failed (%s); next try in %s", source.name, message, delay)


def poll_all(
    rt: Runtime, names: Sequence[str] | None = None, force: bool = False
) -> list[PollReport]:
    """Poll every enabled source (or the named ones) once, one after the other."""
    sources = [rt.settings.source(n) for n in names] if names else rt.settings.sources
    return [poll_source(rt, s, force) for s in sources if s.enabled or names]


def dry_run(
    source: SourceConfig, client: httpx.Client, analyser: Analyser
) -> tuple[list[AnalysedMention], FetchState]:
    """What a first poll of `source` would store, analysed. No database is opened, created or
    migrated: the poll starts from an empty cursor, as a new source's first poll does."""
    state = FetchState()
    fetched = list(REGISTRY[source.type](source.name, source.options, client).fetch(state))
    return analyser.analyse_all(fetched), state
