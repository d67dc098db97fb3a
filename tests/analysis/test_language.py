"""Language detection restricted to configured languages, with the source's language as prior."""

import pytest

from analysis.language import clean_for_detection, detect_language

ES_EN = ("es", "en")


def test_detects_spanish_and_english_care_mentions() -> None:
    assert (
        detect_language("Llevo tres semanas esperando mi pedido y nadie me contesta", ES_EN) == "es"
    )
    assert detect_language("I have been waiting three weeks and nobody answers", ES_EN) == "en"


def test_restricted_to_allowed_languages() -> None:
    portuguese = "O meu pedido ainda não chegou e ninguém responde às mensagens"
    assert detect_language(portuguese, ("es", "en", "pt")) == "pt"
    assert detect_language(portuguese, ES_EN) in ES_EN


def test_short_text_uses_the_prior() -> None:
    assert detect_language("ok", ES_EN, prior="es") == "es"
    assert detect_language("ok", ES_EN, prior="en") == "en"
    # a long clear text overrules a wrong prior
    assert (
        detect_language("El repartidor dejó el paquete en la calle bajo la lluvia", ES_EN, "en")
        == "es"
    )


def test_prior_outside_allowed_is_ignored() -> None:
    assert detect_language("👍", ES_EN, prior="pt") is None
    assert detect_language("👍", ES_EN, prior="es") == "es"


def test_noise_is_stripped_before_detection() -> None:
    cleaned = clean_for_detection("@IberiaAirlines #fail https://t.co/abc mi vuelo   llegó tarde")
    assert cleaned == "mi vuelo llegó tarde"
    text = (
        "@support_team #servicedown #outage https://status.example.com no tengo internet desde ayer"
    )
    assert detect_language(text, ES_EN) == "es"


def test_unknown_language_code_is_an_error() -> None:
    with pytest.raises(ValueError):
        detect_language("hola", ("es", "xx"))
