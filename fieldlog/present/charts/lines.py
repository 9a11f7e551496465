"""Trend charts: the sparkline and the line chart, and the forecast and before/after charts drawn
as line charts."""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET
from collections.abc import Sequence

from ..numbers import DASH, count
from .svg import (
    GRID,
    INK,
    MARKERS,
    MUTED,
    SERIES_COLOURS,
    SERIES_DASHES,
    TARGET,
    Formatter,
    Number,
    Series,
    add_line,
    add_marker,
    add_polyline,
    add_target,
    add_text,
    frame,
    nice,
    num,
    scale,
    segments,
    text_width,
    tostring,
)


def sparkline(
    values: Sequence[Number],
    *,
    title: str,
    target: Number = None,
    width: int = 120,
    height: int = 28,
) -> str:
    """A small trend line; the last point is marked, a target is a dashed line."""
    root = frame(width, height, title, "chart-sparkline")
    pad = 3
    low, high = scale(values, target, floor_zero=False)
    n = max(len(values), 1)

    def xy(i: int, v: float) -> tuple[float, float]:
        x = pad + (width - 2 * pad) * (i / (n - 1) if n > 1 else 0.5)
        y = height - pad - (height - 2 * pad) * (v - low) / (high - low)
        return x, y

    if target is not None:
        ty = xy(0, float(target))[1]
        add_line(root, pad, ty, width - pad, ty, stroke=TARGET, **{"stroke-dasharray": "3 2"})
    points = [None if v is None else xy(i, float(v)) for i, v in enumerate(values)]
    for run in segments(points):
        add_polyline(root, run, stroke=SERIES_COLOURS[0], **{"stroke-width": "1.5"})
    last = points[-1] if points else None
    if last is not None:
        add_marker(root, "circle", last[0], last[1], SERIES_COLOURS[0], r=2.5)
    if not any(v is not None for v in values):
        add_text(root, width / 2, height / 2 + 3, DASH, fill=MUTED, **{"text-anchor": "middle"})
    return tostring(root)


