"""Complaint topics matched on stems, accent- and case-insensitively, in Spanish and English."""

from pathlib import Path

import pytest
import yaml

from analysis.topics import compile_topics

TAXONOMY = {
    "delivery": {"es": ["envío", "no ha llegado", "repartidor"], "en": ["delivery", "parcel"]},
    "customer_service": {"es": ["atención al cliente"], "en": ["customer service"]},
    "refunds_returns": {"es": ["reembolso", "devolver el dinero"], "en": ["refund"]},
}


def test_accent_and_case_insensitive() -> None:
    matcher = compile_topics(TAXONOMY)
    assert matcher.match("pésima ATENCION al cliente") == ("customer_service",)
    assert matcher.match("Pésima atención al cliente") == ("customer_service",)


def test_stems_match_inflections() -> None:
    matcher = compile_topics(TAXONOMY)
    assert matcher.match("Los envios van lentísimos") == ("delivery",)
    assert matcher.match("Me enviaron mal la talla") == ("delivery",)
    assert matcher.match("the repartidores are late") == ("delivery",)
    assert matcher.match("Two refunds still pending") == ("refunds_returns",)
    assert matcher.match("Deliveries are late again") == ("delivery",)


def test_multiword_terms_need_their_words_in_order() -> None:
    matcher = compile_topics(TAXONOMY)
    assert matcher.match("Aún no me devolvieron el dinero") == ("refunds_returns",)
    assert matcher.match("El dinero no me lo quieren devolver") == ()
    assert matcher.match("Mi pedido no ha llegado") == ("delivery",)


def test_several_topics_sorted_and_none() -> None:
    matcher = compile_topics(TAXONOMY)
    text = "El paquete no ha llegado y atención al cliente no me da el reembolso"
    assert matcher.match(text) == ("customer_service", "delivery", "refunds_returns")
    assert matcher.match("¡Me encanta esta marca!") == ()


def test_lang_restricts_to_that_languages_terms() -> None:
    matcher = compile_topics({"price": {"es": ["precio"], "en": ["sale"]}})
    assert matcher.match("No sale el pedido") == ("price",)  # English "sale" as a homograph
    assert matcher.match("No sale el pedido", lang="es") == ()
    assert matcher.match("Big sale today", lang="en") == ("price",)


def test_invalid_taxonomy_is_reported() -> None:
    with pytest.raises(ValueError, match="delivery.es"):
        compile_topics({"delivery": {"es": "envío"}})  # type: ignore[dict-item]
    with pytest.raises(ValueError, match="empty term"):
        compile_topics({"delivery": {"es": ["¿?"]}})


def test_default_taxonomy_in_config_covers_the_six_topics() -> None:
    config = yaml.safe_load((Path(__file__).parents[2] / "config.yaml").read_text("utf-8"))
    matcher = compile_topics(config["topics"])
    assert matcher.topics == (
        "customer_service",
        "delivery",
        "price_billing",
        "product_quality",
        "refunds_returns",
        "website_app",
    )
    assert matcher.match("La app se cierra sola al pagar") == ("price_billing", "website_app")
    assert matcher.match("My parcel never arrived") == ("delivery",)
