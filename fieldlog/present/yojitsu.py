"""How a month's 予実 reads in each of its states, on the pages and in the weekly PDF alike.

``kpi.kgi.MonthToDate.state`` decides which state a month is in; this module is the one place
that says what each state shows and what its figures are called (docs/kgi.md):

- ``running``, the month so far: 月初来実績, 進捗率 against 経過率, 前年同期 and the landing
  estimate with its range (none on the month's last day, with nothing left to forecast);
- ``whole``, a month over: 月間実績, 予算達成率 (met or missed), 前年同月, nothing forecast;
- ``ahead``, a month not begun: its budget and last year's month, nothing counted.

The card and tables of templates/manage/_yojitsu.html and the PDF's templates/reports/_yojitsu.html
ask these helpers (Jinja globals, ``present.pdf.init_app``) instead of testing the state.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from babel.dates import format_skeleton
from flask_babel import get_locale
from markupsafe import Markup

from ..rules.kpi_catalogue import name_of
from . import charts, numbers
from .words import gettext


@dataclass(frozen=True)
class MonthWords:
    """What a 予実 of one state shows, and its figures' names in the reader's language."""

    counted: bool  # sales are counted: actual, progress and 前年比 have values (not 'ahead')
    so_far: bool  # the month so far: 経過率, the calendar mark, the landing and the forecast
    actual: str  # the actual's column: 月初来実績 / 月間実績
    sales: str  # the actual's line on the card: 売上(月初来) / 売上(月間実績)
    progress: str  # 進捗率 / 予算達成率
    progress_long: str  # the same with its formula
    last_year: str  # 前年同期 (the same dates) / 前年同月 (the whole month)
    span: str  # the month's state in a word or two: 月初来 / 月間実績 / 未開始


def words(state: str) -> MonthWords:
    """The words of a month in ``state`` (``MonthToDate.state``)."""
    whole = state == "whole"
    running = state == "running"
    if running:
        span = gettext("month to date")
    else:
        span = gettext("whole month") if whole else gettext("not begun")
    return MonthWords(
        counted=state != "ahead",
        so_far=running,
        actual=gettext("Actual for the month") if whole else gettext("Month to date"),
        sales=gettext("Sales, actual for the month") if whole else gettext("Sales, month to date"),
        progress=gettext("Achievement") if whole else gettext("Progress"),
        progress_long=gettext("Achievement (actual ÷ budget)")
        if whole
        else gettext("Progress (actual ÷ budget)"),
        last_year=gettext("Same period last year") if running else gettext("Same month last year"),
        span=span,
    )


@dataclass(frozen=True)
class Mark:
    """▲ or ▼ beside a month's progress, with what it means."""

    up: bool
    words: str

    @property
    def symbol(self) -> str:
        return "▲" if self.up else "▼"


def mark(month: Any) -> Mark | None:
    """The month so far against the calendar (進捗率 ≥ 経過率), a month over against its
    budget (met or missed); none before the month begins or without a budget."""
    if month.progress is None or month.state == "ahead":
        return None
    if month.state == "whole":
        met = month.progress >= 1
        return Mark(met, gettext("Budget met") if met else gettext("Budget missed"))
    up = month.progress >= month.elapsed
    return Mark(up, gettext("Ahead of the calendar") if up else gettext("Behind the calendar"))


def legend(month: Any) -> str:
    """What ▲ and ▼ say in a table of months like ``month``; empty when none is marked."""
    if month.state == "whole":
        return gettext("▲ budget met, ▼ budget missed.")
    if month.state == "running":
        return gettext(
            "▲ progress at or above the share of the month elapsed (%(share)s), ▼ below.",
            share=numbers.percent(month.elapsed),
        )
    return ""


def heading(month: Any) -> str:
    """The PDF's heading of a month: 予実（2026年11月・11月22日まで／月間実績／未開始）."""
    name = _month_name(month)
    if month.state == "running":
        day = format_skeleton("MMMd", month.as_of, locale=_locale())
        return gettext("Budget vs actual (%(month)s, up to %(day)s)", month=name, day=day)
    return gettext(
        "Budget vs actual (%(month)s, %(span)s)", month=name, span=words(month.state).span
    )


def landing_label(month: Any) -> str:
    """The landing estimate's name, by the month it lands: 2026年11月の着地見込み. The month
    so far need not be this month (a past week's month, ``?month=``), so never 今月."""
    return gettext("Landing estimate for %(month)s", month=_month_name(month))


def week_yoy(figure: Any, start: date, today: date) -> float | None:
    """前年比 of a week's figure starting on ``start``: none before the week begins, when it
    has counted nothing yet (as a month not begun, ``ahead``), or with nothing a year ago."""
    if start > today or figure.value is None or not figure.last_year:
        return None
    return float(figure.value / figure.last_year)


def forecast_chart(month: Any, *, width: int, height: int, text_size: float) -> Markup:
    """The month's weekly sales, 13 weeks of actuals then the forecast with its shaded 80 %
    interval (``charts.forecast_chart``), labelled in the reader's language."""
    return Markup(  # noqa: S704 — built with ElementTree, every label escaped
        charts.forecast_chart(
            month.history or [],
            [(w.week, w.value, *w.interval) for w in month.forecast or []],
            title=gettext("Weekly sales: actual and forecast"),
            actual_label=gettext("Actual"),
            forecast_label=gettext("Forecast"),
            band_label=gettext("Interval (80%)"),
            fmt=numbers.axis("yen", _locale()),
            width=width,
            height=height,
            text_size=text_size,
        )
    )


def kpi_label(key: str) -> str:
    """A KPI's name in the reader's language (the section's other words follow it)."""
    return name_of(key, _locale())


def _month_name(month: Any) -> str:
    """The month of a 予実 in the reader's language: 2026年11月 / Nov 2026."""
    return format_skeleton("yMMM", month.month.start, locale=_locale())


def _locale() -> str:
    return str(get_locale() or "ja")


HELPERS = {
    "month_words": words,
    "month_mark": mark,
    "month_legend": legend,
    "month_heading": heading,
    "month_landing": landing_label,
    "week_yoy": week_yoy,
    "month_kpi": kpi_label,
}
