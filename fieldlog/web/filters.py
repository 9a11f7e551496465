"""Jinja filters: dates in the company timezone, yen, rates."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from flask import Flask, current_app
from flask_babel import format_date, format_datetime, get_locale

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
    return format_date(value, fmt)


def yen(value: Any) -> str:
    if value is None:
        return "—"
    return f"¥{int(value):,}"


def rate(value: float | None, digits: int = 0) -> str:
    """A 0–1 fraction as a percentage, or an em dash for null."""
    if value is None:
        return "—"
    return f"{value * 100:.{digits}f}%"


def init_app(app: Flask) -> None:
    app.add_template_filter(localdatetime)
    app.add_template_filter(localtime)
    app.add_template_filter(localdate)
    app.add_template_filter(yen)
    app.add_template_filter(rate)
    app.add_template_global(lambda: str(get_locale()), "current_locale")
    app.add_template_global(lambda name: name in current_app.view_functions, "has_endpoint")
