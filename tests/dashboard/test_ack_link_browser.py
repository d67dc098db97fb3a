"""An alert e-mail's acknowledge link opened on a phone: sign in, and the alert is acknowledged
as that user, in the audit trail (real dashboard, headless Chromium at phone width)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, select

from tests.dashboard.browser import chromium_or_skip, launched
from tests.dashboard.seed import USERS
from vigia.access.links import SECRET_ENV, ack_url
from vigia.storage import audit
from vigia.storage.schema import alerts

PHONE = {"width": 390, "height": 844, "deviceScaleFactor": 2, "mobile": True}


def test_the_acknowledge_link_works_on_a_phone(
    seeded: tuple[Path, Engine], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config, engine = seeded
    monkeypatch.setenv(SECRET_ENV, "x" * 40)  # the dashboard process inherits it
    with engine.connect() as conn:
        alert_id = conn.execute(
            select(alerts.c.id).where(alerts.c.rule == "negative_spike")
        ).scalar_one()
    with launched(config) as port, chromium_or_skip(tmp_path) as browser:
        link = ack_url(f"http://127.0.0.1:{port}", alert_id, datetime.now(UTC), timedelta(days=3))
        assert link is not None
        browser.call("Emulation.setDeviceMetricsOverride", **PHONE)
        browser.open(link)
        browser.wait_for_text("Entrar (sign in)")
        browser.fill("Usuario (user)", "marta")
        browser.fill("Contraseña (password)", USERS["marta"][1])
        browser.click("Entrar")
        browser.wait_for_text(f"Alerta #{alert_id} reconocida por marta", "Reconocida")
        shot = browser.screenshot(tmp_path / "ack-phone.png", full_page=False)
        assert shot.stat().st_size > 10_000
    with engine.connect() as conn:
        state = conn.execute(select(alerts.c.state).where(alerts.c.id == alert_id)).scalar_one()
        (entry,) = [e for e in audit.entries(conn) if e.action == "alert.acknowledge"]
    assert state == "acknowledged"
    assert (entry.actor, entry.via) == ("marta", "email-link")
