"""Synthetic sales histories with a known future: seasonality, a trend, a pipeline with a lag.

Used by tests/test_forecast.py and benchmarks/forecast_backtest.py. Each week has a base of
repeat sales (level × trend × season × noise, spread over the working days) and proposals, a
share of which are won a few weeks later and sold on the day they are won.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from datetime import date, timedelta

import numpy as np

from fieldlog.kpi.forecast import KINDS, History


@dataclass(frozen=True)
class Plan:
    weeks: int = 156
    level: float = 10_000_000
    trend: float = 0.002  # per week
    season: float = 0.2  # amplitude of the yearly cycle
    noise: float = 0.04
    proposals: int = 20  # a week
    proposal_amount: float = 300_000
    win_rate: float = 0.5
    lag_weeks: tuple[int, int] = (3, 6)
    # A growing pipeline: proposals per week grow by this share per week in the last year.
    pipeline_growth: float = 0.0
    # Campaigns: proposals per week swing by this share over a 13-week cycle.
    campaign: float = 0.0
    # False: a planted null, proposals are won (and recorded so) but bring no sales.
    converts: bool = True
    # A leading KPI handed to the forecast (as the lead analysis would, at ``LEAD_LAG`` weeks):
    # white noise whose value moves sales ``LEAD_LAG`` weeks later by this share of the level
    # per unit; 0.0 is a planted null (a KPI called leading that leads nothing); None, no KPI.
    lead: float | None = None


LEAD_LAG = 3


def history(plan: Plan, start: date = date(2023, 11, 27), seed: int = 1) -> History:
    """Sales and proposals from ``start`` (a Monday) for ``plan.weeks`` weeks."""
    rng = random.Random(seed)
    days: dict[int, float] = {}
    proposed, closed, won, kinds, amounts = [], [], [], [], []
    never = History.never()
    # Its own stream, so the other draws (and the histories without a lead) stay as they were.
    lead_rng = random.Random(f"lead-{seed}")
    kpi = [lead_rng.gauss(0, 1) for _ in range(plan.weeks)]
    for week in range(plan.weeks):
        monday = start + timedelta(weeks=week)
        yearly = 1 + plan.season * math.sin(2 * math.pi * monday.timetuple().tm_yday / 365.25)
        base = plan.level * (1 + plan.trend) ** week * yearly * rng.gauss(1, plan.noise)
        if plan.lead and week >= LEAD_LAG:
            base += plan.level * plan.lead * kpi[week - LEAD_LAG]
        for offset in range(5):
            day = (monday + timedelta(days=offset)).toordinal()
            days[day] = days.get(day, 0.0) + base / 5
        late = max(0, week - (plan.weeks - 52))
        swing = 1 + plan.campaign * math.sin(2 * math.pi * week / 13)
        count = round(plan.proposals * (1 + plan.pipeline_growth) ** late * swing)
        for _ in range(count):
            born = monday + timedelta(days=rng.randrange(5))
            amount = plan.proposal_amount * rng.uniform(0.5, 1.5)
            kind = rng.randrange(len(KINDS))
            if rng.random() < plan.win_rate:
                end = born + timedelta(weeks=rng.randint(*plan.lag_weeks), days=rng.randrange(5))
                if plan.converts:
                    days[end.toordinal()] = days.get(end.toordinal(), 0.0) + amount
                outcome = True
            else:
                end = born + timedelta(days=rng.randint(3, 40))
                outcome = False
            proposed.append(born.toordinal())
            closed.append(end.toordinal() if end.toordinal() < never else never)
            won.append(outcome)
            kinds.append(kind)
            amounts.append(amount)
    # The history ends with its last week: wins after it are the unknown future.
    order = sorted(d for d in days if d < (start + timedelta(weeks=plan.weeks)).toordinal())
    leading = {}
    if plan.lead is not None:
        values = {(start + timedelta(weeks=w)).toordinal(): kpi[w] for w in range(plan.weeks)}
        leading["proposal_count"] = (values, LEAD_LAG)
    return History(
        sale_days=np.array(order, dtype=np.int64),
        sale_amounts=np.array([days[d] for d in order]),
        proposed=np.array(proposed, dtype=np.int64),
        closed=np.array(closed, dtype=np.int64),
        won=np.array(won, dtype=bool),
        kinds=np.array(kinds, dtype=np.int64),
        amounts=np.array(amounts),
        leading=leading,
    )


def until(full: History, as_of: date) -> History:
    """The history as it was known on ``as_of`` (the loader's rule, for a no-leak check)."""
    day = as_of.toordinal()
    sales = full.sale_days <= day
    known = full.proposed <= day
    settled = full.closed[known] <= day
    return History(
        sale_days=full.sale_days[sales],
        sale_amounts=full.sale_amounts[sales],
        proposed=full.proposed[known],
        closed=np.where(settled, full.closed[known], History.never()),
        won=full.won[known] & settled,
        kinds=full.kinds[known],
        amounts=full.amounts[known],
    )


@dataclass
class Score:
    """Errors of each forecast over a backtest, as fractions of the actual week's sales."""

    errors: dict[str, list[float]]
    covered: list[bool]
    # Per scored week: weeks after the origin's week, and the interval's width over the actual.
    horizon: list[int] = field(default_factory=list)
    width: list[float] = field(default_factory=list)

    def mape(self, name: str) -> float:
        return float(np.mean(np.abs(self.errors[name])))

    def bias(self, name: str) -> float:
        return float(np.mean(self.errors[name]))

    @property
    def coverage(self) -> float:
        return float(np.mean(self.covered))

    @classmethod
    def pooled(cls, scores: list[Score]) -> Score:
        """Several backtests' weeks as one."""
        return cls(
            {k: [e for s in scores for e in s.errors[k]] for k in scores[0].errors},
            [c for s in scores for c in s.covered],
            [h for s in scores for h in s.horizon],
            [w for s in scores for w in s.width],
        )


def without_proposals(full: History) -> History:
    """The same sales with no proposal at all: what the forecast knows without a pipeline."""
    empty = np.array([], dtype=np.int64)
    return History(
        sale_days=full.sale_days,
        sale_amounts=full.sale_amounts,
        proposed=empty,
        closed=empty,
        won=np.array([], dtype=bool),
        kinds=empty,
        amounts=np.array([]),
    )


def backtest(full: History, origins: list[date], weeks: int) -> Score:
    """Rolling origins: forecast, then score against what happened (weeks fully known only)."""
    from fieldlog.kpi.forecast import forecast, naive_forecasts, weekly_sales
    from fieldlog.rules.periods import Period

    last_day = int(full.sale_days.max())
    score = Score({"model": [], "last_year": [], "mean_4": []}, [])
    for as_of in origins:
        result = forecast(full, as_of, weeks)
        naive = naive_forecasts(full, as_of, weeks)
        for j, week in enumerate(result.weeks):
            period = Period.parse(week.week)
            if period.end.toordinal() > last_day or naive["last_year"][j] is None:
                continue
            actual = float(weekly_sales(full, period.start, period.start)[0])
            if actual <= 0:
                continue
            score.errors["model"].append((week.value - actual) / actual)
            score.errors["last_year"].append((naive["last_year"][j] - actual) / actual)
            score.errors["mean_4"].append((naive["mean_4"][j] - actual) / actual)
            score.covered.append(week.interval[0] <= actual <= week.interval[1])
            score.horizon.append(j + 1)
            score.width.append((week.interval[1] - week.interval[0]) / actual)
    return score
