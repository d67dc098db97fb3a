"""The weekly manager report: its figures on a seeded database, share of voice against
competitors, hostile mention text kept inert, the `vigia report` command, and the e-mail a real
SMTP server receives, once per week from the scheduler."""

from __future__ import annotations

import stat
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import yaml
from sqlalchemy import Engine

from analysis.sentiment import Sentiment
from collectors.base import Mention
from tests.dashboard.seed import (
    BRAND,
    ENGLISH_NEGATIVE,
    HOSTILE_TEXT,
    NEWEST_NEGATIVE,
    OTHER_BRAND,
    seed,
    write_config,
)
from tests.vigia.alert_scenario import SimClock, SmtpSink, html_part, smtp_settings, text_part
from tests.vigia.conftest import Run
from timeutil import utc_now
from vigia.access.actions import change_alert_state
from vigia.access.roles import Actor, Role
from vigia.analyse import AnalysedMention
from vigia.config import load_settings
from vigia.exports import previous_week
from vigia.inbox.stats import Figures
from vigia.pipeline import Runtime
from vigia.report.data import (
    AlertHandling,
    BrandShare,
    Counts,
    Example,
    ReportData,
    TopicChange,
    WeekCounts,
    gather,
)
from vigia.report.render import render
from vigia.report.weekly import produce
from vigia.scheduler import _weekly_report
from vigia.storage import connect
from vigia.storage.alerts import set_alert_state
from vigia.storage.mentions import save_batch

# A Sunday evening in week 2026-W49 (Madrid time); the seed puts its mentions around it.
NOW = datetime(2026, 12, 6, 18, 0, tzinfo=UTC)
WEEK = "2026-W49"
MANAGERS = ["direccion@example.com", "ceo@example.com"]
SECTIONS = ("volume", "share-of-voice", "topics", "alerts", "response-times")


def seeded(folder: Path, **extra: Any) -> tuple[Path, Engine]:
    """The dashboard tests' database (tests/dashboard/seed.py), Rivalia marked a competitor,
    `extra` merged into the config; alert 1 acknowledged and resolved by marta, alert 3
    resolved by the detector itself."""
    path = write_config(folder)
    config = yaml.safe_load(path.read_text(encoding="utf-8"))
    config["brands"][1]["competitor"] = True
    config.update(extra)
    path.write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
    engine = seed(path, NOW)
    marta = Actor("marta", Role.MANAGER, "dashboard")
    change_alert_state(engine, marta, 1, "acknowledged", NOW + timedelta(minutes=20))
    change_alert_state(engine, marta, 1, "resolved", NOW + timedelta(hours=3))
    with engine.begin() as conn:
        set_alert_state(conn, 3, "resolved", NOW + timedelta(hours=1))
    return path, engine


def test_figures_of_the_seeded_week(tmp_path: Path) -> None:
    """The seed's numbers (see its docstring), with Rivalia out of "our" trend."""
    path, engine = seeded(tmp_path)
    data = gather(engine, load_settings(path), WEEK, NOW + timedelta(hours=4))

    assert data.brands == (BRAND,) and data.competitors == (OTHER_BRAND,)
    assert [w.week for w in data.weeks] == [f"2026-W{n}" for n in range(45, 50)]
    assert data.current == Counts(40, 10, 20, 10, pytest.approx(-0.05))
    assert data.weeks[-2].counts.mentions == 20 and data.weeks[-2].counts.negative == 2
    assert all(w.counts.mentions == 0 for w in data.weeks[:3])

    # Every negative mention of the week has a topic: 7 about delivery, 3 about refunds; the
    # positive customer-service ones are no complaint.
    assert [(t.topic, t.negative, t.previous_negative) for t in data.topics] == [
        ("delivery", 7, 0),
        ("refunds_returns", 3, 0),
    ]
    delivery, refunds = data.topics
    assert [e.text for e in delivery.examples] == [NEWEST_NEGATIVE, HOSTILE_TEXT]
    # The same English complaint posted twice (two sources) is shown once: examples differ.
    assert [e.text for e in refunds.examples] == [ENGLISH_NEGATIVE]

    handled = {a.id: a for a in data.alerts}
    assert sorted(handled) == [1, 2, 3]
    assert handled[1].acknowledged_by == "marta" and handled[1].resolved_by == "marta"
    assert handled[1].resolved_at == NOW + timedelta(hours=3)
    assert handled[2].acknowledged_at is None and handled[2].state == "open"
    assert handled[3].resolved_at is not None and handled[3].resolved_by is None

    everything = data.response_times[0]
    assert (everything.dimension, everything.items) == ("all", 8)
    assert {f.value for f in data.response_times if f.dimension == "brand"} == {BRAND}


