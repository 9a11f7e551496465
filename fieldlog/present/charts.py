"""Server-side SVG charts shared by the web pages and the PDF report.

Every chart is a pure function returning SVG markup built with ElementTree, so labels are
always escaped and the output is valid XML. Charts need no JavaScript and no ``style``
attributes (presentation attributes only, so they pass a strict CSP and render in
WeasyPrint). They stay readable without colour: series differ by dash pattern and marker
shape, targets are dashed lines with a text label, and every chart carries a ``<title>``
and an ``aria-label``. Labels come in already translated; ``None`` values leave gaps.
"""

from __future__ import annotations

import hashlib
import math
import xml.etree.ElementTree as ET
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from .numbers import DASH, count

Number = float | int | None
Formatter = Callable[[float], str]

SVG_NS = "http://www.w3.org/2000/svg"
FONT = "IPAexGothic, sans-serif"
INK = "#1f2933"
MUTED = "#6b7785"
GRID = "#d9dee4"
TARGET = "#b42318"
# Distinguishable in greyscale too; the dash pattern and marker carry the meaning anyway.
SERIES_COLOURS = ("#1d4ed8", "#0f766e", "#9a3412", "#6d28d9", "#374151")
SERIES_DASHES = ("", "6 3", "2 3", "8 3 2 3", "4 4")
MARKERS = ("circle", "square", "triangle", "diamond", "cross")
# Average glyph width of digits and Latin text, as a share of the font size (for fitting labels).
CHAR_WIDTH = 0.6


@dataclass(frozen=True)
class Series:
    """One named line of a line chart."""

    name: str
    values: Sequence[Number]


def _num(value: float) -> str:
    return f"{value:.1f}".rstrip("0").rstrip(".")


def _svg(width: int, height: int, title: str, css_class: str, desc: str = "") -> ET.Element:
    root = ET.Element(
        "svg",
        {
            "xmlns": SVG_NS,
            "width": str(width),
            "height": str(height),
            "viewBox": f"0 0 {width} {height}",
            "role": "img",
            "aria-label": title,
            "class": f"chart {css_class}",
            "font-family": FONT,
        },
    )
    ET.SubElement(root, "title").text = title
    if desc:
        ET.SubElement(root, "desc").text = desc
    return root


def _text(parent: ET.Element, x: float, y: float, text: str, **attrs: str) -> ET.Element:
    node = ET.SubElement(
        parent,
        "text",
        {"x": _num(x), "y": _num(y), "font-size": attrs.pop("size", "10"), "fill": INK, **attrs},
    )
    node.text = text
    return node


def _text_width(text: str, size: float) -> float:
    """Roughly how wide a label is drawn: full-width (Japanese) glyphs are square."""
    return sum(1.0 if ord(ch) > 0x2E7F else CHAR_WIDTH for ch in text) * size


def _line(parent: ET.Element, x1: float, y1: float, x2: float, y2: float, **attrs: str) -> None:
    ET.SubElement(
        parent,
        "line",
        {"x1": _num(x1), "y1": _num(y1), "x2": _num(x2), "y2": _num(y2), **attrs},
    )


def _marker(parent: ET.Element, shape: str, x: float, y: float, colour: str, r: float = 3) -> None:
    if shape == "circle":
        attrs = {"cx": _num(x), "cy": _num(y), "r": _num(r)}
        ET.SubElement(parent, "circle", {**attrs, "fill": colour})
        return
    if shape == "square":
        points = [(x - r, y - r), (x + r, y - r), (x + r, y + r), (x - r, y + r)]
    elif shape == "triangle":
        points = [(x, y - r - 1), (x + r + 1, y + r), (x - r - 1, y + r)]
    elif shape == "diamond":
        points = [(x, y - r - 1), (x + r + 1, y), (x, y + r + 1), (x - r - 1, y)]
    else:
        _line(parent, x - r, y - r, x + r, y + r, stroke=colour, **{"stroke-width": "1.5"})
        _line(parent, x - r, y + r, x + r, y - r, stroke=colour, **{"stroke-width": "1.5"})
        return
    ET.SubElement(
        parent,
        "polygon",
        {"points": " ".join(f"{_num(px)},{_num(py)}" for px, py in points), "fill": colour},
    )


def _segments(points: Sequence[tuple[float, float] | None]) -> list[list[tuple[float, float]]]:
    """Split a run of points at missing values, so a null leaves a visible gap."""
    runs: list[list[tuple[float, float]]] = [[]]
    for point in points:
        if point is None:
            if runs[-1]:
                runs.append([])
        else:
            runs[-1].append(point)
    return [run for run in runs if run]


