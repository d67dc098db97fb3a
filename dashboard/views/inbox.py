"""Bandeja: the care inbox, most urgent first, one card per item, worked from here by agents."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

import streamlit as st

from dashboard import access, data
from dashboard import inbox_data as inbox
from vigia.access.roles import Actor, Permission

OUTCOME_KEY = "inbox_outcome"
PAGE_KEY = "inbox_page"
STATE_BADGES: dict[str, data.BadgeColor] = {
    "new": "blue",
    "assigned": "gray",
    "escalated": "red",
    "answered": "green",
    "dismissed": "gray",
}
URGENCY_COLOURS = {"overdue": "red", "soon": "orange"}


def act(run: Callable[..., inbox.Outcome], *args: object, clear: Sequence[int] = ()) -> None:
    """Run an inbox action (a button's callback); keep its outcome for the next run to show,
    and empty the selection it applied to."""
    outcome = run(*args)
    st.session_state[OUTCOME_KEY] = outcome
    for item_id in clear if outcome.ok else ():
        st.session_state[f"pick-{item_id}"] = False


def act_on_menu(run: Callable[..., inbox.Outcome], key: str, actor: Actor, ids: list[int]) -> None:
    """A menu button's callback: the option chosen (a teammate, a reason) is its value."""
    act(run, actor, ids, st.session_state[key], clear=ids)


def answer_one(actor: Actor, item_id: int) -> None:
    act(inbox.answer, actor, [item_id], st.session_state.get(f"reply-url-{item_id}", ""))


def show_outcome() -> None:
    outcome = st.session_state.pop(OUTCOME_KEY, None)
    if outcome is None:
        return
    text = data.md_escape(outcome.text)
    if outcome.ok:
        st.success(text, icon=":material/check_circle:")
        st.toast(text, icon=":material/check_circle:")
    else:
        st.error(text, icon=":material/block:")


def first_page() -> None:
    st.session_state[PAGE_KEY] = 1


def bulk_bar(actor: Actor, picked: list[int]) -> None:
    """Actions on the items ticked on this page."""
    with st.container(border=True, horizontal=True, vertical_alignment="center"):
        st.markdown(f"**Con la selección ({len(picked)}):**")
        st.button(
            "Asignármelas",
            key="bulk-take",
            icon=":material/front_hand:",
            on_click=act,
            args=(inbox.take, actor, picked),
            kwargs={"clear": picked},
        )
        st.button(
            "Marcar respondidas",
            key="bulk-answer",
            icon=":material/mark_chat_read:",
            on_click=act,
            args=(inbox.answer, actor, picked),
            kwargs={"clear": picked},
        )
        st.menu_button(
            "Descartar",
            list(inbox.DISMISS_NAMES),
            key="bulk-dismiss",
            icon=":material/block:",
            format_func=lambda reason: inbox.DISMISS_NAMES[reason],
            on_click=act_on_menu,
            args=(inbox.dismiss, "bulk-dismiss", actor, picked),
        )


def actions_row(card: inbox.Card, actor: Actor, team: list[str]) -> None:
    """The buttons of one card: take, assign, escalate, dismiss; reopen once closed."""
    item = card.item
    ids = [item.id]
    with st.container(horizontal=True, gap="small"):
        if not item.open:
            st.button(
                "Reabrir",
                key=f"reopen-{item.id}",
                icon=":material/undo:",
                on_click=act,
                args=(inbox.reopen, actor, ids),
            )
            return
        if item.assignee != actor.name:
            st.button(
                "Me la quedo",
                key=f"take-{item.id}",
                type="primary",
                icon=":material/front_hand:",
                help="Take it: asignármela",
                on_click=act,
                args=(inbox.take, actor, ids),
            )
        others = [name for name in team if name != item.assignee]
        if others:
            st.menu_button(
                "Asignar a",
                others,
                key=f"assign-{item.id}",
                icon=":material/person_add:",
                on_click=act_on_menu,
                args=(inbox.assign, f"assign-{item.id}", actor, ids),
            )
        if item.state != "escalated":
            st.button(
                "Escalar",
                key=f"escalate-{item.id}",
                icon=":material/priority_high:",
                help="Escalate: pasa a responsables",
                on_click=act,
                args=(inbox.escalate, actor, ids),
            )
        st.menu_button(
            "Descartar",
            list(inbox.DISMISS_NAMES),
            key=f"dismiss-{item.id}",
            icon=":material/block:",
            format_func=lambda reason: inbox.DISMISS_NAMES[reason],
            on_click=act_on_menu,
            args=(inbox.dismiss, f"dismiss-{item.id}", actor, ids),
        )


def reply_box(card: inbox.Card, actor: Actor) -> None:
    """Prepared replies filled in (copy button on each), the original post to answer there, and
    "mark answered" with the reply's link. Vigía never posts by itself."""
    item = card.item
    suggested = inbox.suggested(item, actor.name)
    noun = "respuesta preparada" if len(suggested) == 1 else "respuestas preparadas"
    with st.expander(f"Responder (reply) · {len(suggested)} {noun}", icon=":material/quickreply:"):
        for title, text in suggested:
            st.markdown(f"**{data.md_escape(title)}**")
            st.code(text, language=None, wrap_lines=True)
        if not suggested:
            st.caption("No hay respuestas preparadas para este tema e idioma.")
        if card.url:
            st.link_button(
                "Abrir la publicación para responder", card.url, icon=":material/open_in_new:"
            )
        st.text_input(
            "Enlace de tu respuesta (reply URL, opcional)",
            key=f"reply-url-{item.id}",
            placeholder="https://…",
        )
        st.button(
            "Marcar respondida",
            key=f"answer-{item.id}",
            type="primary",
            icon=":material/mark_chat_read:",
            on_click=answer_one,
            args=(actor, item.id),
        )


def notes_box(item_id: int, actor: Actor, may_work: bool) -> None:
    found = inbox.notes(item_id)
    with st.expander(f"Notas (notes) · {len(found)}", icon=":material/sticky_note_2:"):
        for note in found:
            st.markdown(
                f"**{data.md_escape(note.author)}** · {data.local_time(note.at)}  \n"
                f"{data.md_escape(note.text)}"
            )
        if not may_work:
            return
        with st.form(f"note-form-{item_id}", clear_on_submit=True, border=False):
            text = st.text_area("Nota (note)", key=f"note-{item_id}", height=80)
            if st.form_submit_button(
                "Añadir nota", icon=":material/add:", key=f"note-save-{item_id}"
            ):
                act(inbox.note, actor, item_id, text)
                st.rerun()


def grouped_box(item_id: int, count: int) -> None:
    with st.expander(f"{count} menciones agrupadas (grouped)", icon=":material/stacks:"):
        for m in inbox.grouped(item_id):
            link = f" · [abrir ↗]({m.url})" if m.url else ""
            about = data.md_escape(f"{m.source} · {m.author or '—'} · {m.published}")
            st.caption(about + link)
            st.markdown(data.md_escape(m.text) if m.text else "_(texto borrado)_")


def show(card: inbox.Card, actor: Actor, may_work: bool, team: list[str]) -> None:
    """One item as a card: selection, state, score and reasons, the post, then what to do."""
    item = card.item
    with st.container(border=True):
        with st.container(horizontal=True, gap="small", vertical_alignment="center"):
            if may_work:
                st.checkbox(f"#{item.id}", key=f"pick-{item.id}")
            else:
                st.markdown(f"**#{item.id}**")
            st.badge(inbox.STATE_NAMES[item.state], color=STATE_BADGES[item.state])
            st.badge(
                data.md_escape(item.assignee) if item.assignee else "Sin asignar",
                icon=":material/person:",
                color="gray",
            )
            st.badge(data.md_escape(item.brand), color="gray")
        colour = URGENCY_COLOURS.get(card.urgency)
        headline = f"**{data.md_escape(card.headline)}**"
        st.markdown(f":{colour}[:material/alarm: {headline}]" if colour else headline)
        st.markdown(data.md_escape(card.text) if card.text else "_(texto borrado)_")
        about = data.md_escape(f"{card.author or '—'} · {item.source} · {card.published}")
        links = [f"[Abrir original ↗]({card.url})"] if card.url else []
        links += [f"[Ver respuesta ↗]({card.reply_url})"] if card.reply_url else []
        st.caption(" · ".join([about, *links]))
        if item.mentions > 1:
            grouped_box(item.id, item.mentions)
        if may_work:
            actions_row(card, actor, team)
            if item.open:
                reply_box(card, actor)
        notes_box(item.id, actor, may_work)


actor = access.require(Permission.READ)
may_work = actor.may(Permission.WORK_INBOX)
f = data.current_filters()
now = datetime.now(UTC)
st.title("Bandeja (Inbox)")
st.caption(
    f"{', '.join(f.brands) or 'Todas las marcas'} · de la más urgente a la menos · "
    f"horas en {data.settings().timezone}"
)
show_outcome()

# The item an escalation e-mail links to (`/inbox?item=N`) comes first, whatever its state.
wanted_item = st.query_params.get("item", "")
linked = (
    inbox.card(int(wanted_item), now) if wanted_item.isdigit() and len(wanted_item) < 19 else None
)
if wanted_item and linked is None:
    st.info(f"No hay ningún elemento n.º {data.md_escape(wanted_item)}. (No such item.)")
if linked is not None:
    st.subheader(f"Elemento #{linked.item.id} (linked item)")
    show(linked, actor, may_work, inbox.teammates() if may_work else [])
    st.divider()

view = st.segmented_control(
    "Mostrar (show)",
    list(inbox.VIEWS),
    format_func=lambda v: inbox.VIEWS[v],
    default="open",
    required=True,
    key="inbox_view",
    on_change=first_page,
)
wanted = inbox.queue_filter(view or "open", f.brands, actor.name)
total = inbox.count(wanted, now)
pages = max(1, math.ceil(total / inbox.PAGE_SIZE))
if st.session_state.get(PAGE_KEY, 1) > pages:  # the queue shrank under the page shown
    st.session_state[PAGE_KEY] = pages
number = st.session_state.get(PAGE_KEY, 1)
cards = inbox.page(wanted, number, now)
if not cards:
    st.success("No hay nada pendiente aquí. (Nothing here.)", icon=":material/check_circle:")
    st.stop()

first = (number - 1) * inbox.PAGE_SIZE + 1
st.caption(f"{first}–{first + len(cards) - 1} de {total} · página {number} de {pages}")
if may_work:
    picked = [c.item.id for c in cards if st.session_state.get(f"pick-{c.item.id}")]
    if picked:
        bulk_bar(actor, picked)
team = inbox.teammates() if may_work else []
for card in cards:
    if linked is None or card.item.id != linked.item.id:
        show(card, actor, may_work, team)
if pages > 1:
    st.pagination(pages, key=PAGE_KEY)
