"""Vigía's Streamlit entry point: page config, the shared sidebar filters and the navigation."""

from __future__ import annotations

from datetime import UTC, datetime

import streamlit as st

from dashboard import access, data
from vigia.access.roles import Permission, Role
from vigia.config import ConfigError

REFRESH_SECONDS = 30

st.set_page_config(page_title="Vigía", page_icon="📡", layout="wide")

try:
    settings = data.settings()
except ConfigError as exc:
    st.error(f"La configuración no es válida (invalid configuration): {data.config_path()}")
    st.code(str(exc), language=None)
    st.stop()

# The page files live in views/, not pages/: a folder named `pages` beside the entry script
# switches Streamlit to its legacy multipage mode for the first run of a process, so a deep
# link such as /alerts opened after a restart ran the page alone, without this sidebar.
PAGES = {
    page.url_path or "overview": page
    for page in (
        st.Page(
            "views/overview.py",
            title="Tendencias (Overview)",
            icon=":material/monitoring:",
            default=True,
        ),
        st.Page("views/inbox.py", title="Bandeja (Inbox)", icon=":material/inbox:"),
        st.Page("views/performance.py", title="Rendimiento (Performance)", icon=":material/timer:"),
        st.Page(
            "views/alerts.py", title="Alertas (Alerts)", icon=":material/notifications_active:"
        ),
        st.Page("views/mentions.py", title="Menciones (Mentions)", icon=":material/forum:"),
        st.Page("views/replies.py", title="Respuestas (Replies)", icon=":material/quickreply:"),
        st.Page("views/exclusions.py", title="Exclusiones (Exclusions)", icon=":material/block:"),
        st.Page("views/sources.py", title="Fuentes (Sources)", icon=":material/sensors:"),
        st.Page("views/audit.py", title="Auditoría (Audit)", icon=":material/history:"),
        st.Page("views/users.py", title="Usuarios (Users)", icon=":material/group:"),
    )
}
# Who may open each page beyond the ones every role reads.
PAGE_PERMISSIONS = {
    "replies": Permission.EDIT_REPLIES,
    "exclusions": Permission.EDIT_REPLIES,
    "audit": Permission.READ_AUDIT,
    "users": Permission.MANAGE_USERS,
}

# Nothing below runs before sign-in: no page, filter option or count reaches the browser.
session = access.gate(list(PAGES.values()))
pages = st.navigation(
    [
        page
        for path, page in PAGES.items()
        if path not in PAGE_PERMISSIONS or session.actor().may(PAGE_PERMISSIONS[path])
    ]
)
ROLE_NAMES = {
    Role.VIEWER: "lectura (viewer)",
    Role.AGENT: "agente (agent)",
    Role.MANAGER: "responsable (manager)",
    Role.ADMIN: "administración (admin)",
}


@st.fragment(run_every=REFRESH_SECONDS)
def watch_for_new_data() -> None:
    """Rerun the whole app when new mentions, alerts or polls are stored, so the demo looks live."""
    version = data.data_version()
    previous = st.session_state.get("vigia_data_version")
    st.session_state["vigia_data_version"] = version
    if access.expired() or previous is not None and previous != version:
        data.refresh()
        st.session_state[access.AUTO_RERUN_KEY] = True
        st.rerun()
    now = datetime.now(UTC).astimezone(data.zone())
    st.caption(f"Actualizado {now:%H:%M:%S} · se refresca cada {REFRESH_SECONDS} s")


options = data.filter_options()
with st.sidebar:
    st.markdown("## :material/radar: Vigía")
    st.caption("Monitor de reputación (reputation monitor)")
    brand_choices = options["brands"] + ([data.ALL] if len(options["brands"]) > 1 else [])
    brand = st.selectbox(
        "Marca (brand)",
        brand_choices,
        format_func=lambda b: "Todas las marcas" if b == data.ALL else b,
        key="filter_brand",
    )
    period = st.selectbox(
        "Periodo (period)",
        list(data.PERIODS),
        index=1,
        format_func=lambda p: data.PERIODS[p][0],
        key="filter_period",
    )
    languages = st.multiselect(
        "Idioma (language)",
        options["languages"],
        format_func=data.language_label,
        placeholder="Todos",
        key="filter_languages",
    )
    sources = st.multiselect(
        "Fuente (source)", options["sources"], placeholder="Todas", key="filter_sources"
    )
    topics = st.multiselect(
        "Tema (topic)",
        options["topics"],
        format_func=data.topic_label,
        placeholder="Todos",
        key="filter_topics",
        help="Filtra el desglose de temas y la lista de menciones.",
    )
    st.divider()
    who, leave = st.columns([3, 2], vertical_alignment="center")
    who.caption(f":material/person: {data.md_escape(session.name)} · {ROLE_NAMES[session.role]}")
    if session.method != "proxy":  # behind a signing-in proxy, the proxy signs out
        leave.button("Salir", icon=":material/logout:", on_click=access.sign_out, key="sign_out")
    watch_for_new_data()
    st.caption(f"Zona horaria: {settings.timezone}")

data.set_filters(
    data.Filters(
        brands=() if brand == data.ALL else (brand,),
        period=period,
        end=data.period_end(),
        sources=tuple(sources),
        languages=tuple(languages),
        topics=tuple(topics),
    )
)

pages.run()
