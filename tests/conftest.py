"""Shared fixtures: a replay HTTP server, a fast HTTP client, settings on a temporary SQLite file."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from collectors.http import HostLimiter, HttpPolicy, make_client
from tests.replay import SHARED_FEEDS, ReplayServer
from vigia.config import Settings, parse_settings
from vigia.pipeline import Runtime

FAST_POLICY = HttpPolicy(
    timeout=2.0, retries=2, backoff_base=0.01, backoff_max=0.05, min_interval_per_host=0.0
)


@pytest.fixture
def replay() -> Iterator[ReplayServer]:
    with ReplayServer() as server:
        yield server


@pytest.fixture
def client() -> Iterator[httpx.Client]:
    """The production client with fast retries, so tests exercise the real politeness code."""
    with make_client(FAST_POLICY, HostLimiter(0.0)) as c:
        yield c


@pytest.fixture
def shared_feeds() -> Path:
    """../shared/fixtures/feeds, or a skip naming what is missing."""
    if not SHARED_FEEDS.is_dir():
        pytest.skip(f"recorded payloads not found at {SHARED_FEEDS} (../shared beside the repo)")
    return SHARED_FEEDS


def make_settings(tmp_path: Path, **overrides: Any) -> Settings:
    """Settings for one sample brand on a SQLite file under `tmp_path`."""
    data: dict[str, Any] = {
        "database_url": f"sqlite:///{tmp_path / 'vigia.db'}",
        "brands": [{"name": "Vellora", "keywords": ["vellora"], "aliases": ["@vellora"]}],
        "http": {"timeout": 2, "retries": 1, "backoff_base": 0.01, "min_interval_per_host": 0},
    }
    data.update(overrides)
    return parse_settings(data, base_dir=tmp_path)


@pytest.fixture
def settings_factory(tmp_path: Path):  # type: ignore[no-untyped-def]
    return lambda **overrides: make_settings(tmp_path, **overrides)


@pytest.fixture
def runtime_factory(tmp_path: Path) -> Iterator[Callable[..., Runtime]]:
    """Builds Runtimes on `make_settings(tmp_path, **overrides)` and closes them after the test."""
    built: list[Runtime] = []

    def build(clock: Callable[[], datetime] | None = None, **overrides: Any) -> Runtime:
        settings = make_settings(tmp_path, **overrides)
        rt = Runtime.build(settings, clock=clock) if clock else Runtime.build(settings)
        built.append(rt)
        return rt

    yield build
    for rt in built:
        rt.close()


POSTGRES = os.environ.get(
    "VIGIA_TEST_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A throwaway database on this machine's PostgreSQL (or VIGIA_TEST_POSTGRES); skips without one."""
    psycopg = pytest.importorskip("psycopg")
    database = f"vigia_test_{uuid.uuid4().hex[:12]}"
    admin_url = POSTGRES.replace("+psycopg", "")
    try:
        with psycopg.connect(admin_url, autocommit=True, connect_timeout=3) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{database}"')
            admin.execute(f'CREATE DATABASE "{database}"')
    except psycopg.OperationalError as exc:
        pytest.skip(f"PostgreSQL not reachable at {POSTGRES}: {exc}")
    try:
        yield POSTGRES.rsplit("/", 1)[0] + f"/{database}"
    finally:
        with psycopg.connect(admin_url, autocommit=True) as admin:
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s",
                (database,),
            )
            admin.execute(f'DROP DATABASE IF EXISTS "{database}"')
