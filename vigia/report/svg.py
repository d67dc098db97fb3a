"""Small inline-SVG charts for the report: no script, no external asset, readable when printed.

Each chart is drawn in a fixed coordinate space (`WIDTH` wide) and scales to its container;
labels sit on their own line above their bar, so a long name is never cut. Every text is
escaped. Colours carry meaning: red negative, green positive, grey neutral or volume.
"""

from __future__ import annotations

import html
import math
from collections.abc import Callable, Sequence

WIDTH = 400
FONT = 13
NEGATIVE = "#c0392b"
NEGATIVE_BEFORE = "#e6a7a0"
NEUTRAL = "#95a5a6"
POSITIVE = "#1e8449"
UNSCORED = "#d5dbe0"
OURS = "#0f766e"
COMPETITOR = "#6b7785"
_INK = "#1f2933"
_MUTED = "#5f6b7a"
_GRID = "#e3e7eb"
_CHAR = 0.6 * FONT  # the rough width of one character, to lay out a legend


def _svg(height: float, title: str, body: Sequence[str]) -> str:
    label = html.escape(title)
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {height:.0f}" '
        f'role="img" aria-label="{label}" font-size="{FONT}" fill="{_INK}">'
        f"<title>{label}</title>{''.join(body)}</svg>"
    )


def _text(x: float, y: float, text: str, **attrs: str) -> str:
    extra = "".join(f' {k.replace("_", "-")}="{html.escape(v)}"' for k, v in attrs.items())
    return f'<text x="{x:.1f}" y="{y:.1f}"{extra}>{html.escape(text)}</text>'


def _rect(x: float, y: float, width: float, height: float, colour: str) -> str:
    return (
        f'<rect x="{x:.1f}" y="{y:.1f}" width="{max(width, 0):.1f}" '
        f'height="{max(height, 0):.1f}" fill="{colour}"/>'
    )


def nice_ceiling(value: float) -> float:
    """The smallest 1, 2 or 5 times a power of ten at or above `value` (1 for nothing)."""
    if value <= 0:
        return 1
    power = 10 ** math.floor(math.log10(value))
    return next(step * power for step in (1, 2, 5, 10) if step * power >= value)


def _legend(y: float, entries: Sequence[tuple[str, str]]) -> tuple[list[str], float]:
    """Colour keys flowing left to right, wrapping at the chart's width; the bottom y."""
    parts, x = [], 0.0
    for name, colour in entries:
        width = 18 + len(name) * _CHAR + 14
        if x and x + width > WIDTH:
            x, y = 0.0, y + FONT + 8
        parts += [_rect(x, y - FONT + 2, 12, 12, colour), _text(x + 18, y, name, fill=_MUTED)]
        x += width
    return parts, y + 6


def stacked_columns(
    columns: Sequence[tuple[str, Sequence[float], str]],
    series: Sequence[tuple[str, str]],
    title: str,
    number: Callable[[float], str] = "{:g}".format,
) -> str:
    """One column per (label, values, note above it), stacked bottom-up in `series` order
    ((name, colour) each); the last column is the one in focus. A scale on the left."""
    top, axis, bottom = FONT + 10, 44.0, 30
    plot = 200
    peak = nice_ceiling(max((sum(v) for _, v, _ in columns), default=0))
    slot = (WIDTH - axis) / max(len(columns), 1)
    body: list[str] = []
    # A middle line only where it falls on a whole number (not 2.5 of a scale to 5).
    for tick in (0, peak / 2, peak) if peak % 2 == 0 else (0, peak):
        y = top + plot - plot * tick / peak
        body += [
            f'<line x1="{axis:.1f}" x2="{WIDTH}" y1="{y:.1f}" y2="{y:.1f}" stroke="{_GRID}"/>',
            _text(axis - 6, y + 4, number(tick), text_anchor="end", fill=_MUTED),
        ]
    for index, (label, values, note) in enumerate(columns):
        x = axis + slot * index + slot * 0.2
        y = top + plot
        for value, (_, colour) in zip(values, series, strict=True):
            height = plot * value / peak
            y -= height
            body.append(_rect(x, y, slot * 0.6, height, colour))
        centre = x + slot * 0.3
        focus = index == len(columns) - 1
        weight = {"font_weight": "bold"} if focus else {}
        body.append(_text(centre, y - 5, note, text_anchor="middle", **weight))
        body.append(_text(centre, top + plot + 18, label, text_anchor="middle", **weight))
    legend, height = _legend(top + plot + bottom + 14, series)
    return _svg(height, title, [*body, *legend])


def share_bars(
    rows: Sequence[tuple[str, float, float, str, str]],
    legend: Sequence[tuple[str, str]],
    title: str,
) -> str:
    """One bar per (label, share, negative part of the whole, colour, value text): the share's
    length on a 0-100 % scale, its negative part drawn in red from the left."""
    room, row_height = WIDTH - 64, 44
    body: list[str] = []
    for index, (label, share, negative, colour, value) in enumerate(rows):
        y = index * row_height
        body += [
            _text(0, y + FONT, label),
            _rect(0, y + 20, room, 14, _GRID),
            _rect(0, y + 20, room * share, 14, colour),
            _rect(0, y + 20, room * negative, 14, NEGATIVE),
            _text(room + 8, y + 32, value, fill=_MUTED),
        ]
    parts, height = _legend(len(rows) * row_height + FONT + 4, legend)
    return _svg(height, title, [*body, *parts])


def paired_bars(
    rows: Sequence[tuple[str, float, float]],
    legend: Sequence[tuple[str, str]],
    title: str,
    number: Callable[[float], str] = "{:g}".format,
) -> str:
    """Two bars per (label, now, before), in the two colours of `legend`, on a common scale."""
    room, row_height = WIDTH - 40, 50
    peak = nice_ceiling(max((max(now, before) for _, now, before in rows), default=0))
    body: list[str] = []
    for index, (label, now, before) in enumerate(rows):
        y = index * row_height
        body.append(_text(0, y + FONT, label))
        for offset, value, (_, colour) in ((20, now, legend[0]), (35, before, legend[1])):
            body += [
                _rect(0, y + offset, room * value / peak, 11, colour),
                _text(room * value / peak + 6, y + offset + 10, number(value), fill=_MUTED),
            ]
    parts, height = _legend(len(rows) * row_height + FONT + 4, legend)
    return _svg(height, title, [*body, *parts])
