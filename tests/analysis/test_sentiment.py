"""Sentiment: VADER's rules carried into Spanish, and the per-language dispatch."""

import pytest

from analysis.sentiment import DEFAULT_THRESHOLDS, Sentiment, Thresholds, label, score


def es(text: str) -> float:
    result = score(text, "es")
    assert result is not None
    return result.compound


def test_spanish_polarity_of_plain_statements() -> None:
    assert es("El servicio es excelente") > 0.5
    assert es("El servicio es pésimo") < -0.5
    assert es("Mi pedido tiene número 4411") == 0.0


def test_negation_flips_and_negative_concord_flips_once() -> None:
    assert es("La atención es buena") > 0
    assert es("La atención no es buena") < 0
    # "no ... nada" is one negation in Spanish, not a double negative
    assert es("No es nada bueno") < 0
    assert es("Nunca me ayudaron") < 0
    assert es("sin problemas") > 0


def test_negation_reaches_past_clitics_and_haber() -> None:
    assert es("Me lo han solucionado") > 0
    assert es("No me lo han solucionado") < 0


def test_punctuation_ends_negation_scope() -> None:
    assert es("No, el servicio es bueno") > 0
    assert es("No. Es bueno") > 0
    assert es("No es bueno") < 0


def test_boosters_and_dampeners_scale() -> None:
    plain = es("Es bueno")
    assert es("Es muy bueno") > plain
    assert es("Es súper bueno") > plain
    assert 0 < es("Es algo bueno") < plain
    assert es("Es un poco lento") > es("Es lento")
    # "-ísimo" intensifies like a booster
    assert es("Es buenísimo") > plain


def test_poco_before_a_positive_word_negates_it() -> None:
    assert es("Un trato poco profesional") < 0


def test_pero_shifts_weight_to_the_second_clause() -> None:
    assert es("La tienda es bonita pero la atención es pésima") < 0
    assert es("Tardó un poco, pero el producto es excelente") > 0
    # without the contrast the same words would balance out differently
    assert es("La tienda es bonita y la atención es pésima") > es(
        "La tienda es bonita pero la atención es pésima"
    )


def test_aunque_discounts_the_conceded_clause() -> None:
    # the main clause decides, wherever the conceded "aunque" clause stands
    assert es("Aunque tardó, el producto es excelente") > 0
    assert es("Aunque es bonito, llegó roto") < 0
    assert es("Llegó roto, aunque es bonito") < 0


def test_stems_match_gender_number_and_verb_forms() -> None:
    for text in ("Pésimo", "pésima", "pesimos", "PÉSIMAS"):
        assert es(text) < -0.5, text
    for text in ("Me encanta", "Me encantó", "Me encantaron"):
        assert es(text) > 0.5, text
    assert es("Nos estafaron") < 0
    assert es("Estafadores") < 0


def test_multiword_expressions() -> None:
    assert es("El servicio es de pena") < -0.3
    assert es("La app es una pasada") > 0.3
    assert es("Me dejaron en visto") < 0
    assert es("Ni caso me hacen") < 0
    assert es("No me contestan") < 0
    # "vale la pena" is positive although "pena" alone is negative
    assert es("Vale la pena") > 0
    assert es("No vale la pena") < 0
    # a greeting is not praise
    assert es("Buenas tardes, mi pedido no ha llegado") < 0


def test_regional_vocabulary() -> None:
    for text in ("Qué chévere", "Está bacán", "Muy chido", "Padrísimo", "Son majísimos"):
        assert es(text) > 0, text
    for text in ("Qué cutre", "Es una chafa", "Un timo", "Me tienen podrido"):
        assert es(text) < 0, text


def test_emoji_emoticons_and_emphasis() -> None:
    assert es("😡") < 0
    assert es("👎👎") < 0
    assert es("Gracias 😍") > es("Gracias")
    assert es(":(") < 0
    assert es("Genial!!!") > es("Genial")
    # capitals emphasise when the rest of the text is not shouted
    assert es("El envío fue PÉSIMO") < es("El envío fue pésimo")


def test_emoji_are_outside_negation_scope() -> None:
    assert es("Otra vez sin internet 👎") < es("Otra vez sin internet")


def test_english_goes_to_vader_and_other_languages_get_none() -> None:
    result = score("The support team was great", "en")
    assert isinstance(result, Sentiment) and result.compound > 0.5
    assert score("O atendimento foi ótimo", "pt") is None
    assert score("anything", None) is None
    # regional tags score as their language
    assert score("Muy bueno", "es-MX") == score("Muy bueno", "es")


def test_shares_are_vader_shaped() -> None:
    result = score("Excelente servicio, pero el envío fue lento", "es")
    assert result is not None
    assert result.pos > 0 and result.neg > 0
    assert result.pos + result.neu + result.neg == pytest.approx(1.0, abs=0.01)


def test_label_uses_inclusive_cut_offs() -> None:
    cut = Thresholds(negative=-0.1, positive=0.2)
    assert label(-0.1, cut) == "negative"
    assert label(0.0, cut) == "neutral"
    assert label(0.2, cut) == "positive"


def test_thresholds_are_validated_and_defaults_cover_both_languages() -> None:
    with pytest.raises(ValueError):
        Thresholds(negative=0.5, positive=0.1)
    assert set(DEFAULT_THRESHOLDS) >= {"en", "es"}


def test_lexicon_file_is_ours_well_formed_and_inside_the_package() -> None:
    from analysis.sentiment_es import LEXICON_PATH

    assert LEXICON_PATH.parent.name == "data" and LEXICON_PATH.parent.parent.name == "analysis"
    lines = LEXICON_PATH.read_text(encoding="utf-8").splitlines()
    assert "Licence: MIT" in lines[0]
    entries = [line.split("\t") for line in lines if line and not line.startswith("#")]
    terms = [e[0] for e in entries]
    assert len(terms) > 2000
    assert len(set(terms)) == len(terms)
    assert all(-4.0 <= float(e[1]) <= 4.0 for e in entries)
    assert all(e[2] == "vigia" or e[2].startswith("vader:") for e in entries)


@pytest.mark.parametrize(
    "word", ["desde", "sería", "ejemplo", "orden", "fin", "reembolso", "factura"]
)
def test_common_words_sharing_a_stem_with_a_rated_word_stay_neutral(word: str) -> None:
    # "desde" shares its Snowball stem with "desdén" (disdain), "ejemplo" with "ejemplar",
    # "reembolso" with "reembolsaron": such lexicon entries match their exact spelling only.
    assert score(word, "es").compound == 0.0


def test_waiting_for_a_refund_is_not_positive() -> None:
    assert score("Sigo esperando el reembolso desde hace dos semanas", "es").compound <= 0.0
