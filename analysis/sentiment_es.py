"""Spanish VADER-style sentiment scorer: VADER's rules and scale over our Spanish lexicon."""

from __future__ import annotations

import math
import re
import string
import threading
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import snowballstemmer
from vaderSentiment.vaderSentiment import (
    B_DECR,
    B_INCR,
    C_INCR,
    N_SCALAR,
    SentimentIntensityAnalyzer,
    normalize,
)

LEXICON_PATH = Path(__file__).parent / "data" / "lexicon_es.tsv"

# Unit kinds: a lexicon word (possibly valence 0), a negator, a booster/dampener, a contrast.
WORD, NEG, BOOST, BUT, THOUGH = 0, 1, 2, 3, 4
# A lexicon phrase that starts with a negator ("no funciona"): scored, and negates what follows.
NEG_WORD = 5


def _words(spaced: str) -> frozenset[str]:
    """Word lists are written as text; "_" joins the words of a phrase."""
    return frozenset(spaced.split())


# Negative concord: "no es nada bueno" is one negation, so any negator in scope flips once.
NEGATORS = _words(
    "no nunca jamas ni nada sin tampoco nadie ningun ninguno ninguna ningunos ningunas cero poco "
    "para_nada en_absoluto en_la_vida ni_de_broma ni_de_cona ni_loco ni_loca"
)
INTENSIFIERS = _words(
    "muy super re requete bastante demasiado demasiada demasiados demasiadas tan tanto tanta "
    "mas mucho mucha muchos muchas muchisimo muchisima sumamente extremadamente totalmente "
    "completamente absolutamente realmente verdaderamente increiblemente especialmente "
    "particularmente tremendamente enormemente terriblemente altamente profundamente "
    "mega ultra hiper full re_contra recontra de_lo_mas lo_mas sin_duda sin_dudas "
    "de_verdad la_verdad_que bien_bien mazo"
)
DAMPENERS = _words(
    "un_poco algo apenas medio casi ligeramente relativamente un_tanto mas_o_menos "
    "parcialmente levemente medianamente un_pelin un_pelo un_poquito poquito menos "
    "ocasionalmente"
)
BOOSTERS: dict[str, float] = {
    **dict.fromkeys(INTENSIFIERS, B_INCR),
    **dict.fromkeys(DAMPENERS, B_DECR),
}
CONTRASTS = {"pero": BUT, "sino": BUT, "sin_embargo": BUT, "no_obstante": BUT, "aunque": THOUGH}
# These negate only the word right after them: "nada bueno", "cero profesional", "poco útil";
# in "no sé nada de mi reclamo" the "nada" does not reach "reclamo".
NEAR_NEGATORS = _words("nada cero poco")
# A text opening with "Buenas," or "Hola buenas!" is greeting, not praising.
GREETINGS = _words("buenas buenos hola")
# Clitics and forms of "haber" sit between a negator and its verb ("no me lo han solucionado")
# without ending the negation; they do not count towards VADER's three-word window.
TRANSPARENT = _words(
    "me te se lo la le los las les nos os he has ha hemos habeis han habia habian hubo haya "
    "hayan habra"
)

_ACCENTS = str.maketrans("áéíóúüàèìòùâêîôûäëïö", "aeiouuaeiouaeiouaeio")
_ELONGATED = re.compile(r"(\w)\1{2,}")
_LAUGH = re.compile(r"^(?:ja|je|ji|js|ha){2,}[jaehs]?$")
_CLAUSE_END = frozenset(".,;:!?…")
_CLAUSE_START = frozenset("¿¡")
_PUNCT = string.punctuation + "¿¡«»“”‘’…"
_SUPERLATIVE = re.compile(r"^(\w{2,}?)(?:qu|gu|c)?isim([oa])s?$")

_stemmer = snowballstemmer.stemmer("spanish")
# Snowball stemmer objects (pure Python or PyStemmer's C ones) keep per-call state: the scheduler
# analyses several sources' polls in parallel threads, so calls are serialised.
_stemmer_lock = threading.Lock()


