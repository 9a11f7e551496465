"""Weekly sales forecast: simple forecasts combined by their past errors (docs/kgi.md).

Pure: a ``History`` of dated sales and proposals in, a ``Forecast`` out; no database (the
loader is ``kpi.forecast_data``). Nothing dated after ``as_of`` is read, so a backtest can hand
the whole history to every origin.

At the origin (the end of the last complete week, plus as many days as ``as_of`` lies after
it) and at every past origin, the same candidates forecast each of the coming weeks:

- ``mean_4``: the mean of the last 4 weeks;
- ``level``: a local linear trend (statsmodels UnobservedComponents) fitted to the weekly
  sales, forecast from its filtered state after the origin's week;
- ``line_13``: the least-squares line through the last 13 weeks, carried to the target week;
- ``this_week``: the days of the current week so far, over the share of a week those weekdays
  brought in the last 13 weeks (only when ``as_of`` is not a Sunday);
- ``last_year``: the same weeks last year, grown as the last 13 weeks grew on a year earlier
  (with 65 weeks of history or more);
- ``mean_4+pipeline``: the 4-week mean plus what the open pipeline should bring beyond the wins
  of the last 4 weeks (``kpi.forecast_pipeline``), times a coefficient fitted on past origins;
- ``level+lead:KEY``: the level plus a leading KPI's departure from its 13-week mean, at the lag
  the lead analysis found, times a coefficient fitted on past origins.

The forecast weighs each by the inverse square of its recent error (per unit of the 13-week
level, against the 4-week mean's) over the past origins whose outcome was known on ``as_of``:
a candidate that does not help gets little weight. The 80 % interval is symmetric: a quantile
of the absolute errors the blend would have made at past origins, each blend weighted only on
what was known before it (recent errors weighing most, scaled by the 13-week level and
√horizon); the quantile starts at 80 % and, walking the past origins in order, rises after a
miss and falls after a hit (adaptive conformal inference), so a changed business widens it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np

from ..rules.periods import Period
from .forecast_combine import (
    Arrays,
    Level,
    Table,
    blend,
    choose_weights,
    last_year,
    line_13,
    recency,
    weighted_quantile,
)
from .forecast_history import (
    KINDS,
    History,
    first_week,
    last_complete_week,
    monday_of,
    sales_between,
    week_label,
    weekly_sales,
)
from .forecast_pipeline import pipeline_expectation, recent_wins

__all__ = [
    "KINDS",
    "Forecast",
    "History",
    "TooLittleHistory",
    "WeekForecast",
    "forecast",
    "naive_forecasts",
    "pipeline_expectation",
    "weekly_sales",
]

MIN_WEEKS = 8
# Past origin×horizon pairs with a known outcome needed before the blend is trusted over the
# plain 4-week mean; as many honest (out-of-sample) errors for the interval.
MIN_ROWS = 30
COVERAGE = 0.8
# In the honest errors, the weights are chosen anew every this many past origins.
REFIT_EVERY = 4
# Weeks after which a past error weighs half as much in the interval.
INTERVAL_HALF_LIFE = 13
# How far one origin's misses move the interval's quantile (adaptive conformal inference).
ADAPT = 0.05


class TooLittleHistory(ValueError):
    """Fewer than MIN_WEEKS complete weeks of sales before the origin."""


@dataclass(frozen=True)
class WeekForecast:
    week: str
    value: int
    interval: tuple[int, int]


@dataclass(frozen=True)
class Forecast:
    as_of: date
    weeks: list[WeekForecast]
    method: str
    history_weeks: int


@dataclass
class _Origin:
    """What every candidate needs about the history at the forecast's origin."""

    history: History
    y: np.ndarray
    first: date
    days_after: int
    level: Level

    def monday(self, i: int) -> date:
        return self.first + timedelta(weeks=i)

    def this_week(self, i: int) -> float:
        """Week ``i + 1``'s first ``days_after`` days, over the share of a week they brought in
        the 13 weeks up to ``i``."""
        days = self.days_after

        def part(k: int) -> float:
            start = self.monday(k).toordinal()
            return sales_between(self.history, start, start + days - 1)

        weeks = range(max(0, i - 12), i + 1)
        whole = float(self.y[weeks.start : i + 1].sum())
        share = sum(part(k) for k in weeks) / whole if whole > 0 else 0.0
        return part(i + 1) / share if share > 0 else float("nan")

    def row(self, i: int, h: int, names: list[str]) -> tuple[list[float], dict[str, float]]:
        y, history = self.y, self.history
        snapshot = (self.monday(i) + timedelta(days=6)).toordinal() + self.days_after
        level = self.level.at(i, h)
        values = {
            "mean_4": float(y[max(0, i - 3) : i + 1].mean()),
            "level": level,
            "line_13": line_13(y, i, h),
        }
        if "this_week" in names:
            values["this_week"] = self.this_week(i)
        if "last_year" in names:
            values["last_year"] = last_year(y, i, h)
        pending, upcoming = pipeline_expectation(history, snapshot, self.monday(i + h).toordinal())
        # What the proposals bring beyond the wins the recent level already holds.
        inputs = {"mean_4+pipeline": pending + upcoming - recent_wins(history, snapshot, 28) / 4}
        for key, (kpi, lag) in history.leading.items():
            source = self.monday(min(i, i + h - lag)).toordinal()
            recent = [kpi.get(self.monday(k).toordinal(), 0.0) for k in range(i - 12, i + 1)]
            inputs[f"level+lead:{key}"] = kpi.get(source, 0.0) - float(np.mean(recent))
        # The adjusted candidates start as their base; the coefficient comes with the weights.
        values.update({name: values[name.partition("+")[0]] for name in inputs})
        return [values[name] for name in names], inputs


