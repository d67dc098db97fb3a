"""Brand matching: whole words, case- and accent-insensitive, with per-brand exclusions."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from analysis.text import fold


@dataclass(frozen=True, slots=True)
class BrandTerms:
    """What identifies one brand in text: its name, keywords and aliases, and phrases that rule it out."""

    name: str
    terms: Sequence[str]
    exclusions: Sequence[str] = ()


def _alternation(phrases: Sequence[str]) -> re.Pattern[str] | None:
    folded = sorted({fold(p).strip() for p in phrases if p.strip()}, key=len, reverse=True)
    if not folded:
        return None
    # Whole words: no word character may touch either end (handles "@acme", "#acme" and "acme.com").
    body = "|".join(r"\s+".join(map(re.escape, p.split())) for p in folded)
    return re.compile(rf"(?<!\w)(?:{body})(?!\w)")


class BrandMatcher:
    """Finds which configured brand a text talks about."""

    def __init__(self, brands: Sequence[BrandTerms]) -> None:
        self._brands = [
            (brand.name, _alternation(brand.terms), _alternation(brand.exclusions))
            for brand in brands
        ]

    def match(self, text: str, only: str | None = None) -> str | None:
        """The first brand whose terms occur in `text` and whose exclusions do not; `only` limits to one."""
        folded = fold(text)
        for name, terms, exclusions in self._brands:
            if only is not None and name != only:
                continue
            if terms is None or not terms.search(folded):
                continue
            if exclusions is not None and exclusions.search(folded):
                continue
            return name
        return None
