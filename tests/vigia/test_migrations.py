"""Migrations on real databases: release 0.1.0's SQLite file and PostgreSQL schema upgraded in
place with nothing lost, fresh databases made by the migrations equal to `schema.metadata`,
concurrent upgrades, and what `vigia` says about its database at start and when it is unusable.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from contextlib import closing
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import (
    Connection,
    Engine,
    case,
    column,
    create_engine,
    func,
    insert,
    inspect,
    literal_column,
    select,
    table,
    text,
)

from tests.replay import ReplayServer, Reply
from tests.vigia.test_pipeline import FEED, RSS
from vigia.pipeline import Runtime, poll_source
from vigia.storage import connect
from vigia.storage.alerts import deliveries_of, insert_alert, plan_notification
from vigia.storage.migrate import head
from vigia.storage.schema import hourly_rollup, mentions, metadata

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
RELEASE_0_1_0_SQLITE = FIXTURES / "vigia-0.1.0.db"
RELEASE_0_1_0_POSTGRESQL = FIXTURES / "vigia-0.1.0-postgresql.sql"
# What the 0.1.0 fixture holds (tests/fixtures, made by the 0.1.0 code): rows per table.
RELEASE_0_1_0_ROWS = {
    "mentions": 442,
    "engagement_snapshots": 422,
    "hourly_rollup": 161,
    "topic_rollup": 150,
    "source_state": 9,
    "alerts": 2,
    "alert_deliveries": 4,
}
# The columns later revisions added to the 0.1.0 tables (0002, 0007).
NEW_COLUMNS = {
    "source_state": {"claimed_by", "claimed_until"},
    "alert_deliveries": {"uncertain_at"},
    "mentions": {"author_followers"},
}
NEW_TABLES = {
    "period_runs",
    "alembic_version",
    "users",
    "sign_in_failures",
    "audit_log",
    "dashboard_sessions",
    "inbox_items",
    "brand_exclusions",
    "inbox_mentions",
    "inbox_notes",
    "prepared_replies",
}
DEADLINE = 60.0  # seconds any wait for a subprocess or a poll may take before the test fails


# --- helpers shared with test_database_faults.py --------------------------------------------


def vigia(
    config: Path, *args: str, env: dict[str, str] | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """`vigia -c CONFIG ARGS…` in a subprocess, with `env` added (and no inherited database URL)."""
    return subprocess.run(
        [sys.executable, "-m", "vigia.cli", "-c", str(config), *args],
        capture_output=True, text=True, check=False, timeout=timeout, env=cli_env(env),
    )  # fmt: skip


def cli_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "VIGIA_DATABASE_URL"}
    return {**env, "PYTHONUNBUFFERED": "1", **(extra or {})}


def write_config(folder: Path, database_url: str, sources: str = "[]", **extra: str) -> Path:
    """A config.yaml for the sample brand on `database_url` with `sources` (YAML flow syntax)."""
    path = folder / "config.yaml"
    lines = [
        f"database_url: {database_url}",
        "brands: [{name: Vellora, keywords: [vellora]}]",
        f"sources: {sources}",
        "http: {min_interval_per_host: 0, retries: 0}",
        *(f"{key}: {value}" for key, value in extra.items()),
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def rss_source(replay: ReplayServer, name: str = "forum", interval: str = "1h") -> dict[str, Any]:
    """An RSS source on the replay server serving tests/fixtures/vellora-es.rss.xml."""
    replay.route(f"/{name}.xml", Reply(FEED, headers=RSS))
    return {
        "name": name,
        "type": "rss",
        "url": f"{replay.url}/{name}.xml",
        "brand": "Vellora",
        "language": "es",
        "interval": interval,
    }


def flow(source: dict[str, Any]) -> str:
    """`source` in YAML flow syntax, for write_config."""
    return "[{" + ", ".join(f'{k}: "{v}"' for k, v in source.items()) + "}]"


def admin_url(postgres_url: str) -> str:
    """A libpq URL to the server's maintenance database (for DROP/CREATE/RENAME DATABASE)."""
    return postgres_url.replace("+psycopg", "").rsplit("/", 1)[0] + "/postgres"


