"""The dashboard's one data module: settings, engine, shared filters and cached DataFrames.

Pages call only this module; the SQL lives in vigia.storage.reads. Queries are cached for
`TTL` seconds, and the sidebar's watcher clears the cache as soon as new data is stored.
Times leave this module as naive wall-clock times in the configuration's time zone.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo

import pandas as pd
import streamlit as st
from sqlalchemy import Engine

from collectors.text import csv_cell, web_url, without_bidi
from timeutil import naive_utc
from vigia.access import accounts, actions
from vigia.access.roles import Actor, Forbidden
from vigia.alerts.channels import NO_SMTP
from vigia.config import Settings, load_settings
from vigia.storage import audit, open_engine, reads
from vigia.storage.alerts import (
    AlertRow,
    Delivery,
    deliveries_of,
    get_alert,
    list_alerts,
)
from vigia.storage.sources import SourceHealth, all_health

CONFIG_ENV = "VIGIA_CONFIG"
TTL = 30
FILTERS_KEY = "vigia_filters"
ALL = "__all__"

PERIODS: dict[str, tuple[str, timedelta]] = {
    "24h": ("Últimas 24 horas", timedelta(hours=24)),
    "7d": ("Últimos 7 días", timedelta(days=7)),
    "30d": ("Últimos 30 días", timedelta(days=30)),
    "90d": ("Últimos 90 días", timedelta(days=90)),
}
LANGUAGE_NAMES = {
    "es": "Español",
    "en": "English",
    "pt": "Português",
    "ca": "Català",
    "fr": "Français",
    "it": "Italiano",
    "de": "Deutsch",
    "": "Sin detectar (unknown)",
}
RULE_NAMES = {
    "negative_spike": "Pico de menciones negativas (negative spike)",
    "spreading_thread": "Hilo negativo que se propaga (spreading thread)",
    "source_unhealthy": "Fuente con fallos (source unhealthy)",
    "inbox_overdue": "Respuestas fuera de plazo (overdue inbox backlog)",
    "inbox_escalation": "Mención escalada a responsables (escalated mention)",
}
BadgeColor = Literal["red", "orange", "blue", "green", "gray"]
SEVERITIES: dict[str, tuple[str, BadgeColor]] = {
    "critical": ("Crítica (critical)", "red"),
    "warning": ("Aviso (warning)", "orange"),
}
STATES = {"open": "Abierta", "acknowledged": "Reconocida", "resolved": "Resuelta"}
EVIDENCE_LABELS = {
    "negative": "Negativas",
    "expected": "Esperadas",
    "negative_previous": "Negativas (ventana anterior)",
    "share": "% negativas",
    "baseline_share": "% habitual",
    "z": "Desviación (z)",
    "engagement": "Interacciones",
    "engagement_previous": "Interacciones (ventana anterior)",
    "distinct_authors": "Autores distintos",
    "failures": "Fallos seguidos",
    "total": "Menciones",
    "posts": "Publicaciones",
    "long_negative": "Negativas (ventana larga)",
    "long_expected": "Esperadas (ventana larga)",
    "long_z": "z (ventana larga)",
    "long_window_hours": "Ventana larga (h)",
    "baseline_samples": "Muestras de referencia",
}
# The evidence's other keys, as the evidence table names them.
EVIDENCE_TEXT_LABELS = {
    "brand": "Marca",
    "source": "Fuente",
    "sources": "Fuentes",
    "last_error": "Último error",
    "last_error_at": "Último error (hora)",
    "last_success_at": "Último éxito (hora)",
    "root_url": "Enlace del hilo",
    "root_text": "Texto del hilo",
    "hourly": "Horas analizadas",
    "growth": "Pasos de crecimiento",
    "top": "Menciones destacadas",
    "oldest_opened_at": "Abierta desde",
    "oldest_age_minutes": "Antigüedad (min)",
    "series_step_minutes": "Paso de la serie (min)",
    "threshold": "Umbral",
    "open": "Abiertas",
    "overdue": "Fuera de plazo",
}
_SHARES = {"share", "baseline_share"}
SENTIMENT_COLORS = {"negative": "#d94841", "neutral": "#9aa5b1", "positive": "#2f9e6f"}
SENTIMENT_NAMES = {"negative": "Negativas", "neutral": "Neutras", "positive": "Positivas"}


@dataclass(frozen=True, slots=True)
class Filters:
    """What the sidebar selected; empty tuples mean "all". `end` is a naive-UTC hour boundary."""

    brands: tuple[str, ...]
    period: str
    end: datetime
    sources: tuple[str, ...] = ()
    languages: tuple[str, ...] = ()
    topics: tuple[str, ...] = ()

    @property
    def span(self) -> timedelta:
        return PERIODS[self.period][1]

    @property
    def start(self) -> datetime:
        return self.end - self.span

    @property
    def previous_start(self) -> datetime:
        return self.start - self.span

    @property
    def default_granularity(self) -> str:
        return "hour" if self.span <= timedelta(hours=48) else "day"


# --- settings, engine, filters ----------------------------------------------------------------


def config_path() -> Path:
    return Path(os.environ.get(CONFIG_ENV, "config.yaml")).resolve()


@st.cache_resource(show_spinner=False)
def _open(path: str) -> tuple[Settings, Engine]:
    settings = load_settings(Path(path))
    return settings, open_engine(settings.resolved_database_url)  # `vigia dashboard` migrated it


def settings() -> Settings:
    """The validated configuration (raises vigia.config.ConfigError when it is wrong)."""
    return _open(str(config_path()))[0]


def engine() -> Engine:
    return _open(str(config_path()))[1]


def zone() -> ZoneInfo:
    return ZoneInfo(settings().timezone)


def period_end(now: datetime | None = None) -> datetime:
    """The next full UTC hour: rollups are hourly, and a stable end keeps the cache warm."""
    moment = (now or datetime.now(UTC)).astimezone(UTC).replace(tzinfo=None)
    return moment.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)


def default_filters() -> Filters:
    return Filters(brands=(settings().brands[0].name,), period="7d", end=period_end())


def current_filters() -> Filters:
    """The sidebar's selection (set by app.py on every run), or the defaults."""
    found = st.session_state.get(FILTERS_KEY)
    return found if isinstance(found, Filters) else default_filters()


