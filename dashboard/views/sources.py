"""Fuentes: each source's health: last success and error, failures, stale and unhealthy marks."""

from __future__ import annotations

import streamlit as st

from dashboard import data

st.title("Fuentes (Sources)")
config = data.settings()
st.caption(
    f"Una fuente está «sin éxito reciente» (stale) si no ha funcionado en el doble de su intervalo, "
    f"y «no saludable» (unhealthy) tras {config.http.unhealthy_after} fallos seguidos. "
    f"Horas en {config.timezone}."
)

table = data.source_health()
if table.empty:
    st.info(
        "No hay fuentes configuradas: añádelas en la sección `sources:` de config.yaml. "
        "(No sources configured.)"
    )
    st.stop()

statuses = table["Estado"]
total, ok, stale, unhealthy = st.columns(4)
total.metric("Fuentes (sources)", len(table), border=True)
ok.metric("Funcionan (OK)", int((statuses == data.STATUS_OK).sum()), border=True)
stale.metric(
    "Con retraso o errores (stale)",
    int(statuses.isin([data.STATUS_STALE, data.STATUS_FAILING]).sum()),
    border=True,
)
unhealthy.metric(
    "No saludables (unhealthy)", int((statuses == data.STATUS_UNHEALTHY).sum()), border=True
)

st.dataframe(
    table.style.map(
        lambda status: f"background-color: {data.STATUS_COLORS[status]}", subset=["Estado"]
    ),
    hide_index=True,
    column_config={
        "Último error": st.column_config.TextColumn(width="medium"),
        "Fallos seguidos": st.column_config.NumberColumn(help="consecutive failures"),
        "Omitidos": st.column_config.NumberColumn(
            help="Elementos que no se pudieron leer (skipped items), acumulado"
        ),
        "Menciones 24 h": st.column_config.NumberColumn(help="Mentions stored in the last 24 h"),
        "Sondeando ahora": st.column_config.TextColumn(
            help="El proceso `vigia run` (equipo:pid) que la está leyendo ahora (polling now)"
        ),
    },
)

failing = table[table["Fallos seguidos"] > 0]
if not failing.empty:
    st.subheader("Fuentes que fallan (failing sources)")
    for row in failing.to_dict("records"):
        with st.expander(
            f"{row['Fuente']} · {row['Estado']} · {row['Error a las']}", expanded=True
        ):
            st.code(row["Último error"] or "—", language=None, wrap_lines=True)
