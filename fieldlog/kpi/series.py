"""Weekly KPI series of every unit at once, for the lead analysis (docs/verification.md).

``weekly_series`` answers "every KPI asked, every rep (or branch), every week" in one pass of
the roll-up's grouped queries (GROUP BY week, unit), where the lead analysis used to ask for two
KPIs at a time: the ranking of 12 candidate KPIs for the company and every branch then reads
the data twice (once per rep, once per branch) instead of 12 × 21 times, and the KGI's series
is read once for all the KPIs. The figures are the roll-up's own (``trend_by``), so the lead's
series equal the roll-up's weekly values exactly (tests/test_kpi_series.py).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from zoneinfo import ZoneInfo

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from ..models import User
from ..rules.periods import Period
from .rollup import KpiValue, trend_by


@dataclass(frozen=True)
class WeeklySeries:
    """Per KPI, a units × weeks array (NaN where a rate has no denominator)."""

    periods: tuple[Period, ...]
    units: tuple[int, ...]
    values: dict[str, np.ndarray]

    def rows(self, units: Iterable[int]) -> list[int]:
        """The row indexes of ``units`` (in this series' order), skipping unknown ones."""
        wanted = set(units)
        return [i for i, unit in enumerate(self.units) if unit in wanted]

    def panel(self, key: str, units: Iterable[int] | None = None) -> np.ndarray:
        """``key``'s array for ``units`` (all when None), a copy the caller may change."""
        array = self.values[key]
        if units is None:
            return array.copy()
        return array[self.rows(units)].copy()


def weekly_series(
    session: Session,
    group: str,
    periods: Sequence[Period],
    *,
    keys: Iterable[str],
    branch_id: int | None = None,
    today: date,
    tz: ZoneInfo,
) -> WeeklySeries:
    """Every KPI of ``keys`` per week for every branch, or every rep (of ``branch_id``, or all).

    Units and their order are ``trend_by``'s (branches by code; reps by name); a unit's
    figures equal ``trend_by``'s for the same group, week and key.
    """
    wanted = tuple(dict.fromkeys(keys))
    by_unit = trend_by(
        session, group, periods, branch_id=branch_id, keys=wanted, today=today, tz=tz
    )
    units = tuple(by_unit)
    values = {
        key: np.array(
            [[_number(week[key]) for week in by_unit[unit]] for unit in units], dtype=float
        ).reshape(len(units), len(periods))
        for key in wanted
    }
    return WeeklySeries(tuple(periods), units, values)


def rep_branches(session: Session) -> dict[int, int | None]:
    """Each rep's (and manager's) branch, as ``trend_by("rep", branch_id=...)`` groups them."""
    rows = session.execute(select(User.id, User.branch_id).where(User.role != "owner"))
    return {user_id: branch_id for user_id, branch_id in rows}


def _number(figure: KpiValue) -> float:
    return np.nan if figure.value is None else float(figure.value)
