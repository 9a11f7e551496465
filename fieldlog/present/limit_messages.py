"""The words of the limits' errors (docs/limits.md): the ranges are ``fieldlog/rules/limits``.

Each function asks the pure rule and, when a value breaks it, returns the message marked for
translation (``lazy_gettext``: said in the language of whoever reads it), else None.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from flask_babel import lazy_gettext as _l

from ..rules import limits, periods


def text_error(value: str, *, limit: int = limits.MAX_TEXT) -> Any:
    """The message for text over its limit, or None."""
    if limits.text_too_long(value, limit=limit):
        return _l("At most %(n)s characters.", n=format(limit, ","))
    return None


def amount_error(value: int, *, negative: bool = False) -> Any:
    """The message for an amount of yen out of range, or None."""
    problem = limits.amount_problem(value, negative=negative)
    if problem == "negative":
        return _l("The amount cannot be negative.")
    if problem == "too_large":
        return _l("The amount is at most %(n)s yen.", n=format(limits.MAX_AMOUNT, ","))
    return None


def visit_time_error(value: datetime, *, now: datetime) -> Any:
    """The message for a visit time outside the window (2000 … now + 24 h), or None."""
    problem = limits.visit_time_problem(value, now=now)
    if problem == "ahead":
        return _l("The visit time is more than a day in the future.")
    if problem == "too_early":
        return _l("The visit time is too far in the past.")
    return None


def plan_day_error(value: date, *, around: date) -> Any:
    """The message for a due or start date more than PLAN_DAYS from ``around``, or None."""
    if limits.plan_day_too_far(value, around=around):
        return _l("The date must lie within three years of %(day)s.", day=around.isoformat())
    return None


def day_range_error(error: periods.RangeError, field: Any) -> Any:
    """The message for a date range that cannot be used (periods.RangeError), naming ``field``
    as the reader knows it (the page's label, or the CLI's option)."""
    if error.problem == "not_a_date":
        value = error.value if len(error.value) <= 20 else error.value[:20] + "…"
        return _l(
            "%(field)s: “%(value)s” is not a date. Give it as YYYY-MM-DD, e.g. 2026-11-30.",
            field=field,
            value=value,
        )
    if error.problem == "year":
        return _l(
            "%(field)s: the year must be from %(first)s to %(last)s.",
            field=field,
            first=periods.MIN_YEAR,
            last=periods.MAX_YEAR,
        )
    if error.problem == "reversed":
        return _l("%(field)s: the end date is before the start date.", field=field)
    if error.problem == "too_long":
        return _l(
            "%(field)s: KPIs by week hold at most %(n)s weeks in one file (this range has "
            "%(count)s). Choose a later start.",
            field=field,
            n=limits.MAX_EXPORT_WEEKS,
            count=error.value,
        )
    return _l(
        "%(field)s: this export has no date to filter by; leave the range empty.", field=field
    )
