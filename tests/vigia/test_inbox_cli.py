"""`vigia inbox` as an operator or a script runs it: list (text and JSON, highest priority
first), assign, close, escalate, reopen and note, as a named account checked and audited; stats;
and test-rule on a sample text."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

from sqlalchemy import Engine

from tests.vigia.conftest import Run
from tests.vigia.test_inbox_intake import ADMIN, NOW, analysed, store
from vigia.access.accounts import add_user
from vigia.access.roles import Actor, Role
from vigia.inbox import actions
from vigia.storage.audit import entries
from vigia.storage.inbox import get_item


def seed_inbox(engine: Engine) -> list[int]:
    """Three items: a loud refund complaint, a plain delivery complaint, a question."""
    add_user(engine, ADMIN, "nora", "agent", "nora-atiende-2026", NOW)
    add_user(engine, ADMIN, "victor", "viewer", "victor-solo-lee-2026", NOW)
    store(
        engine,
        [
            analysed("1", "Vellora no me devuelve el dinero, vergüenza", -0.9, likes=400),
            analysed("2", "Vellora mi pedido 4471 sigue sin llegar", -0.4, author="pepa"),
            analysed("3", "¿Vellora abre los domingos?", 0.0, author="ana", topics=()),
        ],
    )
    with engine.connect() as conn:
        return [i for i in range(1, 4) if get_item(conn, i) is not None]


def test_list_is_highest_priority_first_in_text_and_json(
    engine: Engine, vigia: Callable[..., Run]
) -> None:
    seed_inbox(engine)
    listed = vigia("inbox", "list", "--json")
    assert listed.code == 0, listed.err
    items = json.loads(listed.out)
    assert [i["text"][:24] for i in items] == [
        "Vellora no me devuelve e",
        "Vellora mi pedido 4471 s",
        "¿Vellora abre los doming",
    ]
    assert {"id", "state", "priority", "assignee", "brand", "text", "url"} <= set(items[0])
    text = vigia("inbox", "list")
    assert text.out.splitlines()[-1] == "3 of 3 items (open), highest priority first"


def test_assign_close_escalate_reopen_as_an_agent_are_audited(
    engine: Engine, vigia: Callable[..., Run]
) -> None:
    top, second, question = seed_inbox(engine)
    assert vigia("inbox", "assign", str(top), str(second), "nora", "--as", "nora").code == 0
    closed = vigia(
        "inbox", "close", str(top), "--reason", "answered", "--note", "Reembolso hecho",
        "--reply-url", "https://social.example/r/1", "--as", "nora",
    )  # fmt: skip
    assert closed.code == 0 and f"inbox item {top}: closed (answered" in closed.out
    assert vigia("inbox", "close", str(question), "--reason", "dismissed", "--as", "nora").code == 0
    assert vigia("inbox", "escalate", str(second), "--as", "nora").code == 0
    assert vigia("inbox", "reopen", str(top), "--as", "nora").code == 0
    with engine.connect() as conn:
        item = get_item(conn, top)
        dismissed = get_item(conn, question)
        trail = [(e.actor, e.via, e.action) for e in entries(conn) if e.actor == "nora"]
    assert item is not None and (item.state, item.assignee) == ("assigned", "nora")
    assert item.reply_url == "https://social.example/r/1" and item.first_response_at is not None
    assert dismissed is not None and dismissed.close_reason == "irrelevant"
    assert {a for _, via, a in trail if via == "cli"} == {
        "inbox.assign",
        "inbox.answer",
        "inbox.note",
        "inbox.dismiss",
        "inbox.escalate",
        "inbox.reopen",
    }


def test_a_viewer_cannot_work_the_inbox(engine: Engine, vigia: Callable[..., Run]) -> None:
    top, *_ = seed_inbox(engine)
    refused = vigia("inbox", "close", str(top), "--reason", "answered", "--as", "victor")
    assert refused.code == 1 and "needs the agent role" in refused.err
    assert vigia("inbox", "list", "--as", "victor").code == 0  # reading is fine
    unknown = vigia("inbox", "assign", "999", "nora", "--as", "nora")
    assert unknown.code == 1 and "no inbox item with id 999" in unknown.err
    with engine.connect() as conn:
        item = get_item(conn, top)
    assert item is not None and item.state == "new"


def test_stats_give_the_weeks_response_times(engine: Engine, vigia: Callable[..., Run]) -> None:
    top, second, _ = seed_inbox(engine)
    # Published 30 minutes before NOW; answered 20 minutes after it: 50 minutes to respond.
    actions.answer(engine, Actor("nora", Role.AGENT, "cli"), [top], NOW + timedelta(minutes=20))
    week = f"{NOW.isocalendar().year}-W{NOW.isocalendar().week:02d}"
    run = vigia("inbox", "stats", "--week", week, "--json")
    assert run.code == 0, run.err
    (overall,) = [row for row in json.loads(run.out) if row["dimension"] == "all"]
    assert (overall["items"], overall["answered"], overall["open"]) == (3, 1, 2)
    assert overall["median_first_response_min"] == 50.0
    table = vigia("inbox", "stats", "--week", week)
    assert table.out.startswith(f"{week}: items opened that week")


def test_test_rule_takes_the_authors_followers(config: Path, vigia: Callable[..., Run]) -> None:
    rule = "{name: loud-voice, max_compound: -0.5, min_followers: 10000}"
    config.write_text(config.read_text() + f"inbox: {{escalation: [{rule}]}}\n", encoding="utf-8")
    text = "Vellora es un desastre, pésimo servicio"
    heard = vigia("inbox", "test-rule", text, "--followers", "23000")
    assert heard.code == 0, heard.err
    assert "loud-voice: escalates" in heard.out and "✓ 23000 followers ≥ 10000" in heard.out
    assert "23.0 k seguidores · regla loud-voice" in heard.out
    # Without --followers the count is unknown, as on a platform that gives none.
    assert "✗ followers unknown (needs 10000)" in vigia("inbox", "test-rule", text).out
