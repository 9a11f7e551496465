"""Value, target and last year for each KPI: how a KPI target and a sales budget read alike.

``target`` is the KPI's target in force (``kpi.targets``); for ``sales_amount`` it is the sales
budget of the period and scope (``kpi.budgets``), and the ``sales_amount`` KPI target only where
no budget is set. ``last_year`` is the same KPI, scope and kind of period a year earlier
(``Period.last_year``: the same month, or the same ISO week of the previous ISO year).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from ..periods import Period
from .budgets import budget_for
from .catalogue import CATALOGUE, KPI_KEYS
from .rollup import KpiValue, trend
from .scope import Scope
from .targets import targets_for


@dataclass(frozen=True)
class Reading:
    """One KPI of one period: the figure, its target (or budget) and last year's figure."""

    figure: KpiValue
    target: float | int | None
    last_year: float | int | None

    def as_dict(self) -> dict[str, float | int | None]:
        """The figure's keys, plus ``target`` and ``last_year`` where they exist."""
        body = self.figure.as_dict()
        if self.target is not None:
            body["target"] = self.target
        if self.last_year is not None:
            body["last_year"] = self.last_year
        return body


def read(
    session: Session, scope: Scope, period: Period, *, today: date, tz: ZoneInfo
) -> dict[str, Reading]:
    """Every KPI of a scope and period with its target and last year's value (2 roll-ups)."""
    now, before = trend(session, scope, [period, period.last_year()], today=today, tz=tz)
    targets = targets_for(session, KPI_KEYS, scope, period)
    budget = budget_for(session, scope, period)
    if budget is not None:
        targets["sales_amount"] = budget
    return {
        key: Reading(now[key], _whole(key, targets[key]), before[key].value) for key in KPI_KEYS
    }


def _whole(key: str, value: float | None) -> float | int | None:
    """Targets are stored as floats: a count or yen target reads as the integer it is."""
    if value is not None and CATALOGUE[key].unit != "rate":
        return int(value)
    return value
