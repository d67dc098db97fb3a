"""Language detection for mentions: py3langid restricted to the configured languages."""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache

from py3langid.langid import MODEL_FILE, LanguageIdentifier

# Handles, hashtags and links are brand names and ids, not language: they mislead n-gram models.
_NOISE = re.compile(r"https?://\S+|www\.\S+|[@#][\w.]+", re.UNICODE)
_LETTER = re.compile(r"[^\W\d_]", re.UNICODE)

# Below this many letters the n-gram evidence is too thin to overrule a source's declared language.
MIN_LETTERS = 15
# Normalised probability (over the allowed languages) under which we defer to the prior.
MIN_CONFIDENCE = 0.90


@lru_cache(maxsize=16)
def _identifier(allowed: tuple[str, ...]) -> LanguageIdentifier:
    """One identifier per set of allowed languages; loading the model costs ~0.2 s."""
    identifier = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
    identifier.set_languages(list(allowed))
    return identifier


def load_model(allowed: Sequence[str]) -> None:
    """Load the model for `allowed` now: polls starting at once in several threads would each
    load it (the cache does not stop concurrent first calls)."""
    if allowed:
        _identifier(tuple(sorted(set(allowed))))


def clean_for_detection(text: str) -> str:
    """Drop URLs, @handles and #hashtags, and collapse whitespace."""
    return " ".join(_NOISE.sub(" ", text).split())


def detect_language(text: str, allowed: Sequence[str], prior: str | None = None) -> str | None:
    """Return the most likely language of `text` among `allowed` (ISO 639-1 codes).

    `prior` is the source's declared language: it wins when the text is too short or the model
    is unsure. Without a prior, an unsure guess is still returned; text with no letters gives the
    prior (if allowed) or None. Raises ValueError for a code py3langid does not know.
    """
    if not allowed:
        return None
    allowed_key = tuple(sorted(set(allowed)))
    usable_prior = prior if prior in allowed_key else None
    cleaned = clean_for_detection(text)
    letters = len(_LETTER.findall(cleaned))
    if letters == 0:
        return usable_prior
    identifier = _identifier(allowed_key)
    if len(allowed_key) == 1:
        return allowed_key[0]
    lang, confidence = identifier.classify(cleaned)
    if usable_prior is not None and (letters < MIN_LETTERS or confidence < MIN_CONFIDENCE):
        return usable_prior
    return str(lang)
