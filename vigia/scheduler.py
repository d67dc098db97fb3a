"""APScheduler jobs that call the pipeline: source polls, the weekly export and manager report,
the alert digest, the retention purge.

Every worker schedules every job; the database decides who runs what. Each source is ticked
often and polled by whichever worker claims it once it is due; the weekly export, the report,
the digest and the retention purge run once per period, by the worker that claims the period;
one job renews this worker's claims while it lives (`vigia.storage.claims`).
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable
from datetime import timedelta

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy.exc import DBAPIError

from vigia.alerts.digest import send_digest
from vigia.config import SourceConfig
from vigia.exports import ExportError, export_week, previous_week
from vigia.pipeline import Runtime, poll_source
from vigia.report.weekly import ReportError, produce
from vigia.storage import describe_db_error
from vigia.storage.claims import claim_period, finish_period, renew_claims
from vigia.storage.retention import purge

log = logging.getLogger(__name__)

# How often each worker asks whether a source is due: a fifth of its interval, within these
# bounds, so a due poll starts within seconds while idle ticks stay one cheap UPDATE each.
MIN_TICK = timedelta(seconds=1)
MAX_TICK = timedelta(seconds=15)
# A thread per source (up to this many), so a source stuck until its fetch deadline never
# holds up the others; plus the export, the digest and the purge.
MAX_POLL_THREADS = 32
# The daily retention purge (local time): a quiet hour, away from the digest and the export.
PURGE_AT = (3, 30)


def tick_of(source: SourceConfig) -> timedelta:
    return max(MIN_TICK, min(source.interval / 5, MAX_TICK))


def build_scheduler(rt: Runtime) -> BackgroundScheduler:
    """A scheduler with a tick per enabled source, the periodic jobs and the claim renewal."""
    settings = rt.settings
    zone = settings.zone
    enabled = sum(source.enabled for source in settings.sources)
    scheduler = BackgroundScheduler(
        timezone=zone,
        executors={
            "default": ThreadPoolExecutor(min(enabled, MAX_POLL_THREADS) + 3),
            # The renewal never queues behind polls: with more sources than poll threads, polls
            # can fill the pool for longer than a lease, and an unrenewed claim is taken over by
            # another worker while this one is still polling the source.
            "claims": ThreadPoolExecutor(1),
        },
        job_defaults={"max_instances": 1, "coalesce": True, "misfire_grace_time": 300},
    )
    now = rt.clock()
    for source in settings.sources:
        if not source.enabled:
            continue
        scheduler.add_job(
            _poll,
            IntervalTrigger(seconds=tick_of(source).total_seconds(), timezone=zone),
            args=(rt, source),
            id=f"poll:{source.name}",
            name=f"poll {source.name}",
            next_run_time=now,
        )
    scheduler.add_job(
        _renew_claims,
        IntervalTrigger(seconds=settings.workers.lease.total_seconds() / 3, timezone=zone),
        args=(rt,),
        id="claims:renew",
        name="renew this worker's claims",
        executor="claims",
    )
    scheduler.add_job(
        _weekly_export,
        CronTrigger(
            day_of_week=settings.export.day_of_week,
            hour=settings.export.hour,
            minute=settings.export.minute,
            timezone=zone,
        ),
        args=(rt,),
        id="export:weekly",
        name="weekly CSV export",
    )
    retention = settings.retention
    if retention.raw_payload_age or retention.mention_age:
        scheduler.add_job(
            _retention_purge,
            CronTrigger(hour=PURGE_AT[0], minute=PURGE_AT[1], timezone=zone),
            args=(rt,),
            id="retention:purge",
            name="daily retention purge",
        )
    if settings.alerts.digest:
        scheduler.add_job(
            _daily_digest,
            CronTrigger(hour=settings.alerts.digest_hour, minute=0, timezone=zone),
            args=(rt,),
            id="alerts:digest",
            name="daily alert digest",
        )
    return scheduler


def _poll(rt: Runtime, source: SourceConfig) -> None:
    if rt.stopping.is_set():
        return
    report = poll_source(rt, source)
    if report.polled:  # a tick that found the source not due, or taken, says nothing
        (log.warning if report.error else log.info)("%s", report.summary())


def _renew_claims(rt: Runtime) -> None:
    try:
        with rt.engine.begin() as conn:
            renew_claims(conn, rt.worker, rt.clock(), rt.settings.workers.lease)
    except DBAPIError as exc:
        log.warning("could not renew this worker's claims: %s", describe_db_error(exc))


def run_once_per_period(rt: Runtime, job: str, period: str, work: Callable[[], None]) -> bool:
    """Run `work` if this worker claims (`job`, `period`); True when it ran to the end."""
    lease = rt.settings.workers.lease
    try:
        with rt.engine.begin() as conn:
            if not claim_period(conn, job, period, rt.worker, rt.clock(), lease):
                log.debug("%s for %s: run by another worker", job, period)
                return False
        work()
        with rt.engine.begin() as conn:
            finish_period(conn, job, period, rt.clock())
    except DBAPIError as exc:
        log.error("%s for %s failed: database error: %s", job, period, describe_db_error(exc))
        return False
    return True


def _weekly_export(rt: Runtime) -> None:
    settings = rt.settings
    week = previous_week(rt.clock(), settings.zone)

    def export() -> None:
        try:
            folder = settings.resolve(settings.export.folder)
            paths = export_week(
                rt.engine, folder, week, settings.timezone, settings.inbox, rt.clock(),
                language=settings.alerts.language, delimiter=settings.export.delimiter,
            )  # fmt: skip
        except ExportError as exc:
            log.error("%s", exc)
        else:
            log.info("weekly export written: %s", ", ".join(map(str, paths)))

    run_once_per_period(rt, "export:weekly", week, export)
    _weekly_report(rt, week)


def _weekly_report(rt: Runtime, week: str) -> None:
    """The managers' report of `week`, right after its export; e-mailed to them when
    `alerts.managers` and an smtp: section are set."""
    settings = rt.settings
    send = bool(settings.alerts.managers) and settings.smtp is not None

    def report() -> None:
        try:
            folder = settings.resolve(settings.export.folder)
            produced = produce(rt.engine, settings, week, folder, rt.clock(), send)
        except ReportError as exc:
            log.error("%s", exc)
        else:
            (log.error if produced.failed else log.info)("%s", produced.summary())

    run_once_per_period(rt, "report:weekly", week, report)


def _daily_digest(rt: Runtime) -> None:
    def digest() -> None:
        try:
            sent = send_digest(rt.alert_context)
        except Exception:  # the next run retries what is still due; the scheduler must go on
            log.exception("daily alert digest failed")
        else:
            log.info("daily alert digest: %d e-mails sent", sent)

    run_once_per_period(rt, "alerts:digest", _local_date(rt), digest)


def _retention_purge(rt: Runtime) -> None:
    retention = rt.settings.retention

    def purge_old() -> None:
        report = purge(
            rt.engine,
            rt.clock(),
            raw_payload_age=retention.raw_payload_age,
            mention_age=retention.mention_age,
            stop=rt.stopping.is_set,
        )
        log.info("retention purge: %s", report.summary())

    run_once_per_period(rt, "retention:purge", _local_date(rt), purge_old)


def _local_date(rt: Runtime) -> str:
    """Today in the configured time zone: the period of the daily jobs."""
    return rt.clock().astimezone(rt.settings.zone).date().isoformat()


def run_until_stopped(rt: Runtime, stop: threading.Event | None = None) -> None:
    """Start the jobs and block until Ctrl-C/SIGTERM (or `stop`), then finish running polls and exit."""
    stop = stop or threading.Event()
    scheduler = build_scheduler(rt)
    if threading.current_thread() is threading.main_thread():
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, lambda *_: stop.set())
    scheduler.start()
    polls = sum(job.id.startswith("poll:") for job in scheduler.get_jobs())
    log.info("Vigía worker %s running %d sources; Ctrl-C to stop", rt.worker, polls)
    try:
        stop.wait()
    finally:
        log.info("stopping: letting running polls commit what they fetched")
        rt.stopping.set()
        scheduler.shutdown(wait=True)
