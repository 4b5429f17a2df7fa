"""Inline SVG charts for the report: plain markup, no script, no font or file to fetch."""

from __future__ import annotations

import math
from collections.abc import Sequence
from html import escape

__all__ = ["PALETTE", "legend", "nice_ticks", "stacked_bars"]

PALETTE = (
    "#0072B2",
    "#E69F00",
    "#009E73",
    "#CC79A7",
    "#56B4E9",
    "#D55E00",
    "#F0E442",
    "#000000",
)
"""Okabe-Ito colours (readable with colour blindness, and in greyscale print)."""

WIDTH, HEIGHT = 760, 300
LEFT, RIGHT, TOP, BOTTOM = 64, 12, 12, 48


def nice_ticks(top: float, count: int = 5) -> list[float]:
    """Round tick values from 0 to at least ``top``.

    Examples
    --------
    >>> nice_ticks(0.87)
    [0.0, 0.2, 0.4, 0.6, 0.8, 1.0]
    """
    if top <= 0:
        return [0.0, 1.0]
    raw = top / count
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    return [round(i * step, 12) for i in range(math.ceil(top / step - 1e-9) + 1)]


def stacked_bars(
    labels: Sequence[str],
    series: Sequence[tuple[str, Sequence[float]]],
    *,
    title: str,
    unit: str = "$",
) -> str:
    """Return an SVG stacked bar chart: one bar per label, one colour per series.

    Each drawn segment is a ``<rect class="bar">`` inside its series' ``<g
    class="series" data-series="...">``, with a ``<title>`` (the tooltip) and
    ``data-value``; zero values draw nothing. :func:`legend` draws the legend.

    Examples
    --------
    >>> svg = stacked_bars(["d1", "d2"], [("a", [1.0, 2.0]), ("b", [0.0, 1.0])], title="t")
    >>> svg.count('class="bar"')
    3
    """
    totals = [sum(values[i] for _, values in series) for i in range(len(labels))]
    ticks = nice_ticks(max(totals, default=0.0))
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    scale = plot_h / ticks[-1]
    slot = plot_w / max(len(labels), 1)
    bar_w = max(slot * 0.72, 1.0)
    parts = [
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" '
        f'width="100%" role="img" aria-label="{escape(title)}">',
        f"<title>{escape(title)}</title>",
    ]
    for tick in ticks:
        y = TOP + plot_h - tick * scale
        parts.append(
            f'<line class="grid" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}"/>'
            f'<text class="tick" x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end">'
            f"{escape(_tick(tick, unit))}</text>"
        )
    every = max(1, math.ceil(len(labels) / 12))
    for i, label in enumerate(labels):
        if i % every == 0:
            x = LEFT + slot * (i + 0.5)
            parts.append(
                f'<text class="tick" x="{x:.1f}" y="{TOP + plot_h + 16}" '
                f'text-anchor="middle">{escape(label)}</text>'
            )
    base = [0.0] * len(labels)
    for k, (name, values) in enumerate(series):
        colour = PALETTE[k % len(PALETTE)]
        parts.append(f'<g class="series" data-series="{escape(name)}" fill="{colour}">')
        for i, value in enumerate(values):
            if value <= 0:
                continue
            x = LEFT + slot * i + (slot - bar_w) / 2
            y = TOP + plot_h - (base[i] + value) * scale
            parts.append(
                f'<rect class="bar" x="{x:.1f}" y="{y:.2f}" width="{bar_w:.1f}" '
                f'height="{value * scale:.2f}" data-label="{escape(labels[i])}" '
                f'data-value="{value!r}"><title>{escape(labels[i])} {escape(name)}: '
                f"{unit}{value:,.6f}</title></rect>"
            )
            base[i] += value
        parts.append("</g>")
    parts.append("</svg>")
    return "".join(parts)


def _tick(value: float, unit: str) -> str:
    return f"{unit}{value:,.2f}" if value < 100 else f"{unit}{value:,.0f}"


def legend(names: Sequence[str]) -> str:
    """Return the HTML legend of a chart's series (it wraps at any width, unlike SVG text).

    Examples
    --------
    >>> legend(["a"]).count("<li")
    1
    """
    items = "".join(
        f'<li><span class="swatch" style="background:{PALETTE[k % len(PALETTE)]}"></span>'
        f"{escape(name)}</li>"
        for k, name in enumerate(names)
    )
    return f'<ul class="legend">{items}</ul>'
