"""Applying the analysis functions to fetched mentions: brand, language, sentiment and topics."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from analysis.brands import BrandMatcher, BrandTerms
from analysis.language import detect_language, load_model
from analysis.sentiment import DEFAULT_THRESHOLDS, Sentiment, Thresholds, label, score
from analysis.topics import TopicMatcher, compile_topics
from collectors.base import Mention
from vigia.config import Settings


@dataclass(frozen=True, slots=True)
class AnalysedMention:
    """A fetched mention with what analysis found in it."""

    mention: Mention
    brand: str | None
    language: str | None
    sentiment: Sentiment | None
    label: str | None
    topics: tuple[str, ...]


class Analyser:
    """Everything analysis needs, compiled once from the settings."""

    def __init__(self, settings: Settings) -> None:
        self._brand_configs = settings.brands
        self._accepted: Mapping[str, Sequence[str]] = {}
        self.brands = BrandMatcher(
            [BrandTerms(b.name, b.terms, b.exclude) for b in settings.brands]
        )
        self.languages = tuple(settings.analysis.languages)
        load_model(self.languages)
        self.thresholds: dict[str, Thresholds] = dict(DEFAULT_THRESHOLDS)
        for lang, cut in settings.analysis.thresholds.items():
            self.thresholds[lang] = Thresholds(negative=cut.negative, positive=cut.positive)
        self.topics: TopicMatcher = compile_topics(settings.topics)
        self.source_brand = {s.name: s.brand for s in settings.sources}
        self.always_brand = {s.name: s.brand for s in settings.sources if s.match == "always"}
        self.source_language = {s.name: s.language for s in settings.sources}

    def use_accepted_exclusions(self, accepted: Mapping[str, Sequence[str]]) -> None:
        """Rule out, besides config.yaml's `exclude`, the phrases accepted on the dashboard
        (by brand); the brand matcher is rebuilt only when they changed."""
        if accepted == self._accepted:
            return
        self._accepted = {brand: list(phrases) for brand, phrases in accepted.items()}
        self.brands = BrandMatcher(
            [
                BrandTerms(b.name, b.terms, [*b.exclude, *self._accepted.get(b.name, ())])
                for b in self._brand_configs
            ]
        )

    def analyse_all(self, mentions: Sequence[Mention]) -> list[AnalysedMention]:
        """Brand, language, sentiment and topics of each mention, in order.

        Each step runs over the whole batch before the next starts, so the language model, the
        lexicons and the topic index each stay in the CPU's cache while they are used: about a
        third faster than analysing mention by mention (measured with bench.ingest).
        """
        texts = [m.text for m in mentions]
        languages = [
            detect_language(
                m.text, self.languages, m.language or self.source_language.get(m.source)
            )
            for m in mentions
        ]
        sentiments = [score(text, lang) for text, lang in zip(texts, languages, strict=True)]
        topics = [
            self.topics.match(text, lang) for text, lang in zip(texts, languages, strict=True)
        ]
        brands = [
            self.always_brand.get(m.source)
            or self.brands.match(m.text, only=self.source_brand.get(m.source))
            for m in mentions
        ]
        return [
            AnalysedMention(
                mention=m,
                brand=brand,
                language=lang,
                sentiment=sentiment,
                label=self._label(sentiment, lang),
                topics=found,
            )
            for m, brand, lang, sentiment, found in zip(
                mentions, brands, languages, sentiments, topics, strict=True
            )
        ]

    def _label(self, sentiment: Sentiment | None, language: str | None) -> str | None:
        cut = self.thresholds.get(language or "")
        return label(sentiment.compound, cut) if sentiment is not None and cut else None
