"""Display names of complaint topics, in Spanish and English, keyed by the stable topic key."""

from __future__ import annotations

# The topics of config.yaml's `topics:` section, and "*": a summary's row over every mention.
TOPIC_NAMES: dict[str, dict[str, str]] = {
    "*": {"es": "Todas las menciones", "en": "All mentions"},
    "delivery": {"es": "Envíos y entregas", "en": "Delivery"},
    "refunds_returns": {"es": "Devoluciones y reembolsos", "en": "Refunds and returns"},
    "customer_service": {"es": "Atención al cliente", "en": "Customer service"},
    "product_quality": {"es": "Calidad del producto", "en": "Product quality"},
    "price_billing": {"es": "Precios y cobros", "en": "Prices and billing"},
    "website_app": {"es": "Web y app", "en": "Website and app"},
}


def topic_name(key: str, language: str) -> str:
    """`key`'s name in `language` ("es" or "en", else English); a key not in the table (a topic
    added in config.yaml) reads as itself with spaces for underscores."""
    names = TOPIC_NAMES.get(key)
    if names is None:
        return key.replace("_", " ")
    return names.get(language, names["en"])