def libpq(postgres_url: str) -> str:
    return postgres_url.replace("+psycopg", "")


def database_name(postgres_url: str) -> str:
    return postgres_url.rsplit("/", 1)[1]


def count_rows(engine: Engine, table_name: str) -> int:
    with engine.connect() as conn:
        return conn.execute(text(f'SELECT count(*) FROM "{table_name}"')).scalar_one()


def assert_rollup_is_group_by(conn: Connection) -> None:
    """hourly_rollup holds exactly what a GROUP BY over the brand's mentions gives."""
    m = mentions.c
    language = func.coalesce(m.language, literal_column("''"))

    def labelled(value: str) -> Any:
        return func.sum(case((m.sentiment == value, 1), else_=0))

    grouped = (
        select(
            m.brand, m.source, language, m.published_hour, func.count(),
            labelled("negative"), labelled("neutral"), labelled("positive"),
            func.count(m.compound), func.coalesce(func.sum(m.compound), 0.0),
        )
        .where(m.brand.is_not(None))
        .group_by(m.brand, m.source, language, m.published_hour)
    )  # fmt: skip
    h = hourly_rollup.c
    rollup = select(
        h.brand, h.source, h.language, h.hour, h.mentions,
        h.negative, h.neutral, h.positive, h.scored, h.compound_sum,
    )  # fmt: skip

    def normal(rows: Any) -> list[tuple]:
        return sorted((*row[:9], round(row[9], 6)) for row in rows)

    expected = normal(conn.execute(grouped))
    assert expected, "the brand has mentions"
    assert normal(conn.execute(rollup)) == expected


def schema_differences(engine: Engine) -> list[Any]:
    """What alembic's autogenerate sees between the database and `schema.metadata`."""
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        return compare_metadata(context, metadata)


def revision_of(engine: Engine) -> list[str]:
    with engine.connect() as conn:
        return list(conn.execute(text("SELECT version_num FROM alembic_version")).scalars())


# --- release 0.1.0's tables, as its fixture has them ------------------------------------------


@cache
def release_0_1_0_layout() -> dict[str, tuple[tuple[str, ...], tuple[int, ...]]]:
    """Each 0.1.0 table: its columns, and the positions of its primary key among them."""
    layout = {}
    with closing(sqlite3.connect(f"file:{RELEASE_0_1_0_SQLITE}?mode=ro", uri=True)) as db:
        names = db.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall()
        for (name,) in names:
            info = db.execute(f'PRAGMA table_info("{name}")').fetchall()
            columns = tuple(row[1] for row in info)
            key = tuple(i for i, row in sorted(enumerate(info), key=lambda r: r[1][5]) if row[5])
            layout[name] = (columns, key)
    assert set(layout) == set(RELEASE_0_1_0_ROWS)
    return layout


def sorted_by_key(rows: Any, key: tuple[int, ...]) -> list[tuple]:
    return sorted((tuple(row) for row in rows), key=lambda row: tuple(row[i] for i in key))


def quoted(name: str) -> str:
    return f'"{name}"'


def raw_sqlite_rows(path: Path) -> dict[str, list[tuple]]:
    """Every row of every 0.1.0 table exactly as SQLite stores it (text, integers, reals)."""
    with closing(sqlite3.connect(path)) as db:
        return {
            name: sorted_by_key(
                db.execute(f"SELECT {', '.join(map(quoted, columns))} FROM {quoted(name)}"),
                key,
            )
            for name, (columns, key) in release_0_1_0_layout().items()
        }


def old_table(name: str) -> Any:
    """`name` with only its 0.1.0 columns, typed as the schema types them."""
    columns, _ = release_0_1_0_layout()[name]
    return table(name, *(column(c, metadata.tables[name].c[c].type) for c in columns))


def typed_rows(engine: Engine) -> dict[str, list[tuple]]:
    """Every row of every 0.1.0 table as Python values (datetimes, floats, booleans)."""
    with engine.connect() as conn:
        return {
            name: sorted_by_key(conn.execute(select(old_table(name))), key)
            for name, (_, key) in release_0_1_0_layout().items()
        }


