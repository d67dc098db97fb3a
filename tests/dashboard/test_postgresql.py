"""The dashboard's reads, unchanged, on the real PostgreSQL of this machine (skipped without one)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from dashboard.data import CONFIG_ENV
from tests.dashboard.conftest import APP, forget_dashboard_caches, sign_in
from tests.dashboard.seed import ENGLISH_NEGATIVE, seed, write_config


@pytest.fixture
def postgres_config(
    postgres_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Path]:
    """A seeded database of its own on PostgreSQL, selected through VIGIA_DATABASE_URL."""
    config = write_config(tmp_path)
    seed(config, url=postgres_url).dispose()
    monkeypatch.setenv(CONFIG_ENV, str(config))
    monkeypatch.setenv("VIGIA_DATABASE_URL", postgres_url)
    st.cache_data.clear()
    st.cache_resource.clear()
    try:
        yield config
    finally:
        forget_dashboard_caches()


def test_pages_render_from_postgresql(postgres_config: Path) -> None:
    at = sign_in(AppTest.from_file(str(APP), default_timeout=60).run(), "marta")
    shown = {m.label: (m.value, m.delta) for m in at.metric}
    assert shown["Menciones"] == ("40", "20")
    assert shown["% negativas"] == ("25.0 %", "+15.0 pp")
    assert shown["Sentimiento medio"] == ("-0.05", "-0.09")

    at.switch_page("views/mentions.py").run()
    assert not at.exception, at.exception
    assert len(at.dataframe[0].value) == 10
    at.text_input(key="mentions_search").set_value("Refund").run()
    assert set(at.dataframe[0].value["text"]) == {ENGLISH_NEGATIVE}
    at.sidebar.multiselect(key="filter_topics").select("delivery").run()
    assert "No hay menciones" in at.info[0].value

    at.switch_page("views/alerts.py").run()
    assert not at.exception, at.exception
    assert "Pico de menciones negativas" in "\n".join(m.value for m in at.markdown)
    at.switch_page("views/sources.py").run()
    assert not at.exception, at.exception
