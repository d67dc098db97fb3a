"""Complaint topics: taxonomy terms matched on Snowball stems, case- and accent-insensitively."""

from __future__ import annotations

import re
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import snowballstemmer

from analysis.text import fold

# ISO 639-1 -> Snowball algorithm; a language without one is matched on folded words.
_SNOWBALL = {
    "ca": "catalan",
    "da": "danish",
    "de": "german",
    "en": "english",
    "es": "spanish",
    "fr": "french",
    "it": "italian",
    "nl": "dutch",
    "pt": "portuguese",
    "sv": "swedish",
}
_TOKEN = re.compile(r"[^\W_]+", re.UNICODE)


class _Stemmer:
    """Folded-word -> stem, memoised: mentions repeat the same few thousand words."""

    def __init__(self, lang: str) -> None:
        name = _SNOWBALL.get(lang)
        self._stemmer = snowballstemmer.stemmer(name) if name else None
        self._cache: dict[str, str] = {}
        # Stemmer objects keep per-call state; polls of several sources are analysed in threads.
        self._lock = threading.Lock()

    def __call__(self, word: str) -> str:
        stem = self._cache.get(word)
        if stem is None:
            if self._stemmer is None:
                stem = word
            else:
                with self._lock:
                    stem = self._stemmer.stemWord(word)
            if len(self._cache) < 200_000:
                self._cache[word] = stem
        return stem


@dataclass(frozen=True)
class TopicMatcher:
    """Compiled taxonomy; `match(text)` returns the sorted topic keys whose terms occur."""

    # per language: (language, stemmer, first stem -> [(all stems of a term, topic key)])
    _index: tuple[tuple[str, _Stemmer, dict[str, list[tuple[tuple[str, ...], str]]]], ...]
    topics: tuple[str, ...]

    def match(self, text: str, lang: str | None = None) -> tuple[str, ...]:
        """Topic keys mentioned in `text`, sorted; empty when none.

        With `lang`, only that language's terms are tried (when the taxonomy has any), which
        avoids rare cross-language homographs; without it, every language's terms are.
        """
        words = _TOKEN.findall(fold(text))
        found: set[str] = set()
        use_all = lang is None or not any(code == lang for code, _, _ in self._index)
        for code, stem, index in self._index:
            if not use_all and code != lang:
                continue
            stems = [stem(w) for w in words]
            for i, first in enumerate(stems):
                for term, topic in index.get(first, ()):
                    if topic not in found and tuple(stems[i : i + len(term)]) == term:
                        found.add(topic)
        return tuple(sorted(found))


def compile_topics(taxonomy: Mapping[str, Mapping[str, Sequence[str]]]) -> TopicMatcher:
    """Build a matcher from {topic_key: {lang: [terms, ...]}}; terms may span several words."""
    per_lang: dict[str, dict[str, list[tuple[tuple[str, ...], str]]]] = {}
    stemmers: dict[str, _Stemmer] = {}
    for topic, by_lang in taxonomy.items():
        for lang, terms in by_lang.items():
            if isinstance(terms, str):
                raise ValueError(f"topics.{topic}.{lang}: expected a list of terms, got a string")
            stem = stemmers.setdefault(lang, _Stemmer(lang))
            index = per_lang.setdefault(lang, {})
            for term in terms:
                stems = tuple(stem(w) for w in _TOKEN.findall(fold(term)))
                if not stems:
                    raise ValueError(f"topics.{topic}.{lang}: empty term {term!r}")
                index.setdefault(stems[0], []).append((stems, topic))
    return TopicMatcher(
        tuple((lang, stemmers[lang], index) for lang, index in sorted(per_lang.items())),
        tuple(sorted(taxonomy)),
    )
