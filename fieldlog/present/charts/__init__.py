"""Server-side SVG charts shared by the web pages and the PDF report.

Every chart is a pure function returning SVG markup built with ElementTree, so labels are
always escaped and the output is valid XML. Charts need no JavaScript and no ``style``
attributes (presentation attributes only, so they pass a strict CSP and render in
WeasyPrint). They stay readable without colour: series differ by dash pattern and marker
shape, targets are dashed lines with a text label, and every chart carries a ``<title>``
and an ``aria-label``. Labels come in already translated; ``None`` values leave gaps.

The one address of every chart: svg (the building blocks and palette), lines (sparkline,
line, forecast, before/after), bars (bars, bullet), lag (the lead analysis's lags).
"""

from __future__ import annotations

from .bars import bar_chart, bullet
from .lag import lag_chart
from .lines import before_after_chart, forecast_chart, line_chart, sparkline
from .svg import CHAR_WIDTH, SERIES_COLOURS, SERIES_DASHES, SVG_NS, TARGET, Series

__all__ = [
    "CHAR_WIDTH",
    "SERIES_COLOURS",
    "SERIES_DASHES",
    "SVG_NS",
    "TARGET",
    "Series",
    "bar_chart",
    "before_after_chart",
    "bullet",
    "forecast_chart",
    "lag_chart",
    "line_chart",
    "sparkline",
]
