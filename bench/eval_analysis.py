"""Evaluate language detection, sentiment (VADER-en, our Spanish scorer) and topics on a labeled CSV.

Run: python -m bench.eval_analysis [--file bench/data/care_mentions_eval.csv]
CSV columns: text,label[,lang][,topics] with label in negative|neutral|positive and topics
separated by ";". Prints accuracy, macro-F1, confusion matrices, throughput and the speed ratio.
"""

from __future__ import annotations

import argparse
import csv
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import yaml

from analysis.language import detect_language
from analysis.sentiment import DEFAULT_THRESHOLDS, Thresholds, label, score
from analysis.sentiment_es import SpanishScorer
from analysis.topics import compile_topics

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_FILE = ROOT / "bench" / "data" / "care_mentions_eval.csv"
LABELS = ("negative", "neutral", "positive")
# Each speed figure is the best of ROUNDS passes over the texts of at least MIN_SECONDS each.
ROUNDS = 7
MIN_SECONDS = 0.3


@dataclass(frozen=True)
class Row:
    text: str
    label: str
    lang: str | None
    topics: frozenset[str] | None


def read_rows(path: Path) -> list[Row]:
    with path.open(encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        has_topics = "topics" in (reader.fieldnames or ())
        rows = []
        for rec in reader:
            topics = None
            if has_topics:
                topics = frozenset(t.strip() for t in (rec["topics"] or "").split(";") if t.strip())
            rows.append(Row(rec["text"], rec["label"].strip(), rec.get("lang") or None, topics))
    return rows


def _prf(tp: int, fp: int, fn: int) -> tuple[float, float, float]:
    """Precision, recall and F1 from true positive, false positive and false negative counts."""
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1


def macro_f1(gold: Sequence[str], pred: Sequence[str]) -> float:
    f1s = []
    for lab in LABELS:
        tp = sum(g == p == lab for g, p in zip(gold, pred, strict=True))
        fp = sum(p == lab != g for g, p in zip(gold, pred, strict=True))
        fn = sum(g == lab != p for g, p in zip(gold, pred, strict=True))
        f1s.append(_prf(tp, fp, fn)[2])
    return sum(f1s) / len(f1s)


def _rate(fn: Callable[[str], object], texts: Sequence[str]) -> float:
    """Texts per second over repeated passes lasting at least MIN_SECONDS."""
    done = 0
    start = time.perf_counter()
    while True:
        for text in texts:
            fn(text)
        done += len(texts)
        elapsed = time.perf_counter() - start
        if elapsed >= MIN_SECONDS:
            return done / elapsed


def throughput(fn: Callable[[str], object], texts: Sequence[str]) -> float:
    """Texts per second: the best of ROUNDS measurements (other processes only slow a round)."""
    return max(_rate(fn, texts) for _ in range(ROUNDS))


def speed_ratio(
    fast: Callable[[str], object],
    fast_texts: Sequence[str],
    base: Callable[[str], object],
    base_texts: Sequence[str],
) -> float:
    """Median over ROUNDS of rate(fast)/rate(base), the two measured back to back each round.

    Interleaving keeps a burst of load on a shared machine from favouring either side.
    """
    ratios = sorted(_rate(fast, fast_texts) / _rate(base, base_texts) for _ in range(ROUNDS))
    return ratios[len(ratios) // 2]


def cold_throughput(texts: Sequence[str]) -> float:
    """Spanish scorer texts/s on a first pass, with its token caches empty (best of ROUNDS)."""
    best = 0.0
    for _ in range(ROUNDS):
        scorer = SpanishScorer()
        start = time.perf_counter()
        for text in texts:
            scorer.polarity_scores(text)
        best = max(best, len(texts) / (time.perf_counter() - start))
    return best


def neutral_share(compounds: Sequence[float], cut: Thresholds) -> float:
    return sum(label(c, cut) == "neutral" for c in compounds) / len(compounds)


def calibrate(compounds: Sequence[float], target: float) -> Thresholds:
    """Symmetric cut-off whose neutral share is closest to `target` (ties: the smaller cut)."""
    grid = [Thresholds(-t / 100, t / 100) for t in range(1, 61)]
    return min(grid, key=lambda cut: abs(neutral_share(compounds, cut) - target))


def report_sentiment(
    name: str, rows: Sequence[Row], compounds: Sequence[float], cut: Thresholds, speed: float
) -> float:
    gold = [r.label for r in rows]
    pred = [label(c, cut) for c in compounds]
    accuracy = sum(g == p for g, p in zip(gold, pred, strict=True)) / len(gold)
    f1 = macro_f1(gold, pred)
    zero = sum(c == 0.0 for c in compounds) / len(compounds)
    print(f"\n{name}  (n={len(rows)}, cut-offs {cut.negative:+.2f}/{cut.positive:+.2f})")
    print(f"  accuracy {accuracy:.3f}   macro-F1 {f1:.3f}   throughput {speed:,.0f} texts/s")
    print(
        f"  neutral share: predicted {neutral_share(compounds, cut):.1%}, "
        f"gold {gold.count('neutral') / len(gold):.1%}; compound exactly 0: {zero:.1%}"
    )
    print("  confusion (rows gold, columns predicted):")
    print("    " + " " * 10 + "".join(f"{lab:>10}" for lab in LABELS))
    for g_lab in LABELS:
        counts = [
            sum(g == g_lab and p == p_lab for g, p in zip(gold, pred, strict=True))
            for p_lab in LABELS
        ]
        print(f"    {g_lab:>9} " + "".join(f"{n:>10}" for n in counts))
    return f1


def _counts(
    pairs: Sequence[tuple[set[str], frozenset[str]]], topic: str | None = None
) -> tuple[int, int, int]:
    """True positives, false positives, false negatives over (predicted, gold) topic sets."""
    if topic is not None:
        pairs = [({topic} & p, frozenset({topic}) & g) for p, g in pairs]
    tp = sum(len(p & g) for p, g in pairs)
    fp = sum(len(p - g) for p, g in pairs)
    fn = sum(len(g - p) for p, g in pairs)
    return tp, fp, fn


def report_topics(rows: Sequence[Row]) -> None:
    config = yaml.safe_load((ROOT / "config.yaml").read_text(encoding="utf-8"))
    matcher = compile_topics(config["topics"])
    tagged = [(r, r.topics) for r in rows if r.topics is not None]
    if not tagged:
        return
    # The mention's language is known by then (detected), so only its terms are tried.
    pairs = [(set(matcher.match(r.text, r.lang)), gold) for r, gold in tagged]
    speed = throughput(matcher.match, [r.text for r, _ in tagged])
    print(
        f"\nTopics (default taxonomy from config.yaml, matched with the mention's language; "
        f"n={len(tagged)}, {speed:,.0f} texts/s)"
    )
    print(f"  {'topic':<18}{'gold':>6}{'pred':>6}{'precision':>11}{'recall':>8}{'F1':>7}")
    for topic in matcher.topics:
        _print_prf(topic, *_counts(pairs, topic))
    _print_prf("all (micro)", *_counts(pairs))
    for lang in sorted({r.lang for r, _ in tagged if r.lang}):
        subset = [pair for pair, (r, _) in zip(pairs, tagged, strict=True) if r.lang == lang]
        _print_prf(f"  {lang} (micro)", *_counts(subset))
    blind = [(set(matcher.match(r.text)), gold) for r, gold in tagged]
    _print_prf("no lang (micro)", *_counts(blind))


def _print_prf(name: str, tp: int, fp: int, fn: int) -> None:
    precision, recall, f1 = _prf(tp, fp, fn)
    print(f"  {name:<18}{tp + fn:>6}{tp + fp:>6}{precision:>11.3f}{recall:>8.3f}{f1:>7.3f}")


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--file", type=Path, default=DEFAULT_FILE, help="labeled CSV")
    args = parser.parse_args(argv)
    rows = read_rows(args.file)
    # Rows without a gold language are scored in the language we detect for them.
    scored = [r if r.lang else replace(r, lang=detect_language(r.text, ("es", "en"))) for r in rows]
    es_rows = [r for r in scored if r.lang == "es"]
    en_rows = [r for r in scored if r.lang == "en"]
    print(f"{args.file.name}: {len(rows)} texts ({len(es_rows)} es, {len(en_rows)} en)")

    with_lang = [r for r in rows if r.lang]
    if with_lang:
        allowed = tuple(sorted({r.lang for r in with_lang if r.lang}))
        hits = sum(detect_language(r.text, allowed) == r.lang for r in with_lang)
        speed = throughput(lambda t: detect_language(t, allowed), [r.text for r in with_lang])
        print(
            f"\nLanguage detection among {allowed}, no prior: accuracy "
            f"{hits / len(with_lang):.3f} ({hits}/{len(with_lang)}), {speed:,.0f} texts/s"
        )

    def vader(text: str) -> float:
        result = score(text, "en")
        assert result is not None
        return result.compound

    spanish = SpanishScorer()

    def ours(text: str) -> float:
        return spanish.polarity_scores(text)["compound"]

    vader("warm up")
    en_texts = [r.text for r in en_rows]
    es_texts = [r.text for r in es_rows]
    en_compounds = [vader(t) for t in en_texts]
    es_compounds = [ours(t) for t in es_texts]
    vader_es_compounds = [vader(t) for t in es_texts]
    en_speed = throughput(vader, en_texts) if en_texts else 0.0
    es_speed = throughput(ours, es_texts) if es_texts else 0.0
    vader_es_speed = throughput(vader, es_texts) if es_texts else 0.0

    en_cut, es_cut = DEFAULT_THRESHOLDS["en"], DEFAULT_THRESHOLDS["es"]
    print("\nSentiment")
    if en_rows:
        report_sentiment("English, VADER", en_rows, en_compounds, en_cut, en_speed)
    if es_rows:
        report_sentiment("Spanish, Vigía scorer", es_rows, es_compounds, es_cut, es_speed)
        report_sentiment(
            "Spanish, English VADER (baseline)", es_rows, vader_es_compounds, en_cut, vader_es_speed
        )
    if en_rows and es_rows:
        cold = cold_throughput(es_texts)
        ratio = speed_ratio(ours, es_texts, vader, en_texts)
        print(
            f"\nSpeed ratio, Spanish scorer on the Spanish texts / VADER on the English texts, "
            f"median of {ROUNDS} interleaved rounds: {ratio:.2f}"
            f"\n  (best rounds: {es_speed:,.0f} / {en_speed:,.0f} texts/s)"
        )
        print(
            f"  first pass with empty token caches (every word new): {cold:,.0f} texts/s, "
            f"ratio {cold / en_speed:.2f}"
        )
        target = neutral_share(en_compounds, en_cut)
        suggested = calibrate(es_compounds, target)
        print(
            f"\nThreshold calibration: English VADER at {en_cut.negative:+.2f}/"
            f"{en_cut.positive:+.2f} leaves {target:.1%} neutral."
        )
        print(
            "  Spanish neutral share by symmetric cut-off:  "
            + ", ".join(
                f"±{t:.2f}: {neutral_share(es_compounds, Thresholds(-t, t)):.1%}"
                for t in (0.05, 0.10, 0.15, 0.20, 0.25, 0.30)
            )
        )
        print(
            f"  closest symmetric cut-off for Spanish: ±{suggested.positive:.2f} "
            f"({neutral_share(es_compounds, suggested):.1%} neutral); "
            f"in use: {es_cut.negative:+.2f}/{es_cut.positive:+.2f} "
            f"({neutral_share(es_compounds, es_cut):.1%} neutral)"
        )
    report_topics(scored)


if __name__ == "__main__":
    main()
