"""Respuestas: the prepared replies the inbox suggests, by language and topic, for managers."""

from __future__ import annotations

import streamlit as st

from dashboard import access, data
from dashboard import inbox_data as inbox
from vigia.access.roles import Actor, Permission
from vigia.inbox.replies import ORDER_GAP
from vigia.storage.inbox import Reply

OUTCOME_KEY = "replies_outcome"
ANY = "__any__"
GENERAL = "__general__"
PLACEHOLDERS = f"""
| Marcador | Se rellena con |
|---|---|
| `{{autor}}` | el usuario que escribió, con @ (the author's handle) |
| `{{marca}}` | la marca mencionada (the brand) |
| `{{pedido}}` | el número de pedido que da la mención («pedido 4471», «order #A-99812»); \
si no lo da, queda `{ORDER_GAP}` para completarlo a mano |
| `{{agente}}` | el usuario de quien responde (the signed-in agent) |
"""


def topic_name(topic: str | None) -> str:
    return data.topic_label(topic) if topic else "General (todos los temas)"


def edit_form(reply: Reply, actor: Actor) -> None:
    with st.form(f"reply-form-{reply.key}", border=False):
        title = st.text_input(
            "Título (title)", value=reply.title, max_chars=120, key=f"reply-title-{reply.key}"
        )
        body = st.text_area(
            "Texto (text)", value=reply.body, height=140, key=f"reply-body-{reply.key}"
        )
        if st.form_submit_button("Guardar", icon=":material/save:", key=f"reply-save-{reply.key}"):
            st.session_state[OUTCOME_KEY] = inbox.edit_reply(actor, reply.key, title, body)
            st.rerun()


def show(reply: Reply, actor: Actor) -> None:
    with st.container(border=True):
        st.markdown(f"**{data.md_escape(reply.title)}**")
        st.caption(
            data.md_escape(
                f"{data.language_label(reply.language)} · {topic_name(reply.topic)} · "
                f"clave {reply.key} · editada por {reply.updated_by}, "
                f"{data.local_time(reply.updated_at)}"
            )
        )
        st.code(reply.body, language=None, wrap_lines=True)
        with st.expander("Editar (edit)", icon=":material/edit:"):
            edit_form(reply, actor)


actor = access.require(Permission.EDIT_REPLIES)
st.title("Respuestas preparadas (Prepared replies)")
st.caption(
    "La Bandeja sugiere las del tema e idioma de cada mención, ya rellenas, para copiarlas y "
    "publicarlas a mano en la red: Vigía nunca publica. Cada cambio queda en la auditoría."
)
outcome = st.session_state.pop(OUTCOME_KEY, None)
if outcome is not None:
    text = data.md_escape(outcome.text)
    if outcome.ok:
        st.success(text, icon=":material/check_circle:")
    else:
        st.error(text, icon=":material/block:")
with st.expander("Marcadores (placeholders)", icon=":material/data_object:"):
    st.markdown(PLACEHOLDERS)

stored = inbox.all_replies()
if not stored:
    st.info(
        "No hay respuestas preparadas: se cargan de config.yaml (inbox.replies). "
        "(No prepared replies yet.)"
    )
    st.stop()

language_col, topic_col = st.columns(2)
language = language_col.selectbox(
    "Idioma (language)",
    [ANY, *dict.fromkeys(r.language for r in stored)],
    format_func=lambda code: "Todos" if code == ANY else data.language_label(code),
    key="replies_language",
)
topic = topic_col.selectbox(
    "Tema (topic)",
    [ANY, *dict.fromkeys(r.topic or GENERAL for r in stored)],
    format_func=lambda t: "Todos" if t == ANY else topic_name(None if t == GENERAL else t),
    key="replies_topic",
)
shown = [r for r in stored if language in (ANY, r.language) and topic in (ANY, r.topic or GENERAL)]
st.caption(f"{len(shown)} de {len(stored)} respuestas, por idioma y tema")
for reply in shown:
    show(reply, actor)