def copy_of_release_0_1_0(folder: Path) -> Path:
    target = folder / "vigia-0.1.0.db"
    shutil.copyfile(RELEASE_0_1_0_SQLITE, target)
    return target


# --- release 0.1.0 upgraded in place -------------------------------------------------------


def test_release_0_1_0_sqlite_file_upgrades_in_place_losing_nothing(tmp_path: Path) -> None:
    db = copy_of_release_0_1_0(tmp_path)
    config = write_config(tmp_path, f"sqlite:///{db}")
    before = raw_sqlite_rows(db)
    assert {name: len(rows) for name, rows in before.items()} == RELEASE_0_1_0_ROWS

    current = vigia(config, "db", "current")
    assert current.returncode == 0, current.stderr
    assert current.stdout == (
        f"database sqlite:///{db}: revision 0001, latest {head()}: run `vigia db upgrade`\n"
    )
    assert raw_sqlite_rows(db) == before, "`db current` changes nothing"

    upgraded = vigia(config, "db", "upgrade")
    assert upgraded.returncode == 0, upgraded.stderr
    assert upgraded.stdout == f"database sqlite:///{db}: schema upgraded from 0001 to {head()}\n"
    after = vigia(config, "db", "current")
    assert (
        after.stdout == f"database sqlite:///{db}: revision {head()}, latest {head()}: up to date\n"
    )
    again = vigia(config, "db", "upgrade")
    assert again.stdout == f"database sqlite:///{db}: schema up to date ({head()})\n"

    # Every byte of every 0.1.0 row is where it was; the new columns are empty for old rows.
    assert raw_sqlite_rows(db) == before
    engine = create_engine(f"sqlite:///{db}")
    try:
        inspector = inspect(engine)
        assert set(inspector.get_table_names()) == set(RELEASE_0_1_0_ROWS) | NEW_TABLES
        for name, columns in NEW_COLUMNS.items():
            assert columns <= {c["name"] for c in inspector.get_columns(name)}
            with engine.connect() as conn:
                filled = conn.execute(
                    text(f"SELECT count(*) FROM {name} WHERE " + " OR ".join(
                        f"{c} IS NOT NULL" for c in sorted(columns)
                    ))
                ).scalar_one()  # fmt: skip
            assert filled == 0
        assert count_rows(engine, "period_runs") == 0
        assert revision_of(engine) == [head()]
        assert schema_differences(engine) == []
    finally:
        engine.dispose()

    listed = vigia(config, "alerts", "list")
    assert listed.returncode == 0, listed.stderr
    rows = listed.stdout.splitlines()
    assert [line.split()[:4] for line in rows] == [
        ["2", "open", "critical", "spreading_thread"],
        ["1", "open", "critical", "negative_spike"],
    ]


def test_upgraded_sqlite_file_works_with_the_pipeline(
    tmp_path: Path, replay: ReplayServer, runtime_factory: Callable[..., Runtime]
) -> None:
    db = copy_of_release_0_1_0(tmp_path)
    before = raw_sqlite_rows(db)
    rt = runtime_factory(database_url=f"sqlite:///{db}", sources=[rss_source(replay)])

    report = poll_source(rt, rt.settings.source("forum"))
    assert (report.fetched, report.new, report.error) == (3, 3, None)
    after = raw_sqlite_rows(db)
    for name in ("mentions", "engagement_snapshots", "topic_rollup", "alert_deliveries"):
        assert set(before[name]) <= set(after[name]), f"{name}: old rows kept as they were"
    assert len(after["mentions"]) == RELEASE_0_1_0_ROWS["mentions"] + 3
    with rt.engine.connect() as conn:
        new_ids = conn.execute(select(mentions.c.id).where(mentions.c.source == "forum")).scalars()
        assert min(new_ids) > max(row[0] for row in before["mentions"])
        assert_rollup_is_group_by(conn)
        state = conn.execute(
            text("SELECT claimed_by, claimed_until, last_success_at FROM source_state "
                 "WHERE source = 'forum'")
        ).one()  # fmt: skip
    assert state.claimed_by is None and state.claimed_until is None, "the claim was released"
    assert state.last_success_at is not None
    old_states = {row[0]: row for row in before["source_state"]}
    assert {row[0]: row for row in after["source_state"] if row[0] != "forum"} == old_states
    assert old_states["youtube-vellora"][6].startswith("TransientError")


