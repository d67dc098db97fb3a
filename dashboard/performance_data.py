"""Data of the Rendimiento page: one week's response times by dimension, and the open backlog.

Figures come from vigia.inbox.stats over the items opened in the selected ISO week (in the
configuration's time zone) of the sidebar's brands; they are cached for `data.TTL` seconds.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pandas as pd
import streamlit as st

from dashboard import data
from vigia.exports import iso_week, parse_week, week_bounds
from vigia.inbox.stats import Backlog, Figures, backlog, week_figures

WEEKS = 12  # offered in the selector: this week and the eleven before
DIMENSIONS = {
    "brand": "Marca (brand)",
    "channel": "Canal (channel)",
    "topic": "Tema (topic)",
    "agent": "Agente (agent)",
}
NOBODY = {"topic": "Sin tema", "agent": "Sin asignar"}
COLUMNS = ["Elementos", "Respondidos", "Mediana", "P90", "En plazo", "Abiertos", "Vencidos"]


def weeks(now: datetime | None = None) -> list[str]:
    """This ISO week and the ones before it, newest first."""
    today = (now or datetime.now(UTC)).astimezone(data.zone()).date()
    found = [(today - timedelta(weeks=k)).isocalendar() for k in range(WEEKS)]
    return [f"{year}-W{week:02d}" for year, week, _ in found]


def current_week() -> str:
    return iso_week(datetime.now(UTC), data.zone())


def week_label(week: str) -> str:
    """E.g. ``2026-W49 · 30/11 – 06/12``."""
    year, number = parse_week(week)
    monday = date.fromisocalendar(year, number, 1)
    return f"{week} · {monday:%d/%m} – {monday + timedelta(days=6):%d/%m}"


@st.cache_data(ttl=data.TTL, show_spinner=False)
def _figures(path: str, week: str, brands: tuple[str, ...]) -> list[Figures]:
    zone = data.zone()
    start, end = week_bounds(*parse_week(week), zone)
    with data.engine().connect() as conn:
        return week_figures(
            conn, data.settings().inbox, zone, start, end, datetime.now(UTC), brands
        )


@st.cache_data(ttl=data.TTL, show_spinner=False)
def _backlog(path: str, brands: tuple[str, ...]) -> Backlog:
    with data.engine().connect() as conn:
        return backlog(conn, datetime.now(UTC), brands)


def summary(week: str) -> Figures:
    """The week's figures over every item of the selected brands."""
    rows = _figures(str(data.config_path()), week, data.current_filters().brands)
    return next(f for f in rows if f.dimension == "all")


def open_backlog() -> Backlog:
    """The selected brands' open items now, whatever week they were opened in."""
    return _backlog(str(data.config_path()), data.current_filters().brands)


def table(week: str, dimension: str) -> pd.DataFrame:
    """One row per value of `dimension` (a key of DIMENSIONS), ready to show."""
    rows = _figures(str(data.config_path()), week, data.current_filters().brands)
    return pd.DataFrame(
        [
            [
                _name(dimension, f.value),
                f.items,
                f.answered,
                duration(f.median_first_response),
                duration(f.p90_first_response),
                share(f.within_target),
                f.open,
                f.overdue,
            ]
            for f in rows
            if f.dimension == dimension
        ],
        columns=[DIMENSIONS[dimension].split(" (")[0], *COLUMNS],
    )


def _name(dimension: str, value: str | None) -> str:
    if value is None:
        return NOBODY.get(dimension, "—")
    return data.topic_label(value) if dimension == "topic" else data.shown_text(value)


def duration(value: timedelta | None) -> str:
    """A working time short enough for a phone's card: 12 min, 1h 05m, 2d 3h (— when unknown)."""
    if value is None:
        return "—"
    minutes = round(value / timedelta(minutes=1))
    days, rest = divmod(minutes, 24 * 60)
    hours, mins = divmod(rest, 60)
    if days:
        return f"{days}d {hours}h"
    return f"{hours}h {mins:02d}m" if hours else f"{mins} min"


def share(value: float | None) -> str:
    return "—" if value is None else f"{100 * value:.0f} %"
