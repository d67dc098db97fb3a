"""The Exclusiones page: a manager sees the phrases of items dismissed as irrelevant and
accepts one (AppTest on the seeded database)."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine

from tests.dashboard.conftest import Render
from tests.vigia.test_inbox_exclusions import dismiss_town_news
from vigia.storage import audit
from vigia.storage.exclusions import accepted


def test_a_manager_accepts_a_suggested_exclusion(app: Render, seeded: tuple[Path, Engine]) -> None:
    _, engine = seeded
    dismiss_town_news(engine)
    at = app("views/exclusions.py")
    shown = "\n".join(m.value for m in at.markdown)
    assert "vellora del monte" in shown and "en 3 menciones" in shown
    at.button(key="exclude-Vellora-vellora del monte").click().run()
    assert not at.exception, at.exception
    with engine.connect() as conn:
        assert accepted(conn) == {"Vellora": ["vellora del monte"]}
        (entry,) = [e for e in audit.entries(conn) if e.action == "brand.exclude"]
    assert entry.actor == "marta"
    assert "Excluida desde el panel" in "\n".join(m.value for m in at.markdown)
