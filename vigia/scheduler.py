"""APScheduler jobs that call the pipeline: source polls, the weekly export, the alert digest."""

from __future__ import annotations

import logging
import signal
import threading
from zoneinfo import ZoneInfo

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from vigia.alerts.digest import send_digest
from vigia.config import SourceConfig
from vigia.exports import ExportError, export_week, previous_week
from vigia.pipeline import Runtime, poll_source

log = logging.getLogger(__name__)


def build_scheduler(rt: Runtime) -> BackgroundScheduler:
    """A scheduler with one job per enabled source and the weekly export; not yet started."""
    settings = rt.settings
    zone = ZoneInfo(settings.timezone)
    scheduler = BackgroundScheduler(
        timezone=zone,
        job_defaults={"max_instances": 1, "coalesce": True, "misfire_grace_time": 300},
    )
    now = rt.clock()
    for source in settings.sources:
        if not source.enabled:
            continue
        scheduler.add_job(
            _poll,
            IntervalTrigger(seconds=source.interval.total_seconds(), timezone=zone),
            args=(rt, source),
            id=f"poll:{source.name}",
            name=f"poll {source.name}",
            next_run_time=now,
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
    (log.warning if report.error else log.info)("%s", report.summary())


def _weekly_export(rt: Runtime) -> None:
    settings = rt.settings
    week = previous_week(rt.clock(), ZoneInfo(settings.timezone))
    try:
        paths = export_week(
            rt.engine, settings.resolve(settings.export.folder), week, settings.timezone
        )
    except ExportError as exc:
        log.error("%s", exc)
    else:
        log.info("weekly export written: %s", ", ".join(map(str, paths)))


def _daily_digest(rt: Runtime) -> None:
    try:
        sent = send_digest(rt)
    except Exception:  # the next run retries what is still due; the scheduler must go on
        log.exception("daily alert digest failed")
    else:
        log.info("daily alert digest: %d e-mails sent", sent)


def run_until_stopped(rt: Runtime, stop: threading.Event | None = None) -> None:
    """Start the jobs and block until Ctrl-C/SIGTERM (or `stop`), then finish running polls and exit."""
    stop = stop or threading.Event()
    scheduler = build_scheduler(rt)
    if threading.current_thread() is threading.main_thread():
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, lambda *_: stop.set())
    scheduler.start()
    polls = sum(job.id.startswith("poll:") for job in scheduler.get_jobs())
    log.info("Vigía running %d sources; Ctrl-C to stop", polls)
    try:
        stop.wait()
    finally:
        log.info("stopping: letting running polls commit what they fetched")
        rt.stopping.set()
        scheduler.shutdown(wait=True)