def fold(word: str) -> str:
    """Lower-case and drop accents (keeping ñ): people write "atencion" as often as "atención"."""
    return word.lower().translate(_ACCENTS)


def stem_key(word: str) -> str:
    """Key used for lexicon matching: Snowball Spanish stem of the folded word."""
    folded = fold(word)
    with _stemmer_lock:
        return _stemmer.stemWord(folded)


@dataclass(frozen=True, slots=True)
class Lexicon:
    """Spanish lexicon indexed for lookup: exact folded forms, stems, multi-word expressions."""

    exact: dict[str, float]
    stems: dict[str, float]
    # stems of the first two words -> [(stems of all words, kind, value)], longest first
    phrases: dict[tuple[str, str], list[tuple[list[str], int, float]]]
    emoji: dict[str, float]
    emoticons: dict[str, float]


def _vader_symbols() -> tuple[dict[str, float], dict[str, float]]:
    """Emoji and emoticon valences reused from vaderSentiment's own resources."""
    vader = SentimentIntensityAnalyzer()
    lex = vader.lexicon
    emoji: dict[str, float] = {}
    for char, description in vader.emojis.items():
        # VADER scores an emoji as the words of its description; we precompute that sum once.
        value = sum(lex.get(w, 0.0) for w in description.lower().split())
        if value and len(char) == 1:
            emoji[char] = max(-3.0, min(3.0, value))
    emoticons = {
        k: v
        for k, v in lex.items()
        if any(c in string.punctuation for c in k) and not k.strip(string.punctuation).isalpha()
    }
    return emoji, emoticons


def load_lexicon(path: Path = LEXICON_PATH) -> Lexicon:
    """Read the TSV lexicon (term, valence[, source]) and index it; see the file's header."""
    exact: dict[str, float] = {}
    stems: dict[str, float] = {}
    phrases: dict[tuple[str, str], list[tuple[list[str], int, float]]] = {}
    emoji, emoticons = _vader_symbols()

    def add_phrase(words: list[str], kind: int, value: float) -> None:
        keys = [stem_key(w) for w in words]
        phrases.setdefault((keys[0], keys[1]), []).append((keys, kind, value))

    for line in path.read_text(encoding="utf-8").splitlines():
        if not line or line.startswith("#"):
            continue
        term, raw_value = line.split("\t")[:2]
        value = float(raw_value)
        if len(term) == 1 and not term.isalnum():
            emoji[term] = value  # our ratings for emojis whose English description misleads VADER
        elif " " in term:
            add_phrase(term.split(), WORD, value)
        elif term.startswith("="):
            exact.setdefault(fold(term[1:]), value)
        else:
            exact.setdefault(fold(term), value)
            stems.setdefault(stem_key(term), value)
    for name in NEGATORS:
        if "_" in name:
            add_phrase(name.split("_"), NEG, 0.0)
    for name, value in BOOSTERS.items():
        if "_" in name:
            add_phrase(name.split("_"), BOOST, value)
    for name, kind in CONTRASTS.items():
        if "_" in name:
            add_phrase(name.split("_"), kind, 0.0)
    for entries in phrases.values():
        entries.sort(key=lambda e: -len(e[0]))
    return Lexicon(exact, stems, phrases, emoji, emoticons)


_SINGLE_KIND: dict[str, tuple[int, float]] = {
    **{w: (NEG, 0.0) for w in NEGATORS if "_" not in w},
    **{w: (BOOST, v) for w, v in BOOSTERS.items() if "_" not in w},
    **{w: (k, 0.0) for w, k in CONTRASTS.items() if "_" not in w},
}


