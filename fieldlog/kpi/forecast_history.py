"""What the sales forecast reads: daily sales and proposals as plain arrays, summed by week.

Pure (numpy only): ``kpi.forecast_data`` fills a ``History`` from the database, the tests and the
backtest build one by hand (tests/forecast_synth.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import numpy as np

from ..rules.proposals import NEVER_ORDINAL

# models.PROPOSAL_KINDS, spelt here because this module stays pure (no SQLAlchemy);
# tests/test_layers.py checks the two are equal.
KINDS = ("upsell", "cross_sell", "other")


@dataclass
class History:
    """Sales by day and every proposal, as ordinals (date.toordinal) and plain arrays."""

    sale_days: np.ndarray
    sale_amounts: np.ndarray
    proposed: np.ndarray
    closed: np.ndarray  # NEVER_ORDINAL when not closed (rules.proposals)
    won: np.ndarray  # bool: closed as won (only trusted when closed <= as_of)
    kinds: np.ndarray  # index into KINDS
    amounts: np.ndarray
    # name → (weekly values keyed by the Monday's ordinal, lag in weeks)
    leading: dict[str, tuple[dict[int, float], int]] = field(default_factory=dict)
    _pipe_cache: dict[tuple[int, int], tuple[float, float]] = field(
        default_factory=dict, repr=False
    )

    _cumulative: np.ndarray | None = field(default=None, repr=False)
    _cohorts: dict[int, Any] = field(default_factory=dict, repr=False)
    _wins_cache: dict[tuple[int, int], float] = field(default_factory=dict, repr=False)

    @staticmethod
    def never() -> int:
        return NEVER_ORDINAL


def monday_of(day: date) -> date:
    return day - timedelta(days=day.weekday())


def week_label(monday: date) -> str:
    year, week, _ = monday.isocalendar()
    return f"{year}-W{week:02d}"


def first_week(history: History, known: np.ndarray) -> date:
    """The Monday of the first week of sales; a history that starts on a Wednesday or later
    starts with the next week (a part week would read as a slump)."""
    day = date.fromordinal(int(history.sale_days[known].min()))
    return monday_of(day) + timedelta(weeks=1 if day.weekday() >= 2 else 0)


def last_complete_week(as_of: date) -> date:
    """The Monday of the last complete week on ``as_of``: its own week if it is a Sunday."""
    return monday_of(as_of) if as_of.weekday() == 6 else monday_of(as_of) - timedelta(weeks=1)


def weekly_sales(history: History, first: date, last: date) -> np.ndarray:
    """Sales per ISO week, from the week of ``first`` to the week of ``last`` (both Mondays)."""
    start, stop = first.toordinal(), last.toordinal() + 7
    keep = (history.sale_days >= start) & (history.sale_days < stop)
    index = (history.sale_days[keep] - start) // 7
    return np.bincount(index, weights=history.sale_amounts[keep], minlength=(stop - start) // 7)


def sales_between(history: History, first: int, last: int) -> float:
    """Sales from day ``first`` to day ``last`` (ordinals, both included)."""
    if history._cumulative is None:
        order = np.argsort(history.sale_days, kind="stable")
        history.sale_days = history.sale_days[order]
        history.sale_amounts = history.sale_amounts[order]
        history._cumulative = np.concatenate([[0.0], np.cumsum(history.sale_amounts)])
    lo = np.searchsorted(history.sale_days, first, side="left")
    hi = np.searchsorted(history.sale_days, last, side="right")
    return float(history._cumulative[hi] - history._cumulative[lo])
