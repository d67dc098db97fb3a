"""Exclusiones: phrases suggested from the items dismissed as irrelevant, accepted by managers."""

from __future__ import annotations

from datetime import UTC, datetime

import streamlit as st

from dashboard import access, data
from vigia.access.roles import Actor, Permission
from vigia.inbox import exclusions
from vigia.storage.exclusions import accepted


def accept(actor: Actor, brand: str, phrase: str) -> None:
    exclusions.accept(data.engine(), actor, brand, phrase, datetime.now(UTC))
    st.toast(f"«{phrase}» excluida para {brand}", icon=":material/block:")


def withdraw(actor: Actor, brand: str, phrase: str) -> None:
    exclusions.withdraw(data.engine(), actor, brand, phrase, datetime.now(UTC))
    st.toast(f"«{phrase}» ya no se excluye para {brand}", icon=":material/undo:")


actor = access.require(Permission.EDIT_REPLIES)
st.title("Exclusiones (Exclusions)")
st.caption(
    "Frases junto al nombre de la marca que aparecen en varias menciones descartadas como "
    "irrelevantes y en ninguna otra: al aceptarlas, las menciones que las contengan dejan de "
    "contar como de la marca (como `exclude` en config.yaml). No cambian lo ya guardado."
)
with data.engine().connect() as conn:
    in_force = accepted(conn)
chosen = data.current_filters().brands
for brand in [b for b in data.settings().brands if not chosen or b.name in chosen]:
    st.subheader(brand.name)
    mine = in_force.get(brand.name, [])
    suggestions = exclusions.suggest(data.engine(), brand, mine)
    if not suggestions:
        st.caption(
            "Sin sugerencias: descarta como irrelevantes las menciones que no son de la marca."
        )
    for suggestion in suggestions:
        with st.container(border=True, horizontal=True, vertical_alignment="center"):
            st.markdown(
                f"**{data.md_escape(suggestion.phrase)}** · en {suggestion.items} menciones "
                "irrelevantes, en ninguna otra"
            )
            st.button(
                "Excluir",
                key=f"exclude-{brand.name}-{suggestion.phrase}",
                icon=":material/block:",
                on_click=accept,
                args=(actor, brand.name, suggestion.phrase),
            )
    configured = ", ".join(brand.exclude) or "ninguna"
    st.caption(f"En config.yaml: {data.md_escape(configured)}")
    for phrase in mine:
        with st.container(horizontal=True, vertical_alignment="center"):
            st.markdown(f"Excluida desde el panel: **{data.md_escape(phrase)}**")
            st.button(
                "Quitar",
                key=f"include-{brand.name}-{phrase}",
                icon=":material/undo:",
                on_click=withdraw,
                args=(actor, brand.name, phrase),
            )
