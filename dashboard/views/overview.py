"""Tendencias: KPIs, volume and sentiment over time, by source and language, complaint topics."""

from __future__ import annotations

import streamlit as st

from dashboard import charts, data


def change(now: float | None, before: float | None, template: str) -> str | None:
    """`now - before` put in `template`, or None (no delta shown) when either is unknown."""
    return None if now is None or before is None else template.format(now - before)


f = data.current_filters()
st.title(f"Tendencias · {', '.join(f.brands) or 'Todas las marcas'}")
st.caption(f"{data.period_label(f)} · cambios frente al periodo anterior (vs previous period)")

k = data.kpis(f)
volume, negative, sentiment, open_alerts = st.columns(4)
volume.metric(
    "Menciones",
    f"{k.mentions:,}".replace(",", "."),
    delta=k.mentions - k.previous_mentions if k.previous_mentions else None,
    # More mentions is neither good nor bad (a crisis is growth too): grey, not green.
    delta_color="off",
    help="Mentions in the period",
    border=True,
)
negative.metric(
    "% negativas",
    "—" if k.negative_share is None else f"{k.negative_share:.1f} %",
    delta=change(k.negative_share, k.previous_negative_share, "{:+.1f} pp"),
    delta_color="inverse",
    help="Negative share of the period's mentions",
    border=True,
)
sentiment.metric(
    "Sentimiento medio",
    "—" if k.avg_sentiment is None else f"{k.avg_sentiment:+.2f}",
    delta=change(k.avg_sentiment, k.previous_avg_sentiment, "{:+.2f}"),
    help="Average sentiment (VADER compound): −1 muy negativo … +1 muy positivo",
    border=True,
)
open_alerts.metric("Alertas abiertas", data.open_alert_count(f), help="Open alerts", border=True)

if not k.mentions:
    st.info(
        "No hay menciones en este periodo con estos filtros. "
        "(No mentions in this period: widen the period or clear the filters.)"
    )
    st.stop()

granularity = st.segmented_control(
    "Agrupar por (group by)",
    ["hour", "day"],
    format_func=lambda g: "Hora" if g == "hour" else "Día",
    default=f.default_granularity,
    required=True,
    key="overview_granularity",
)
series = data.trend(f, granularity)
window = data.smoothing_hours(f, granularity)

st.subheader("Volumen por sentimiento (volume by sentiment)")
st.altair_chart(
    charts.stacked_bars(
        series[["negative", "neutral", "positive"]].rename(columns=data.SENTIMENT_NAMES),
        granularity,
        "Sentimiento",
        "Menciones",
        colors=list(data.SENTIMENT_COLORS.values()),
    )
)

if window:
    st.caption(
        f"Sentimiento medio y % negativas: media móvil de {window} h, para que una hora con "
        f"pocas menciones no salte de 0 a 100 %. (Rolling {window} h window.)"
    )
average, share = st.columns(2)
with average:
    st.subheader("Sentimiento medio (avg sentiment)")
    st.altair_chart(
        charts.lines(
            series[["avg_sentiment"]].rename(columns={"avg_sentiment": "Sentimiento medio"}),
            granularity,
            "Serie",
            "compound",
            "+.2f",
            colors=["#0f766e"],
            domain=(-1, 1),
        )
    )
with share:
    st.subheader("% negativas (negative share)")
    st.altair_chart(
        charts.lines(
            series[["negative_share"]].rename(columns={"negative_share": "% negativas"}),
            granularity,
            "Serie",
            "%",
            ".1f",
            colors=[data.SENTIMENT_COLORS["negative"]],
            domain=(0, 100),
        )
    )

number_format = {
    "% negativas": st.column_config.NumberColumn(format="%.1f %%"),
    "Sentimiento": st.column_config.NumberColumn(format="%+.2f", help="Sentimiento medio"),
}
by_source, by_language = st.tabs(["Por fuente (by source)", "Por idioma (by language)"])
for tab, dimension, name in ((by_source, "source", "Fuente"), (by_language, "language", "Idioma")):
    with tab:
        chart, table = st.columns([3, 2])
        chart.altair_chart(
            charts.stacked_bars(
                data.split_by(f, dimension, granularity), granularity, name, "Menciones"
            ),
            # The legend's long source names need the chart's full height, not a cut label.
            width="stretch",
        )
        table.dataframe(data.breakdown(f, dimension), column_config=number_format)

voice = data.share_of_voice(f)
if voice is not None:
    st.subheader("Cuota de voz (share of voice)")
    st.altair_chart(charts.share_of_voice(voice))
    st.caption(
        "Menciones de cada marca sobre las de todas las marcas configuradas en el periodo, "
        "con los filtros de fuente e idioma. (Each brand's share of all brands' mentions.)"
    )

st.subheader("Temas de queja (complaint topics)")
topics = data.topic_breakdown(f)
if topics.empty:
    st.caption("Ningún tema detectado en este periodo. (No complaint topics in this period.)")
else:
    chart, table = st.columns([3, 2])
    chart.altair_chart(
        charts.horizontal_bars(
            topics,
            "Tema",
            ["Negativas", "Menciones"],
            [data.SENTIMENT_COLORS["negative"], data.SENTIMENT_COLORS["neutral"]],
        )
    )
    table.dataframe(topics, hide_index=True, column_config=number_format)
    st.markdown("**Negativas por tema en el tiempo (negative mentions per topic)**")
    st.altair_chart(
        charts.stacked_bars(
            data.topic_trend(f, granularity),
            granularity,
            "Tema",
            "Negativas",
            colors=charts.NEGATIVE_SHADES,
            height=200,
        )
    )
    st.caption(
        "Los temas se cuentan por marca: los filtros de fuente e idioma no se aplican a esta "
        "sección. (Topics are counted per brand; source and language filters do not apply here.)"
    )