def set_filters(filters: Filters) -> None:
    st.session_state[FILTERS_KEY] = filters


def filter_options() -> dict[str, list[str]]:
    """Brands, sources, languages and topics to offer: the configured ones, then any stored."""
    config = settings()
    stored = _dimension_values(str(config_path()))
    configured = {
        "brands": [b.name for b in config.brands],
        "sources": [s.name for s in config.sources],
        "languages": list(config.analysis.languages),
        "topics": list(config.topics),
    }
    return {
        name: list(dict.fromkeys([*configured[name], *stored.get(name, [])])) for name in configured
    }


@st.cache_data(ttl=TTL, show_spinner=False)
def _dimension_values(path: str) -> dict[str, list[str]]:
    with engine().connect() as conn:
        return reads.dimension_values(conn)


def data_version() -> tuple[Any, ...]:
    """Uncached: what the watcher compares to notice new mentions, alerts or polls."""
    with engine().connect() as conn:
        return reads.data_version(conn)


def refresh() -> None:
    """Forget cached query results, so the next run reads the database again."""
    st.cache_data.clear()


# --- labels and formatting ---------------------------------------------------------------------


def to_local(values: pd.Series) -> pd.Series:
    """Naive-UTC datetimes as naive wall-clock times in the configuration's time zone."""
    stamps = pd.to_datetime(values)
    return stamps.dt.tz_localize("UTC").dt.tz_convert(zone()).dt.tz_localize(None)


def local_time(moment: datetime | None, fmt: str = "%d/%m/%Y %H:%M") -> str:
    """One stored (naive-UTC) moment, formatted in the configuration's time zone."""
    if moment is None or pd.isna(moment):
        return "—"
    if not isinstance(moment, datetime):
        moment = pd.Timestamp(moment).to_pydatetime()
    return moment.replace(tzinfo=UTC).astimezone(zone()).strftime(fmt)


def topic_label(topic: str) -> str:
    return topic.replace("_", " ").replace("-", " ").capitalize()


def language_label(code: str) -> str:
    return LANGUAGE_NAMES.get(code, code)


