"""Alertas: alerts with severity, kind, evidence and links, acknowledged or resolved from here."""

from __future__ import annotations

from datetime import UTC, datetime

import streamlit as st

from dashboard import access, charts, data
from vigia.access.links import LinkError, check_ack_token
from vigia.access.roles import Actor, Permission

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


def show(alert: data.AlertView, actor: Actor, linked: bool = False) -> None:
    """One alert as a card: badges, the buttons `actor`'s role allows, numbers, links,
    deliveries and its evidence."""
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
            for target in MOVES[alert.state] if actor.may(Permission.MANAGE_ALERTS) else ():
                label, key, hint, icon = BUTTONS[target]
                st.button(
                    label,
                    key=f"{key}-{alert.id}",
                    help=hint,
                    icon=icon,
                    on_click=data.change_alert_state,
                    args=(actor, alert.id, target),
                    width="stretch",
                )
        headline = list(alert.numbers.items())[:HEADLINE]
        for i, (column, (label, value)) in enumerate(
            zip(st.columns(HEADLINE), headline, strict=False)
        ):
            column.metric(label, value)
            # The first number (negatives) carries its recent history as a small bar chart
            # with a y axis: st.metric's own sparkline has no scale.
            if i == 0 and alert.spark:
                column.altair_chart(charts.spark(alert.spark, label), width="stretch")
                top = f"{max(alert.spark):,.0f}".replace(",", ".")
                column.caption(f"Antes de la alerta · máx. {top}")
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
            if not actor.may(Permission.RESEND):
                continue
            resend.button(
                "Reenviar",
                key=f"resend-{delivery_id}",
                help="Resend: se envía de nuevo en el próximo sondeo (o con el próximo resumen "
                "diario); puede llegar dos veces",
                icon=":material/send:",
                on_click=data.resend,
                args=(actor, delivery_id),
                width="stretch",
            )
        with st.expander("Evidencia completa (full evidence)", expanded=linked):
            st.dataframe(
                data.evidence_table(alert.evidence),
                hide_index=True,
                width="stretch",
                column_config={"Valor": st.column_config.TextColumn(width="large")},
            )
        with st.expander("JSON de la evidencia (raw, para expertos)"):
            st.json(alert.evidence)


def linked_alert() -> data.AlertView | None:
    """The alert an e-mail links to (`/alerts?id=N`), or None; an unknown one gets a notice."""
    wanted = st.query_params.get("id")
    if wanted is None:
        return None
    found = data.alert(int(wanted)) if wanted.isdigit() and len(wanted) < 19 else None
    if found is None:
        st.info(
            f"No hay ninguna alerta n.º {data.md_escape(wanted)}. "
            "(No such alert: it may belong to another database.)",
            icon=":material/search_off:",
        )
    return found


def acknowledge_from_link(alert: data.AlertView, actor: Actor) -> None:
    """An e-mail's signed "acknowledge" link (`&ack=...`): acknowledge the alert as the
    signed-in user if the link checks and their role allows; say why not otherwise."""
    token = st.query_params.pop("ack", None)
    if token is None:
        return
    try:
        check_ack_token(token, alert.id, datetime.now(UTC))
    except LinkError as exc:
        st.error(f"No se ha reconocido la alerta: {exc}.", icon=":material/link_off:")
        return
    if not actor.may(Permission.MANAGE_ALERTS):
        st.warning(
            f"Tu rol ({actor.role.value}) no puede reconocer alertas: avisa a un responsable. "
            "(Your role cannot acknowledge alerts.)",
            icon=":material/block:",
        )
        return
    if alert.state != "open":
        st.info(f"La alerta #{alert.id} ya estaba {data.STATES[alert.state].lower()}.")
        return
    data.change_alert_state(actor.with_via("email-link"), alert.id, "acknowledged")
    st.success(
        f"Alerta #{alert.id} reconocida por {data.md_escape(actor.name)}. "
        "(Acknowledged: no more e-mails for this crisis unless it grows.)",
        icon=":material/done:",
    )


def forget_link() -> None:
    st.query_params.pop("id", None)
    st.query_params.pop("ack", None)


actor = access.require(Permission.READ)
f = data.current_filters()
st.title("Alertas (Alerts)")
st.caption(
    f"{', '.join(f.brands) or 'Todas las marcas'} · alertas de operación incluidas · "
    f"horas en {data.settings().timezone}"
)

# The alert an e-mail links to comes first, whatever its state, brand or the view below.
linked = linked_alert()
if linked is not None:
    acknowledge_from_link(linked, actor)
    linked = data.alert(linked.id) or linked
    title, close = st.columns([5, 1], vertical_alignment="bottom")
    title.subheader(f"Alerta #{linked.id} (linked alert)")
    close.button(
        "Cerrar",
        key="close-linked",
        help="Close: vuelve a la lista de alertas",
        icon=":material/close:",
        on_click=forget_link,
        width="stretch",
    )
    show(linked, actor, linked=True)
    st.divider()

view = st.segmented_control(
    "Mostrar (show)",
    list(VIEWS),
    format_func=lambda v: VIEWS[v][0],
    default="active",
    required=True,
    key="alerts_view",
)
found = [a for a in data.alerts(f, VIEWS[view][1]) if linked is None or a.id != linked.id]

if not found:
    st.success("No hay alertas en esta vista. (No alerts here.)", icon=":material/check_circle:")
    st.stop()

for alert in found:
    show(alert, actor)
