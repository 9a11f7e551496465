"""Template helpers for KPI pages: names in the reader's language, values, inline SVG charts."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from flask_babel import get_locale
from markupsafe import Markup

from .. import charts
from ..kpi import CATALOGUE
from .filters import rate, yen


def _locale() -> str:
    return str(get_locale() or "ja")


def kpi_name(key: str | None) -> str:
    return CATALOGUE[key].name(_locale()) if key in CATALOGUE else str(key or "")


def kpi_why(key: str) -> str:
    return CATALOGUE[key].why(_locale()) if key in CATALOGUE else ""


def fmt(unit: str, value: Any) -> str:
    """A KPI value as the reader sees it: a percentage, yen, or a plain count."""
    if value is None:
        return "—"
    if unit == "rate":
        return rate(value, 1)
    if unit == "yen":
        return yen(value)
    return charts.plain(float(value))


def _chart_fmt(unit: str):
    if unit == "rate":
        return charts.percent
    return charts.plain


def spark(values: Sequence[Any], title: str, target: Any = None) -> Markup:
    # Chart markup is built with ElementTree, which escapes every label (hence the noqa).
    return Markup(charts.sparkline(list(values), title=title, target=target))  # noqa: S704


def line(
    labels: Sequence[str],
    series: Sequence[tuple[str, Sequence[Any]]],
    *,
    title: str,
    unit: str,
    target: Any = None,
    target_label: str = "",
) -> Markup:
    return Markup(  # noqa: S704 — built with ElementTree, every label escaped
        charts.line_chart(
            list(labels),
            [charts.Series(name, list(values)) for name, values in series],
            title=title,
            target=target,
            target_label=target_label,
            fmt=_chart_fmt(unit),
            width=480,
            height=220,
        )
    )


HELPERS = {
    "kpi_name": kpi_name,
    "kpi_why": kpi_why,
    "kpi_fmt": fmt,
    "chart_spark": spark,
    "chart_line": line,
}