def period_label(filters: Filters) -> str:
    last = filters.end - timedelta(seconds=1)
    return (
        f"{PERIODS[filters.period][0]}: {local_time(filters.start)} – {local_time(last)}"
        f" ({settings().timezone})"
    )


_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()<>#+\-.!|~$:>@])")


def md_escape(text: str) -> str:
    """`text` shown literally in st.markdown: no links, emphasis, HTML, math or directives."""
    return _MD_SPECIAL.sub(r"\\\1", " ".join(str(text).split()))


def safe_url(url: Any) -> str | None:
    """`url` if it is a plain http(s) link that can sit inside a markdown link, else None."""
    link = web_url(url if isinstance(url, str) else None)
    return link.replace("(", "%28").replace(")", "%29") if link else None


def shown_text(value: Any) -> Any:
    """Untrusted text (mention text, author) as the pages show it: bidi controls removed."""
    return without_bidi(value) if isinstance(value, str) else value


# --- trends (rollups only) ---------------------------------------------------------------------


@st.cache_data(ttl=TTL, show_spinner=False)
def _rollup_series(
    path: str,
    start: datetime,
    end: datetime,
    brands: tuple[str, ...],
    sources: tuple[str, ...],
    languages: tuple[str, ...],
) -> pd.DataFrame:
    with engine().connect() as conn:
        return reads.rollup_series(conn, start, end, brands, sources, languages)


@st.cache_data(ttl=TTL, show_spinner=False)
def _rollup_totals(
    path: str,
    start: datetime,
    end: datetime,
    brands: tuple[str, ...],
    sources: tuple[str, ...],
    languages: tuple[str, ...],
) -> dict[str, float]:
    with engine().connect() as conn:
        return reads.rollup_totals(conn, start, end, brands, sources, languages)


@st.cache_data(ttl=TTL, show_spinner=False)
def _topic_series(
    path: str, start: datetime, end: datetime, brands: tuple[str, ...], topics: tuple[str, ...]
) -> pd.DataFrame:
    with engine().connect() as conn:
        return reads.topic_series(conn, start, end, brands, topics)


def trend_rows(f: Filters) -> pd.DataFrame:
    """The period's hourly rollup rows (naive-UTC `hour`), for the selected brands and filters."""
    return _rollup_series(str(config_path()), f.start, f.end, f.brands, f.sources, f.languages)


def _local_bucket(hours: pd.Series, granularity: str) -> pd.Series:
    """The local hour or day each naive-UTC hour falls in."""
    return to_local(hours).dt.floor("h" if granularity == "hour" else "D")


def _bucket_index(f: Filters, granularity: str) -> pd.DatetimeIndex:
    """Every local hour or day of the period, so quiet buckets show as zero, not as a gap."""
    hours = pd.Series(pd.date_range(f.start, f.end, freq="h", inclusive="left"))
    local = _local_bucket(hours, granularity)
    return pd.DatetimeIndex(local.drop_duplicates().sort_values(), name="bucket")


def _with_bucket(rows: pd.DataFrame, granularity: str) -> pd.DataFrame:
    return rows.assign(bucket=_local_bucket(rows["hour"], granularity))


def _per_bucket(
    rows: pd.DataFrame,
    f: Filters,
    granularity: str,
    column: str,
    measure: str,
    label: Callable[[str], str],
) -> pd.DataFrame:
    """`measure` per local bucket of the period, one column per value of `column`, named by `label`."""
    index = _bucket_index(f, granularity)
    if rows.empty:
        return pd.DataFrame(index=index)
    rows = _with_bucket(rows, granularity).assign(**{column: rows[column].map(label)})
    table = rows.pivot_table(
        index="bucket", columns=column, values=measure, aggfunc="sum", fill_value=0
    )
    table.columns.name = None
    return table.reindex(index, fill_value=0)


# Hours the ratio lines (average sentiment, % negative) are smoothed over when drawn per hour
# over a long period: a quiet night hour with 1 mention of 1 negative reads as 100 %, so a week
# per hour swung 0-100 % and read as noise. The ratio of rolling sums, not a mean of ratios.
SMOOTHING_HOURS = {"7d": 6, "30d": 24, "90d": 24}


