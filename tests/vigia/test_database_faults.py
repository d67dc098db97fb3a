"""The database failing under a running Vigía: dropped and made anew, a table dropped, gone for a
poll. Each failure is one line, never a traceback, and collection resumes without duplicates.
"""

from __future__ import annotations

import logging
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import text

from tests.replay import ReplayServer, Reply
from tests.vigia.test_migrations import (
    DEADLINE,
    admin_url,
    assert_rollup_is_group_by,
    cli_env,
    count_rows,
    database_name,
    flow,
    libpq,
    rss_source,
    write_config,
)
from tests.vigia.test_pipeline import FEED, RSS
from vigia.pipeline import PollReport, Runtime, poll_source
from vigia.storage.migrate import head
from vigia.storage.schema import metadata

psycopg = pytest.importorskip("psycopg")


def wait_until(condition: Callable[[], object], what: str, timeout: float = DEADLINE) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout:.0f}s: {what}")
        time.sleep(0.1)


def mentions_in(postgres_url: str) -> int | None:
    """How many mentions the database holds now; None while it or its tables do not exist."""
    try:
        with psycopg.connect(libpq(postgres_url), connect_timeout=3) as conn:
            return conn.execute("SELECT count(*) FROM mentions").fetchone()[0]
    except psycopg.Error:
        return None


def terminate(admin: object, name: str) -> None:
    admin.execute(  # type: ignore[attr-defined]
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (name,)
    )


def drop_and_create(postgres_url: str) -> None:
    """DROP the database (its connections terminated first) and CREATE it again, empty."""
    name = database_name(postgres_url)
    with psycopg.connect(admin_url(postgres_url), autocommit=True) as admin:
        terminate(admin, name)
        # FORCE terminates again whatever reconnected in between.
        admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{name}"')


@contextmanager
def database_away(postgres_url: str) -> Iterator[None]:
    """The database renamed away (connections refused: "does not exist") until the block ends."""
    name = database_name(postgres_url)
    with psycopg.connect(admin_url(postgres_url), autocommit=True) as admin:
        terminate(admin, name)
        admin.execute(f'ALTER DATABASE "{name}" RENAME TO "{name}_away"')
        try:
            yield
        finally:
            terminate(admin, f"{name}_away")
            admin.execute(f'ALTER DATABASE "{name}_away" RENAME TO "{name}"')