class SpanishScorer:
    """Scores Spanish text on VADER's scale; build once and reuse (loading takes ~0.1 s)."""

    def __init__(self, lexicon: Lexicon | None = None) -> None:
        self.lex = lexicon or load_lexicon()
        symbols = "".join(sorted(self.lex.emoji))
        # Emoji glued to words ("genial😍") become tokens of their own, as in VADER.
        self._emoji_re = re.compile("([" + re.escape(symbols) + "])")
        self._emoji_floor = min(symbols)
        self._phrase_first = {first for first, _ in self.lex.phrases}
        self._word = lru_cache(maxsize=65536)(self._word_uncached)
        self._tokens: dict[str, tuple[str, str, int, float, bool, bool, bool, bool]] = {}

    def _word_uncached(self, token: str) -> tuple[str, str, int, float]:
        """(folded form, stem key, kind, value) of one lower-cased token without punctuation."""
        folded = _ELONGATED.sub(r"\1", fold(token))
        if _LAUGH.match(folded):
            folded = "jaja"
        kind_value = _SINGLE_KIND.get(folded)
        key = stem_key(folded)
        if kind_value is not None:
            return folded, key, kind_value[0], kind_value[1]
        value = self.lex.exact.get(folded)
        if value is None:
            value = self.lex.stems.get(key)
        if value is None:
            sup = _SUPERLATIVE.match(folded)
            if sup:
                base = sup.group(1) + sup.group(2)
                base_value = self.lex.exact.get(base, self.lex.stems.get(stem_key(base)))
                if base_value:
                    # "-ísimo" intensifies like a booster would.
                    value = base_value + (B_INCR if base_value > 0 else B_DECR)
        return folded, key, WORD, value or 0.0

    def _token(self, token: str) -> tuple[str, str, int, float, bool, bool, bool, bool]:
        """(folded, stem key, kind, value, is_upper, opens clause, closes clause, is word).

        Called by `_units` on a cache miss only; it fills the cache.
        """
        emo = self.lex.emoji.get(token)
        if emo is None:
            emo = self.lex.emoticons.get(token)
        if emo is not None:
            # Emoji work as punctuation in posts: they close the clause before them and are
            # never inside a negation's scope.
            info = (token, token, WORD, emo, False, True, True, True)
        else:
            word = token.strip(_PUNCT)
            opens = token[0] in _CLAUSE_START
            closes = any(c in _CLAUSE_END for c in token[-2:])
            if word:
                folded, key, kind, value = self._word(word.lower())
                info = (folded, key, kind, value, word.isupper(), opens, closes, True)
            else:
                info = ("", "", WORD, 0.0, False, opens, closes, False)
        if len(self._tokens) < 100_000:  # bounded: mentions keep bringing new spellings
            self._tokens[token] = info
        return info

    def _units(self, text: str) -> tuple[list[list], bool]:
        """Tokens -> units [folded, kind, value, is_upper, clause]; phrases become one unit."""
        # max() is a fast C scan; almost no Spanish text reaches the emoji code points.
        if not text.isascii() and max(text) >= self._emoji_floor:
            text = self._emoji_re.sub(r" \1 ", text)
        raw = []
        keys: list[str] = []
        ends: list[bool] = []
        upper_count = 0
        cache = self._tokens
        for token in text.split():
            info = cache.get(token)
            if info is None:
                info = self._token(token)
            if info[5] and ends:
                ends[-1] = True
            if info[7]:
                raw.append(info)
                keys.append(info[1])
                ends.append(info[6])
                upper_count += info[4]
            elif info[6] and ends:
                ends[-1] = True
        cap_diff = 0 < upper_count < len(raw)

        units: list[list] = []
        clause = 0
        i = 0
        n_raw = len(raw)
        phrases = self.lex.phrases
        phrase_first = self._phrase_first
        while i < n_raw:
            info = raw[i]
            folded, key, kind, value, is_upper = info[0], info[1], info[2], info[3], info[4]
            span = 1
            if i + 1 < n_raw and key in phrase_first:
                for p_keys, p_kind, p_value in phrases.get((key, keys[i + 1]), ()):
                    n = len(p_keys)
                    if keys[i : i + n] != p_keys or any(ends[i : i + n - 1]):
                        continue  # not this phrase, or it would span punctuation
                    span, kind, value = n, p_kind, p_value
                    # "no funciona" negates what follows like its leading "no" would
                    if kind == WORD and raw[i][2] == NEG:
                        kind = NEG_WORD
                    is_upper = all(r[4] for r in raw[i : i + n])
                    break
            if kind in (BUT, THOUGH):
                clause += 1
            elif (
                folded in GREETINGS
                and clause == 0
                and ends[i + span - 1]
                and all(u[0] in GREETINGS for u in units)
            ):
                value = 0.0
            units.append([folded, kind, value, is_upper, clause])
            if ends[i + span - 1]:
                clause += 1
            i += span
        return units, cap_diff

    def polarity_scores(self, text: str) -> dict[str, float]:
        """VADER-compatible scores: neg, neu, pos and compound in [-1, 1]."""
        units, cap_diff = self._units(text)
        sentiments: list[float] = []
        for i, (_, kind, value, is_upper, clause) in enumerate(units):
            if kind in (NEG, BOOST, BUT, THOUGH) or value == 0.0:
                sentiments.append(0.0)
                continue
            v = value
            if is_upper and cap_diff:
                v += C_INCR if v > 0 else -C_INCR
            # Boosters in the three preceding units of the same clause, decaying as in VADER.
            for dist, decay in ((1, 1.0), (2, 0.95), (3, 0.9)):
                j = i - dist
                if j < 0 or units[j][4] != clause:
                    break
                if units[j][1] == BOOST:
                    s = units[j][2] if v > 0 else -units[j][2]
                    if units[j][3] and cap_diff:
                        s += C_INCR if v > 0 else -C_INCR
                    v += s * decay
            if self._negated(units, i, clause):
                v *= N_SCALAR
            sentiments.append(v)
        self._contrast(units, sentiments)
        return _score_valence(sentiments, text)

    @staticmethod
    def _negated(units: list[list], i: int, clause: int) -> bool:
        """A negator within three (non-clitic) units before i, in the same clause."""
        seen = 0
        j = i - 1
        while j >= 0 and seen < 3 and units[j][4] == clause:
            kind = units[j][1]
            if kind == NEG_WORD or (
                kind == NEG and (j == i - 1 or units[j][0] not in NEAR_NEGATORS)
            ):
                return True
            if units[j][0] not in TRANSPARENT:
                seen += 1
            j -= 1
        return False

    @staticmethod
    def _contrast(units: list[list], sentiments: list[float]) -> None:
        """'pero'/'sino': what follows weighs 1.5, what precedes 0.5 (VADER's 'but').

        'aunque' marks the conceded clause instead: that clause weighs 0.5, the rest 1.5.
        """
        kinds = [u[1] for u in units]
        if BUT in kinds:
            at = kinds.index(BUT)
            for k in range(len(sentiments)):
                if k < at:
                    sentiments[k] *= 0.5
                elif k > at:
                    sentiments[k] *= 1.5
        elif THOUGH in kinds:
            clause = units[kinds.index(THOUGH)][4]
            for k, unit in enumerate(units):
                sentiments[k] *= 0.5 if unit[4] == clause else 1.5