def smoothing_hours(f: Filters, granularity: str) -> int | None:
    """The window the hourly ratio lines are smoothed over for this period, or None (as is)."""
    return SMOOTHING_HOURS.get(f.period) if granularity == "hour" else None


def trend(f: Filters, granularity: str) -> pd.DataFrame:
    """Per local hour or day: mentions, negative/neutral/positive, avg_sentiment, negative_share
    (the last two over a rolling window of `smoothing_hours` when that is set)."""
    rows = trend_rows(f)
    index = _bucket_index(f, granularity)
    counts = ["mentions", "negative", "neutral", "positive", "scored", "compound_sum"]
    if rows.empty:
        grouped = pd.DataFrame(0.0, index=index, columns=counts)
    else:
        grouped = (
            _with_bucket(rows, granularity)
            .groupby("bucket")[counts]
            .sum()
            .reindex(index, fill_value=0)
        )
    window = smoothing_hours(f, granularity)
    sums = grouped[counts].rolling(window, min_periods=1).sum() if window else grouped[counts]
    grouped["avg_sentiment"] = sums["compound_sum"] / sums["scored"].where(sums["scored"] > 0)
    grouped["negative_share"] = (
        100 * sums["negative"] / sums["mentions"].where(sums["mentions"] > 0)
    )
    return grouped


def split_by(f: Filters, dimension: str, granularity: str) -> pd.DataFrame:
    """Mentions per local bucket, one column per value of `dimension` (source or language)."""
    label = language_label if dimension == "language" else str
    return _per_bucket(trend_rows(f), f, granularity, dimension, "mentions", label)


def breakdown(f: Filters, dimension: str) -> pd.DataFrame:
    """Per source or language over the period: mentions, negative %, average sentiment."""
    rows = trend_rows(f)
    if rows.empty:
        return pd.DataFrame(columns=["Menciones", "% negativas", "Sentimiento"])
    totals = rows.groupby(dimension)[["mentions", "negative", "scored", "compound_sum"]].sum()
    table = pd.DataFrame(
        {
            "Menciones": totals["mentions"].astype(int),
            "% negativas": 100
            * totals["negative"]
            / totals["mentions"].where(totals["mentions"] > 0),
            "Sentimiento": totals["compound_sum"] / totals["scored"].where(totals["scored"] > 0),
        }
    ).sort_values("Menciones", ascending=False)
    if dimension == "language":
        table.index = table.index.map(language_label)
    table.index.name = "Fuente" if dimension == "source" else "Idioma"
    return table


@dataclass(frozen=True, slots=True)
class Kpis:
    """The period's headline numbers, and the same for the period before it."""

    mentions: int
    negative_share: float | None
    avg_sentiment: float | None
    previous_mentions: int
    previous_negative_share: float | None
    previous_avg_sentiment: float | None


def _shares(totals: dict[str, float]) -> tuple[int, float | None, float | None]:
    mentions = int(totals["mentions"])
    share = 100 * totals["negative"] / mentions if mentions else None
    average = totals["compound_sum"] / totals["scored"] if totals["scored"] else None
    return mentions, share, average


def kpis(f: Filters) -> Kpis:
    path = str(config_path())
    current = _rollup_totals(path, f.start, f.end, f.brands, f.sources, f.languages)
    before = _rollup_totals(path, f.previous_start, f.start, f.brands, f.sources, f.languages)
    return Kpis(*_shares(current), *_shares(before))


def share_of_voice(f: Filters) -> pd.DataFrame | None:
    """Each configured brand's share of all brands' mentions in the period (source and language
    filters applied, the brand filter not: the point is the comparison), largest first; None when
    no brand is marked `competitor: true`."""
    brands = settings().brands
    if not any(b.competitor for b in brands):
        return None
    path = str(config_path())
    counts = {
        b.name: _rollup_totals(path, f.start, f.end, (b.name,), f.sources, f.languages)["mentions"]
        for b in brands
    }
    total = sum(counts.values())
    table = pd.DataFrame(
        {
            "Marca": list(counts),
            "Menciones": [int(n) for n in counts.values()],
            "Cuota": [100 * n / total if total else 0.0 for n in counts.values()],
            "Tipo": ["Competidor" if b.competitor else "Propia" for b in brands],
        }
    )
    return table.sort_values("Menciones", ascending=False).reset_index(drop=True)


