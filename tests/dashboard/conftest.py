"""Fixtures for the dashboard tests: a seeded SQLite database and an AppTest of the app on it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import streamlit as st
from sqlalchemy import Engine
from streamlit.testing.v1 import AppTest

import dashboard
from dashboard import data
from dashboard.data import CONFIG_ENV
from tests.dashboard.seed import USERS, seed, write_config

APP = Path(dashboard.__file__).parent / "app.py"
Render = Callable[..., AppTest]


@pytest.fixture
def seeded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Path, Engine]]:
    """config.yaml + a seeded database under tmp_path, selected through VIGIA_CONFIG."""
    config = write_config(tmp_path)
    engine = seed(config)
    monkeypatch.setenv(CONFIG_ENV, str(config))
    monkeypatch.delenv("VIGIA_DATABASE_URL", raising=False)
    # The caches are per process: never let one test's database answer another's queries.
    st.cache_data.clear()
    st.cache_resource.clear()
    yield config, engine
    forget_dashboard_caches()
    engine.dispose()


def forget_dashboard_caches() -> None:
    """Clear Streamlit's caches, closing the engine the dashboard opened (a cleared cache
    entry would leave its pooled connections to the garbage collector)."""
    if data.config_path().exists():
        data.engine().dispose()
    st.cache_data.clear()
    st.cache_resource.clear()


def sign_in(at: AppTest, name: str, password: str | None = None) -> AppTest:
    """Fill the sign-in form as a user of the seeded database (their password by default)."""
    at.text_input[0].input(name)
    at.text_input[1].input(password if password is not None else USERS[name][1])
    at.button[0].click().run()
    assert not at.exception, at.exception
    return at


@pytest.fixture
def app(seeded: tuple[Path, Engine]) -> Render:
    """Render one page of the dashboard (a path under dashboard/, e.g. "views/alerts.py"),
    signed in as the seeded manager."""

    def render(page: str, user: str = "marta") -> AppTest:
        at = AppTest.from_file(str(APP), default_timeout=60).run()
        assert not at.exception, at.exception
        sign_in(at, user)
        if page != "views/overview.py":
            at.switch_page(page).run()
        assert not at.exception, at.exception
        return at

    return render
