"""Altair charts for the pages: time on a band per hour or day, Spanish labels, numeric dates.

st.bar_chart draws a day as a hairline on a continuous time axis; binning the axis by the
bucket's time unit gives each hour or day a full-width bar. Dates are formatted numerically
(16/11) because Vega's month and weekday names are English.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Literal

import altair as alt
import pandas as pd

TimeUnit = Literal["yearmonthdatehours", "yearmonthdate"]
_UNITS: dict[str, TimeUnit] = {"hour": "yearmonthdatehours", "day": "yearmonthdate"}
_FORMATS = {"hour": "%d/%m %H:%M", "day": "%d/%m/%Y"}
_AXIS_FORMATS = {"hour": "%d/%m %Hh", "day": "%d/%m"}


def _long(frame: pd.DataFrame, series_name: str) -> pd.DataFrame:
    """A bucket-indexed wide frame as (bucket, series, value) rows."""
    return (
        frame.rename_axis("bucket")
        .reset_index()
        .melt(id_vars="bucket", var_name=series_name, value_name="value")
    )


def _x(granularity: str) -> alt.X:
    return alt.X(
        "bucket:T",
        timeUnit=_UNITS[granularity],
        title=None,
        axis=alt.Axis(format=_AXIS_FORMATS[granularity], labelOverlap=True, grid=False),
    )


def _tooltip(granularity: str, series_name: str, value_title: str, fmt: str) -> list[alt.Tooltip]:
    return [
        alt.Tooltip(
            "bucket:T", timeUnit=_UNITS[granularity], format=_FORMATS[granularity], title="Fecha"
        ),  # fmt: skip
        alt.Tooltip(f"{series_name}:N", title=series_name),
        alt.Tooltip("value:Q", title=value_title, format=fmt),
    ]


def stacked_bars(
    frame: pd.DataFrame,
    granularity: str,
    series_name: str,
    y_title: str,
    colors: Sequence[str] | None = None,
    height: int = 260,
) -> alt.Chart:
    """One stacked bar per bucket, one colour per column of `frame` (stacked in column order)."""
    order = list(frame.columns)
    scale = alt.Scale(domain=order, range=list(colors)) if colors else alt.Scale(domain=order)
    return (
        alt.Chart(_long(frame, series_name), height=height)
        .mark_bar()
        .encode(
            x=_x(granularity),
            y=alt.Y("sum(value):Q", title=y_title),
            color=alt.Color(
                f"{series_name}:N",
                scale=scale,
                sort=order,
                legend=alt.Legend(orient="bottom", title=None),
            ),
            # The first column sits at the bottom of each stack (negatives, where the eye starts).
            order=alt.Order("rank:Q", sort="ascending"),
            tooltip=_tooltip(granularity, series_name, y_title, ",.0f"),
        )
        .transform_calculate(rank=f"indexof({json.dumps(order)}, datum[{json.dumps(series_name)}])")
    )


def lines(
    frame: pd.DataFrame,
    granularity: str,
    series_name: str,
    y_title: str,
    fmt: str,
    colors: Sequence[str] | None = None,
    domain: tuple[float, float] | None = None,
    height: int = 220,
) -> alt.Chart:
    """One line (with points, so a lone bucket is visible) per column of `frame`."""
    order = list(frame.columns)
    scale = alt.Scale(domain=order, range=list(colors)) if colors else alt.Scale(domain=order)
    y_scale = alt.Scale(domain=list(domain)) if domain else alt.Scale(zero=False)
    legend = alt.Legend(orient="bottom", title=None) if len(order) > 1 else None
    return (
        alt.Chart(_long(frame, series_name).dropna(subset=["value"]), height=height)
        .mark_line(point=True)
        .encode(
            x=_x(granularity),
            y=alt.Y("value:Q", title=y_title, scale=y_scale),
            color=alt.Color(f"{series_name}:N", scale=scale, legend=legend),
            tooltip=_tooltip(granularity, series_name, y_title, fmt),
        )
    )


def horizontal_bars(
    frame: pd.DataFrame, label: str, measures: Sequence[str], colors: Sequence[str]
) -> alt.Chart:
    """Side-by-side horizontal bars of `measures` per `label`, in the frame's row order."""
    long = frame.melt(
        id_vars=label, value_vars=list(measures), var_name="Medida", value_name="value"
    )
    return (
        alt.Chart(long, height=alt.Step(14))
        .mark_bar()
        .encode(
            y=alt.Y(f"{label}:N", sort=list(frame[label]), title=None),
            yOffset=alt.YOffset("Medida:N", sort=list(measures)),
            x=alt.X("value:Q", title=None),
            color=alt.Color(
                "Medida:N",
                scale=alt.Scale(domain=list(measures), range=list(colors)),
                legend=alt.Legend(orient="bottom", title=None),
            ),
            tooltip=[f"{label}:N", "Medida:N", alt.Tooltip("value:Q", format=",.0f")],
        )
    )
