"""Alertas: alerts with severity, kind, evidence and links, acknowledged or resolved from here."""

from __future__ import annotations

import streamlit as st

from dashboard import data

VIEWS = {
    "active": ("Activas", ("open", "acknowledged")),
    "open": ("Abiertas", ("open",)),
    "acknowledged": ("Reconocidas", ("acknowledged",)),
    "resolved": ("Resueltas", ("resolved",)),
    "all": ("Todas", ()),
}
STATE_BADGES: dict[str, data.BadgeColor] = {
    "open": "red",
    "acknowledged": "blue",
    "resolved": "green",
}
# The button that moves an alert to a state: (label, key prefix, help, icon).
BUTTONS = {
    "acknowledged": (
        "Reconocer",
        "ack",
        "Acknowledge: seguimos la crisis sin más avisos",
        ":material/done:",
    ),
    "resolved": ("Resolver", "resolve", "Resolve: la crisis ha terminado", ":material/done_all:"),
    "open": ("Reabrir", "reopen", "Reopen", ":material/undo:"),
}
# The states each state's buttons move an alert to.
MOVES = {"open": ("acknowledged", "resolved"), "acknowledged": ("resolved",), "resolved": ("open",)}
HEADLINE = 5

f = data.current_filters()
st.title("Alertas (Alerts)")
st.caption(
    f"{', '.join(f.brands) or 'Todas las marcas'} · alertas de operación incluidas · "
    f"horas en {data.settings().timezone}"
)

view = st.segmented_control(
    "Mostrar (show)",
    list(VIEWS),
    format_func=lambda v: VIEWS[v][0],
    default="active",
    required=True,
    key="alerts_view",
)
found = data.alerts(f, VIEWS[view][1])

if not found:
    st.success("No hay alertas en esta vista. (No alerts here.)", icon=":material/check_circle:")
    st.stop()

for alert in found:
    severity, colour = data.SEVERITIES.get(alert.severity, (alert.severity, "gray"))
    with st.container(border=True):
        head, actions = st.columns([5, 1], vertical_alignment="top")
        with head:
            st.markdown(f"#### {data.md_escape(alert.kind)}")
            with st.container(horizontal=True, gap="small"):
                st.badge(severity, color=colour, icon=":material/warning:")
                st.badge(
                    data.STATES.get(alert.state, alert.state),
                    color=STATE_BADGES.get(alert.state, "gray"),
                )
                st.badge(alert.brand or "Operación (operator)", color="gray")
            about = f" · {alert.subject}" if alert.subject and alert.subject != alert.brand else ""
            st.caption(
                data.md_escape(
                    f"Ventana (window) {alert.window} · abierta {alert.opened} · "
                    f"actualizada {alert.updated}{about}"
                )
            )
        with actions:
            for target in MOVES[alert.state]:
                label, key, hint, icon = BUTTONS[target]
                st.button(
                    label,
                    key=f"{key}-{alert.id}",
                    help=hint,
                    icon=icon,
                    on_click=data.change_alert_state,
                    args=(alert.id, target),
                    width="stretch",
                )
        headline = list(alert.numbers.items())[:HEADLINE]
        for i, (column, (label, value)) in enumerate(
            zip(st.columns(HEADLINE), headline, strict=False)
        ):
            # The first number (negatives) carries its recent history as a small bar chart.
            spark = alert.spark if i == 0 else None
            column.metric(label, value, chart_data=spark, chart_type="bar")
        if alert.detail:
            st.code(alert.detail, language=None, wrap_lines=True)
        if alert.links:
            st.markdown(
                "\n".join(
                    f"- [{data.md_escape(text[:160])}]({data.safe_url(url)})"
                    for url, text in alert.links
                )
            )
        if alert.deliveries:
            st.caption(data.md_escape(alert.deliveries))
        for delivery_id, label in alert.uncertain:
            # Never resent by itself (it may have arrived): a person decides.
            note, resend = st.columns([5, 1], vertical_alignment="center")
            note.warning(data.md_escape(label), icon=":material/help:")
            resend.button(
                "Reenviar",
                key=f"resend-{delivery_id}",
                help="Resend: se envía de nuevo en el próximo sondeo (o con el próximo resumen "
                "diario); puede llegar dos veces",
                icon=":material/send:",
                on_click=data.resend,
                args=(delivery_id,),
                width="stretch",
            )
        with st.expander("Evidencia completa (full evidence)"):
            st.json(alert.evidence)
