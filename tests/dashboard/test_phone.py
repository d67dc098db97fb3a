"""The pages a care lead opens from her phone (Alertas, Menciones) at 390 px in headless Chromium:
nothing sticks out sideways, and the screenshots are kept for a person to look at."""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from tests.dashboard.browser import Chromium, chromium_or_skip, launched
from tests.dashboard.test_browser import sign_in

# An iPhone 12-15's CSS viewport.
PHONE = {"width": 390, "height": 844, "deviceScaleFactor": 2, "mobile": True}
IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1"
)
# Copies of the screenshots go here when set, to be looked at after the run.
SHOTS_ENV = "VIGIA_PHONE_SHOTS"

# Widths in CSS pixels: the document's, the viewport's, the main block's, and the right edge of
# the widest visible element inside the main block (a button or a card that sticks out).
MEASURE = """(() => {
  const main = document.querySelector('[data-testid="stMainBlockContainer"]');
  let right = 0, widest = '';
  for (const el of main.querySelectorAll('*')) {
    const box = el.getBoundingClientRect();
    if (box.width && box.height && box.right > right) {
      right = box.right; widest = el.getAttribute('data-testid') || el.tagName;
    }
  }
  return JSON.stringify({scroll: document.documentElement.scrollWidth, inner: window.innerWidth,
          main: main.getBoundingClientRect().right, mainScroll: main.scrollWidth,
          mainClient: main.clientWidth, right: right, widest: widest});
})()"""


@pytest.fixture
def phone(seeded: tuple[Path, Engine], tmp_path: Path) -> Iterator[Chromium]:
    """A signed-in Chromium with a phone's viewport on the seeded dashboard's Alertas page."""
    config, _ = seeded
    with launched(config) as port, chromium_or_skip(tmp_path) as browser:
        browser.call("Emulation.setDeviceMetricsOverride", **PHONE)
        browser.call("Emulation.setUserAgentOverride", userAgent=IPHONE)
        server = f"http://127.0.0.1:{port}"
        browser.open(f"{server}/alerts")
        sign_in(browser, server, "marta")
        yield browser


def tall_screenshot(browser: Chromium, path: Path) -> Path:
    """The whole page at phone width: Streamlit scrolls inside its main block, not the document,
    so the viewport is made as tall as that block for the shot."""
    height = browser.evaluate("document.querySelector('[data-testid=\"stMain\"]').scrollHeight")
    browser.call("Emulation.setDeviceMetricsOverride", **{**PHONE, "height": int(height)})
    time.sleep(1.0)
    try:
        return browser.screenshot(path, full_page=False)
    finally:
        browser.call("Emulation.setDeviceMetricsOverride", **PHONE)


def keep(shot: Path) -> None:
    if folder := os.environ.get(SHOTS_ENV):
        Path(folder).mkdir(parents=True, exist_ok=True)
        shutil.copy(shot, Path(folder) / shot.name)


def assert_fits(browser: Chromium) -> None:
    size = json.loads(browser.evaluate(MEASURE))
    assert size["inner"] == PHONE["width"], size
    assert size["scroll"] <= size["inner"], size
    assert size["main"] <= size["inner"], size
    assert size["mainScroll"] <= size["mainClient"], size
    assert size["right"] <= size["inner"] + 1, size


def test_alerts_page_fits_a_phone(phone: Chromium, tmp_path: Path) -> None:
    phone.wait_for_text("Alertas (Alerts)", "Pico de menciones negativas", "Reconocer")
    assert_fits(phone)
    keep(tall_screenshot(phone, tmp_path / "phone-alerts.png"))


def test_mentions_page_fits_a_phone(phone: Chromium, tmp_path: Path) -> None:
    phone.wait_for_text("Pico de menciones negativas")
    phone.open(phone.url().replace("/alerts", "/mentions"))
    # A phone gets the mentions as cards, not the eight-column grid.
    phone.wait_for_text("Menciones por responder", "10 menciones", "Abrir ↗", "Descargar CSV")
    assert not phone.evaluate("!!document.querySelector('[data-testid=\"stDataFrame\"]')")
    assert_fits(phone)
    keep(tall_screenshot(phone, tmp_path / "phone-mentions.png"))
