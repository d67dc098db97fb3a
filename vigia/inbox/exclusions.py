"""Suggested brand exclusions: phrases around the brand's name that keep turning up in items
dismissed as irrelevant ("fiestas de Vellora del Monte", a namesake town) and never in the
others. A manager accepts one, and from then on it rules a match out like `exclude` in
config.yaml (both apply; the analysis picks accepted phrases up at its next batch).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine

from analysis.text import fold
from vigia.access.roles import Actor, Permission
from vigia.config import BrandConfig
from vigia.inbox.rules import normalised
from vigia.storage import audit
from vigia.storage import exclusions as stored

MIN_ITEMS = 2  # a phrase must turn up in this many irrelevant items to be suggested
SAMPLE = 2000  # items read on each side
# Word spans around a brand word: (words before, words after).
_SPANS = ((1, 0), (0, 1), (1, 1), (2, 0), (0, 2), (2, 1), (1, 2))


@dataclass(frozen=True)
class Suggestion:
    phrase: str
    items: int  # irrelevant items whose text holds it


def phrases_around(text: str, brand_words: set[str]) -> set[str]:
    """The short phrases (2-4 words) that hold a brand word and its neighbours in `text`."""
    words = normalised(text).split()
    found: set[str] = set()
    for at, word in enumerate(words):
        if word not in brand_words:
            continue
        for before, after in _SPANS:
            if at - before >= 0 and at + after < len(words):
                found.add(" ".join(words[at - before : at + after + 1]))
    return found


def _counts(texts: Iterable[str], brand_words: set[str]) -> Counter[str]:
    counts: Counter[str] = Counter()
    for text in texts:
        counts.update(phrases_around(text, brand_words))
    return counts


def suggest(engine: Engine, brand: BrandConfig, already: Iterable[str] = ()) -> list[Suggestion]:
    """Phrases in at least MIN_ITEMS irrelevant items and in none of the brand's other items,
    the most frequent first; of two that always occur together, only the longer."""
    brand_words = {w for term in brand.terms for w in normalised(term).split()}
    with engine.connect() as conn:
        irrelevant = _counts(stored.item_texts(conn, brand.name, True, SAMPLE), brand_words)
        kept = _counts(stored.item_texts(conn, brand.name, False, SAMPLE), brand_words)
    known = {fold(p) for p in (*brand.exclude, *already)}
    frequent = {p: n for p, n in irrelevant.items() if n >= MIN_ITEMS and not kept[p]}
    chosen = [
        Suggestion(phrase, n)
        for phrase, n in frequent.items()
        if phrase not in known
        and not any(
            phrase != longer and phrase in longer and frequent[longer] == n for longer in frequent
        )  # fmt: skip
    ]
    return sorted(chosen, key=lambda s: (-s.items, -len(s.phrase), s.phrase))


def accept(engine: Engine, actor: Actor, brand: str, phrase: str, now: datetime) -> bool:
    """Exclude `phrase` for `brand` from now on, as `actor` (managers), audited."""
    actor.require(Permission.EDIT_REPLIES)
    phrase = " ".join(normalised(phrase).split())
    if not phrase:
        raise ValueError("the phrase is empty")
    with engine.begin() as conn:
        added = stored.add(conn, brand, phrase, actor.name, now)
        if added:
            audit.record(conn, actor=actor.name, via=actor.via, action="brand.exclude",
                         target=f"brand {brand}", before={}, after={"exclude": phrase}, at=now)  # fmt: skip
    return added


def withdraw(engine: Engine, actor: Actor, brand: str, phrase: str, now: datetime) -> bool:
    """Stop excluding an accepted phrase, as `actor` (managers), audited."""
    actor.require(Permission.EDIT_REPLIES)
    with engine.begin() as conn:
        removed = stored.remove(conn, brand, phrase)
        if removed:
            audit.record(conn, actor=actor.name, via=actor.via, action="brand.include",
                         target=f"brand {brand}", before={"exclude": phrase}, after={}, at=now)  # fmt: skip
    return removed
