"""Jinja filters: dates in the company timezone, yen, rates."""

from __future__ import annotations

from datetime import date, datetime
from functools import lru_cache
from typing import Any

from flask import Flask, current_app
from flask_babel import format_date, format_datetime, get_locale
from flask_login import current_user
from werkzeug.local import LocalProxy

from ..present import gap_text, numbers, report_text
from ..present.words import translations
from ..rules import limits
from ..rules.entry import Entry, describe
from ..services import access
from .common import company_tz


def localdatetime(value: datetime | None, fmt: str = "short") -> str:
    if value is None:
        return ""
    return format_datetime(value.astimezone(company_tz()), fmt)


def localtime(value: datetime | None) -> str:
    if value is None:
        return ""
    return value.astimezone(company_tz()).strftime("%H:%M")


def localdate(value: date | datetime | None, fmt: str = "medium") -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        value = value.astimezone(company_tz()).date()
    return _localdate(value, fmt, str(get_locale()))


@lru_cache(maxsize=4096)
def _localdate(value: date, fmt: str, locale: str) -> str:
    """Babel's date, once per date, format and locale: Today lists dozens of due dates."""
    return format_date(value, fmt)


def visit_time(visit: Any, fmt: str = "short") -> str:
    """When a visit took place, for a person: the date and time, or the date alone when the time
    is not known (an imported bare date is stored at 12:00 with time_known false; see
    docs/import-visits.md). "short" is a list row's date-time, "medium" the detail page's."""
    if not visit.time_known:
        return localdate(visit.visited_at, fmt)
    if fmt == "short":
        return localdatetime(visit.visited_at, "short")
    return f"{localdate(visit.visited_at, fmt)} {localtime(visit.visited_at)}"


def entry(visit: Any) -> Entry:
    """How a visit came in (entry time, days after the visit, imported), for pages."""
    return describe(visit, company_tz())


def flag_detail(flag: Any) -> str:
    """A data-health flag in one neutral sentence, in the reader's language."""
    return report_text.describe_flag(flag)


def _install_gettext(app: Flask) -> None:
    """The callables Flask-Babel installs, on the cached translations (same strings)."""
    app.jinja_env.install_gettext_callables(
        gettext=lambda s: translations().ugettext(s),
        ngettext=lambda s, p, n: translations().ungettext(s, p, n),
        newstyle=True,
        pgettext=lambda c, s: translations().upgettext(c, s),
        npgettext=lambda c, s, p, n: translations().unpgettext(c, s, p, n),
    )


def init_app(app: Flask) -> None:
    _install_gettext(app)
    app.add_template_filter(localdatetime)
    app.add_template_filter(localtime)
    app.add_template_filter(localdate)
    app.add_template_filter(numbers.yen, "yen")
    app.add_template_filter(visit_time)
    app.add_template_filter(entry)
    app.add_template_filter(flag_detail)
    app.add_template_filter(gap_text.explain, "explain")
    app.add_template_filter(numbers.percent, "rate")
    app.add_template_global(lambda: str(get_locale()), "current_locale")
    app.add_template_global(lambda name: name in current_app.view_functions, "has_endpoint")
    # What the signed-in user's pages show (services.access.viewer): templates ask these flags.
    app.add_template_global(LocalProxy(lambda: access.viewer(current_user)), "viewer")
    # Form fields say their bounds (maxlength) from the one home of the limits.
    app.add_template_global(limits, "limits")
