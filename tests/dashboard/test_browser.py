"""The real dashboard: started by the launcher on a seeded database, rendered by headless Chromium."""

from __future__ import annotations

import subprocess
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from tests.dashboard.browser import Chromium, find_chromium
from tests.dashboard.seed import BRAND
from vigia.dashboard_launcher import launch_dashboard, wait_until_listening
from vigia.demo.runner import free_port


@pytest.fixture
def server(seeded: tuple[Path, Engine]) -> Iterator[str]:
    """The dashboard served by `launch_dashboard` in its own process, as a base URL."""
    config, _ = seeded
    port = free_port()
    process = launch_dashboard(config, port=port, browser=False)
    try:
        assert wait_until_listening(port), "the dashboard did not start listening"
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def test_launcher_serves_the_dashboard(server: str) -> None:
    with urllib.request.urlopen(f"{server}/_stcore/health", timeout=10) as reply:
        assert reply.status == 200


def test_chromium_renders_every_page(server: str, tmp_path: Path) -> None:
    executable = find_chromium()
    if executable is None:
        pytest.skip("chromium is not installed (make test installs it with apt-get when root)")
    with Chromium(executable, tmp_path / "profile", height=1400) as browser:
        # A deep link as the process's very first page must still get the sidebar and navigation.
        browser.open(f"{server}/alerts")
        browser.wait_for_text(
            "Alertas (Alerts)", "Pico de menciones negativas", "Reconocer", "Marca (brand)",
            "Tendencias (Overview)",
        )  # fmt: skip
        browser.screenshot(tmp_path / "alerts.png", full_page=False)

        browser.open(server)
        browser.wait_for_text(f"Tendencias · {BRAND}", "% negativas", "25.0 %", "Temas de queja")
        shot = browser.screenshot(tmp_path / "overview.png", full_page=False)
        assert shot.read_bytes().startswith(b"\x89PNG") and shot.stat().st_size > 20_000

        # The grid of mentions draws on a canvas; its rows are checked through AppTest.
        browser.open(f"{server}/mentions")
        browser.wait_for_text("Menciones por responder", "10 menciones")
        browser.open(f"{server}/sources")
        browser.wait_for_text("Fuentes (Sources)", "HTTP 503 from foro.example.org")