def topic_breakdown(f: Filters) -> pd.DataFrame:
    """Per topic over the period: mentions, negative, negative %; most negative first."""
    rows = _topic_series(str(config_path()), f.start, f.end, f.brands, f.topics)
    if rows.empty:
        return pd.DataFrame(columns=["Tema", "Menciones", "Negativas", "% negativas"])
    totals = rows.groupby("topic")[["mentions", "negative"]].sum()
    table = pd.DataFrame(
        {
            "Tema": [topic_label(t) for t in totals.index],
            "Menciones": totals["mentions"].astype(int).to_numpy(),
            "Negativas": totals["negative"].astype(int).to_numpy(),
            "% negativas": (100 * totals["negative"] / totals["mentions"]).to_numpy(),
        }
    )
    return table.sort_values(["Negativas", "Menciones"], ascending=False).reset_index(drop=True)


def topic_trend(f: Filters, granularity: str) -> pd.DataFrame:
    """Negative mentions per local bucket, one column per topic."""
    rows = _topic_series(str(config_path()), f.start, f.end, f.brands, f.topics)
    return _per_bucket(rows, f, granularity, "topic", "negative", topic_label)


# --- mentions ----------------------------------------------------------------------------------


@st.cache_data(ttl=TTL, show_spinner=False)
def _latest_mentions(
    path: str,
    f: tuple[Any, ...],
    search: str,
    negative_only: bool,
    limit: int,
) -> pd.DataFrame:
    start, end, brands, sources, languages, topics = f
    with engine().connect() as conn:
        return reads.latest_mentions(
            conn, start, end, brands, sources, languages, topics, search, negative_only, limit
        )


def mentions(
    f: Filters, search: str = "", negative_only: bool = True, limit: int = 200
) -> pd.DataFrame:
    """The newest mentions that pass the filters, newest first, times in the local zone."""
    key = (f.start, f.end, f.brands, f.sources, f.languages, f.topics)
    rows = _latest_mentions(str(config_path()), key, search, negative_only, limit)
    rows = rows.copy()
    rows["published_at"] = (
        to_local(rows["published_at"]) if not rows.empty else rows["published_at"]
    )
    rows["topics"] = (
        rows["topics"].fillna("").map(lambda t: ", ".join(topic_label(x) for x in t.split()))
    )
    rows["language"] = rows["language"].fillna("")
    # Only plain http(s) links become clickable: a stored `javascript:` URL must never run.
    rows["url"] = rows["url"].map(safe_url)
    for column in ("text", "author"):
        rows[column] = rows[column].map(shown_text)
    engagement = rows[["reply_count", "repost_count", "like_count", "score"]].fillna(0)
    rows["engagement"] = engagement.sum(axis=1).astype(int)
    return rows


# Columns of the mentions table whose text comes from outside (or from config), guarded in CSV.
_CSV_TEXT = ("brand", "source", "language", "topics", "author", "url", "text")


def mentions_csv(rows: pd.DataFrame) -> bytes:
    """The mentions table as a CSV download (UTF-8 with BOM, for Excel), without the row ids;
    text cells a spreadsheet would run as a formula get a leading `'`, numbers stay numbers."""
    table = rows.drop(columns=["id"], errors="ignore").copy()
    for column in _CSV_TEXT:
        if column in table:
            table[column] = table[column].map(csv_cell)
    return table.to_csv(index=False).encode("utf-8-sig")


# --- alerts ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AlertView:
    """One stored alert, ready to show."""

    id: int
    kind: str
    brand: str | None
    subject: str | None
    severity: str
    state: str
    window: str
    opened: str
    updated: str
    numbers: dict[str, str]
    spark: list[float] | None
    detail: str | None
    links: list[tuple[str, str]]
    evidence: dict[str, Any]
    deliveries: str | None
    # (delivery id, what it is) of each delivery the mail server may have but never confirmed.
    uncertain: tuple[tuple[int, str], ...] = ()


@st.cache_data(ttl=TTL, show_spinner=False)
def _alert_rows(path: str, states: tuple[str, ...], brands: tuple[str, ...]) -> list[AlertRow]:
    with engine().connect() as conn:
        found = list_alerts(conn, states=states or None, limit=500)
    # Operator alerts (a failing source) have no brand and concern every brand.
    return [a for a in found if not brands or a.brand is None or a.brand in brands]


