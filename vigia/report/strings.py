"""The report's words in Spanish and English, and numbers, dates and durations as each writes them.

Kept in one table so the UI-language catalogue can take them over whole.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from vigia.topic_names import topic_name

Language = Literal["es", "en"]

STRINGS: dict[str, dict[str, str]] = {
    "es": {
        "subject": "[Vigía] Informe semanal {week}",
        "title": "Informe semanal {week}",
        "period": "Del {first} al {last} ({tz})",
        "brands": "Marcas: {brands}",
        "competitors": "Competidores: {brands}",
        "volume": "Volumen y sentimiento",
        "volume_note": "La semana frente a la media de las {n} anteriores.",
        "mentions": "Menciones",
        "negative": "Negativas",
        "neutral": "Neutras",
        "positive": "Positivas",
        "unscored": "Sin puntuar",
        "negative_share": "% negativas",
        "average": "Sentimiento medio",
        "average_note": "de −1 (muy negativo) a +1 (muy positivo)",
        "vs_average": "{change} frente a la media ({value})",
        "no_history": "sin semanas anteriores",
        "week": "Semana",
        "week_short": "S{n}",
        "trend_chart": "Menciones por semana según su sentimiento",
        "share_of_voice": "Cuota de voz",
        "share_note": "Menciones de cada marca sobre el total de todas las marcas vigiladas.",
        "brand": "Marca",
        "share": "Cuota",
        "change_week": "Variación semanal",
        "competitor": "competidor",
        "ours": "Nuestras marcas",
        "rivals": "Competidores",
        "no_competitors": "Ningún competidor configurado: marque una marca con «competitor: true» "
        "en config.yaml para compararla.",
        "share_chart": "Cuota de voz por marca (en rojo, la parte negativa)",
        "topics": "Principales motivos de queja",
        "topics_note": "Menciones negativas por tema, frente a la semana anterior.",
        "topic": "Tema",
        "previous_week": "Semana anterior",
        "change": "Cambio",
        "new": "nuevo",
        "topics_chart": "Menciones negativas por tema: esta semana y la anterior",
        "examples": "Ejemplos: {topic}",
        "no_topics": "Ninguna mención negativa con tema esta semana.",
        "alerts": "Alertas de la semana",
        "alerts_note": "Alertas abiertas o activas durante la semana y su gestión.",
        "alert": "Alerta",
        "severity": "Gravedad",
        "opened": "Abierta",
        "acknowledged": "Reconocida",
        "resolved": "Resuelta",
        "state_now": "Estado actual",
        "by": "{when} por {who}",
        "automatic": "Vigía (automático)",
        "nobody": "—",
        "no_alerts": "Ninguna alerta esta semana.",
        "response_times": "Tiempos de respuesta",
        "response_note": "Elementos de la bandeja abiertos en la semana; primera respuesta en "
        "tiempo laborable.",
        "dimension": "Desglose",
        "items": "Elementos",
        "answered": "Respondidos",
        "median": "Mediana",
        "p90": "P90",
        "within_target": "En plazo",
        "no_items": "Ningún elemento abierto en la bandeja esta semana.",
        "dim_all": "Total",
        "dim_brand": "Marca",
        "dim_channel": "Canal",
        "dim_topic": "Tema",
        "dim_agent": "Agente",
        "no_topic": "sin tema",
        "unassigned": "sin asignar",
        "generated": "Generado por Vigía el {when} ({tz}).",
        "open_file": "Si los gráficos no se ven, abra el archivo adjunto en un navegador.",
        "state_open": "abierta",
        "state_acknowledged": "reconocida",
        "state_resolved": "resuelta",
        "sev_critical": "crítica",
        "sev_warning": "aviso",
        "rule_negative_spike": "Pico de menciones negativas",
        "rule_spreading_thread": "Hilo negativo que se propaga",
        "rule_source_unhealthy": "Fuente sin datos",
        "rule_inbox_overdue": "Respuestas fuera de plazo",
        "rule_inbox_escalation": "Mención escalada",
        "minutes": "{n}\u00a0min",
        "hours": "{h}\u00a0h {m:02d}\u00a0min",
    },
    "en": {
        "subject": "[Vigía] Weekly report {week}",
        "title": "Weekly report {week}",
        "period": "{first} to {last} ({tz})",
        "brands": "Brands: {brands}",
        "competitors": "Competitors: {brands}",
        "volume": "Volume and sentiment",
        "volume_note": "The week against the average of the {n} before.",
        "mentions": "Mentions",
        "negative": "Negative",
        "neutral": "Neutral",
        "positive": "Positive",
        "unscored": "Not scored",
        "negative_share": "% negative",
        "average": "Average sentiment",
        "average_note": "from −1 (very negative) to +1 (very positive)",
        "vs_average": "{change} against the average ({value})",
        "no_history": "no earlier weeks",
        "week": "Week",
        "week_short": "W{n}",
        "trend_chart": "Mentions per week by sentiment",
        "share_of_voice": "Share of voice",
        "share_note": "Each brand's mentions out of all watched brands' mentions.",
        "brand": "Brand",
        "share": "Share",
        "change_week": "Weekly change",
        "competitor": "competitor",
        "ours": "Our brands",
        "rivals": "Competitors",
        "no_competitors": "No competitor configured: mark a brand with “competitor: true” in "
        "config.yaml to compare with it.",
        "share_chart": "Share of voice by brand (the negative part in red)",
        "topics": "Top complaint causes",
        "topics_note": "Negative mentions by topic, against the week before.",
        "topic": "Topic",
        "previous_week": "Week before",
        "change": "Change",
        "new": "new",
        "topics_chart": "Negative mentions by topic: this week and the week before",
        "examples": "Examples: {topic}",
        "no_topics": "No negative mention with a topic this week.",
        "alerts": "Alerts of the week",
        "alerts_note": "Alerts opened or active during the week, and how they were handled.",
        "alert": "Alert",
        "severity": "Severity",
        "opened": "Opened",
        "acknowledged": "Acknowledged",
        "resolved": "Resolved",
        "state_now": "State now",
        "by": "{when} by {who}",
        "automatic": "Vigía (automatic)",
        "nobody": "—",
        "no_alerts": "No alerts this week.",
        "response_times": "Response times",
        "response_note": "Care inbox items opened in the week; first response in working time.",
        "dimension": "Breakdown",
        "items": "Items",
        "answered": "Answered",
        "median": "Median",
        "p90": "P90",
        "within_target": "Within target",
        "no_items": "No care inbox items opened this week.",
        "dim_all": "All",
        "dim_brand": "Brand",
        "dim_channel": "Channel",
        "dim_topic": "Topic",
        "dim_agent": "Agent",
        "no_topic": "no topic",
        "unassigned": "unassigned",
        "generated": "Generated by Vigía on {when} ({tz}).",
        "open_file": "If the charts do not show, open the attached file in a browser.",
        "state_open": "open",
        "state_acknowledged": "acknowledged",
        "state_resolved": "resolved",
        "sev_critical": "critical",
        "sev_warning": "warning",
        "rule_negative_spike": "Negative mention spike",
        "rule_spreading_thread": "Spreading negative thread",
        "rule_source_unhealthy": "Source not collecting",
        "rule_inbox_overdue": "Overdue replies",
        "rule_inbox_escalation": "Escalated mention",
        "minutes": "{n}\u00a0min",
        "hours": "{h}\u00a0h {m:02d}\u00a0min",
    },
}
_DATE = {"es": "%d/%m/%Y", "en": "%Y-%m-%d"}
_MINUS = "\u2212"  # a real minus sign: a hyphen reads as a dash in a table


class Words:
    """The report's strings in one language, with its way of writing numbers and dates."""

    def __init__(self, language: Language) -> None:
        self.language = language
        self._table = STRINGS[language]

    def __call__(self, key: str, **values: object) -> str:
        return self._table[key].format(**values) if values else self._table[key]

    def named(self, prefix: str, key: str) -> str:
        """A rule's, state's or severity's name; a key with no entry reads as itself."""
        return self._table.get(f"{prefix}_{key}") or key.replace("_", " ").capitalize()

    def topic(self, key: str) -> str:
        """A complaint topic's name (the one table the exports use too)."""
        return topic_name(key, self.language)

    def number(self, value: float, digits: int = 0) -> str:
        """1,234.5 in English, 1.234,5 in Spanish; a real minus sign."""
        text = f"{value:,.{digits}f}".replace("-", _MINUS)
        return text.translate(str.maketrans(",.", ".,")) if self.language == "es" else text

    def signed(self, value: float, digits: int = 0) -> str:
        return ("+" if value > 0 else "") + self.number(value, digits)

    def percent(self, share: float | None, digits: int = 0) -> str:
        if share is None:
            return "—"
        return self.number(share * 100, digits) + ("\u00a0%" if self.language == "es" else "%")

    def change(self, now: float, before: float | None) -> str:
        """The relative change of a count, e.g. "+25 %"; "new" from nothing."""
        if not before:
            return self("new") if now else "—"
        return ("+" if now > before else "") + self.percent((now - before) / before)

    def points(self, now: float | None, before: float | None) -> str:
        """The change of a share in percentage points, e.g. "+3,5 pp"."""
        if now is None or before is None:
            return "—"
        return self.signed((now - before) * 100, 1) + "\u00a0pp"

    def date(self, moment: datetime, zone: ZoneInfo) -> str:
        return moment.astimezone(zone).strftime(_DATE[self.language])

    def moment(self, moment: datetime, zone: ZoneInfo) -> str:
        return moment.astimezone(zone).strftime(f"{_DATE[self.language]} %H:%M")

    def duration(self, span: timedelta | None) -> str:
        if span is None:
            return "—"
        minutes = round(span / timedelta(minutes=1))
        if minutes < 60:
            return self("minutes", n=minutes)
        return self("hours", h=minutes // 60, m=minutes % 60)
