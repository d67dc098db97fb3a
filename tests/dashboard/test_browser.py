"""The real dashboard: started by the launcher on a seeded database, rendered by headless Chromium."""

from __future__ import annotations

import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from tests.dashboard.browser import Chromium, chromium_or_skip, launched
from tests.dashboard.seed import BRAND, USERS
from vigia.storage.users import failures_of


@pytest.fixture
def server(seeded: tuple[Path, Engine]) -> Iterator[str]:
    """The dashboard served by `launch_dashboard` in its own process, as a base URL."""
    config, _ = seeded
    with launched(config) as port:
        yield f"http://127.0.0.1:{port}"


def test_launcher_serves_the_dashboard(server: str) -> None:
    with urllib.request.urlopen(f"{server}/_stcore/health", timeout=10) as reply:
        assert reply.status == 200


def sign_in(browser: Chromium, server: str, user: str, password: str | None = None) -> None:
    """Open `server` and fill the sign-in form (the seeded user's password by default)."""
    browser.wait_for_text("Entrar (sign in)")
    browser.fill("Usuario (user)", user)
    browser.fill("Contraseña (password)", password if password is not None else USERS[user][1])
    browser.click("Entrar")


def test_chromium_renders_every_page_after_sign_in(server: str, tmp_path: Path) -> None:
    with chromium_or_skip(tmp_path) as browser:
        # A deep link as the process's very first page: the sign-in form, and nothing else.
        browser.open(f"{server}/alerts")
        text = browser.wait_for_text("Entrar (sign in)", "Usuario (user)")
        for secret in (BRAND, "Pico de menciones negativas", "Marca (brand)", "Tendencias"):
            assert secret not in text
        browser.screenshot(tmp_path / "sign-in.png", full_page=False)
        sign_in(browser, server, "marta")
        # Signed in, the page asked for opens, with the sidebar and navigation.
        browser.wait_for_text(
            "Alertas (Alerts)", "Pico de menciones negativas", "Reconocer", "Marca (brand)",
            "Tendencias (Overview)", "marta",
        )  # fmt: skip
        browser.screenshot(tmp_path / "alerts.png", full_page=False)

        browser.click("Tendencias (Overview)")
        browser.wait_for_text(f"Tendencias · {BRAND}", "% negativas", "25.0 %", "Temas de queja")
        shot = browser.screenshot(tmp_path / "overview.png", full_page=False)
        assert shot.read_bytes().startswith(b"\x89PNG") and shot.stat().st_size > 20_000

        # The grid of mentions draws on a canvas; its rows are checked through AppTest.
        browser.click("Menciones (Mentions)")
        browser.wait_for_text("Menciones por responder", "10 menciones")
        browser.click("Fuentes (Sources)")
        browser.wait_for_text("Fuentes (Sources)", "HTTP 503 from foro.example.org")
        browser.click("Auditoría (Audit)")
        browser.wait_for_text("Auditoría (Audit trail)", "cambios, del más reciente")
        browser.screenshot(tmp_path / "audit.png", full_page=False)

        # A reload (or a new tab) finds the session again through its cookie.
        browser.open(f"{server}/alerts")
        browser.wait_for_text("Pico de menciones negativas", "marta")

        browser.click("Salir")
        browser.wait_for_text("Has salido", "Entrar (sign in)")
        assert "Pico de menciones negativas" not in browser.text()
        # Signed out, the cookie opens nothing any more.
        browser.open(f"{server}/alerts")
        text = browser.wait_for_text("Entrar (sign in)")
        assert "Pico de menciones negativas" not in text


def test_a_viewer_sees_no_acknowledge_button(server: str, tmp_path: Path) -> None:
    with chromium_or_skip(tmp_path) as browser:
        browser.open(f"{server}/alerts")
        sign_in(browser, server, "victor")
        text = browser.wait_for_text("Pico de menciones negativas", "victor")
        assert "Reconocer" not in text and "Resolver" not in text
        assert "Auditoría" not in text and "Usuarios" not in text
        browser.screenshot(tmp_path / "viewer-alerts.png", full_page=False)


def wait_for_failures(engine: Engine, name: str, count: int, timeout: float = 30.0) -> None:
    """Until the server has counted `count` failed sign-ins for `name` (each click is done)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with engine.connect() as conn:
            if failures_of(conn, name)[0] >= count:
                return
        time.sleep(0.1)
    raise AssertionError(f"{count} failed sign-ins for {name} never counted")


def test_wrong_passwords_are_slowed_down_in_the_browser(
    server: str, seeded: tuple[Path, Engine], tmp_path: Path
) -> None:
    _, engine = seeded
    with chromium_or_skip(tmp_path) as browser:
        browser.open(server)
        for attempt in range(3):
            sign_in(browser, server, "marta", f"wrong-password-{attempt}")
            wait_for_failures(engine, "marta", attempt + 1)
            browser.wait_for_text("incorrectos" if attempt < 2 else "Demasiados intentos")
        # Even the right password waits now.
        sign_in(browser, server, "marta")
        browser.wait_for_text("Demasiados intentos fallidos: espera")
        browser.screenshot(tmp_path / "slowed-down.png", full_page=False)
        assert "Tendencias" not in browser.text()