def test_the_page_shows_each_section_and_who_handled_the_alerts(tmp_path: Path) -> None:
    path, engine = seeded(tmp_path)
    data = gather(engine, load_settings(path), WEEK, NOW + timedelta(hours=4))
    spanish, english = render(data, "es"), render(data, "en")

    for section in SECTIONS:
        assert f'<section id="{section}">' in spanish.html
    assert spanish.subject == "[Vigía] Informe semanal 2026-W49"
    assert "Del 30/11/2026 al 06/12/2026 (Europe/Madrid)" in spanish.html
    assert "06/12/2026 19:20 por marta" in spanish.html  # acknowledged, local time
    assert "Vigía (automático)" in spanish.html  # alert 3, resolved by the detector
    assert "25,0\u00a0%" in spanish.html and "Envíos y entregas" in spanish.html
    assert spanish.html.count("<svg") == 3
    assert "Weekly report 2026-W49" in english.html and "Delivery" in english.html
    assert "2026-12-06 19:20 by marta" in english.html and "25.0%" in english.html
    assert "Cuota de voz" in spanish.text and "Rivalia (competidor): 11,1\u00a0%" in spanish.text


def _hostile_data() -> ReportData:
    """One topic whose examples, author, link and name are all hostile."""
    counts = Counts(3, 2, 1, 0, -0.3)
    hostile = Example(
        published_at=NOW,
        brand="Vellora",
        source="foro",
        author="\u2067\u202eadmin\u202c\u2069",
        text='<script>alert(1)</script> "><img src=x onerror=alert(2)> \u202eexe.gpj',
        url="javascript:alert(document.domain)",
    )
    sneaky = Example(NOW, "Vellora", "foro", None, "ver enlace", "https://ok.example/a?b=1&c=<2>")
    return ReportData(
        week=WEEK,
        start=datetime(2026, 11, 29, 23, tzinfo=UTC),
        end=datetime(2026, 12, 6, 23, tzinfo=UTC),
        timezone="Europe/Madrid",
        brands=("Vellora",),
        competitors=(),
        weeks=tuple(WeekCounts(f"2026-W{n}", counts) for n in range(45, 50)),
        shares=(BrandShare("Vellora", False, counts, 1.0, 1.0),),
        topics=(TopicChange("<b>topic</b>", 3, 2, 1, (hostile, sneaky)),),
        alerts=(
            AlertHandling(
                1,
                "negative_spike",
                "Vellora",
                "<i>x</i>\u202e",
                "critical",
                "open",
                NOW,
                None,
                None,
                None,
                None,
            ),
        ),  # fmt: skip
        response_times=(Figures("all", "*", 0, 0, 0, 0, None, None, None),),
        generated_at=NOW,
    )


def test_hostile_mention_text_is_shown_inert() -> None:
    """Markup is escaped, bidi controls removed, and only http(s) links are links."""
    page = render(_hostile_data(), "es")
    for leaked in ("<script", "<img", "<b>topic", "<i>x", 'href="javascript'):
        assert leaked not in page.html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.html
    assert "&lt;b&gt;topic&lt;/b&gt;" in page.html  # in the table and in the chart's SVG
    assert "javascript:" not in page.html  # not linked, and not shown as a link either
    assert 'href="https://ok.example/a?b=1&amp;c=&lt;2&gt;"' in page.html
    for control in ("\u202e", "\u2067", "\u2069", "\u202c"):
        assert control not in page.html and control not in page.text


def _analysed(brand: str, n: int, published: datetime, label: str) -> AnalysedMention:
    compound = {"negative": -0.6, "neutral": 0.0, "positive": 0.5}[label]
    mention = Mention("news", f"{brand}-{n}", f"https://news.example/{brand}/{n}", published,
                      f"{brand} noticia {n}")  # fmt: skip
    sentiment = Sentiment(compound=compound, pos=0.0, neu=1.0, neg=0.0)
    return AnalysedMention(mention, brand, "es", sentiment, label, ())


