"""What makes a mention an inbox item, which items are one, and how urgent each is.

Pure functions over one analysed mention; nothing here reads the database.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

from analysis.text import fold
from vigia.analyse import AnalysedMention
from vigia.config import EscalationRule, InboxConfig

# Below this many characters of normalised text, texts are too short to say two posts are one
# ("😡", "fatal"): such a mention groups only with its own link.
MIN_GROUPING_TEXT = 24
_URL = re.compile(r"https?://\S+", re.IGNORECASE)
_HANDLE = re.compile(r"(?<!\w)@[\w.-]+")
_REPOST = re.compile(r"^(rt|via)\b[:\s]*", re.IGNORECASE)
_NOT_WORD = re.compile(r"[\W_]+")
_QUESTION_OPENERS = re.compile(
    r"^\s*(alguien sabe|sab[eé]is|me pueden|pod[eé]is|c[oó]mo|cu[aá]ndo|d[oó]nde|por qu[eé]|"
    r"how|when|where|why|can i|can you|could you|does anyone|is there|anyone know)\b",
    re.IGNORECASE,
)
# Points of the 0-100 priority score.
NEGATIVITY_POINTS = 40
REACH_POINTS = 15
ENGAGEMENT_POINTS = 20
ESCALATION_POINTS = 25
QUESTION_POINTS = 5
TOPIC_POINTS = 10
ENGAGEMENT_SCALE = 1000  # this many interactions (or more) give every engagement point
REACH_SCALE = 100_000  # this many followers (or more) give every reach point
VERY_NEGATIVE = -0.6


def normalised(text: str) -> str:
    """The words of `text` for grouping: no links, handles, "RT", punctuation, case or accents."""
    text = _REPOST.sub("", _HANDLE.sub(" ", _URL.sub(" ", text)).strip())
    return " ".join(_NOT_WORD.sub(" ", fold(text)).split())


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8")).hexdigest()[:32]


def group_key(text: str, url: str) -> str:
    """Mentions with the same key are one item: the same words (a repost, the same complaint
    pasted on several sources), or, for a text too short to tell, the same link."""
    words = normalised(text)
    return "t:" + _digest(words) if len(words) >= MIN_GROUPING_TEXT else "u:" + _digest(url)


def links_in(text: str) -> list[str]:
    """The http(s) links a text quotes (a quote post links the post it quotes)."""
    return [m.rstrip(".,;:!?)»\"'") for m in _URL.findall(text)]


def author_key(source: str, author: str | None) -> str | None:
    return _digest(f"{source}\n{author.casefold()}") if author else None


def thread_key(source: str, thread_id: str | None) -> str | None:
    return _digest(f"{source}\n{thread_id}") if thread_id else None


def is_question(text: str) -> bool:
    """The mention asks something: a question mark, or an opening such as "¿alguien sabe"."""
    return "?" in text or "¿" in text or bool(_QUESTION_OPENERS.match(text))


def needs_attention(item: AnalysedMention, config: InboxConfig) -> bool:
    """A brand mention that is negative or a question (as `config.include` says)."""
    if item.brand is None:
        return False
    wanted = set(config.include)
    return ("negative" in wanted and item.label == "negative") or (
        "question" in wanted and is_question(item.mention.text)
    )


def _has_term(folded_text: str, term: str) -> bool:
    return re.search(rf"(?<!\w){re.escape(fold(term))}(?!\w)", folded_text) is not None


def engagement(item: AnalysedMention) -> int:
    e = item.mention.engagement
    return sum(v or 0 for v in (e.replies, e.reposts, e.likes, e.quotes, e.score))


def followers(item: AnalysedMention) -> int:
    """The author's followers as fetched; 0 where the platform does not say."""
    return item.mention.author_followers or 0


def escalation(item: AnalysedMention, rules: Sequence[EscalationRule]) -> tuple[str, str] | None:
    """The first rule the mention meets, with the term that matched (or ""); None if none.

    A `min_followers` rule is not met where the platform gives no follower count.
    """
    folded = fold(item.mention.text)
    compound = item.sentiment.compound if item.sentiment else 0.0
    for rule in rules:
        term = next((t for t in rule.terms if _has_term(folded, t)), None)
        if rule.terms and term is None:
            continue
        if rule.topics and not set(rule.topics) & set(item.topics):
            continue
        if rule.max_compound is not None and compound > rule.max_compound:
            continue
        if rule.min_engagement is not None and engagement(item) < rule.min_engagement:
            continue
        known = item.mention.author_followers
        if rule.min_followers is not None and (known is None or known < rule.min_followers):
            continue
        return rule.name, term or ""
    return None


@dataclass(frozen=True)
class Priority:
    """A 0-100 score and its reasons, one short Spanish phrase each."""

    score: float
    reasons: tuple[str, ...]


def compact(number: float) -> str:
    """2300 -> "2.3 k", 950 -> "950", 1_400_000 -> "1.4 M" (followers run into the millions)."""
    if number >= 1_000_000:
        return f"{number / 1_000_000:.1f} M"
    return f"{number / 1000:.1f} k" if number >= 1000 else f"{number:.0f}"


def _log_share(count: int, scale: int) -> float:
    """`count` against `scale` on a log scale, at most 1: 10 of 1000 is a third, not 1%."""
    return min(math.log10(1 + count) / math.log10(1 + scale), 1.0)


def priority(item: AnalysedMention, escalated_by: tuple[str, str] | None) -> Priority:
    """Negativity, the author's reach (followers, where the platform gives them), engagement,
    an escalation term, a complaint topic and a question, added up; age against the target is
    added when the queue is read."""
    score = 0.0
    reasons: list[str] = []
    compound = item.sentiment.compound if item.sentiment else 0.0
    if compound < 0:
        score += NEGATIVITY_POINTS * min(-compound, 1.0)
        reasons.append("muy negativa" if compound <= VERY_NEGATIVE else "negativa")
    reach = followers(item)
    if reach > 0:
        score += REACH_POINTS * _log_share(reach, REACH_SCALE)
        reasons.append(f"{compact(reach)} {'seguidor' if reach == 1 else 'seguidores'}")
    interactions = engagement(item)
    if interactions:
        score += ENGAGEMENT_POINTS * _log_share(interactions, ENGAGEMENT_SCALE)
        noun = "interacción" if interactions == 1 else "interacciones"
        reasons.append(f"{compact(interactions)} {noun}")
    if escalated_by is not None:
        score += ESCALATION_POINTS
        rule, term = escalated_by
        reasons.append(f"menciona '{term}'" if term else f"regla {rule}")
    if item.topics:  # shown with the item's topic, in the UI's words
        score += TOPIC_POINTS
    if is_question(item.mention.text):
        score += QUESTION_POINTS
        reasons.append("pregunta")
    return Priority(round(min(score, 100.0), 1), tuple(reasons))