def load_release_0_1_0_into_postgresql(postgres_url: str) -> None:
    """What a 0.1.0 PostgreSQL database holds: its schema (pg_dump) and the fixture's rows, with
    each sequence past its table's largest id as 0.1.0's inserts left it."""
    psycopg = pytest.importorskip("psycopg")
    with psycopg.connect(libpq(postgres_url)) as conn:
        conn.execute(RELEASE_0_1_0_POSTGRESQL.read_text(encoding="utf-8"))
    source = create_engine(f"sqlite:///file:{RELEASE_0_1_0_SQLITE}?mode=ro&uri=true")
    target = create_engine(postgres_url)
    try:
        rows = typed_rows(source)
        columns = {name: cols for name, (cols, _) in release_0_1_0_layout().items()}
        with target.begin() as conn:
            for name in (t.name for t in metadata.sorted_tables if t.name in rows):
                conn.execute(
                    insert(old_table(name)),
                    [dict(zip(columns[name], r, strict=True)) for r in rows[name]],
                )
            for name in ("mentions", "alerts", "alert_deliveries"):
                conn.execute(
                    text(
                        f"SELECT setval(pg_get_serial_sequence('{name}', 'id'), max(id)) FROM {name}"
                    )
                )
    finally:
        source.dispose()
        target.dispose()


def test_release_0_1_0_postgresql_database_upgrades_in_place_losing_nothing(
    tmp_path: Path,
    postgres_url: str,
    replay: ReplayServer,
    runtime_factory: Callable[..., Runtime],
) -> None:
    load_release_0_1_0_into_postgresql(postgres_url)
    fixture = create_engine(f"sqlite:///file:{RELEASE_0_1_0_SQLITE}?mode=ro&uri=true")
    try:
        expected = typed_rows(fixture)
    finally:
        fixture.dispose()
    config = write_config(tmp_path, "sqlite:///unused.db")
    env = {"VIGIA_DATABASE_URL": postgres_url}
    shown = postgres_url  # no password to mask on the test server

    assert vigia(config, "db", "current", env=env).stdout == (
        f"database {shown}: revision 0001, latest {head()}: run `vigia db upgrade`\n"
    )
    upgraded = vigia(config, "db", "upgrade", env=env)
    assert upgraded.returncode == 0, upgraded.stderr
    assert upgraded.stdout == f"database {shown}: schema upgraded from 0001 to {head()}\n"
    assert vigia(config, "db", "current", env=env).stdout == (
        f"database {shown}: revision {head()}, latest {head()}: up to date\n"
    )

    engine = create_engine(postgres_url)
    try:
        assert typed_rows(engine) == expected
        inspector = inspect(engine)
        assert set(inspector.get_table_names()) == set(RELEASE_0_1_0_ROWS) | NEW_TABLES
        for name, columns in NEW_COLUMNS.items():
            assert columns <= {c["name"] for c in inspector.get_columns(name)}
        assert schema_differences(engine) == []
    finally:
        engine.dispose()

    # New rows through the pipeline: ids continue past 0.1.0's, claims use the new columns.
    rt = runtime_factory(database_url=postgres_url, sources=[rss_source(replay)])
    report = poll_source(rt, rt.settings.source("forum"))
    assert (report.fetched, report.new, report.error) == (3, 3, None)
    now = rt.clock()
    with rt.engine.begin() as conn:
        new_ids = list(
            conn.execute(select(mentions.c.id).where(mentions.c.source == "forum")).scalars()
        )
        assert min(new_ids) == max(row[0] for row in expected["mentions"]) + 1
        assert_rollup_is_group_by(conn)
        alert = insert_alert(
            conn, key="negative_spike:after-upgrade", rule="negative_spike", brand="Vellora",
            subject="Vellora", severity="warning", window_start=now, window_end=now,
            evidence={"negative": 9}, now=now,
        )  # fmt: skip
        assert alert is not None and alert.id == max(row[0] for row in expected["alerts"]) + 1
        plan_notification(
            conn, alert.id, [("email", "comunidad@vellora.example")],
            severity="warning", reason="new", now=now,
        )  # fmt: skip
        conn.execute(
            text("UPDATE alert_deliveries SET uncertain_at = :now WHERE alert_id = :id"),
            {"now": now.replace(tzinfo=None), "id": alert.id},
        )
        (delivery,) = deliveries_of(conn, alert.id)
        claim = conn.execute(
            text("SELECT claimed_by, last_success_at FROM source_state WHERE source = 'forum'")
        ).one()
    assert delivery.id == max(row[0] for row in expected["alert_deliveries"]) + 1
    assert delivery.uncertain_at is not None
    assert claim.claimed_by is None and claim.last_success_at is not None
    assert count_rows(rt.engine, "mentions") == RELEASE_0_1_0_ROWS["mentions"] + 3