def _score_valence(sentiments: list[float], text: str) -> dict[str, float]:
    """VADER's aggregation: punctuation emphasis, normalisation, pos/neu/neg shares."""
    if not sentiments:
        return {"neg": 0.0, "neu": 0.0, "pos": 0.0, "compound": 0.0}
    total = sum(sentiments)
    ep = min(text.count("!"), 4) * 0.292
    qm_count = text.count("?")
    qm = 0.0 if qm_count <= 1 else (qm_count * 0.18 if qm_count <= 3 else 0.96)
    emphasis = ep + qm
    if total > 0:
        total += emphasis
    elif total < 0:
        total -= emphasis
    compound = normalize(total)
    pos_sum = neg_sum = 0.0
    neu_count = 0
    for s in sentiments:
        if s > 0:
            pos_sum += s + 1  # VADER's +1/-1 compensates for neutral words counting 1
        elif s < 0:
            neg_sum += s - 1
        else:
            neu_count += 1
    if pos_sum > -neg_sum:
        pos_sum += emphasis
    elif pos_sum < -neg_sum:
        neg_sum -= emphasis
    denom = pos_sum + math.fabs(neg_sum) + neu_count
    return {
        "neg": round(math.fabs(neg_sum / denom), 3),
        "neu": round(neu_count / denom, 3),
        "pos": round(pos_sum / denom, 3),
        "compound": round(compound, 4),
    }
