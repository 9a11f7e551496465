"""A KPI as the weekly report and My week show it: one scope's value this week with last week,
the target in force, how it stands against it, and the trend (docs/kpi.md).

Facts only (keys, numbers); present/ says them (fieldlog.present.report_text).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from ..rules.periods import Period
from ..services.defaults import company_settings

TREND_WEEKS = 8


# Below this many cases a rate's mark against its target carries a "few cases" note.
FEW_CASES = 5


@dataclass
class Figure:
    """One KPI in one scope and week, with what a reader needs to check and judge it.

    Facts only: present/ names the KPI from its key (fieldlog.present.report_text).
    """

    key: str
    unit: str  # "rate" | "count" | "yen"
    direction: str | None  # "up" | "down" | None
    value: float | None
    numerator: float | None = None
    denominator: float | None = None
    previous: float | None = None
    target: float | None = None
    achievement: str | None = None  # "ahead" | "on" | "behind" (None: no target or value)
    trend: list[float | None] = field(default_factory=list)
    why: str = ""  # the company's own "why" for this KPI; empty: the catalogue's
    # The same ISO week a year earlier (docs/kgi.md); filled for the KGI only.
    last_year: float | None = None

    @property
    def change(self) -> float | None:
        """This week minus last week (None when either is missing)."""
        if self.value is None or self.previous is None:
            return None
        return self.value - self.previous

    @property
    def few(self) -> bool:
        """A rate over fewer than ``FEW_CASES`` cases (1 of 1 is 100 %): its mark against the
        target is shown with a "few cases" note, a fact to read with care, not a verdict
        (docs/kpi.md, "The value shape")."""
        return (
            self.unit == "rate"
            and self.denominator is not None
            and 0 < self.denominator < FEW_CASES
        )

    @property
    def on_target(self) -> bool | None:
        """Whether the target is met in the KPI's better direction (None: no target/value)."""
        if self.achievement is None:
            return None
        return self.achievement != "behind"


def figure_of(key: str, series: list[dict[str, Any]], target: float | None) -> Figure:
    """One KPI from a trend (oldest first, this week last) and its target."""
    from ..kpi import CATALOGUE
    from ..kpi.targets import achievement

    kdef = CATALOGUE[key]
    now = series[-1][key]
    previous = series[-2][key].value if len(series) > 1 else None
    return Figure(
        key=key,
        unit=kdef.unit,
        direction=kdef.direction,
        value=now.value,
        numerator=now.numerator,
        denominator=now.denominator,
        previous=previous,
        target=target,
        achievement=achievement(now.value, target, kdef.direction),
        trend=[week[key].value for week in series],
    )


def scope_figures(
    session: Session,
    scope: Any,
    period: Period,
    keys: list[str],
    *,
    today: date,
    tz: ZoneInfo,
    weeks: int = TREND_WEEKS,
    series: list[dict[str, Any]] | None = None,
) -> tuple[dict[str, Figure], list[dict[str, Any]]]:
    """KPI figures of one scope with last week and the ``weeks``-long trend (one roll-up).

    ``series`` is that trend when the caller already has it.
    """
    from ..kpi import trend

    if series is None:
        # Only the KPIs shown: the costly customer-based ones run only when they are active.
        series = trend(session, scope, period.trailing(weeks), keys=keys, today=today, tz=tz)
    targets = targets_in_force(session, keys, scope, period)
    figures = {k: figure_of(k, series, targets[k]) for k in keys}
    for key, why in (company_settings(session).kpi_why or {}).items():
        if key in figures and (why or "").strip():
            figures[key].why = why.strip()
    return figures, series


def add_kgi_last_year(
    session: Session,
    scope: Any,
    period: Period,
    figures: dict[str, Figure],
    *,
    today: date,
    tz: ZoneInfo,
) -> None:
    """Give the KGI figures last year's value, so the sales tile reads as a KPI does: value,
    target (the budget), last year (one roll-up of the sales KPIs)."""
    from ..kpi import trend
    from ..rules.kpi_catalogue import KGI_KEYS

    (before,) = trend(session, scope, [period.last_year()], keys=list(KGI_KEYS), today=today, tz=tz)
    for key in KGI_KEYS:
        figures[key].last_year = before[key].value


def targets_in_force(
    session: Session, keys: list[str], scope: Any, period: Period
) -> dict[str, Any]:
    """The targets in force, the sales budget standing as the sales target (docs/kgi.md)."""
    from ..kpi.budgets import budget_for
    from ..kpi.targets import targets_for

    targets = targets_for(session, keys, scope, period)
    if "sales_amount" in targets:
        budget = budget_for(session, scope, period)
        if budget is not None:
            targets["sales_amount"] = budget
    return targets


def trend_labels(period: Period, n: int) -> list[str]:
    """Short axis labels of the n periods ending with ``period``: "W47", or "26-11" for months."""
    return [p.label[-3:] if p.kind == "week" else p.label[2:] for p in period.trailing(n)]


def active_keys(session: Session) -> list[str]:
    """The company's active KPIs, in their chosen order."""
    from ..kpi.choices import active_kpis

    return active_kpis(company_settings(session))
