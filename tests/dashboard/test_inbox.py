"""The Bandeja (inbox) and Respuestas (prepared replies) pages, through Streamlit's AppTest on
the seeded database (tests/dashboard/seed.py: 8 open items, the top one "el envío 8")."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine
from streamlit.testing.v1 import AppTest
from streamlit.testing.v1.element_tree import MenuButton, Pagination

from collectors.text import without_bidi
from dashboard.data import md_escape
from tests.dashboard.conftest import APP, Render, sign_in
from tests.dashboard.seed import (
    AGENT,
    AGENT_PASSWORD,
    BRAND,
    ENGLISH_NEGATIVE,
    HOSTILE_AUTHOR,
    HOSTILE_TEXT,
    NEWEST_NEGATIVE,
    TOP_ITEM_TEXT,
    add_agent,
    add_complaints,
)
from vigia.access.roles import Actor, Forbidden, Role
from vigia.inbox import actions
from vigia.storage import audit
from vigia.storage.inbox import (
    ItemRow,
    QueueFilter,
    get_item,
    queue_page,
    replies,
    update_item,
)

HEADLINE = re.compile(r"^(?::(red|orange)\[:material/alarm: )?\*\*(.+?)\*\*\]?$")


def open_items(engine: Engine) -> list[ItemRow]:
    """The open queue as the page sorts it (with the same "due soon" window: 1 h)."""
    now = datetime.now(UTC)
    with engine.connect() as conn:
        return queue_page(conn, QueueFilter(), now, now + timedelta(hours=1), limit=100)


def item_with(engine: Engine, text: str) -> ItemRow:
    return next(i for i in open_items(engine) if i.text == text)


def item(engine: Engine, item_id: int) -> ItemRow:
    with engine.connect() as conn:
        found = get_item(conn, item_id)
    assert found is not None
    return found


def headlines(at: AppTest) -> list[tuple[str | None, str]]:
    """(highlight colour, score and reasons) of every card, in page order."""
    found = [HEADLINE.match(m.value) for m in at.markdown]
    return [(m[1], m[2].replace("\\", "")) for m in found if m and " · " in m[2]]


def cards(at: AppTest) -> list[int]:
    """The item numbers of the cards shown, from their selection boxes."""
    return [
        int(box.label.lstrip("#")) for box in at.checkbox if (box.key or "").startswith("pick-")
    ]


def menu(at: AppTest, key: str) -> MenuButton:
    """The menu button (assign to, dismiss as) with this key."""
    found = [m for m in at.get("menu_button") if isinstance(m, MenuButton) and m.key == key]
    assert found, f"no menu {key!r}"
    return found[0]


def trail(engine: Engine, item_id: int) -> list[audit.AuditEntry]:
    with engine.connect() as conn:
        return [e for e in audit.entries(conn) if e.target == f"inbox item {item_id}"]


@pytest.fixture
def agent(seeded: tuple[Path, Engine]) -> Iterator[AppTest]:
    """The inbox page signed in as the seeded agent."""
    add_agent(seeded[1])
    at = sign_in(AppTest.from_file(str(APP), default_timeout=60).run(), AGENT, AGENT_PASSWORD)
    at.switch_page("views/inbox.py").run()
    assert not at.exception, at.exception
    yield at


def test_the_queue_is_sorted_by_priority_with_its_reasons_in_one_line(
    agent: AppTest, seeded: tuple[Path, Engine]
) -> None:
    _, engine = seeded
    shown = headlines(agent)
    assert cards(agent) == [i.id for i in open_items(engine)]
    assert "1–8 de 8 · página 1 de 1" in [c.value for c in agent.caption]
    # Score (priority + 15 once overdue), then the reasons, the topic and the deadline.
    colour, top = shown[0]
    assert colour == "red" and top.startswith(
        "54 · muy negativa · 5 interacciones · Delivery · vencida hace 2"
    )
    scores = [int(line.split(" · ")[0]) for _, line in shown]
    assert scores == sorted(scores, reverse=True) and len(scores) == 8
    # The newest complaint is not due for 2 h: no points for age, no highlight.
    assert shown[-1][0] is None
    assert shown[-1][1].startswith("34 · muy negativa · Delivery · vence en ")
    assert md_escape(TOP_ITEM_TEXT) in [m.value for m in agent.markdown]


def test_an_item_in_the_last_quarter_of_its_target_is_orange(
    agent: AppTest, seeded: tuple[Path, Engine]
) -> None:
    _, engine = seeded
    newest = item_with(engine, NEWEST_NEGATIVE)
    with engine.begin() as conn:  # 50 of its 4 h left: under a quarter
        update_item(conn, newest.id, due_at=datetime.now(UTC) + timedelta(minutes=50))
    agent.run()
    colour, line = headlines(agent)[-1]
    assert colour == "orange"
    assert re.fullmatch(r"42 · muy negativa · Delivery · vence en (49|50) min", line)


def test_the_queue_pages_beyond_the_first_page(agent: AppTest, seeded: tuple[Path, Engine]) -> None:
    config, engine = seeded
    add_complaints(config, engine, 30, datetime.now(UTC))
    agent.run()
    first = cards(agent)
    assert len(first) == 25 and "1–25 de 38 · página 1 de 2" in [c.value for c in agent.caption]
    (pages,) = [p for p in agent.get("pagination") if isinstance(p, Pagination)]
    pages.select(2).run()
    assert not agent.exception, agent.exception
    second = cards(agent)
    assert len(second) == 13 and "26–38 de 38 · página 2 de 2" in [c.value for c in agent.caption]
    assert set(first).isdisjoint(second)
    assert first + second == [i.id for i in open_items(engine)]


def test_an_agent_takes_and_answers_the_top_item(
    agent: AppTest, seeded: tuple[Path, Engine]
) -> None:
    _, engine = seeded
    top = open_items(engine)[0].id
    agent.button(key=f"take-{top}").click().run()
    assert agent.success[0].value == md_escape(f"#{top} asignada a {AGENT}")
    assert (item(engine, top).state, item(engine, top).assignee) == ("assigned", AGENT)
    assert not [b for b in agent.button if b.key == f"take-{top}"]  # it is hers now

    reply = "https://vellora-news.example.org/p/8#reply-1"
    agent.text_input(key=f"reply-url-{top}").input(reply)
    agent.button(key=f"answer-{top}").click().run()
    answered = item(engine, top)
    assert (answered.state, answered.reply_url) == ("answered", reply)
    assert answered.first_response_at is not None
    # It leaves the open queue, and the page says how long the answer took (26 h after posting).
    assert top not in cards(agent) and len(cards(agent)) == 7
    assert agent.success[0].value == md_escape(f"Respondida en 26 h (#{top})")
    assert [(e.actor, e.via, e.action) for e in reversed(trail(engine, top))] == [
        (AGENT, "dashboard", "inbox.assign"),
        (AGENT, "dashboard", "inbox.answer"),
    ]
    # The answered view lists it with its response time and reply link, and it can reopen.
    agent.button_group(key="inbox_view").set_value("answered").run()
    assert cards(agent) == [top]
    assert headlines(agent)[0][1].endswith("Delivery · respondida en 26 h")
    agent.button(key=f"reopen-{top}").click().run()
    assert item(engine, top).state == "assigned"


def test_an_agent_escalates_dismisses_assigns_and_notes(
    agent: AppTest, seeded: tuple[Path, Engine]
) -> None:
    _, engine = seeded
    first, second, third = (i.id for i in open_items(engine)[:3])
    agent.button(key=f"escalate-{first}").click().run()
    assert item(engine, first).state == "escalated"
    assert item(engine, first).escalated_at is not None
    menu(agent, f"dismiss-{second}").click("spam").run()
    assert (item(engine, second).state, item(engine, second).close_reason) == ("dismissed", "spam")
    assert second not in cards(agent)
    assign = menu(agent, f"assign-{third}")
    assert set(assign.options) == {AGENT, "marta", "ada"}  # agents and up, not the viewer
    assign.click("marta").run()
    assert item(engine, third).assignee == "marta"

    agent.text_area(key=f"note-{third}").input("Llamó por teléfono: se le repone el pedido.")
    agent.button(key=f"note-save-{third}").click().run()
    assert not agent.exception, agent.exception
    assert any("Llamó por teléfono" in m.value for m in agent.markdown)
    actions_by = {(e.actor, e.action) for i in (first, second, third) for e in trail(engine, i)}
    assert actions_by == {
        (AGENT, "inbox.escalate"),
        (AGENT, "inbox.dismiss"),
        (AGENT, "inbox.assign"),
        (AGENT, "inbox.note"),
    }


def test_bulk_actions_apply_to_the_selection(agent: AppTest, seeded: tuple[Path, Engine]) -> None:
    _, engine = seeded
    picked = [i.id for i in open_items(engine)[:3]]
    assert not [b for b in agent.button if b.key == "bulk-take"]  # nothing selected yet
    for item_id in picked:
        agent.checkbox(key=f"pick-{item_id}").check().run()
    assert "**Con la selección (3):**" in [m.value for m in agent.markdown]
    agent.button(key="bulk-take").click().run()
    assert not agent.exception, agent.exception
    assert [item(engine, i).assignee for i in picked] == [AGENT] * 3
    assert all(trail(engine, i)[0].actor == AGENT for i in picked)
    assert not any(agent.checkbox(key=f"pick-{i}").value for i in picked)  # selection emptied

    for item_id in picked[:2]:
        agent.checkbox(key=f"pick-{item_id}").check().run()
    menu(agent, "bulk-dismiss").click("irrelevant").run()
    assert [item(engine, i).close_reason for i in picked] == ["irrelevant", "irrelevant", None]
    assert cards(agent)[0] == picked[2]


def test_prepared_replies_are_filled_in_for_the_item_and_the_agent(agent: AppTest) -> None:
    shown = [c.value for c in agent.code]
    # The newest complaint gives its order number; its author and the agent sign the reply.
    assert (
        "Hola @usuario0, sentimos mucho el retraso de tu pedido 4471. Lo revisamos ya con el "
        f"transportista y te escribimos por privado hoy mismo. {AGENT}, equipo de {BRAND}"
    ) in shown
    # The English complaint (refunds) gets the English reply only.
    assert (
        "Hi @usuario4, sorry for the wait on your refund. Please DM us your order number and we "
        f"will sort it out today. {AGENT}, {BRAND} care team"
    ) in shown
    links = [b.proto.url for b in agent.get("link_button")]
    assert "https://vellora-news.example.org/p/0" in links


def test_grouped_mentions_and_untrusted_text(agent: AppTest) -> None:
    text = "\n".join(m.value for m in agent.markdown)
    (grouped,) = [e for e in agent.expander if e.label.startswith("3 menciones agrupadas")]
    listed = [m.value for m in grouped.markdown]
    assert len(listed) == 3 and all(md_escape(ENGLISH_NEGATIVE) in m for m in listed)
    # The hostile post: shown literally, without bidi controls, and its javascript: link dropped.
    assert md_escape(without_bidi(HOSTILE_TEXT)) in text
    assert any(c.value.startswith(without_bidi(HOSTILE_AUTHOR)) for c in agent.caption)
    assert "javascript" not in "\n".join(c.value for c in agent.caption)
    assert all("javascript" not in b.proto.url for b in agent.get("link_button"))


def test_a_viewer_reads_the_queue_without_actions(app: Render, seeded: tuple[Path, Engine]) -> None:
    _, engine = seeded
    at = app("views/inbox.py", "victor")
    assert len(headlines(at)) == 8
    assert not at.checkbox and not at.get("menu_button") and not at.text_input
    assert not [b for b in at.button if b.key and b.key.split("-")[0] in ("take", "answer")]
    # The check is on the server: the action refuses a viewer, and records nothing.
    top = open_items(engine)[0].id
    viewer = Actor("victor", Role.VIEWER, "dashboard")
    with pytest.raises(Forbidden, match="needs the agent role"):
        actions.answer(engine, viewer, [top], datetime.now(UTC))
    assert item(engine, top).state == "new" and trail(engine, top) == []
    # Managers' reply editing is not served to a viewer.
    with pytest.raises(ValueError, match="Could not find a navigation page"):
        at.switch_page("views/replies.py")


def test_a_manager_edits_a_prepared_reply(app: Render, seeded: tuple[Path, Engine]) -> None:
    _, engine = seeded
    at = app("views/replies.py")
    assert "{pedido}" in "\n".join(m.value for m in at.markdown)  # the placeholders' help
    assert len(at.code) == 3
    at.selectbox(key="replies_language").select("en").run()
    assert len(at.code) == 1
    at.selectbox(key="replies_language").select("es").run()
    at.text_input(key="reply-title-envio-retraso").input("Tu pedido llega tarde")
    at.text_area(key="reply-body-envio-retraso").input("Hola {autor}, ya vemos tu pedido {pedido}.")
    at.button(key="reply-save-envio-retraso").click().run()
    assert not at.exception, at.exception
    assert at.success[0].value == md_escape("Respuesta guardada: Tu pedido llega tarde")
    with engine.connect() as conn:
        (edited,) = [r for r in replies(conn) if r.key == "envio-retraso"]
        (entry,) = [e for e in audit.entries(conn) if e.action == "reply.edit"]
    assert (edited.title, edited.updated_by) == ("Tu pedido llega tarde", "marta")
    assert (entry.actor, entry.target) == ("marta", "reply envio-retraso")
    # The inbox suggests the new text at once.
    at.switch_page("views/inbox.py").run()
    assert "Hola @usuario0, ya vemos tu pedido 4471." in [c.value for c in at.code]
