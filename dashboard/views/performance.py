"""Rendimiento: response times against targets for one week, by brand, channel, topic and agent."""

from __future__ import annotations

import streamlit as st

from dashboard import data
from dashboard import performance_data as perf

f = data.current_filters()
st.title("Rendimiento (Performance)")
week = st.selectbox(
    "Semana (ISO week)", perf.weeks(), format_func=perf.week_label, key="performance_week"
)
config = data.settings().inbox
hours = "24/7" if config.hours == "24/7" else "horario laboral (business hours)"
st.caption(
    f"{', '.join(f.brands) or 'Todas las marcas'} · elementos abiertos esa semana · primera "
    f"respuesta (respondido o escalado) en {hours} · objetivo "
    f"{perf.duration(config.targets['urgent'])} urgentes, "
    f"{perf.duration(config.targets['normal'])} normales · {data.settings().timezone}"
)

total = perf.summary(week)
now = perf.open_backlog()
# Fixed-width cards in a wrapping row: two a line on a phone instead of one tall column.
with st.container(horizontal=True):
    for label, value, about in (
        ("Mediana", perf.duration(total.median_first_response), "Median time to first response"),
        (
            "P90",
            perf.duration(total.p90_first_response),
            "90 % of first responses took this long or less",
        ),
        ("En plazo", perf.share(total.within_target), "Share of first responses within target"),
        ("Elementos", total.items, "Items opened that week"),
        ("Abiertos ahora", now.open, "Open items now, from any week"),
        ("Vencidos ahora", now.overdue, "Open items past their due time, from any week"),
    ):
        st.metric(label, value, help=about, border=True, width=170)

if not total.items:
    st.info("Ningún elemento se abrió esa semana. (No inbox items opened that week.)")
    st.stop()

for tab, dimension in zip(st.tabs(list(perf.DIMENSIONS.values())), perf.DIMENSIONS, strict=True):
    with tab:
        rows = perf.table(week, dimension)
        st.dataframe(
            rows,
            hide_index=True,
            column_config={rows.columns[0]: st.column_config.Column(pinned=True)},
        )