def _polyline(parent: ET.Element, run: list[tuple[float, float]], **attrs: str) -> None:
    ET.SubElement(
        parent,
        "polyline",
        {
            "points": " ".join(f"{_num(x)},{_num(y)}" for x, y in run),
            "fill": "none",
            **attrs,
        },
    )


def _scale(
    values: Sequence[Number], target: Number, floor_zero: bool = True
) -> tuple[float, float]:
    known = [float(v) for v in values if v is not None]
    if target is not None:
        known.append(float(target))
    if not known:
        return 0.0, 1.0
    low = min([*known, 0.0]) if floor_zero else min(known)
    high = max(known)
    if math.isclose(low, high):
        high = low + (abs(low) or 1.0)
    return low, high + (high - low) * 0.08


def _nice(value: float) -> float:
    """The smallest round number (1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8 × 10^k) at or above value."""
    if value <= 0:
        return value
    power = 10 ** math.floor(math.log10(value))
    for step in (1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10):
        if step * power >= value * (1 - 1e-9):
            return step * power
    return 10 * power


def _tostring(root: ET.Element) -> str:
    return ET.tostring(root, encoding="unicode")


def sparkline(
    values: Sequence[Number],
    *,
    title: str,
    target: Number = None,
    width: int = 120,
    height: int = 28,
) -> str:
    """A small trend line; the last point is marked, a target is a dashed line."""
    root = _svg(width, height, title, "chart-sparkline")
    pad = 3
    low, high = _scale(values, target, floor_zero=False)
    n = max(len(values), 1)

    def xy(i: int, v: float) -> tuple[float, float]:
        x = pad + (width - 2 * pad) * (i / (n - 1) if n > 1 else 0.5)
        y = height - pad - (height - 2 * pad) * (v - low) / (high - low)
        return x, y

    if target is not None:
        ty = xy(0, float(target))[1]
        _line(root, pad, ty, width - pad, ty, stroke=TARGET, **{"stroke-dasharray": "3 2"})
    points = [None if v is None else xy(i, float(v)) for i, v in enumerate(values)]
    for run in _segments(points):
        _polyline(root, run, stroke=SERIES_COLOURS[0], **{"stroke-width": "1.5"})
    last = points[-1] if points else None
    if last is not None:
        _marker(root, "circle", last[0], last[1], SERIES_COLOURS[0], r=2.5)
    if not any(v is not None for v in values):
        _text(root, width / 2, height / 2 + 3, DASH, fill=MUTED, **{"text-anchor": "middle"})
    return _tostring(root)


def bar_chart(
    labels: Sequence[str],
    values: Sequence[Number],
    *,
    title: str,
    target: Number = None,
    target_label: str = "",
    empty_label: str = DASH,
    fmt: Formatter = count,
    width: int = 480,
    height: int = 200,
) -> str:
    """Vertical bars with value labels and an optional dashed target line.

    Bars below the target are hatched as well as lighter, so the cue does not rely on colour.
    """
    root = _svg(width, height, title, "chart-bar")
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
    _line(pattern, 0, 0, 0, 4, stroke=SERIES_COLOURS[0], **{"stroke-width": "1.5"})
    left, right, top, bottom = 8, 8, 14, 34
    plot_w, plot_h = width - left - right, height - top - bottom
    low, high = _scale(values, target)

    def y_of(v: float) -> float:
        return top + plot_h * (1 - (v - low) / (high - low))

    base = y_of(max(low, 0.0))
    _line(root, left, base, width - right, base, stroke=GRID)
    n = len(labels)
    if n == 0:
        _text(root, width / 2, height / 2, empty_label, fill=MUTED, **{"text-anchor": "middle"})
        return _tostring(root)
    slot = plot_w / n
    bar_w = max(min(slot * 0.6, 48), 2)
    for i, (label, value) in enumerate(zip(labels, values, strict=True)):
        cx = left + slot * (i + 0.5)
        group = ET.SubElement(root, "g", {"class": "bar"})
        if value is None:
            _text(group, cx, base - 4, empty_label, fill=MUTED, **{"text-anchor": "middle"})
        else:
            v = float(value)
            y = y_of(v)
            below = target is not None and v < float(target)
            ET.SubElement(
                group,
                "rect",
                {
                    "x": _num(cx - bar_w / 2),
                    "y": _num(min(y, base)),
                    "width": _num(bar_w),
                    "height": _num(max(abs(base - y), 0.5)),
                    "fill": f"url(#{hatch})" if below else SERIES_COLOURS[0],
                    "stroke": SERIES_COLOURS[0],
                },
            )
            ET.SubElement(group, "title").text = f"{label}: {fmt(v)}"
            _text(group, cx, min(y, base) - 3, fmt(v), **{"text-anchor": "middle"})
        _text(group, cx, height - bottom + 13, label, size="9", **{"text-anchor": "middle"})
    if target is not None:
        ty = y_of(float(target))
        dash = {"stroke-dasharray": "5 3", "stroke-width": "1.5"}
        _line(root, left, ty, width - right, ty, stroke=TARGET, **dash)
        legend = f"{target_label} {fmt(float(target))}".strip()
        _text(root, width - right, height - 6, legend, fill=TARGET, **{"text-anchor": "end"})
    return _tostring(root)


