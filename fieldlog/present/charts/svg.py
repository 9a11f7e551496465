"""SVG building blocks of the charts: palette, the root element, text, lines, markers, scales."""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET
from collections.abc import Callable, Sequence
from dataclasses import dataclass

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


def num(value: float) -> str:
    return f"{value:.1f}".rstrip("0").rstrip(".")


def frame(width: int, height: int, title: str, css_class: str, desc: str = "") -> ET.Element:
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


def add_text(parent: ET.Element, x: float, y: float, text: str, **attrs: str) -> ET.Element:
    node = ET.SubElement(
        parent,
        "text",
        {"x": num(x), "y": num(y), "font-size": attrs.pop("size", "10"), "fill": INK, **attrs},
    )
    node.text = text
    return node


def text_width(text: str, size: float) -> float:
    """Roughly how wide a label is drawn: full-width (Japanese) glyphs are square."""
    return sum(1.0 if ord(ch) > 0x2E7F else CHAR_WIDTH for ch in text) * size


def add_line(parent: ET.Element, x1: float, y1: float, x2: float, y2: float, **attrs: str) -> None:
    ET.SubElement(
        parent,
        "line",
        {"x1": num(x1), "y1": num(y1), "x2": num(x2), "y2": num(y2), **attrs},
    )


def add_marker(
    parent: ET.Element, shape: str, x: float, y: float, colour: str, r: float = 3
) -> None:
    if shape == "circle":
        attrs = {"cx": num(x), "cy": num(y), "r": num(r)}
        ET.SubElement(parent, "circle", {**attrs, "fill": colour})
        return
    if shape == "square":
        points = [(x - r, y - r), (x + r, y - r), (x + r, y + r), (x - r, y + r)]
    elif shape == "triangle":
        points = [(x, y - r - 1), (x + r + 1, y + r), (x - r - 1, y + r)]
    elif shape == "diamond":
        points = [(x, y - r - 1), (x + r + 1, y), (x, y + r + 1), (x - r - 1, y)]
    else:
        add_line(parent, x - r, y - r, x + r, y + r, stroke=colour, **{"stroke-width": "1.5"})
        add_line(parent, x - r, y + r, x + r, y - r, stroke=colour, **{"stroke-width": "1.5"})
        return
    ET.SubElement(
        parent,
        "polygon",
        {"points": " ".join(f"{num(px)},{num(py)}" for px, py in points), "fill": colour},
    )


def segments(points: Sequence[tuple[float, float] | None]) -> list[list[tuple[float, float]]]:
    """Split a run of points at missing values, so a null leaves a visible gap."""
    runs: list[list[tuple[float, float]]] = [[]]
    for point in points:
        if point is None:
            if runs[-1]:
                runs.append([])
        else:
            runs[-1].append(point)
    return [run for run in runs if run]


def add_polyline(parent: ET.Element, run: list[tuple[float, float]], **attrs: str) -> None:
    ET.SubElement(
        parent,
        "polyline",
        {
            "points": " ".join(f"{num(x)},{num(y)}" for x, y in run),
            "fill": "none",
            **attrs,
        },
    )


def scale(values: Sequence[Number], target: Number, floor_zero: bool = True) -> tuple[float, float]:
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


def nice(value: float) -> float:
    """The smallest round number (1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8 × 10^k) at or above value."""
    if value <= 0:
        return value
    power = 10 ** math.floor(math.log10(value))
    for step in (1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10):
        if step * power >= value * (1 - 1e-9):
            return step * power
    return 10 * power


def add_target(
    root: ET.Element, x1: float, x2: float, y: float, label: str, target: float, fmt: Formatter
) -> str:
    """A target across the plot: a dashed line at ``y``; returns its legend (label and value),
    which each chart places where it reads best."""
    add_line(
        root, x1, y, x2, y, stroke=TARGET, **{"stroke-dasharray": "5 3", "stroke-width": "1.5"}
    )
    return f"{label} {fmt(float(target))}".strip()


def tostring(root: ET.Element) -> str:
    return ET.tostring(root, encoding="unicode")