def test_share_of_voice_against_competitors(tmp_path: Path) -> None:
    """This week Vellora 6 (3 negative), Rivalia 3, Nordia 1 (negative): 60/30/10 %; the week
    before Vellora 1 and Rivalia 1: 50/50/0 %."""
    config = tmp_path / "config.yaml"
    config.write_text(
        yaml.safe_dump({
            "database_url": f"sqlite:///{tmp_path / 'v.db'}",
            "timezone": "Europe/Madrid",
            "brands": [
                {"name": "Vellora", "keywords": ["vellora"]},
                {"name": "Rivalia", "keywords": ["rivalia"], "competitor": True},
                {"name": "Nordia", "keywords": ["nordia"], "competitor": True},
            ],
        }),
        encoding="utf-8",
    )  # fmt: skip
    wednesday = datetime(2026, 12, 2, 10, tzinfo=UTC)
    plan = [("Vellora", "negative")] * 3 + [("Vellora", "neutral")] * 3
    plan += [("Rivalia", "positive")] * 3 + [("Nordia", "negative")]
    items = [_analysed(b, n, wednesday, label) for n, (b, label) in enumerate(plan)]
    before = wednesday - timedelta(weeks=1)
    items += [
        _analysed("Vellora", 90, before, "neutral"),
        _analysed("Rivalia", 91, before, "neutral"),
    ]
    engine = connect(f"sqlite:///{tmp_path / 'v.db'}")
    with engine.begin() as conn:
        by_mention = {a.mention: a for a in items}
        save_batch(conn, "news", [a.mention for a in items],
                   lambda fresh: [by_mention[m] for m in fresh], NOW)  # fmt: skip

    data = gather(engine, load_settings(config), WEEK, NOW)

    assert data.current.mentions == 6  # our brand's trend leaves the competitors out
    shares = {s.brand: s for s in data.shares}
    assert [s.brand for s in data.shares] == ["Vellora", "Rivalia", "Nordia"]
    assert [shares[b].share for b in ("Vellora", "Rivalia", "Nordia")] == pytest.approx(
        [0.6, 0.3, 0.1]
    )
    assert [shares[b].previous_share for b in ("Vellora", "Rivalia", "Nordia")] == [0.5, 0.5, 0.0]
    assert [shares[b].counts.negative_share for b in ("Vellora", "Rivalia", "Nordia")] == [
        0.5,
        0.0,
        1.0,
    ]
    assert shares["Rivalia"].competitor and not shares["Vellora"].competitor
    page = render(data, "es").html
    assert "Rivalia (competidor)" in page and "Competidores: Rivalia, Nordia" in page
    assert "60,0\u00a0%" in page and "+10,0\u00a0pp" in page and "−20,0\u00a0pp" in page


@pytest.fixture
def config(tmp_path: Path) -> Path:
    """The seeded config, for the `vigia` fixture (tests/vigia/conftest.py)."""
    return seeded(tmp_path)[0]


def test_report_command_writes_the_page(
    vigia: Callable[..., Run], config: Path, tmp_path: Path
) -> None:
    run = vigia("report", "--week", WEEK, "--out", str(tmp_path / "out"))
    assert run.code == 0, run.err
    written = tmp_path / "out" / f"vigia-{WEEK}-report.html"
    assert run.out.strip() == str(written)
    page = written.read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>") and "Informe semanal 2026-W49" in page
    assert not written.stat().st_mode & stat.S_IRWXO  # it quotes authors: never world-readable

    default = vigia("report")  # last complete week, into export.folder beside the config
    week = previous_week(utc_now(), ZoneInfo("Europe/Madrid"))
    assert default.code == 0 and default.out.strip().endswith(f"exports/vigia-{week}-report.html")

    refused = vigia("report", "--week", WEEK, "--send")
    assert refused.code == 1 and "alerts.managers" in refused.err


def _with_mail(tmp_path: Path, port: int) -> Path:
    path, _ = seeded(tmp_path, alerts={"managers": MANAGERS}, smtp=smtp_settings(port))
    return path


def _attachment(message: EmailMessage) -> tuple[str | None, bytes]:
    (part,) = list(message.iter_attachments())
    return part.get_filename(), part.get_payload(decode=True)


def test_managers_receive_the_report_by_email(tmp_path: Path) -> None:
    with SmtpSink() as sink:
        path = _with_mail(tmp_path, sink.port)
        engine = connect(load_settings(path).resolved_database_url)
        produced = produce(engine, load_settings(path), WEEK, tmp_path / "out", NOW, send=True)

    assert produced.failed == [] and [to for to, _ in produced.sent] == MANAGERS
    for manager in MANAGERS:
        (message,) = sink.to(manager)
        assert message["Subject"] == "[Vigía] Informe semanal 2026-W49"
        assert "Cuota de voz" in text_part(message) and "<svg" in html_part(message)
        assert "abra el archivo adjunto" in html_part(message)
        name, attached = _attachment(message)
        assert name == f"vigia-{WEEK}-report.html"
        assert attached == produced.path.read_bytes()
    ids = {m["Message-ID"] for m in sink.messages}
    assert len(ids) == 2 and all(WEEK in i for i in ids)


def test_the_scheduled_report_is_mailed_once_per_week(tmp_path: Path) -> None:
    monday = datetime(2026, 12, 7, 6, 0, tzinfo=UTC)  # 07:00 in Madrid, the export's hour
    with SmtpSink() as sink:
        path = _with_mail(tmp_path, sink.port)
        rt = Runtime.build(load_settings(path), clock=SimClock(monday))
        try:
            _weekly_report(rt, WEEK)
            _weekly_report(rt, WEEK)  # another worker, or a restart: the week is done
        finally:
            rt.close()
    assert sorted(m["To"] for m in sink.messages) == sorted(MANAGERS)
    assert (tmp_path / "exports" / f"vigia-{WEEK}-report.html").exists()