def line_chart(
    x_labels: Sequence[str],
    series: Sequence[Series],
    *,
    title: str,
    target: Number = None,
    target_label: str = "",
    empty_label: str = DASH,
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
    root = _svg(width, height, title, "chart-line", desc)
    n = len(x_labels)
    all_values = [v for s in series for v in s.values[:n]]
    band_values = [v for side in band for v in side[:n]] if band else []
    low, high = _scale(all_values + band_values, target)
    if low == 0:
        high = _nice(high)  # round axis labels: 0 / 40% / 80%, not 0 / 38% / 76%
    drawn = [float(v) for v in [*all_values, target] if v is not None]
    if ceiling is not None and drawn and max(drawn) <= ceiling < high:
        high = ceiling
    ticks = (low, (low + high) / 2, high)
    size = _num(text_size)
    legend_size = _num(text_size + 1)
    # Wide enough for the longest tick label, so "68,440,000" is never cut off on the left,
    # and for half the last x label, which is centred on the right edge of the plot.
    left = max(28.0, max(_text_width(fmt(t), text_size) for t in ticks) + 8)
    right = max(10.0, _text_width(x_labels[-1], text_size) / 2 + 2) if n else 10.0
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
        _line(root, left, ty, width - right, ty, stroke=GRID)
        _text(
            root,
            left - 4,
            ty + text_size * 0.35,
            fmt(tick),
            size=size,
            fill=MUTED,
            **{"text-anchor": "end"},
        )
    # As many x labels as fit side by side, with a gap between them.
    widest = max((_text_width(label, text_size) for label in x_labels), default=0.0)
    fit = max(2, int(plot_w // (widest + text_size)))
    step = max(1, math.ceil(n / min(8, fit)))
    for i, label in enumerate(x_labels):
        # Counted back from the newest week, which is always labelled and never crowded.
        if (n - 1 - i) % step == 0:
            x = xy(i, low)[0]
            _text(
                root,
                x,
                top + plot_h + text_size * 1.5,
                label,
                size=size,
                **{"text-anchor": "middle"},
            )
    if mark is not None and n and 0 <= mark[0] < n:
        mx = xy(mark[0], low)[0]
        _line(root, mx, top - 2, mx, top + plot_h, stroke=INK, **{"stroke-dasharray": "2 2"})
        if mark[1]:
            _text(root, mx, top - 4, mark[1], size=size, **{"text-anchor": "middle"})
    if band is not None:
        known = [i for i in range(n) if band[0][i] is not None and band[1][i] is not None]
        if known:
            upper = [xy(i, float(band[1][i])) for i in known]  # type: ignore[arg-type]
            lower = [xy(i, float(band[0][i])) for i in reversed(known)]  # type: ignore[arg-type]
            shade = {"fill": SERIES_COLOURS[1], "fill-opacity": "0.18", "stroke": "none"}
            area = ET.SubElement(root, "polygon", {"class": "band", **shade})
            area.set("points", " ".join(f"{_num(x)},{_num(y)}" for x, y in upper + lower))
            ET.SubElement(area, "title").text = band_label
    if not any(v is not None for v in all_values):
        _text(
            root,
            left + plot_w / 2,
            top + plot_h / 2,
            empty_label,
            fill=MUTED,
            **{"text-anchor": "middle"},
        )
    if target is not None:
        ty = xy(0, float(target))[1]
        dash = {"stroke-dasharray": "5 3", "stroke-width": "1.5"}
        _line(root, left, ty, width - right, ty, stroke=TARGET, **dash)
        legend = f"{target_label} {fmt(float(target))}".strip()
        # A white halo keeps the label legible where it crosses the line and the grid.
        halo = {"stroke": "#ffffff", "stroke-width": "3", "paint-order": "stroke"}
        _text(
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
        for run in _segments(points):
            _polyline(group, run, stroke=colour, **{"stroke-width": "1.8"}, **extra)
        for point in points:
            if point is not None:
                _marker(group, shape, point[0], point[1], colour)
        lx = left + (k % 3) * (plot_w / 3)
        ly = legend_y + (k // 3) * line_h
        _line(group, lx, ly, lx + 18, ly, stroke=colour, **{"stroke-width": "1.8"}, **extra)
        _marker(group, shape, lx + 9, ly, colour)
        _text(group, lx + 22, ly + text_size * 0.4, s.name, size=legend_size)
    if band is not None and band_label:
        k = len(series)
        lx = left + (k % 3) * (plot_w / 3)
        ly = legend_y + (k // 3) * line_h
        swatch = {"fill": SERIES_COLOURS[1], "fill-opacity": "0.18", "stroke": MUTED}
        rect = {"x": _num(lx), "y": _num(ly - 4), "width": "18", "height": "8", **swatch}
        ET.SubElement(root, "rect", rect)
        _text(root, lx + 22, ly + text_size * 0.4, band_label, size=legend_size)
    return _tostring(root)


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
    root = _svg(width, height, title, "chart-bullet")
    known = [float(v) for v in (value, target, maximum) if v is not None]
    top_value = max([*known, 0.0]) or 1.0
    if maximum is None:
        top_value *= 1.1
    label_w = 56
    bar_w = width - label_w - 4

    def x_of(v: float) -> float:
        return bar_w * max(0.0, min(v, top_value)) / top_value

    ET.SubElement(
        root, "rect", {"x": "0", "y": "5", "width": _num(bar_w), "height": "12", "fill": GRID}
    )
    if value is not None:
        ET.SubElement(
            root,
            "rect",
            {
                "x": "0",
                "y": "8",
                "width": _num(max(x_of(float(value)), 0.5)),
                "height": "6",
                "fill": INK,
            },
        )
    if target is not None:
        tx = x_of(float(target))
        _line(root, tx, 2, tx, 20, stroke=TARGET, **{"stroke-width": "2"})
    text = value_text if not target_text else f"{value_text} / {target_text}"
    _text(root, bar_w + 4, 15, text, size="9")
    return _tostring(root)


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
) -> str:
    """Effect per lag with its interval as a whisker, a zero line, and the chosen lag filled.

    ``unit_label`` names the effect axis's unit (the KGI's unit per unit of the KPI), written
    at the top right and kept in the chart's ``<desc>``.

    Intervals that exclude zero are drawn solid, the others dashed, so the reading does not
    depend on colour; a lag that could not be estimated shows a dash.
    """
    root = _svg(width, height, title, "chart-lag", unit_label)
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
        small = _num(text_size * 0.8)
        _text(
            root,
            width - right,
            top - 4,
            unit_label,
            fill=MUTED,
            size=small,
            **{"text-anchor": "end"},
        )
    _line(root, left, zero, width - right, zero, stroke=GRID, **{"stroke-width": "1.5"})
    _text(root, left, top - 4, fmt(high), fill=MUTED, size=_num(text_size * 0.8))
    _text(root, left, top + plot_h - 2, fmt(low), fill=MUTED, size=_num(text_size * 0.8))
    _text(
        root,
        width - right,
        zero - 3,
        "0",
        fill=MUTED,
        size=_num(text_size * 0.8),
        **{"text-anchor": "end"},
    )
    n = max(len(lags), 1)
    slot = plot_w / n
    for lag, effect, interval in zip(lags, effects, intervals, strict=True):
        cx = left + slot * (lags.index(lag) + 0.5)
        group = ET.SubElement(root, "g", {"class": "lag"})
        if effect is None or interval is None:
            _text(group, cx, zero - 3, DASH, fill=MUTED, **{"text-anchor": "middle"})
        else:
            lo, hi = interval
            clear = lo > 0 or hi < 0
            whisker = {"stroke-width": "1.5"} | ({} if clear else {"stroke-dasharray": "3 2"})
            _line(group, cx, y_of(lo), cx, y_of(hi), stroke=SERIES_COLOURS[0], **whisker)
            _line(group, cx - 3, y_of(lo), cx + 3, y_of(lo), stroke=SERIES_COLOURS[0])
            _line(group, cx - 3, y_of(hi), cx + 3, y_of(hi), stroke=SERIES_COLOURS[0])
            y = y_of(float(effect))
            if lag == chosen:
                _marker(group, "diamond", cx, y, TARGET, r=5)
            else:
                _marker(group, "circle", cx, y, SERIES_COLOURS[0], r=2.5)
            ET.SubElement(
                group, "title"
            ).text = f"{lag}: {fmt(float(effect))} [{fmt(lo)}, {fmt(hi)}]"
        _text(
            group,
            cx,
            height - bottom + 12,
            str(lag),
            size=_num(text_size * 0.8),
            **{"text-anchor": "middle"},
        )
    if axis_label:
        _text(
            root,
            width / 2,
            height - 4,
            axis_label,
            fill=MUTED,
            size=_num(text_size * 0.8),
            **{"text-anchor": "middle"},
        )
    return _tostring(root)


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
