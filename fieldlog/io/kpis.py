"""The KPI table for export and snapshot: one row per week, scope and KPI, with its fraction."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..kpi import CATALOGUE, KPI_KEYS, RATE_KEYS, Scope, trend, trend_by
from ..models import Branch, User
from ..rules.limits import MAX_EXPORT_WEEKS
from ..rules.periods import DayRange, Period, RangeError
from ..services import access
from .export import ALL_DAYS, Table

COLUMNS = [
    "week",
    "start",
    "end",
    "scope",
    "code",
    "name",
    "kpi",
    "value",
    "numerator",
    "denominator",
    # Added at the end, so positions above stay: the KPI's name for a reader, and whether the
    # week is still running (its figures will change).
    "kpi_name",
    "in_progress",
]


def _rows(
    label: tuple[str, str, str],
    periods: list[Period],
    series: list[Any],
    *,
    today: date,
    locale: str,
) -> Iterator[list[Any]]:
    for period, values in zip(periods, series, strict=True):
        for key in KPI_KEYS:
            figure = values.get(key)
            if figure is not None:
                yield [
                    period.label,
                    period.start,
                    period.end,
                    *label,
                    key,
                    figure.value,
                    figure.numerator,
                    figure.denominator,
                    CATALOGUE[key].name(locale),
                    period.start <= today <= period.end,
                ]


def percent_cells(row: list[Any]) -> tuple[int, ...]:
    """The row's value is a rate (a fraction 0–1): Excel shows it as a percentage."""
    return (COLUMNS.index("value"),) if row[COLUMNS.index("kpi")] in RATE_KEYS else ()


def export_weeks(today: date, weeks: int, days: DayRange) -> list[Period]:
    """The weeks a KPI export holds, oldest first: without a range the last ``weeks`` up to
    today's; with one, the ISO weeks (Monday to Sunday) lying wholly in it, none after today's
    week (an open start: ``weeks`` of them). RangeError past MAX_EXPORT_WEEKS."""
    last = Period.week_of(today)
    if days.end is not None:
        last = min(last, Period.week_of(days.end + timedelta(days=1)).previous())
    if days.start is None:
        return last.trailing_in_range(weeks)
    first = Period.week_of(days.start - timedelta(days=1)).next()
    count = (last.start - first.start).days // 7 + 1
    if count > MAX_EXPORT_WEEKS:
        raise RangeError("from", "too_long", str(count))
    return [first.shift(n) for n in range(count)]


def kpi_table(
    session: Session,
    user: User | None,
    *,
    tz: ZoneInfo,
    today: date,
    weeks: int = 12,
    scopes: tuple[str, ...] = ("company", "branch", "rep"),
    locale: str = "ja",
    days: DayRange = ALL_DAYS,
) -> Table:
    """Weekly KPIs of the last `weeks` ISO weeks up to today's, or of the weeks lying wholly in
    ``days`` (export_weeks), for what the user may see.

    Owners (and the CLI, user None) get the company, every branch and every rep; managers their
    branch and its people; reps themselves.
    """
    periods = export_weeks(today, weeks, days)
    owner = user is None or access.is_owner(user)
    branches = dict(session.execute(select(Branch.id, Branch)).all())
    people = dict(session.execute(select(User.id, User)).all())

    def rows() -> Iterator[list[Any]]:
        if not periods:  # a range holding no whole week
            return
        if owner and "company" in scopes:
            series = trend(session, Scope.company(), periods, today=today, tz=tz)
            yield from _rows(("company", "", ""), periods, series, today=today, locale=locale)
        if "branch" in scopes and (owner or access.is_manager(user)):
            for branch_id, series in trend_by(
                session, "branch", periods, today=today, tz=tz
            ).items():
                if owner or branch_id == user.branch_id:
                    branch = branches[branch_id]
                    yield from _rows(
                        ("branch", branch.code, branch.name),
                        periods,
                        series,
                        today=today,
                        locale=locale,
                    )
        if "rep" in scopes:
            limit = None if owner else user.branch_id
            by_rep = trend_by(session, "rep", periods, branch_id=limit, today=today, tz=tz)
            for user_id, series in by_rep.items():
                if owner or access.is_manager(user) or user_id == user.id:
                    person = people[user_id]
                    yield from _rows(
                        ("rep", person.email, person.name),
                        periods,
                        series,
                        today=today,
                        locale=locale,
                    )

    return Table("kpis", COLUMNS, rows(), percent=percent_cells)