def forecast(history: History, as_of: date, weeks: int) -> Forecast:
    """Sales of the ``weeks`` ISO weeks after the week of ``as_of``, from data up to ``as_of``."""
    if weeks < 1:
        raise ValueError("weeks must be at least 1")
    known = history.sale_days <= as_of.toordinal()
    if not known.any():
        raise TooLittleHistory(0)
    first = first_week(history, known)
    last = last_complete_week(as_of)
    n = (last - first).days // 7 + 1
    if n < MIN_WEEKS:
        raise TooLittleHistory(max(n, 0))
    y = weekly_sales(history, first, last)
    offset = 0 if as_of.weekday() == 6 else 1  # the partial week of as_of is not forecast
    days_after = (as_of - last).days - 6
    horizons = range(1 + offset, weeks + offset + 1)
    targets = [first + timedelta(weeks=n - 1 + h) for h in horizons]
    if n < 13 + MIN_ROWS // len(horizons):
        return _mean_forecast(y, as_of, targets, n)
    origin = _Origin(history, y, first, days_after, Level.fit(y))
    names = ["mean_4", "level", "line_13"] + (["this_week"] if days_after else [])
    names += ["last_year"] if not np.isnan(last_year(y, n - 1, horizons[-1])) else []
    names += ["mean_4+pipeline"] + [f"level+lead:{k}" for k in history.leading]
    table = Table(names)
    for i in range(12, n):
        for h in horizons:
            if i < n - 1 and i + h >= n:
                continue
            values, inputs = origin.row(i, h, names)
            table.values.append(values)
            table.actual.append(float(y[i + h]) if i + h < n else float("nan"))
            table.origin.append(i)
            table.horizon.append(h)
            table.scale.append(max(float(y[i - 12 : i + 1].mean()), 1.0))
            for name, x in inputs.items():
                table.inputs.setdefault(name, []).append(x)
    rows = table.arrays()
    past = ~np.isnan(rows.actual)
    errors = _honest_errors(rows, past)
    if past.sum() < MIN_ROWS or len(errors[0]) < MIN_ROWS:
        return _mean_forecast(y, as_of, targets, n)
    weights = recency(rows.origin[past], n - 1)
    values = rows.adjusted(past, weights)
    share = choose_weights(values[past], rows.actual[past], rows.scale[past], weights)
    combined = blend(values, share)
    residual, at, horizon = errors
    fresh = recency(at, n - 1, INTERVAL_HALF_LIFE)
    level = _adapted_level(residual, at, horizon)
    out = []
    for h, monday in zip(horizons, targets, strict=True):
        row = (rows.origin == n - 1) & (rows.horizon == h)
        value, scale = float(combined[row][0]), float(rows.scale[row][0])
        mine = horizon == h
        if mine.sum() >= MIN_ROWS:
            half = weighted_quantile(np.abs(residual[mine]), fresh[mine], level)
        else:  # all horizons, per √horizon
            spread = np.abs(residual) / np.sqrt(horizon)
            half = weighted_quantile(spread, fresh, level) * np.sqrt(h)
        out.append(_week(monday, value, value - half * scale, value + half * scale))
    used = ", ".join(f"{name} {w:.0%}" for name, w in zip(names, share, strict=True) if w > 0)
    method = (
        f"blend of simple forecasts ({used}; the level a local linear trend, statsmodels "
        f"UnobservedComponents) weighted by their errors at {int(past.sum())} past "
        "origin×horizon pairs, recent ones weighing more; 80% interval from the blend's "
        f"out-of-sample errors at past origins ({level:.0%} quantile, adapted to recent misses)"
    )
    return Forecast(as_of, out, method, n)


