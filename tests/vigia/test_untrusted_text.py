"""Mention text is never trusted: bidi controls, formula cells and non-web links, end to end.

The pure helpers live in `collectors.text`; here they are checked directly, then where they are
used: a Mention (ingestion), the alert e-mails (plain text and HTML) and the dashboard's CSV.
"""

from __future__ import annotations

import csv
import io
import logging
from datetime import UTC, datetime

import pandas as pd
import pytest

from collectors.base import Mention
from collectors.text import csv_cell, web_url, without_bidi
from dashboard.data import mentions_csv, safe_url
from vigia.alerts.render import render_alert
from vigia.storage.alerts import AlertRow, AlertState

BIDI = "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c"
SPOOF = "Factura_\u202efdp.exe"  # shows as "Factura_exe.pdf"
WHEN = datetime(2026, 11, 17, 9, 0)


def test_without_bidi_removes_every_control_and_keeps_the_rest() -> None:
    assert without_bidi(f"a{BIDI}b") == "ab"
    assert without_bidi(SPOOF) == "Factura_fdp.exe"  # logical order: the spoof is visible
    # Right-to-left letters, joiners and ordinary punctuation are not controls.
    assert without_bidi("שלום مرحبا \u200d ¡Vellora!") == "שלום مرحبا \u200d ¡Vellora!"
    assert without_bidi(None) == ""
    assert without_bidi(3) == "3"


@pytest.mark.parametrize(
    ("url", "kept"),
    [
        ("https://foro.example.es/t/1", "https://foro.example.es/t/1"),
        ("HTTP://Example.org/a?b=c#d", "HTTP://Example.org/a?b=c#d"),
        ("  https://example.org/x  ", "https://example.org/x"),
        ("https://example.org/a b", "https://example.org/a%20b"),
        ("javascript:alert(1)", ""),
        ("JavaScript:alert(1)", ""),
        (" javascript:alert(1)", ""),
        ("java\tscript:alert(1)", ""),
        ("https://example.org/\njavascript:alert(1)", ""),
        ("data:text/html;base64,PHNjcmlwdD4=", ""),
        ("vbscript:msgbox(1)", ""),
        ("file:///etc/passwd", ""),
        ("ftp://example.org/f", ""),
        ("//example.org/protocol-relative", ""),
        ("/relative/path", ""),
        ("https://", ""),
        ("https://[::1", ""),
        ("", ""),
        (None, ""),
    ],
)
def test_web_url_keeps_only_absolute_http_links(url: str | None, kept: str) -> None:
    assert web_url(url) == kept


def test_csv_cell_guards_formulas_and_leaves_numbers_alone() -> None:
    for start in ("=", "+", "-", "@", "\t", "\r"):
        assert csv_cell(f"{start}1+1") == f"'{start}1+1"
    assert csv_cell("\u202e=1+1") == "'=1+1"  # bidi removed first, so the `=` is seen
    assert csv_cell("Vellora = 1-1") == "Vellora = 1-1"
    assert csv_cell(" =1") == " =1"  # a leading space is text to a spreadsheet
    assert csv_cell(-0.7) == -0.7
    assert csv_cell(-3) == -3
    assert csv_cell(None) is None


def test_a_mention_never_holds_a_non_web_link(caplog: pytest.LogCaptureFixture) -> None:
    when = datetime(2026, 11, 17, tzinfo=UTC)
    with caplog.at_level(logging.WARNING, logger="collectors.base"):
        bad = Mention("forum", "1", "javascript:alert(1)", when, "Vellora", author=SPOOF)
    assert bad.url == ""
    assert bad.text == "Vellora" and bad.author == SPOOF  # stored as fetched: it is evidence
    assert "forum: item 1: dropped a link that is not http(s)" in caplog.text
    assert Mention("forum", "2", " https://f.example/2 ", when, "x").url == "https://f.example/2"
    assert Mention("forum", "3", "", when, "x").url == ""


def _alert(evidence: dict[str, object], rule: str = "spreading_thread") -> AlertRow:
    return AlertRow(
        id=7,
        key=f"{rule}:t",
        rule=rule,
        brand="Vellora",
        subject="forum:1",
        severity="warning",
        window_start=WHEN,
        window_end=WHEN,
        evidence=evidence,
        state=AlertState("open"),
        opened_at=WHEN,
        updated_at=WHEN,
        last_seen_at=WHEN,
        notified_at=None,
        notified_severity=None,
        notify_round=0,
        notify_reason=None,
        acknowledged_at=None,
        resolved_at=None,
    )


def test_alert_email_neutralises_bidi_and_links_only_the_web() -> None:
    """Evidence stored before the ingestion check: a javascript: root and mention link."""
    alert = _alert({
        "source": "forum",
        "root_url": "javascript:alert(document.cookie)",
        "root_text": f"Hilo {SPOOF}",
        "negative": 5,
        "top": [
            {"url": "javascript:alert(1)", "text": f"Malo {SPOOF}", "author": "\u2067nimda\u2069",
             "source": "forum", "published": "2026-11-17T09:00:00+00:00"},
            {"url": "data:text/html,<script>", "text": "Vellora \u200fdata", "source": "forum"},
            {"url": "https://f.example/ok", "text": "Vellora ok", "source": "forum"},
        ],
    })  # fmt: skip
    for language in ("es", "en"):
        message = render_alert(alert, language)
        for body in (message.text, message.html):
            assert not set(BIDI) & set(body)
            assert "Factura_fdp.exe" in body and "nimda" in body
            assert "javascript:" not in body and "data:text" not in body
        assert "https://f.example/ok" in message.text
        assert message.html.count("<a href=") == 1
        assert '<a href="https://f.example/ok">' in message.html


def test_dashboard_csv_download_is_guarded() -> None:
    rows = pd.DataFrame({
        "id": [1, 2],
        "published_at": pd.to_datetime(["2026-11-17 10:00", "2026-11-17 11:00"]),
        "brand": ["Vellora", "-Vellora"],
        "source": ["@forum", "forum"],
        "language": ["es", "=es"],
        "compound": [-0.6, 0.2],
        "topics": ["+Envío", ""],
        "text": ['=HYPERLINK("http://evil","x")', f"Normal {SPOOF}"],
        "author": ["\tadmin", None],
        "url": [safe_url("https://f.example/1"), safe_url("javascript:alert(1)")],
        "engagement": [3, -2],
    })  # fmt: skip
    raw = mentions_csv(rows)
    assert raw.startswith(b"\xef\xbb\xbf")
    table = list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig"))))
    assert "id" not in table[0]
    first, second = table
    assert first["text"] == '\'=HYPERLINK("http://evil","x")'
    assert (first["source"], first["author"], first["topics"]) == ("'@forum", "'\tadmin", "'+Envío")
    assert (second["brand"], second["language"]) == ("'-Vellora", "'=es")
    assert second["text"] == "Normal Factura_fdp.exe"
    assert (first["url"], second["url"]) == ("https://f.example/1", "")
    assert (first["compound"], second["engagement"]) == ("-0.6", "-2")  # numbers stay numbers
