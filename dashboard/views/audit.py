"""Auditoría: who changed what and when (alerts, users, erasures, sign-ins), for managers."""

from __future__ import annotations

from datetime import datetime, time, timedelta

import streamlit as st

from dashboard import access, data
from vigia.access.roles import Permission

LIMIT = 1000

access.require(Permission.READ_AUDIT)
st.title("Auditoría (Audit trail)")
today = datetime.now(data.zone()).date()
since = st.date_input(
    "Desde (since)", value=today - timedelta(days=7), max_value=today, key="audit_since"
)
start = datetime.combine(since, time.min, tzinfo=data.zone())
rows = data.audit_trail(start, LIMIT)
if rows.empty:
    st.info("Nada registrado desde esa fecha. (Nothing recorded since then.)")
    st.stop()
st.caption(
    f"{len(rows)} cambios{' (los más recientes)' if len(rows) == LIMIT else ''}, del más reciente "
    f"al más antiguo · horas en {data.settings().timezone} · también con `vigia audit`"
)
st.dataframe(
    rows,
    hide_index=True,
    column_config={
        "at": st.column_config.TextColumn("Cuándo (when)", width=150),
        "actor": st.column_config.TextColumn("Quién (who)", width="small"),
        "via": st.column_config.TextColumn("Desde (via)", width="small"),
        "action": st.column_config.TextColumn("Acción (action)", width="small"),
        "target": st.column_config.TextColumn("Sobre (target)", width="small"),
        "change": st.column_config.TextColumn("Cambio (before → after)", width="large"),
    },
    height=min(38 + 35 * len(rows), 640),
)
