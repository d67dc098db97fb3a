"""Every dashboard page rendered by Streamlit's AppTest from a seeded SQLite database."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pyarrow as pa
from sqlalchemy import Engine, select
from streamlit.proto.Metric_pb2 import Metric
from streamlit.testing.v1 import AppTest

from collectors.text import without_bidi
from dashboard.data import ALL, md_escape
from tests.dashboard.conftest import Render
from tests.dashboard.seed import (
    BRAND,
    ENGLISH_NEGATIVE,
    FORUM_ERROR,
    HOSTILE_AUTHOR,
    HOSTILE_ID,
    HOSTILE_TEXT,
    NEWEST_NEGATIVE,
    OTHER_BRAND,
    POLLING_WORKER,
    THREAD_ROOT,
    THREAD_URL,
)
from vigia.storage.alerts import deliveries_of, record_uncertain
from vigia.storage.schema import alerts, mentions


def metrics(at: AppTest) -> dict[str, tuple[str, str | None]]:
    return {m.label: (m.value, m.delta) for m in at.metric}


def markdown(at: AppTest) -> str:
    return "\n".join(m.value for m in at.markdown)


def test_overview_shows_kpis_against_the_previous_period(app: Render) -> None:
    at = app("views/overview.py")
    assert at.title[0].value == f"Tendencias · {BRAND}"
    shown = metrics(at)
    # Seed: 40 mentions (10 negative) now, 20 (2 negative) the week before; average -0.05 vs 0.04.
    assert shown["Menciones"] == ("40", "20")
    assert shown["% negativas"] == ("25.0 %", "+15.0 pp")
    assert shown["Sentimiento medio"] == ("-0.05", "-0.09")
    # Two brand alerts and one operator alert (a failing source concerns every brand).
    assert shown["Alertas abiertas"][0] == "3"


def test_overview_breaks_down_sources_languages_and_topics(app: Render) -> None:
    at = app("views/overview.py")
    by_source, by_language, topics = (df.value for df in at.dataframe)
    assert by_source["Menciones"].to_dict() == {
        "vellora-mastodon": 20,
        "vellora-reviews": 10,
        "vellora-forum": 5,
        "vellora-news": 5,
    }
    assert by_language.loc["English", "Menciones"] == 3
    assert by_language.loc["Español", "Menciones"] == 37
    rows = topics.set_index("Tema")
    assert rows.loc["Delivery", "Negativas"] == 7
    assert rows.loc["Refunds returns", "Negativas"] == 3
    assert rows.loc["Customer service", "Negativas"] == 0
    assert len(at.get("vega_lite_chart")) == 7


def test_overview_follows_the_sidebar_filters(app: Render) -> None:
    at = app("views/overview.py")
    at.sidebar.multiselect(key="filter_languages").select("en").run()
    assert not at.exception
    assert metrics(at)["Menciones"][0] == "3"
    at.sidebar.selectbox(key="filter_brand").select(OTHER_BRAND).run()
    assert at.title[0].value == f"Tendencias · {OTHER_BRAND}"
    assert metrics(at)["Menciones"][0] == "0"
    assert "No hay menciones" in at.info[0].value
    at.sidebar.selectbox(key="filter_brand").select(ALL).run()
    assert at.title[0].value == "Tendencias · Todas las marcas"
    assert metrics(at)["Menciones"][0] == "3"  # still English only: Rivalia's are Spanish
    at.sidebar.multiselect(key="filter_languages").unselect("en").run()
    assert metrics(at)["Menciones"][0] == "45"


def test_overview_by_hour(app: Render) -> None:
    at = app("views/overview.py")
    at.segmented_control(key="overview_granularity").set_value("hour").run()
    assert not at.exception
    assert metrics(at)["Menciones"][0] == "40"


def test_alerts_page_lists_open_alerts_with_evidence_and_links(app: Render) -> None:
    at = app("views/alerts.py")
    text = markdown(at)
    assert "Pico de menciones negativas" in text
    assert "Fuente con fallos" in text and "Operación (operator)" in text
    assert FORUM_ERROR in [c.value for c in at.code]
    # The spike's last hours: a bar chart with a y axis (a scale), not st.metric's bare sparkline.
    assert not [m for m in at.metric if m.chart_data]
    sparks = [json.loads(c.proto.spec) for c in at.get("vega_lite_chart")]
    assert sparks and all(s["mark"]["type"] == "bar" for s in sparks)
    assert all(s["encoding"]["y"]["axis"] is not None for s in sparks)
    assert any(c.value.startswith("Antes de la alerta · máx.") for c in at.caption)
    # The evidence is a (label, value) table; the raw JSON is only in a collapsed expander.
    evidence = [df.value for df in at.dataframe if list(df.value.columns) == ["Dato", "Valor"]]
    labels = set(pd.concat(evidence)["Dato"])
    assert {"Desviación (z)", "Último error", "Horas analizadas"} <= labels
    assert [e.label for e in at.expander if "JSON" in e.label]
    assert "Hilo negativo que se propaga" in text
    assert "Crítica (critical)" in text and "Aviso (warning)" in text
    shown = metrics(at)
    assert shown["Esperadas"][0] == "1.50"
    assert shown["% habitual"][0] == "10.0 %"
    assert shown["Autores distintos"][0] == "12"
    assert f"[{md_escape(THREAD_ROOT)}]({THREAD_URL})" in text
    # The spike's evidence lists the window's most negative mentions as links...
    assert f"[{md_escape(NEWEST_NEGATIVE)}](https://vellora-news.example.org/p/0)" in text
    # ...with their text escaped: no bold, no link, no HTML from a mention.
    assert "Vellora \\*\\*no bold\\*\\* \\[pincha\\]\\(javascript\\:alert\\(1\\)\\)" in text
    assert "](javascript" not in text
    assert "\u202e" not in text and "gpj" in text  # the override is gone, the text stays
    # A failed delivery is visible, not silent.
    sent = [c.value for c in at.caption if "Avisos enviados" in c.value]
    assert len(sent) == 1
    assert "1/2" in sent[0] and "direccion\\@example\\.com" in sent[0] and "550 mailbox" in sent[0]


def test_acknowledge_button_changes_the_state_in_the_database(
    app: Render, seeded: tuple[Path, Engine]
) -> None:
    _, engine = seeded
    with engine.connect() as conn:
        spike_id = conn.execute(
            select(alerts.c.id).where(alerts.c.rule == "negative_spike")
        ).scalar_one()
    at = app("views/alerts.py")
    at.button(key=f"ack-{spike_id}").click().run()
    assert not at.exception
    with engine.connect() as conn:
        state, acknowledged = conn.execute(
            select(alerts.c.state, alerts.c.acknowledged_at).where(alerts.c.id == spike_id)
        ).one()
    assert state == "acknowledged" and acknowledged is not None
    # The page re-reads at once: no acknowledge button any more, still listed as active.
    assert not [b for b in at.button if b.key == f"ack-{spike_id}"]
    assert "Reconocida" in markdown(at)
    at.button(key=f"resolve-{spike_id}").click().run()
    with engine.connect() as conn:
        state = conn.execute(select(alerts.c.state).where(alerts.c.id == spike_id)).scalar_one()
    assert state == "resolved"
    assert "Pico de menciones negativas" not in markdown(at)


def test_mentions_page_lists_negative_mentions_newest_first(app: Render) -> None:
    at = app("views/mentions.py")
    table = at.dataframe[0].value
    assert len(table) == 10
    assert table.iloc[0]["text"] == NEWEST_NEGATIVE
    assert table["published_at"].is_monotonic_decreasing
    assert set(table["sentiment"]) == {"negative"}
    # Text is data, shown as is (the grid never interprets it)...
    assert table.iloc[0]["url"] == "https://vellora-news.example.org/p/0"
    # ...except its bidirectional controls, which would reorder what the reader sees.
    assert HOSTILE_TEXT not in set(table["text"])
    hostile = table[table["text"] == without_bidi(HOSTILE_TEXT)].iloc[0]
    shown = "Vellora **no bold** [pincha](javascript:alert(1)) <b>html</b> $x$ exe.gpj fatal"
    assert hostile["text"] == shown
    assert hostile["author"] == "admin" != HOSTILE_AUTHOR


def test_mentions_page_never_links_a_stored_javascript_url(
    app: Render, seeded: tuple[Path, Engine]
) -> None:
    _, engine = seeded
    with engine.connect() as conn:  # the seed wrote it straight into the row, as an old release did
        stored = conn.execute(
            select(mentions.c.url).where(mentions.c.source_id == HOSTILE_ID)
        ).scalar_one()
    assert stored.startswith("javascript:")
    table = app("views/mentions.py").dataframe[0].value
    hostile = table[table["text"] == without_bidi(HOSTILE_TEXT)].iloc[0]
    assert pd.isna(hostile["url"])
    assert not table["url"].dropna().str.contains("javascript", case=False).any()
    assert len(table["url"].dropna()) == len(table) - 1  # every other row keeps its link


def test_mentions_page_search_and_topic_filter(app: Render) -> None:
    at = app("views/mentions.py")
    at.text_input(key="mentions_search").set_value("REFUND").run()
    assert set(at.dataframe[0].value["text"]) == {ENGLISH_NEGATIVE}
    at.text_input(key="mentions_search").set_value("").run()
    at.sidebar.multiselect(key="filter_topics").select("delivery").run()
    assert len(at.dataframe[0].value) == 7
    at.sidebar.multiselect(key="filter_topics").unselect("delivery").run()
    at.toggle(key="mentions_negative").set_value(False).run()
    assert len(at.dataframe[0].value) == 40
    at.text_input(key="mentions_search").set_value("100%_x").run()
    assert "No hay menciones" in at.info[0].value


def test_sources_page_marks_stale_and_unhealthy_sources(app: Render) -> None:
    at = app("views/sources.py")
    table = at.dataframe[0].value.set_index("Fuente")
    assert table.loc["vellora-news", "Estado"] == "OK"
    assert table.loc["vellora-news", "Omitidos"] == 2
    assert table.loc["vellora-forum", "Estado"] == "No saludable (unhealthy)"
    assert table.loc["vellora-forum", "Fallos seguidos"] == 6
    assert "HTTP 503" in table.loc["vellora-forum", "Último error"]
    assert table.loc["vellora-mastodon", "Estado"] == "Sin éxito reciente (stale)"
    assert table.loc["vellora-reviews", "Estado"] == "Pendiente (not polled yet)"
    # Which worker is polling a source right now, from its live claim.
    assert table.loc["vellora-reviews", "Sondeando ahora"] == POLLING_WORKER
    assert table.loc["vellora-news", "Sondeando ahora"] == "—"
    assert metrics(at)["No saludables (unhealthy)"][0] == "1"
    assert "HTTP 503 from foro.example.org" in at.code[0].value


def test_an_unconfirmed_email_is_shown_and_the_resend_button_makes_it_due(
    app: Render, seeded: tuple[Path, Engine]
) -> None:
    _, engine = seeded
    # The manager's e-mail reached the server, which never confirmed it (a timeout after DATA).
    with engine.begin() as conn:
        spike_id = conn.execute(
            select(alerts.c.id).where(alerts.c.rule == "negative_spike")
        ).scalar_one()
        (boss,) = [d for d in deliveries_of(conn, spike_id) if d.recipient.startswith("direccion")]
        record_uncertain(
            conn, boss.id, datetime.now(UTC), "SMTP server mail.example:25 never confirmed it"
        )
    at = app("views/alerts.py")
    (caption,) = [c.value for c in at.caption if "Avisos enviados" in c.value]
    assert "1/2" in caption and "1 sin confirmar" in caption
    (warning,) = [w.value for w in at.warning if "Sin confirmar" in w.value]
    assert "direccion\\@example\\.com" in warning and "never confirmed it" in warning
    assert "No se reenvía solo" in warning

    at.button(key=f"resend-{boss.id}").click().run()
    assert not at.exception
    with engine.connect() as conn:
        (after,) = [d for d in deliveries_of(conn, spike_id) if d.id == boss.id]
    assert after.pending and not after.uncertain and not after.ok
    # The page re-reads at once: nothing unconfirmed any more, no button to press twice.
    assert not [b for b in at.button if b.key == f"resend-{boss.id}"]
    assert not [w for w in at.warning if "Sin confirmar" in w.value]


def chart_specs(at: AppTest) -> list[dict]:
    return [json.loads(c.proto.spec) for c in at.get("vega_lite_chart")]


def layers(spec: dict) -> list[dict]:
    return spec.get("layer", [spec])


def test_overview_charts_carry_meaning_and_keep_their_legends_whole(app: Render) -> None:
    at = app("views/overview.py")
    # More mentions is not "good": the volume delta is grey, not green (a crisis is growth too).
    volume = next(m for m in at.metric if m.label == "Menciones")
    assert Metric.MetricColor.Name(volume.proto.color) == "GRAY"
    specs = chart_specs(at)
    colors = [s["encoding"]["color"] for s in specs if "color" in s.get("encoding", {})]
    sentiment = next(c for c in colors if c["scale"]["domain"][0] == "Negativas")
    assert sentiment["scale"]["range"] == ["#d94841", "#9aa5b1", "#2f9e6f"]  # red, grey, green
    # Every legend keeps its labels whole ("vellora-mastodon", not "masto…").
    legends = [c["legend"] for c in colors if c.get("legend")]
    assert legends and all(legend["labelLimit"] == 0 for legend in legends)
    by_source = next(c for c in colors if "vellora-mastodon" in c["scale"]["domain"])
    assert by_source["legend"]["orient"] == "bottom"
    # No competitor configured: no share-of-voice chart.
    assert "Cuota de voz (share of voice)" not in [h.value for h in at.subheader]


def test_overview_smooths_the_hourly_ratios_over_a_week(app: Render) -> None:
    at = app("views/overview.py")
    at.segmented_control(key="overview_granularity").set_value("hour").run()
    assert any("media móvil de 6 h" in c.value for c in at.caption)
    at.segmented_control(key="overview_granularity").set_value("day").run()
    assert not any("media móvil" in c.value for c in at.caption)


def test_overview_shows_share_of_voice_against_competitors(
    app: Render, seeded: tuple[Path, Engine]
) -> None:
    config, _ = seeded
    text = config.read_text(encoding="utf-8")
    config.write_text(
        text.replace(f"name: {OTHER_BRAND}", f"competitor: true\n  name: {OTHER_BRAND}"),
        encoding="utf-8",
    )
    at = app("views/overview.py")
    assert "Cuota de voz (share of voice)" in [h.value for h in at.subheader]
    chart = next(c for c in at.get("vega_lite_chart") if "Cuota" in c.proto.spec)
    rows = pa.ipc.open_stream(chart.proto.datasets[0].data.data).read_pandas()
    shares = {row.Marca: (row.Cuota, row.Tipo) for row in rows.itertuples()}
    # Seed, last 7 days: Vellora has most of the mentions; the two shares make the whole.
    assert shares[BRAND][1] == "Propia" and shares[OTHER_BRAND][1] == "Competidor"
    assert round(shares[BRAND][0] + shares[OTHER_BRAND][0]) == 100
    assert shares[BRAND][0] > shares[OTHER_BRAND][0]


def test_mentions_page_shows_cards_for_a_phone(app: Render) -> None:
    at = app("views/mentions.py")
    assert at.segmented_control(key="mentions_layout").value == "table"  # no phone headers here
    at.segmented_control(key="mentions_layout").set_value("cards").run()
    assert not at.exception
    assert not at.dataframe
    assert md_escape(NEWEST_NEGATIVE) in markdown(at)
    assert "[Abrir ↗](https://vellora-news.example.org/p/0)" in markdown(at)