# --- fresh databases ------------------------------------------------------------------------


@pytest.fixture(params=["sqlite", "postgresql"])
def fresh_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A URL to an empty database: a new SQLite file, or a throwaway PostgreSQL database."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'fresh.db'}"
    return request.getfixturevalue("postgres_url")


def test_fresh_database_made_by_the_migrations_matches_the_schema_module(fresh_url: str) -> None:
    # The test that catches a change to vigia/storage/schema.py made without a migration.
    engine = connect(fresh_url)
    try:
        assert revision_of(engine) == [head()]
        assert set(inspect(engine).get_table_names()) == set(metadata.tables) | {"alembic_version"}
        assert schema_differences(engine) == []
    finally:
        engine.dispose()


@pytest.mark.parametrize("start", ["empty", "release-0.1.0"])
def test_concurrent_upgrades_all_succeed_once(fresh_url: str, start: str, tmp_path: Path) -> None:
    if start == "release-0.1.0":
        if fresh_url.startswith("sqlite"):
            shutil.copyfile(RELEASE_0_1_0_SQLITE, tmp_path / "fresh.db")
        else:
            load_release_0_1_0_into_postgresql(fresh_url)
    config = write_config(tmp_path, "sqlite:///unused.db")
    processes = [
        subprocess.Popen(
            [sys.executable, "-m", "vigia.cli", "-c", str(config), "db", "upgrade"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=cli_env({"VIGIA_DATABASE_URL": fresh_url}),
        )  # fmt: skip
        for _ in range(3)
    ]
    try:
        results = [(p.communicate(timeout=DEADLINE), p.returncode) for p in processes]
    finally:
        for p in processes:
            p.kill()
    for (_, err), status in results:
        assert status == 0, err
        assert "Traceback" not in err
    said = sorted(out.strip().split(": ", 1)[1] for (out, _), _ in results)
    did = (
        f"schema created ({head()})"
        if start == "empty"
        else f"schema upgraded from 0001 to {head()}"
    )
    assert said == sorted([did, f"schema up to date ({head()})", f"schema up to date ({head()})"])
    engine = create_engine(fresh_url)
    try:
        assert revision_of(engine) == [head()]
        assert schema_differences(engine) == []
        if start == "release-0.1.0":
            assert count_rows(engine, "mentions") == RELEASE_0_1_0_ROWS["mentions"]
    finally:
        engine.dispose()


# --- what `vigia` says about its database ------------------------------------------------------


@pytest.mark.parametrize("start", ["empty", "release-0.1.0"])
def test_vigia_run_says_what_it_did_to_the_schema_in_one_line(
    start: str, tmp_path: Path, replay: ReplayServer
) -> None:
    db = tmp_path / "run.db"
    if start == "release-0.1.0":
        shutil.copyfile(RELEASE_0_1_0_SQLITE, db)
    config = write_config(tmp_path, f"sqlite:///{db}", flow(rss_source(replay)))
    process = subprocess.Popen(
        [sys.executable, "-m", "vigia.cli", "-c", str(config), "run"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=cli_env(),
    )  # fmt: skip
    try:
        deadline = time.monotonic() + DEADLINE
        while time.monotonic() < deadline and not replay.hits("/forum.xml"):
            time.sleep(0.1)
        assert replay.hits("/forum.xml"), "the worker polled its source"
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=DEADLINE)
    finally:
        process.kill()
    assert process.returncode == 0, output
    said = (
        f"schema created ({head()})"
        if start == "empty"
        else f"schema upgraded from 0001 to {head()}"
    )
    schema_lines = [line for line in output.splitlines() if "schema" in line]
    assert len(schema_lines) == 1, output
    assert schema_lines[0].endswith(f"INFO vigia.storage: database sqlite:///{db}: {said}")
    assert "Traceback" not in output


@pytest.fixture
def closed_port() -> int:
    from vigia.demo.runner import free_port

    return free_port()


@pytest.mark.parametrize(
    "command", [("run",), ("db", "current"), ("db", "upgrade"), ("alerts", "list")], ids=" ".join
)
def test_unreachable_database_is_one_line_naming_it_without_its_password(
    command: tuple[str, ...], closed_port: int, tmp_path: Path
) -> None:
    config = write_config(tmp_path, "sqlite:///unused.db")
    url = f"postgresql://vigia:s3cret@127.0.0.1:{closed_port}/vigia"
    result = vigia(config, *command, env={"VIGIA_DATABASE_URL": url}, timeout=DEADLINE)
    assert result.returncode == 1
    assert result.stdout == ""
    # The configuration's warnings (`vigia run` logs them at start) are not this test's matter.
    (line,) = [x for x in result.stderr.splitlines() if " WARNING vigia.config: " not in x]
    assert line.startswith(
        f"error: database postgresql://vigia:***@127.0.0.1:{closed_port}/vigia: "
    )
    assert f'"127.0.0.1", port {closed_port} failed' in line
    assert "s3cret" not in result.stderr
    assert not (tmp_path / "unused.db").exists()


def test_check_config_masks_the_database_password(tmp_path: Path) -> None:
    in_file = vigia(
        write_config(tmp_path, "postgresql://bob:pa55word@db.example/vigia"), "check-config"
    )
    assert in_file.returncode == 0, in_file.stderr
    assert "database postgresql://bob:***@db.example/vigia" in in_file.stdout
    assert "pa55word" not in in_file.stdout + in_file.stderr

    config = write_config(tmp_path, "sqlite:///data/vigia.db")
    env = {"VIGIA_DATABASE_URL": "postgresql://bob:pa55word@db.example:5433/vigia"}
    from_env = vigia(config, "check-config", env=env)
    assert from_env.returncode == 0, from_env.stderr
    assert "database postgresql://bob:***@db.example:5433/vigia" in from_env.stdout
    assert "pa55word" not in from_env.stdout + from_env.stderr


def test_check_config_rejects_an_unsupported_database_in_the_file_or_the_environment(
    tmp_path: Path,
) -> None:
    in_file = vigia(write_config(tmp_path, "mysql://bob:pa55word@db.example/vigia"), "check-config")
    assert in_file.returncode == 2
    assert re.search(r"config\.yaml: database_url: unsupported database 'mysql'", in_file.stderr)

    config = write_config(tmp_path, "sqlite:///data/vigia.db")
    env = {"VIGIA_DATABASE_URL": "mysql://bob:pa55word@db.example/vigia"}
    from_env = vigia(config, "check-config", env=env)
    assert from_env.returncode == 2
    assert "VIGIA_DATABASE_URL (environment): unsupported database 'mysql'" in from_env.stderr
    for result in (in_file, from_env):
        assert result.stdout == ""
        assert "pa55word" not in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "data").exists(), "nothing opened"