def line_chart(
    x_labels: Sequence[str],
    series: Sequence[Series],
    *,
    title: str,
    target: Number = None,
    target_label: str = "",
    fmt: Formatter = count,
    width: int = 480,
    height: int = 200,
    text_size: float = 8,
    mark: tuple[int, str] | None = None,
    ceiling: float | None = None,
    band: tuple[Sequence[Number], Sequence[Number]] | None = None,
    band_label: str = "",
    desc: str = "",
) -> str:
    """Lines over shared x labels; each series has its own dash and marker, named in a legend.

    ``desc`` is a longer text alternative (an SVG ``<desc>``) for screen readers.

    ``band`` (low and high values per x) is shaded behind the lines, e.g. a forecast's
    interval, and named in the legend as ``band_label``.

    ``text_size`` is the axis-label size in chart units: a chart shown smaller than its width
    needs larger text. ``mark`` draws a labelled vertical line at an x index (e.g. a start).
    ``ceiling`` caps the axis (1.0 for rates, so the top label never reads 108%).
    """
    root = frame(width, height, title, "chart-line", desc)
    n = len(x_labels)
    all_values = [v for s in series for v in s.values[:n]]
    band_values = [v for side in band for v in side[:n]] if band else []
    low, high = scale(all_values + band_values, target)
    if low == 0:
        high = nice(high)  # round axis labels: 0 / 40% / 80%, not 0 / 38% / 76%
    drawn = [float(v) for v in [*all_values, target] if v is not None]
    if ceiling is not None and drawn and max(drawn) <= ceiling < high:
        high = ceiling
    ticks = (low, (low + high) / 2, high)
    size = num(text_size)
    legend_size = num(text_size + 1)
    # Wide enough for the longest tick label, so "68,440,000" is never cut off on the left,
    # and for half the last x label, which is centred on the right edge of the plot.
    left = max(28.0, max(text_width(fmt(t), text_size) for t in ticks) + 8)
    right = max(10.0, text_width(x_labels[-1], text_size) / 2 + 2) if n else 10.0
    top = 10 + (text_size + 4 if mark and mark[1] else 0)
    line_h = text_size * 1.75
    legend_rows = 1 + (len(series) + (1 if band is not None and band_label else 0)) // 3
    bottom = text_size * 2.5 + line_h * legend_rows
    plot_w, plot_h = width - left - right, height - top - bottom

    def xy(i: int, v: float) -> tuple[float, float]:
        x = left + plot_w * (i / (n - 1) if n > 1 else 0.5)
        return x, top + plot_h * (1 - (v - low) / (high - low))

    for tick in ticks:
        ty = xy(0, tick)[1]
        add_line(root, left, ty, width - right, ty, stroke=GRID)
        add_text(
            root,
            left - 4,
            ty + text_size * 0.35,
            fmt(tick),
            size=size,
            fill=MUTED,
            **{"text-anchor": "end"},
        )
    # As many x labels as fit side by side, with a gap between them.
    widest = max((text_width(label, text_size) for label in x_labels), default=0.0)
    fit = max(2, int(plot_w // (widest + text_size)))
    step = max(1, math.ceil(n / min(8, fit)))
    for i, label in enumerate(x_labels):
        # Counted back from the newest week, which is always labelled and never crowded.
        if (n - 1 - i) % step == 0:
            x = xy(i, low)[0]
            add_text(
                root,
                x,
                top + plot_h + text_size * 1.5,
                label,
                size=size,
                **{"text-anchor": "middle"},
            )
    if mark is not None and n and 0 <= mark[0] < n:
        mx = xy(mark[0], low)[0]
        add_line(root, mx, top - 2, mx, top + plot_h, stroke=INK, **{"stroke-dasharray": "2 2"})
        if mark[1]:
            add_text(root, mx, top - 4, mark[1], size=size, **{"text-anchor": "middle"})
    if band is not None:
        known = [i for i in range(n) if band[0][i] is not None and band[1][i] is not None]
        if known:
            upper = [xy(i, float(band[1][i])) for i in known]  # type: ignore[arg-type]
            lower = [xy(i, float(band[0][i])) for i in reversed(known)]  # type: ignore[arg-type]
            shade = {"fill": SERIES_COLOURS[1], "fill-opacity": "0.18", "stroke": "none"}
            area = ET.SubElement(root, "polygon", {"class": "band", **shade})
            area.set("points", " ".join(f"{num(x)},{num(y)}" for x, y in upper + lower))
            ET.SubElement(area, "title").text = band_label
    if not any(v is not None for v in all_values):
        add_text(
            root,
            left + plot_w / 2,
            top + plot_h / 2,
            DASH,
            fill=MUTED,
            **{"text-anchor": "middle"},
        )
    if target is not None:
        ty = xy(0, float(target))[1]
        legend = add_target(root, left, width - right, ty, target_label, target, fmt)
        # A white halo keeps the label legible where it crosses the line and the grid.
        halo = {"stroke": "#ffffff", "stroke-width": "3", "paint-order": "stroke"}
        add_text(
            root,
            width - right,
            ty - 3,
            legend,
            size=size,
            fill=TARGET,
            **{"text-anchor": "end", **halo},
        )
    legend_y = height - line_h * legend_rows + text_size / 2
    for k, s in enumerate(series):
        colour = SERIES_COLOURS[k % len(SERIES_COLOURS)]
        dash = SERIES_DASHES[k % len(SERIES_DASHES)]
        shape = MARKERS[k % len(MARKERS)]
        group = ET.SubElement(root, "g", {"class": "series"})
        ET.SubElement(group, "title").text = s.name
        points = [None if v is None else xy(i, float(v)) for i, v in enumerate(s.values[:n])]
        extra = {"stroke-dasharray": dash} if dash else {}
        for run in segments(points):
            add_polyline(group, run, stroke=colour, **{"stroke-width": "1.8"}, **extra)
        for point in points:
            if point is not None:
                add_marker(group, shape, point[0], point[1], colour)
        lx = left + (k % 3) * (plot_w / 3)
        ly = legend_y + (k // 3) * line_h
        add_line(group, lx, ly, lx + 18, ly, stroke=colour, **{"stroke-width": "1.8"}, **extra)
        add_marker(group, shape, lx + 9, ly, colour)
        add_text(group, lx + 22, ly + text_size * 0.4, s.name, size=legend_size)
    if band is not None and band_label:
        k = len(series)
        lx = left + (k % 3) * (plot_w / 3)
        ly = legend_y + (k // 3) * line_h
        swatch = {"fill": SERIES_COLOURS[1], "fill-opacity": "0.18", "stroke": MUTED}
        rect = {"x": num(lx), "y": num(ly - 4), "width": "18", "height": "8", **swatch}
        ET.SubElement(root, "rect", rect)
        add_text(root, lx + 22, ly + text_size * 0.4, band_label, size=legend_size)
    return tostring(root)


def forecast_chart(
    history: Sequence[tuple[str, Number]],
    forecast: Sequence[tuple[str, Number, Number, Number]],
    *,
    title: str,
    actual_label: str,
    forecast_label: str,
    band_label: str,
    fmt: Formatter = count,
    width: int = 480,
    height: int = 200,
    text_size: float = 8,
) -> str:
    """Weekly actuals, then the forecast (value, low, high) shaded with its interval.

    The forecast line starts from the last actual week so the two read as one path.
    """
    labels = [label for label, _v in history] + [label for label, *_x in forecast]
    n_past = len(history)
    actual = [v for _l, v in history] + [None] * len(forecast)
    ahead: list[Number] = [None] * n_past + [v for _l, v, _lo, _hi in forecast]
    if n_past:
        ahead[n_past - 1] = history[-1][1]
    low: list[Number] = [None] * n_past + [lo for *_x, lo, _hi in forecast]
    high: list[Number] = [None] * n_past + [hi for *_x, hi in forecast]
    return line_chart(
        labels,
        [Series(actual_label, actual), Series(forecast_label, ahead)],
        title=title,
        fmt=fmt,
        width=width,
        height=height,
        text_size=text_size,
        band=(low, high),
        band_label=band_label,
        mark=(n_past - 1, "") if n_past else None,
    )


def before_after_chart(
    x_labels: Sequence[str],
    tested: Sequence[Number],
    comparison: Sequence[Number],
    *,
    start: int,
    title: str,
    desc: str,
    tested_label: str,
    comparison_label: str,
    start_label: str,
    fmt: Formatter = count,
    width: int = 480,
    height: int = 200,
    text_size: float = 8,
    ceiling: float | None = None,
) -> str:
    """The tested group's weekly line against the comparison group's, the start marked.

    The two lines differ by dash and marker as well as colour; ``desc`` carries the estimate
    in words for screen readers.
    """
    return line_chart(
        x_labels,
        [Series(tested_label, tested), Series(comparison_label, comparison)],
        title=title,
        desc=desc,
        fmt=fmt,
        width=width,
        height=height,
        text_size=text_size,
        mark=(start, start_label) if 0 <= start < len(x_labels) else None,
        ceiling=ceiling,
    )
