"""Applying the analysis functions to fetched mentions: brand, language, sentiment and topics."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from analysis.brands import BrandMatcher, BrandTerms
from analysis.language import detect_language
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
        self.brands = BrandMatcher(
            [BrandTerms(b.name, b.terms, b.exclude) for b in settings.brands]
        )
        self.languages = tuple(settings.analysis.languages)
        self.thresholds: dict[str, Thresholds] = dict(DEFAULT_THRESHOLDS)
        for lang, cut in settings.analysis.thresholds.items():
            self.thresholds[lang] = Thresholds(negative=cut.negative, positive=cut.positive)
        self.topics: TopicMatcher = compile_topics(settings.topics)
        self.source_brand = {s.name: s.brand for s in settings.sources}
        self.always_brand = {s.name: s.brand for s in settings.sources if s.match == "always"}
        self.source_language = {s.name: s.language for s in settings.sources}

    def analyse(self, mention: Mention) -> AnalysedMention:
        """Brand, language, sentiment and topics of one mention."""
        text = mention.text
        brand = self.always_brand.get(mention.source) or self.brands.match(
            text, only=self.source_brand.get(mention.source)
        )
        prior = mention.language or self.source_language.get(mention.source)
        language = detect_language(text, self.languages, prior)
        sentiment = score(text, language)
        cut = self.thresholds.get(language or "")
        verdict = label(sentiment.compound, cut) if sentiment is not None and cut else None
        return AnalysedMention(
            mention=mention,
            brand=brand,
            language=language,
            sentiment=sentiment,
            label=verdict,
            topics=self.topics.match(text, language),
        )

    def analyse_all(self, mentions: Sequence[Mention]) -> list[AnalysedMention]:
        return [self.analyse(m) for m in mentions]