def _honest_errors(rows: Arrays, past: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The blend's errors (per unit of level) at past origins, each blend weighted on the rows
    whose outcome was known at that origin only; with the origins and horizons they belong to."""
    residual, at, horizon = [], [], []
    origins = np.unique(rows.origin[past])
    for j in origins[::REFIT_EVERY]:
        known = past & (rows.origin + rows.horizon <= j)
        if known.sum() < MIN_ROWS:
            continue
        weights = recency(rows.origin[known], j)
        values = rows.adjusted(known, weights)
        share = choose_weights(values[known], rows.actual[known], rows.scale[known], weights)
        judged = past & (rows.origin >= j) & (rows.origin < j + REFIT_EVERY)
        combined = blend(values[judged], share)
        residual.append((rows.actual[judged] - combined) / rows.scale[judged])
        at.append(rows.origin[judged])
        horizon.append(rows.horizon[judged])
    if not residual:
        return np.array([]), np.array([]), np.array([])
    return np.concatenate(residual), np.concatenate(at), np.concatenate(horizon)


def _adapted_level(residual: np.ndarray, at: np.ndarray, horizon: np.ndarray) -> float:
    """The quantile of past absolute errors that would have held 80 % of the outcomes lately:
    walking the past origins in order, each interval made from the errors known before it, the
    level rises after a miss and falls after a hit (adaptive conformal inference)."""
    q = COVERAGE
    for j in np.unique(at):
        known = at + horizon <= j
        if known.sum() < MIN_ROWS // 2:
            continue
        fresh = recency(at[known], j, INTERVAL_HALF_LIFE)
        now = at == j
        scaled = np.abs(residual[known]) / np.sqrt(horizon[known])
        half = weighted_quantile(scaled, fresh, q) * np.sqrt(horizon[now])
        missed = float(np.mean(np.abs(residual[now]) > half))
        q = min(0.99, max(0.5, q + ADAPT * (missed - (1 - COVERAGE))))
    return q


def _week(monday: date, value: float, lo: float, hi: float) -> WeekForecast:
    """Sales are not forecast below zero; the interval always contains the forecast."""
    value = max(0.0, value)
    lo, hi = max(0.0, min(lo, value)), max(hi, value)
    return WeekForecast(week_label(monday), round(value), (round(lo), round(hi)))


def _mean_forecast(y: np.ndarray, as_of: date, targets: list[date], n: int) -> Forecast:
    """Too few past origins for the blend: the last 4 weeks' mean, with its past errors."""
    level = float(y[-4:].mean())
    errors = [y[i] - y[i - 4 : i].mean() for i in range(4, len(y))]
    tail = (1 - COVERAGE) / 2
    lo_q, hi_q = np.quantile(errors, (tail, 1 - tail)) if errors else (0.0, 0.0)
    weeks = [_week(m, level, level + lo_q, level + hi_q) for m in targets]
    method = (
        "mean of the last 4 weeks (too few past weeks for the blend); 80% interval from "
        "the 10th–90th percentiles of that mean's past one-week errors"
    )
    return Forecast(as_of, weeks, method, n)


def naive_forecasts(history: History, as_of: date, weeks: int) -> dict[str, list[float | None]]:
    """The two forecasts to beat: the same week last year, and the mean of the last 4 weeks."""
    known = history.sale_days <= as_of.toordinal()
    first = monday_of(date.fromordinal(int(history.sale_days[known].min())))
    last = last_complete_week(as_of)
    y = weekly_sales(history, first, last)
    offset = 0 if as_of.weekday() == 6 else 1
    n = len(y)
    previous: list[float | None] = []
    for h in range(1 + offset, weeks + offset + 1):
        target = Period.week_of(last + timedelta(weeks=h)).last_year().start
        t = (target - first).days // 7
        previous.append(float(y[t]) if 0 <= t < n else None)
    mean4 = float(y[-4:].mean())
    return {"last_year": previous, "mean_4": [mean4] * weeks}
