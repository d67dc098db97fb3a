"""Behind a trusted reverse proxy: headless Chromium sends the proxy's e-mail header, and the
dashboard signs that e-mail's account in without a password, only from a trusted address."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from sqlalchemy import Engine

from tests.dashboard.browser import chromium_or_skip, launched
from tests.dashboard.seed import BRAND

HEADER = "X-Auth-Request-Email"  # oauth2-proxy's name for it
MARTA = "marta@vellora.example"  # the seeded manager's e-mail: her account gives the role


def with_proxy(config: Path, trusted: list[str]) -> None:
    """Add a reverse proxy at `trusted` sending the e-mail in HEADER to `config`."""
    data = yaml.safe_load(config.read_text(encoding="utf-8"))
    data["auth"] = {"proxy": {"header": HEADER, "trusted": trusted}}
    config.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")


def test_the_proxys_email_signs_in_from_a_trusted_address(
    seeded: tuple[Path, Engine], tmp_path: Path
) -> None:
    config, _ = seeded
    with_proxy(config, ["127.0.0.1", "::1"])
    with launched(config) as port, chromium_or_skip(tmp_path) as browser:
        browser.send_header(HEADER, MARTA)
        browser.open(f"http://127.0.0.1:{port}/alerts")
        text = browser.wait_for_text(
            f"{MARTA} · responsable (manager)", "Pico de menciones negativas", "Reconocer"
        )
        assert "Entrar (sign in)" not in text
        assert "Salir" not in text  # the proxy signs people out, not the dashboard
        browser.screenshot(tmp_path / "proxy-signed-in.png", full_page=False)


@pytest.mark.parametrize("trusted", [["10.9.9.9/32"], ["127.0.0.2"]])
def test_the_header_is_ignored_from_any_other_address(
    seeded: tuple[Path, Engine], tmp_path: Path, trusted: list[str]
) -> None:
    config, _ = seeded
    with_proxy(config, trusted)
    with launched(config) as port, chromium_or_skip(tmp_path) as browser:
        browser.send_header(HEADER, MARTA)
        browser.open(f"http://127.0.0.1:{port}/alerts")
        text = browser.wait_for_text("Entrar (sign in)", "Usuario (user)")
        for secret in (MARTA, BRAND, "Pico de menciones negativas"):
            assert secret not in text
        browser.screenshot(tmp_path / "proxy-untrusted.png", full_page=False)
