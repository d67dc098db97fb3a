"""Suggested exclusions from items dismissed as irrelevant: what is suggested (and what not),
accepting one as a manager (audited), and the pipeline no longer matching it to the brand."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine

from tests.vigia.test_inbox_intake import NOW, analysed, queue, store
from vigia.access.roles import Actor, Forbidden, Role
from vigia.analyse import Analyser
from vigia.config import BrandConfig, Settings
from vigia.inbox import actions, exclusions
from vigia.storage import audit, connect
from vigia.storage.exclusions import accepted

BRAND = BrandConfig(name="Vellora", keywords=["vellora"], exclude=["vellora beach"])
NORA = Actor("nora", Role.AGENT, "dashboard")
MARTA = Actor("marta", Role.MANAGER, "dashboard")


@pytest.fixture
def engine(tmp_path: Path) -> Engine:
    return connect(f"sqlite:///{tmp_path / 'vigia.db'}")


def dismiss_town_news(engine: Engine) -> None:
    """Three posts about the town of Vellora del Monte and one real complaint; the town's are
    dismissed as irrelevant by an agent."""
    store(
        engine,
        [
            analysed("t1", "Qué pena lo de las fiestas de Vellora del Monte, todo cancelado?"),
            analysed("t2", "Corte de luz en Vellora del Monte desde ayer, un desastre", author="b"),
            analysed("t3", "Inundaciones en Vellora del Monte: el pueblo pide ayuda", author="c"),
            analysed("c1", "Vellora no me devuelve el dinero del pedido 4471", author="d"),
        ],
    )
    town = [item.id for item in queue(engine) if "Monte" in (item.text or "")]
    actions.dismiss(engine, NORA, town, "irrelevant", NOW)


def test_phrases_of_irrelevant_items_only_are_suggested(engine: Engine) -> None:
    dismiss_town_news(engine)
    suggestions = exclusions.suggest(engine, BRAND)
    # "vellora del monte" is in all three dismissed posts and in no complaint; its parts
    # ("vellora del", "del monte") always come with it, so only the longer phrase is offered.
    # "en vellora del monte" is in two: offered after it.
    assert [(s.phrase, s.items) for s in suggestions] == [
        ("vellora del monte", 3),
        ("en vellora del monte", 2),
    ]
    assert all("devuelve" not in s.phrase for s in suggestions)
    assert "vellora" not in {s.phrase for s in suggestions}


def test_a_manager_accepts_and_the_brand_stops_matching(engine: Engine) -> None:
    dismiss_town_news(engine)
    with pytest.raises(Forbidden):
        exclusions.accept(engine, NORA, "Vellora", "vellora del monte", NOW)
    assert exclusions.accept(engine, MARTA, "Vellora", "Vellora del Monte", NOW)
    assert not exclusions.accept(engine, MARTA, "Vellora", "vellora del monte", NOW)  # once
    with engine.connect() as conn:
        in_force = accepted(conn)
        (entry,) = [e for e in audit.entries(conn) if e.action == "brand.exclude"]
    assert in_force == {"Vellora": ["vellora del monte"]}
    assert (entry.actor, entry.after) == ("marta", {"exclude": "vellora del monte"})
    offered = exclusions.suggest(engine, BRAND, in_force["Vellora"])
    assert "vellora del monte" not in {s.phrase for s in offered}

    settings = Settings(brands=[BRAND])
    analyser = Analyser(settings)
    town = analysed("t9", "Fiestas de Vellora del Monte", minutes_ago=1).mention
    assert analyser.analyse_all([town])[0].brand == "Vellora"
    analyser.use_accepted_exclusions(in_force)
    assert analyser.analyse_all([town])[0].brand is None
    # The brand's own complaints still match, and config.yaml's exclude still applies.
    complaint = analysed("c9", "Vellora no contesta", minutes_ago=1).mention
    beach = analysed("b9", "Vellora beach hoy", minutes_ago=1).mention
    assert [a.brand for a in analyser.analyse_all([complaint, beach])] == ["Vellora", None]
    assert exclusions.withdraw(engine, MARTA, "Vellora", "vellora del monte", NOW + timedelta(1))
