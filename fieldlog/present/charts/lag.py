"""The lead analysis's chart: the effect at each lag with its interval."""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET
from collections.abc import Sequence

from ..numbers import DASH, count
from .svg import (
    GRID,
    MUTED,
    SERIES_COLOURS,
    TARGET,
    Formatter,
    Number,
    add_line,
    add_marker,
    add_text,
    frame,
    num,
    tostring,
)


def lag_chart(
    lags: Sequence[int],
    effects: Sequence[Number],
    intervals: Sequence[tuple[float, float] | None],
    *,
    title: str,
    chosen: int | None = None,
    axis_label: str = "",
    unit_label: str = "",
    fmt: Formatter = count,
    width: int = 300,
    height: int = 180,
    text_size: float = 10,
    scale: float = 1.0,
) -> str:
    """Effect per lag with its interval as a whisker, a zero line, and the chosen lag filled.

    ``scale`` multiplies every effect and interval (a yen KPI's effect shown per ¥100,000:
    ``numbers.lead_scale``).

    ``unit_label`` names the effect axis's unit (the KGI's unit per unit of the KPI), written
    at the top right and kept in the chart's ``<desc>``.

    Intervals that exclude zero are drawn solid, the others dashed, so the reading does not
    depend on colour; a lag that could not be estimated shows a dash.
    """
    effects = [None if e is None else float(e) * scale for e in effects]
    intervals = [None if iv is None else (iv[0] * scale, iv[1] * scale) for iv in intervals]
    root = frame(width, height, title, "chart-lag", unit_label)
    left, right, top, bottom = 8, 8, 16, 30
    plot_w, plot_h = width - left - right, height - top - bottom
    ends = [v for iv in intervals if iv for v in iv] + [float(e) for e in effects if e is not None]
    low, high = (min([*ends, 0.0]), max([*ends, 0.0])) if ends else (-1.0, 1.0)
    if math.isclose(low, high):
        low, high = low - 1.0, high + 1.0
    pad = (high - low) * 0.08
    low, high = low - pad, high + pad

    def y_of(v: float) -> float:
        return top + plot_h * (1 - (v - low) / (high - low))

    zero = y_of(0.0)
    if unit_label:
        small = num(text_size * 0.8)
        add_text(
            root,
            width - right,
            top - 4,
            unit_label,
            fill=MUTED,
            size=small,
            **{"text-anchor": "end"},
        )
    add_line(root, left, zero, width - right, zero, stroke=GRID, **{"stroke-width": "1.5"})
    add_text(root, left, top - 4, fmt(high), fill=MUTED, size=num(text_size * 0.8))
    add_text(root, left, top + plot_h - 2, fmt(low), fill=MUTED, size=num(text_size * 0.8))
    add_text(
        root,
        width - right,
        zero - 3,
        "0",
        fill=MUTED,
        size=num(text_size * 0.8),
        **{"text-anchor": "end"},
    )
    n = max(len(lags), 1)
    slot = plot_w / n
    for lag, effect, interval in zip(lags, effects, intervals, strict=True):
        cx = left + slot * (lags.index(lag) + 0.5)
        group = ET.SubElement(root, "g", {"class": "lag"})
        if effect is None or interval is None:
            add_text(group, cx, zero - 3, DASH, fill=MUTED, **{"text-anchor": "middle"})
        else:
            lo, hi = interval
            clear = lo > 0 or hi < 0
            whisker = {"stroke-width": "1.5"} | ({} if clear else {"stroke-dasharray": "3 2"})
            add_line(group, cx, y_of(lo), cx, y_of(hi), stroke=SERIES_COLOURS[0], **whisker)
            add_line(group, cx - 3, y_of(lo), cx + 3, y_of(lo), stroke=SERIES_COLOURS[0])
            add_line(group, cx - 3, y_of(hi), cx + 3, y_of(hi), stroke=SERIES_COLOURS[0])
            y = y_of(float(effect))
            if lag == chosen:
                add_marker(group, "diamond", cx, y, TARGET, r=5)
            else:
                add_marker(group, "circle", cx, y, SERIES_COLOURS[0], r=2.5)
            ET.SubElement(
                group, "title"
            ).text = f"{lag}: {fmt(float(effect))} [{fmt(lo)}, {fmt(hi)}]"
        add_text(
            group,
            cx,
            height - bottom + 12,
            str(lag),
            size=num(text_size * 0.8),
            **{"text-anchor": "middle"},
        )
    if axis_label:
        add_text(
            root,
            width / 2,
            height - 4,
            axis_label,
            fill=MUTED,
            size=num(text_size * 0.8),
            **{"text-anchor": "middle"},
        )
    return tostring(root)
