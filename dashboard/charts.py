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
# Meaningful colours, the same on every chart: volume that is neither good nor bad is slate.
VOLUME_COLOR = "#5b6b7b"
NEGATIVE_COLOR = "#d94841"
# Every count of negatives in a red: one shade per series (topics), darkest first.
NEGATIVE_SHADES = ("#7f1d1d", "#b91c1c", "#d94841", "#ef7b6c", "#f5a99b", "#fbd0c7", "#9f3a2e")
OWN_COLOR = "#0f766e"
COMPETITOR_COLOR = "#9aa5b1"


def legend() -> alt.Legend:
    """A legend under the chart whose labels are never cut ("masto…"): no label limit, and as
    many columns as fit, so long source names wrap onto rows instead of shrinking."""
    return alt.Legend(orient="bottom", title=None, labelLimit=0, columns=3, symbolLimit=0)


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
    scale = (
        alt.Scale(domain=order, range=list(colors)[: max(len(order), 1)])
        if colors
        else alt.Scale(domain=order)
    )
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
                legend=legend(),
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
    shown = legend() if len(order) > 1 else None
    return (
        alt.Chart(_long(frame, series_name).dropna(subset=["value"]), height=height)
        .mark_line(point=True)
        .encode(
            x=_x(granularity),
            y=alt.Y("value:Q", title=y_title, scale=y_scale),
            color=alt.Color(f"{series_name}:N", scale=scale, legend=shown),
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
                legend=legend(),
            ),
            tooltip=[f"{label}:N", "Medida:N", alt.Tooltip("value:Q", format=",.0f")],
        )
    )


def spark(values: Sequence[float], title: str, color: str = NEGATIVE_COLOR) -> alt.Chart:
    """A small bar chart of `values` (oldest first) with a y axis, so its height reads as a number."""
    frame = pd.DataFrame({"step": range(1, len(values) + 1), "value": list(values)})
    return (
        alt.Chart(frame, height=70)
        .mark_bar(color=color)
        .encode(
            x=alt.X("step:O", axis=None),
            y=alt.Y(
                "value:Q",
                title=None,
                axis=alt.Axis(tickCount=3, format="~s", grid=True, labelFontSize=10),
            ),
            tooltip=[alt.Tooltip("value:Q", title=title, format=",.0f")],
        )
    )


def share_of_voice(frame: pd.DataFrame) -> alt.Chart:
    """One horizontal bar per brand (columns Marca, Cuota, Menciones, Tipo): own brands teal,
    competitors grey, the share written at the end of each bar."""
    base = alt.Chart(frame, height=alt.Step(28)).encode(
        y=alt.Y("Marca:N", sort=list(frame["Marca"]), title=None, axis=alt.Axis(labelLimit=0)),
        x=alt.X("Cuota:Q", title="% de las menciones", scale=alt.Scale(domain=[0, 100])),
    )
    bars = base.mark_bar().encode(
        color=alt.Color(
            "Tipo:N",
            scale=alt.Scale(domain=["Propia", "Competidor"], range=[OWN_COLOR, COMPETITOR_COLOR]),
            legend=legend(),
        ),
        tooltip=[
            "Marca:N",
            alt.Tooltip("Cuota:Q", format=".1f", title="%"),
            alt.Tooltip("Menciones:Q", format=",.0f"),
        ],
    )
    labels = base.mark_text(align="left", dx=4).encode(text=alt.Text("Cuota:Q", format=".1f"))
    return bars + labels
