"""The weekly manager report opened from its file in headless Chromium: every section shows, the
hostile mention stays text, the page fits a 390 px phone without sideways scrolling, and it
prints. Screenshots (desktop, phone, print) are written under the test's tmp_path."""

from __future__ import annotations

import base64
import json
from datetime import timedelta
from pathlib import Path

from collectors.text import without_bidi
from tests.dashboard.browser import chromium_or_skip
from tests.dashboard.seed import HOSTILE_TEXT
from tests.vigia.test_report import NOW, WEEK, seeded
from vigia.config import load_settings
from vigia.report.weekly import produce

HEADINGS = (
    "Informe semanal 2026-W49",
    "Volumen y sentimiento",
    "Cuota de voz",
    "Principales motivos de queja",
    "Alertas de la semana",
    "Tiempos de respuesta",
)
PHONE_WIDTH = 390  # an iPhone 12-15's CSS width
# As JSON: the DevTools protocol returns an array by reference only.
CHART_WIDTHS = (
    "JSON.stringify([...document.querySelectorAll('svg')]"
    ".map(s => s.getBoundingClientRect().width))"
)


def test_report_reads_on_desktop_and_phone_and_prints(tmp_path: Path) -> None:
    path, engine = seeded(tmp_path)
    later = NOW + timedelta(hours=4)
    page = produce(engine, load_settings(path), WEEK, tmp_path / "out", later, send=False).path
    browser = chromium_or_skip(tmp_path)
    with browser:
        browser.open(page.as_uri())
        text = browser.wait_for_text(*HEADINGS, timeout=30)
        assert "Rivalia (competidor)" in text and "11,1\u00a0%" in text
        assert "06/12/2026 19:20 por marta" in text  # who acknowledged the spike, and when
        assert "Pico de menciones negativas" in text and "Envíos y entregas" in text
        # The hostile mention reads as its literal text: no markup, no script, no bad link.
        assert without_bidi(HOSTILE_TEXT) in text and "\u202e" not in text
        assert browser.evaluate("document.querySelectorAll('script, blockquote b').length") == 0
        links = "[...document.links].every(a => ['http:', 'https:'].includes(a.protocol))"
        assert browser.evaluate(links)
        widths = json.loads(browser.evaluate(CHART_WIDTHS))
        assert len(widths) == 3 and all(w > 300 for w in widths)
        browser.screenshot(tmp_path / "report-desktop.png")

        browser.call("Emulation.setDeviceMetricsOverride", width=PHONE_WIDTH, height=844,
                     deviceScaleFactor=2, mobile=True)  # fmt: skip
        assert browser.evaluate("document.documentElement.scrollWidth") <= PHONE_WIDTH
        # Tables become cards: each cell labelled by its column, nothing scrolls sideways.
        card = "getComputedStyle(document.querySelector('#alerts tbody tr')).display"
        assert browser.evaluate(card) == "block"
        overflowing = (
            "[...document.querySelectorAll('.scroll')]"
            ".filter(d => d.scrollWidth > d.clientWidth + 1).length"
        )
        assert browser.evaluate(overflowing) == 0
        assert all(w < PHONE_WIDTH for w in json.loads(browser.evaluate(CHART_WIDTHS)))
        browser.screenshot(tmp_path / "report-phone.png")

        browser.call("Emulation.setDeviceMetricsOverride", width=794, height=1123,
                     deviceScaleFactor=1, mobile=False)  # fmt: skip
        browser.call("Emulation.setEmulatedMedia", media="print")
        border = "getComputedStyle(document.querySelector('section')).borderTopStyle"
        assert browser.evaluate(border) == "none"
        browser.screenshot(tmp_path / "report-print.png")
        pdf = base64.b64decode(browser.call("Page.printToPDF")["data"])
        assert pdf.startswith(b"%PDF")
        (tmp_path / "report.pdf").write_bytes(pdf)