class Output:
    """The lines a subprocess writes, read as they come by a thread."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.lines: list[str] = []
        assert process.stdout is not None
        self._stream = process.stdout
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        for line in self._stream:
            self.lines.append(line.rstrip("\n"))

    def having(self, needle: str, after: int = 0) -> list[str]:
        return [line for line in self.lines[after:] if needle in line]

    def close(self) -> str:
        """Everything the process wrote, once it has exited."""
        self._thread.join(timeout=DEADLINE)
        self._stream.close()
        return "\n".join(self.lines)


def test_vigia_run_recreates_its_postgresql_database_dropped_and_made_anew(
    tmp_path: Path, replay: ReplayServer, postgres_url: str
) -> None:
    config = write_config(tmp_path, "sqlite:///unused.db", flow(rss_source(replay, interval="5s")))
    process = subprocess.Popen(
        [sys.executable, "-m", "vigia.cli", "-c", str(config), "run"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        env=cli_env({"VIGIA_DATABASE_URL": postgres_url}),
    )  # fmt: skip
    output = Output(process)
    polled = "forum: 3 fetched, 3 new"
    try:
        # The summary is logged once the poll is over, alert checks included.
        wait_until(lambda: output.having(polled), "the first poll stored the feed")
        assert mentions_in(postgres_url) == 3
        seen = len(output.lines)
        drop_and_create(postgres_url)
        wait_until(
            lambda: output.having("database tables were missing", seen),
            "the worker noticed the empty database and recreated its tables",
        )
        wait_until(lambda: output.having(polled, seen), "a poll stored the feed again")
        assert mentions_in(postgres_url) == 3
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=DEADLINE)
    finally:
        process.kill()
        process.wait()
        log = output.close()
    assert process.returncode == 0, log
    assert "Traceback" not in log
    (recreated,) = output.having("database tables were missing", seen)
    assert recreated.endswith(f"schema created ({head()}) through the migrations")
    # Every line is one log record: no error spilled over several lines.
    assert all(
        re.match(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} [A-Z]+ ", line) for line in output.lines
    ), log
    assert output.having("database error", seen), "the failed poll said so"


@pytest.mark.parametrize("dropped", [["source_state"], "all"])
def test_sqlite_tables_dropped_under_the_pipeline_are_one_line_then_recreated(
    dropped: list[str] | str,
    replay: ReplayServer,
    runtime_factory: Callable[..., Runtime],
    caplog: pytest.LogCaptureFixture,
) -> None:
    rt = runtime_factory(sources=[rss_source(replay)])
    source = rt.settings.source("forum")
    assert poll_source(rt, source).new == 3
    names = [t.name for t in reversed(metadata.sorted_tables)] if dropped == "all" else dropped
    with rt.engine.begin() as conn:
        for name in [*names, "alembic_version"] if dropped == "all" else names:
            conn.execute(text(f"DROP TABLE {name}"))

    caplog.clear()
    failed = poll_source(rt, source, force=True)
    assert failed.error is not None and "\n" not in failed.error
    assert failed.error.startswith("database error: no such table: ")
    assert (failed.fetched, failed.new) == (0, 0)
    assert not [r for r in caplog.records if r.exc_info], "no traceback"
    (recreated,) = [r.getMessage() for r in caplog.records if "tables were missing" in r.message]
    if dropped == "all":
        assert recreated.endswith(f"schema created ({head()}) through the migrations")
    else:
        assert (
            recreated == f"database tables were missing: source_state recreated at schema {head()}"
        )

    again = poll_source(rt, source, force=True)
    # Only the source's state was lost: its feed is read afresh, and what it stored is kept.
    assert (again.error, again.fetched, again.new) == (None, 3, 3 if dropped == "all" else 0)
    assert count_rows(rt.engine, "mentions") == 3, "nothing stored twice"
    with rt.engine.connect() as conn:
        assert_rollup_is_group_by(conn)


def test_postgresql_gone_for_a_poll_is_one_line_and_the_next_poll_succeeds(
    replay: ReplayServer,
    runtime_factory: Callable[..., Runtime],
    postgres_url: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    rt = runtime_factory(database_url=postgres_url, sources=[rss_source(replay)])
    source = rt.settings.source("forum")
    assert poll_source(rt, source).new == 3

    caplog.clear()
    with database_away(postgres_url):
        failed = poll_source(rt, source, force=True)  # raises nothing
    assert failed.error is not None and "\n" not in failed.error
    assert failed.error.startswith("database error: connection failed: ")
    assert f'database "{database_name(postgres_url)}" does not exist' in failed.error
    assert [r.levelno for r in caplog.records if r.name == "vigia.pipeline"] == [logging.WARNING]
    assert not [r for r in caplog.records if r.exc_info], "no traceback"

    again = poll_source(rt, source, force=True)
    assert (again.error, again.fetched, again.new) == (None, 3, 0)
    assert count_rows(rt.engine, "mentions") == 3, "nothing stored twice"
    with rt.engine.connect() as conn:
        assert_rollup_is_group_by(conn)


def test_poll_whose_database_goes_away_midway_does_not_strand_its_source(
    replay: ReplayServer, runtime_factory: Callable[..., Runtime], postgres_url: str
) -> None:
    rt = runtime_factory(database_url=postgres_url, sources=[rss_source(replay)])
    replay.route("/forum.xml", Reply(FEED, headers=RSS, delay=2.0), Reply(FEED, headers=RSS))
    source = rt.settings.source("forum")
    reports: list[PollReport] = []
    poll = threading.Thread(target=lambda: reports.append(poll_source(rt, source)))
    poll.start()
    try:
        wait_until(lambda: replay.hits("/forum.xml"), "the poll claimed the source and fetches")
        with database_away(postgres_url):
            poll.join(timeout=DEADLINE)
    finally:
        poll.join(timeout=DEADLINE)
    (failed,) = reports
    assert failed.error is not None and failed.error.startswith("database error: ")

    again = poll_source(rt, source, force=True)
    assert (again.error, again.fetched, again.new) == (None, 3, 3), again.summary()


def test_alert_tables_dropped_under_the_pipeline_are_one_line_then_recreated(
    replay: ReplayServer,
    runtime_factory: Callable[..., Runtime],
    caplog: pytest.LogCaptureFixture,
) -> None:
    rt = runtime_factory(sources=[rss_source(replay)])
    source = rt.settings.source("forum")
    with rt.engine.begin() as conn:
        conn.execute(text("DROP TABLE alert_deliveries"))
        conn.execute(text("DROP TABLE alerts"))
    first = poll_source(rt, source)
    assert (first.new, first.error) == (3, None), "collection itself never needed the alerts"
    again = poll_source(rt, source, force=True)
    assert again.error is None
    assert not [r for r in caplog.records if r.exc_info], "no traceback"
    assert count_rows(rt.engine, "alerts") == 0, "the alert tables are back"
