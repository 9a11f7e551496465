"""``kpi lead``: does a KPI lead the KGI in this company's own data? (docs/verification.md)

Loads the weekly KPI and KGI of every unit inside the scope — the branches for the company, the
reps (and managers) of a branch, the rep alone — through the roll-up's trend queries (a fixed
number of queries whatever the weeks), then hands the panel to ``leadlag.estimate``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
from sqlalchemy.orm import Session

from ..rules.kpi_catalogue import CATALOGUE, KGI_KEYS, KPI_KEYS
from ..rules.periods import Period
from . import leadlag
from .rollup import KpiValue, trend
from .scope import Scope, scope_label
from .series import weekly_series

KPI_CHOICES = tuple(k for k in KPI_KEYS if k not in KGI_KEYS)
MIN_WEEKS, MAX_WEEKS = 8, 260
# Weeks of history every lead analysis of a page, a report or a forecast looks at.
LEAD_WEEKS = 52
RATE_STEP = 0.1  # a rate's effect is given per 10 points


class LeadInputError(ValueError):
    """A bad argument; ``field`` names it (kpi, kgi, weeks, until) for the CLI and the web."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class LeadResult:
    """The answer of ``kpi lead`` (docs/contract.md), with the panel's size for the pages."""

    kpi: str
    kgi: str
    scope: str
    start: Period
    until: Period
    weeks: int
    verdict: leadlag.Verdict
    lag_weeks: int | None
    effect: float | None
    interval: tuple[float, float] | None
    n: int
    by_lag: list[leadlag.LagEstimate] = field(default_factory=list)
    method: str = ""
    units: int = 0

    @property
    def per(self) -> float:
        """The KPI step the effect is given for: 0.1 (10 points) for a rate, else 1."""
        return RATE_STEP if CATALOGUE[self.kpi].is_rate else 1.0

    def as_dict(self) -> dict[str, Any]:
        """The JSON of ``kpi lead --json``, keys exactly as the contract names them."""
        return {
            "kpi": self.kpi,
            "kgi": self.kgi,
            "scope": self.scope,
            "from": self.start.label,
            "until": self.until.label,
            "weeks": self.weeks,
            "verdict": self.verdict,
            "lag_weeks": self.lag_weeks,
            "effect": _round(self.effect),
            "interval": [_round(v) for v in self.interval] if self.interval else None,
            "n": self.n,
            "by_lag": [
                {
                    "lag": e.lag,
                    "effect": _round(e.effect),
                    "interval": [_round(v) for v in e.interval] if e.interval else None,
                }
                for e in self.by_lag
            ],
            "method": self.method,
        }


def _round(value: float | None) -> float | None:
    return None if value is None else float(f"{value:.6g}")


def check_arguments(kpi: str, kgi: str, weeks: int) -> None:
    """Refuse unknown keys and a window outside 8–260 weeks, naming the argument."""
    if kpi not in KPI_CHOICES:
        raise LeadInputError("kpi", f"unknown KPI {kpi!r} (one of: {', '.join(KPI_CHOICES)})")
    if kgi not in KGI_KEYS:
        raise LeadInputError("kgi", f"unknown KGI {kgi!r} (one of: {', '.join(KGI_KEYS)})")
    if not MIN_WEEKS <= weeks <= MAX_WEEKS:
        raise LeadInputError("weeks", f"{weeks} weeks: choose from {MIN_WEEKS} to {MAX_WEEKS}")


def parse_until(text: str, last_complete: Period) -> Period:
    """Read the last week analysed: an ISO week like 2026-W47 that is already over."""
    if "-W" not in text.strip().upper():
        raise LeadInputError("until", f"{text!r} is not an ISO week like 2026-W47")
    try:
        until = Period.parse(text.strip().upper())
    except ValueError as exc:
        raise LeadInputError("until", str(exc)) from None
    if until.start > last_complete.start:
        raise LeadInputError(
            "until",
            f"{until.label} is not over yet: the last complete week is {last_complete.label}",
        )
    return until


def lead_analysis(
    session: Session,
    kpi: str,
    kgi: str,
    scope: Scope,
    weeks: int,
    until: Period,
    *,
    tz: ZoneInfo,
) -> LeadResult:
    """Whether ``kpi`` leads ``kgi`` over the ``weeks`` ISO weeks ending with ``until``."""
    check_arguments(kpi, kgi, weeks)
    if until.kind != "week":
        raise LeadInputError("until", f"{until.label!r} is not an ISO week like 2026-W47")
    periods = until.trailing_in_range(weeks)
    x, y, _units = load_panel(session, kpi, kgi, scope, periods, tz=tz)
    return analyse(kpi, kgi, x, y, scope=scope_label(session, scope), periods=periods)


def analyse(
    kpi: str, kgi: str, x: np.ndarray, y: np.ndarray, *, scope: str, periods: Sequence[Period]
) -> LeadResult:
    """The lead analysis of a loaded panel (units × weeks arrays, as ``load_panel`` gives)."""
    definition = CATALOGUE[kpi]
    per = RATE_STEP if definition.is_rate else 1.0
    found = leadlag.estimate(x, y, per=per, better=definition.direction or "up")
    return LeadResult(
        kpi=kpi,
        kgi=kgi,
        scope=scope,
        start=periods[0],
        until=periods[-1],
        weeks=len(periods),
        verdict=found.verdict,
        lag_weeks=found.lag,
        effect=found.effect,
        interval=found.interval,
        n=found.n,
        by_lag=found.by_lag,
        method=found.method,
        units=int(x.shape[0]),
    )


def load_panel(
    session: Session,
    kpi: str,
    kgi: str,
    scope: Scope,
    periods: list[Period],
    *,
    tz: ZoneInfo,
) -> tuple[np.ndarray, np.ndarray, int]:
    """KPI and KGI as units × weeks arrays (NaN where a rate has no denominator)."""
    # Every week analysed is over, so "today" only needs to lie after the last of them: the
    # follow-up rate's "due on or before today" then counts every follow-up of those weeks.
    today = periods[-1].end
    keys = [kpi, kgi]
    if scope.kind == "rep":
        one = trend(session, scope, periods, keys=keys, today=today, tz=tz)
        x = np.array([[_number(week[kpi]) for week in one]], dtype=float)
        y = np.array([[_number(week[kgi]) for week in one]], dtype=float)
        return unknown_before_start(x), y, 1
    group, branch_id = ("rep", scope.id) if scope.kind == "branch" else ("branch", None)
    series = weekly_series(
        session, group, periods, keys=keys, branch_id=branch_id, today=today, tz=tz
    )
    return unknown_before_start(series.panel(kpi)), series.panel(kgi), len(series.units)


def unknown_before_start(x: np.ndarray) -> np.ndarray:
    """``x`` with each unit's weeks before its first non-zero value set to NaN, in place.

    A count is 0 in the weeks before a unit's history starts (a new rep, visits logged from
    a later date): those weeks are unknown, not a KPI that jumped from nothing.
    """
    for row in x:
        started = np.flatnonzero(~np.isnan(row) & (row != 0))
        row[: started[0] if started.size else len(row)] = np.nan
    return x


def _number(figure: KpiValue) -> float:
    return np.nan if figure.value is None else float(figure.value)