@st.cache_data(ttl=TTL, show_spinner=False)
def _deliveries(path: str, alert_id: int) -> list[Delivery]:
    with engine().connect() as conn:
        return deliveries_of(conn, alert_id)


def _urls(value: Any) -> Iterator[str]:
    """Every http(s) URL anywhere in the evidence, in order."""
    if isinstance(value, str):
        if safe_url(value):
            yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _urls(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _urls(item)


def _ordered_numbers(evidence: dict[str, Any]) -> dict[str, str]:
    """The evidence's numbers, labelled, the headline ones (EVIDENCE_LABELS order) first."""
    keys = [k for k in EVIDENCE_LABELS if k in evidence] + [
        k for k in evidence if k not in EVIDENCE_LABELS
    ]
    numbers = {
        EVIDENCE_LABELS.get(key) or EVIDENCE_TEXT_LABELS.get(key, key.replace("_", " ")): shown
        for key in keys
        if (shown := _number(key, evidence[key])) is not None
    }
    return numbers


def evidence_table(evidence: dict[str, Any]) -> pd.DataFrame:
    """The evidence as (Dato, Valor) rows a care lead can read: labelled numbers first, then
    text values, then lists summarised by their length (the raw JSON stays for experts)."""
    rows = [(label, value) for label, value in _ordered_numbers(evidence).items()]
    for key, value in evidence.items():
        label = EVIDENCE_TEXT_LABELS.get(key, key.replace("_", " ").capitalize())
        if isinstance(value, str):
            rows.append((label, without_bidi(value)))
        elif isinstance(value, list | tuple | dict) and value:
            rows.append(
                (label, ", ".join(map(str, value)) if key == "sources" else str(len(value)))
            )
        elif isinstance(value, bool):
            rows.append((label, "sí" if value else "no"))
    return pd.DataFrame(rows, columns=["Dato", "Valor"])


def _number(key: str, value: Any) -> str | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    if key in _SHARES:
        return f"{100 * value:.1f} %"
    return f"{value:,.0f}".replace(",", ".") if float(value).is_integer() else f"{value:.2f}"


def alerts(f: Filters, states: Sequence[str]) -> list[AlertView]:
    """Alerts in `states` for the selected brands (and operator alerts), newest first."""
    return [_view(row) for row in _alert_rows(str(config_path()), tuple(states), f.brands)]


def alert(alert_id: int) -> AlertView | None:
    """One alert by its number, whatever its state and brand (an e-mail's link); None if unknown."""
    row = _alert_row(str(config_path()), alert_id)
    return _view(row) if row is not None else None


@st.cache_data(ttl=TTL, show_spinner=False)
def _alert_row(path: str, alert_id: int) -> AlertRow | None:
    with engine().connect() as conn:
        return get_alert(conn, alert_id)


def _view(row: AlertRow) -> AlertView:
    evidence = row.evidence
    deliveries = _deliveries(str(config_path()), row.id)
    return AlertView(
        id=row.id,
        kind=RULE_NAMES.get(row.rule, row.rule.replace("_", " ")),
        brand=row.brand,
        subject=", ".join(map(str, evidence["sources"]))
        if isinstance(evidence.get("sources"), list) and evidence["sources"]
        else row.subject,
        severity=row.severity,
        state=row.state.value,
        window=f"{local_time(row.window_start)} – {local_time(row.window_end, '%H:%M')}",
        opened=local_time(row.opened_at),
        updated=local_time(row.updated_at),
        numbers=_ordered_numbers(evidence),
        spark=_spark(evidence),
        detail=evidence.get("last_error") if isinstance(evidence.get("last_error"), str) else None,
        links=_links(evidence),
        evidence=evidence,
        deliveries=_delivery_summary(deliveries),
        uncertain=tuple((d.id, _uncertain_label(d)) for d in deliveries if d.uncertain),
    )


def _links(evidence: dict[str, Any]) -> list[tuple[str, str]]:
    """(url, label) of the evidence: the thread's root, the top negative mentions, any other URL."""
    found: dict[str, str] = {}
    if isinstance(evidence.get("root_url"), str):
        found[evidence["root_url"]] = str(evidence.get("root_text") or evidence["root_url"])
    for item in evidence.get("top") or []:
        if isinstance(item, dict) and isinstance(item.get("url"), str):
            found.setdefault(item["url"], str(item.get("text") or item["url"]))
    for url in _urls(evidence):
        found.setdefault(url, url)
    return [(url, without_bidi(label)) for url, label in found.items() if safe_url(url)]


def _spark(evidence: dict[str, Any]) -> list[float] | None:
    """Negative mentions per step before the alert: the spike's last hours or the thread's growth."""
    points = evidence.get("hourly") or evidence.get("growth")
    # hourly rows are [hour, negative, total]; growth rows are [start, posts, negative, engagement].
    column = 1 if "hourly" in evidence else 2
    try:
        return [float(point[column]) for point in points] if points else None
    except (TypeError, ValueError, IndexError):
        return None


def _delivery_summary(deliveries: list[Delivery]) -> str | None:
    """How the notifications of an alert went, so a failed e-mail is visible, not silent."""
    if not deliveries:
        return None
    sent = sum(d.ok for d in deliveries)
    summary = f"Avisos enviados (notifications sent): {sent}/{len(deliveries)}"
    uncertain = sum(d.uncertain for d in deliveries)
    if uncertain:
        summary += f" · {uncertain} sin confirmar (unconfirmed)"
    unsent = sum(d.error == NO_SMTP for d in deliveries)
    if unsent:
        summary += f" · {unsent} sin enviar: falta la sección smtp (not sent: no smtp section)"
    failed = [
        d for d in deliveries if not d.ok and d.error not in (None, NO_SMTP) and not d.uncertain
    ]
    if failed:
        last = failed[-1]
        summary += f" · fallo en {last.channel} a {last.recipient}: {last.error}"
    return summary


def _uncertain_label(delivery: Delivery) -> str:
    when = local_time(delivery.uncertain_at)
    return (
        f"Sin confirmar (unconfirmed): {delivery.channel} a {delivery.recipient}, {when}. "
        "El servidor de correo recibió el mensaje pero no confirmó la entrega: puede haber "
        "llegado. No se reenvía solo; reenvíalo si no llegó. "
        f"({delivery.error or 'sin respuesta'})"
    )


def open_alert_count(f: Filters) -> int:
    return len(_alert_rows(str(config_path()), ("open",), f.brands))


def change_alert_state(actor: Actor, alert_id: int, state: str) -> None:
    """Acknowledge, resolve or reopen an alert as `actor` (role checked, audited), then re-read."""
    try:
        actions.change_alert_state(engine(), actor, alert_id, state, datetime.now(UTC))
    except Forbidden as exc:
        st.toast(str(exc), icon=":material/block:")
    except KeyError:
        pass  # gone meanwhile (erased): the re-read shows it
    refresh()


def resend(actor: Actor, delivery_id: int) -> None:
    """Make an unconfirmed delivery due again as `actor`; the next poll sends it. One already
    due or delivered is left alone: pressing twice never sends twice."""
    try:
        actions.resend(engine(), actor, delivery_id, datetime.now(UTC))
    except Forbidden as exc:
        st.toast(str(exc), icon=":material/block:")
    except (KeyError, ValueError):
        pass  # someone resent it already (another tab, the CLI): the re-read shows it
    refresh()


# --- audit trail and users ---------------------------------------------------------------------


def _changes(before: dict[str, Any], after: dict[str, Any]) -> str:
    keys = dict.fromkeys([*before, *after])
    return " · ".join(f"{k}: {before.get(k, '—')} → {after.get(k, '—')}" for k in keys)


def audit_trail(since: datetime, limit: int) -> pd.DataFrame:
    """The audit trail from `since` on, newest first (uncached: it is read to be sure)."""
    with engine().connect() as conn:
        found = audit.entries(conn, since=since, limit=limit)
    return pd.DataFrame(
        {
            "at": [local_time(e.at, "%d/%m/%Y %H:%M:%S") for e in found],
            "actor": [shown_text(e.actor) for e in found],
            "via": [e.via for e in found],
            "action": [e.action for e in found],
            "target": [shown_text(e.target) for e in found],
            "change": [shown_text(_changes(e.before, e.after)) for e in found],
        }
    )


def user_table(actor: Actor) -> pd.DataFrame:
    """Every local account (admins only: role checked by accounts.list_users)."""
    found = accounts.list_users(engine(), actor)
    return pd.DataFrame(
        {
            "name": [u.name for u in found],
            "role": [u.role for u in found],
            "email": [u.email or "" for u in found],
            "active": [u.active for u in found],
            "created": [local_time(u.created_at) for u in found],
        }
    )


# --- sources -----------------------------------------------------------------------------------


@st.cache_data(ttl=TTL, show_spinner=False)
def _health(path: str) -> list[SourceHealth]:
    with engine().connect() as conn:
        return all_health(conn)


@st.cache_data(ttl=TTL, show_spinner=False)
def _activity(path: str, since: datetime) -> pd.DataFrame:
    with engine().connect() as conn:
        return reads.source_activity(conn, since)


STATUS_OK = "OK"
STATUS_FAILING = "Con errores (failing)"
STATUS_STALE = "Sin éxito reciente (stale)"
STATUS_UNHEALTHY = "No saludable (unhealthy)"
STATUS_PENDING = "Pendiente (not polled yet)"
STATUS_DISABLED = "Desactivada (disabled)"
STATUS_UNCONFIGURED = "No configurada (not in config)"
# Cell colours of the status column: green fine, amber watch it, red act now, grey idle.
STATUS_COLORS = {
    STATUS_OK: "#d3f0e0",
    STATUS_FAILING: "#fdf0c4",
    STATUS_STALE: "#fde0c2",
    STATUS_UNHEALTHY: "#f8cfcc",
    STATUS_PENDING: "#eceff3",
    STATUS_DISABLED: "#eceff3",
    STATUS_UNCONFIGURED: "#eceff3",
}


def source_health(now: datetime | None = None) -> pd.DataFrame:
    """One row per configured (or stored) source with its health, times in the local zone."""
    config = settings()
    now = now or datetime.now(UTC)
    path = str(config_path())
    stored = {h.source: h for h in _health(path)}
    since = period_end(now) - timedelta(hours=24)
    activity = _activity(path, since).set_index("source")["mentions"].to_dict()
    unhealthy_after = config.http.unhealthy_after
    configured = {s.name: s for s in config.sources}
    rows = []
    for name in dict.fromkeys([*configured, *stored]):
        health = stored.get(name, SourceHealth(source=name))
        source = configured.get(name)
        if source is None:
            status = STATUS_UNCONFIGURED
        elif not source.enabled:
            status = STATUS_DISABLED
        elif health.last_attempt_at is None:
            status = STATUS_PENDING
        elif health.consecutive_failures >= unhealthy_after:
            status = STATUS_UNHEALTHY
        elif health.is_stale(source.interval, now):
            status = STATUS_STALE
        elif health.consecutive_failures:
            status = STATUS_FAILING
        else:
            status = STATUS_OK
        rows.append(
            {
                "Fuente": name,
                "Estado": status,
                "Sondeando ahora": _polling_worker(health, now),
                "Último éxito": local_time(health.last_success_at),
                "Fallos seguidos": health.consecutive_failures,
                "Último error": health.last_error or "",
                "Menciones 24 h": int(activity.get(name, 0)),
                "Omitidos": health.skipped_items,
                "Tipo": source.type if source else "—",
                "Marca": (source.brand or "todas") if source else "—",
                "Intervalo": _duration(source.interval) if source else "—",
                "Último intento": local_time(health.last_attempt_at),
                "Error a las": local_time(health.last_error_at),
                "Próximo intento": local_time(health.next_poll_at),
            }
        )
    return pd.DataFrame(rows)


def _polling_worker(health: SourceHealth, now: datetime) -> str:
    """The worker (host:pid) polling the source right now, from its live claim; else "—"."""
    live = health.claimed_until is not None and health.claimed_until > naive_utc(now)
    return health.claimed_by if live and health.claimed_by else "—"


def _duration(value: timedelta) -> str:
    seconds = int(value.total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds % size == 0:
            return f"{seconds // size} {unit}"
    return f"{seconds} s"
