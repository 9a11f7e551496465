"""Bar charts: bars against a target, and the compact value-vs-target bullet."""

from __future__ import annotations

import hashlib
import xml.etree.ElementTree as ET
from collections.abc import Sequence

from ..numbers import DASH, count
from .svg import (
    GRID,
    INK,
    MUTED,
    SERIES_COLOURS,
    TARGET,
    Formatter,
    Number,
    add_line,
    add_target,
    add_text,
    frame,
    num,
    scale,
    tostring,
)


def bar_chart(
    labels: Sequence[str],
    values: Sequence[Number],
    *,
    title: str,
    target: Number = None,
    target_label: str = "",
    fmt: Formatter = count,
    width: int = 480,
    height: int = 200,
) -> str:
    """Vertical bars with value labels and an optional dashed target line.

    Bars below the target are hatched as well as lighter, so the cue does not rely on colour.
    """
    root = frame(width, height, title, "chart-bar")
    # Ids must be unique when several charts are inlined in one page.
    hatch = (
        "hatch-"
        + hashlib.sha1(repr((title, labels, values)).encode(), usedforsecurity=False).hexdigest()[
            :10
        ]
    )
    defs = ET.SubElement(root, "defs")
    pattern = ET.SubElement(
        defs,
        "pattern",
        {
            "id": hatch,
            "width": "4",
            "height": "4",
            "patternUnits": "userSpaceOnUse",
            "patternTransform": "rotate(45)",
        },
    )
    ET.SubElement(pattern, "rect", {"width": "4", "height": "4", "fill": "#dbe4ff"})
    add_line(pattern, 0, 0, 0, 4, stroke=SERIES_COLOURS[0], **{"stroke-width": "1.5"})
    left, right, top, bottom = 8, 8, 14, 34
    plot_w, plot_h = width - left - right, height - top - bottom
    low, high = scale(values, target)

    def y_of(v: float) -> float:
        return top + plot_h * (1 - (v - low) / (high - low))

    base = y_of(max(low, 0.0))
    add_line(root, left, base, width - right, base, stroke=GRID)
    n = len(labels)
    if n == 0:
        add_text(root, width / 2, height / 2, DASH, fill=MUTED, **{"text-anchor": "middle"})
        return tostring(root)
    slot = plot_w / n
    bar_w = max(min(slot * 0.6, 48), 2)
    for i, (label, value) in enumerate(zip(labels, values, strict=True)):
        cx = left + slot * (i + 0.5)
        group = ET.SubElement(root, "g", {"class": "bar"})
        if value is None:
            add_text(group, cx, base - 4, DASH, fill=MUTED, **{"text-anchor": "middle"})
        else:
            v = float(value)
            y = y_of(v)
            below = target is not None and v < float(target)
            ET.SubElement(
                group,
                "rect",
                {
                    "x": num(cx - bar_w / 2),
                    "y": num(min(y, base)),
                    "width": num(bar_w),
                    "height": num(max(abs(base - y), 0.5)),
                    "fill": f"url(#{hatch})" if below else SERIES_COLOURS[0],
                    "stroke": SERIES_COLOURS[0],
                },
            )
            ET.SubElement(group, "title").text = f"{label}: {fmt(v)}"
            add_text(group, cx, min(y, base) - 3, fmt(v), **{"text-anchor": "middle"})
        add_text(group, cx, height - bottom + 13, label, size="9", **{"text-anchor": "middle"})
    if target is not None:
        ty = y_of(float(target))
        legend = add_target(root, left, width - right, ty, target_label, target, fmt)
        add_text(root, width - right, height - 6, legend, fill=TARGET, **{"text-anchor": "end"})
    return tostring(root)


def bullet(
    value: Number,
    target: Number,
    *,
    title: str,
    value_text: str,
    target_text: str = "",
    maximum: float | None = None,
    width: int = 160,
    height: int = 22,
) -> str:
    """A compact value-vs-target bar: the value is a filled bar, the target a tick mark."""
    root = frame(width, height, title, "chart-bullet")
    known = [float(v) for v in (value, target, maximum) if v is not None]
    top_value = max([*known, 0.0]) or 1.0
    if maximum is None:
        top_value *= 1.1
    label_w = 56
    bar_w = width - label_w - 4

    def x_of(v: float) -> float:
        return bar_w * max(0.0, min(v, top_value)) / top_value

    ET.SubElement(
        root, "rect", {"x": "0", "y": "5", "width": num(bar_w), "height": "12", "fill": GRID}
    )
    if value is not None:
        ET.SubElement(
            root,
            "rect",
            {
                "x": "0",
                "y": "8",
                "width": num(max(x_of(float(value)), 0.5)),
                "height": "6",
                "fill": INK,
            },
        )
    if target is not None:
        tx = x_of(float(target))
        add_line(root, tx, 2, tx, 20, stroke=TARGET, **{"stroke-width": "2"})
    text = value_text if not target_text else f"{value_text} / {target_text}"
    add_text(root, bar_w + 4, 15, text, size="9")
    return tostring(root)
