"""Weekly sales forecast from history, seasonality and the open pipeline (docs/kgi.md).

Pure: a ``History`` of dated sales and proposals in, a ``Forecast`` out; no database (the
loader is ``kpi.forecast_data``). Nothing dated after ``as_of`` is read, so a backtest can hand
the whole history to every origin.

A least-squares regression (statsmodels WLS) of a week's sales on what was known at a forecast
origin (the end of the last complete week, plus as many days as ``as_of`` lies after it):

- the level: mean sales of the last 4 and the last 13 weeks, and the 13-week trend carried to
  the target week; the days of the current week so far, scaled to a week;
- the season (with a year of history): last year's shape (the 3 weeks around the target week
  52 weeks earlier against the 13 weeks before the origin then, applied to today's level) and
  a yearly sine/cosine of the target week and of the level's window, times the level;
- the pipeline: each proposal open at the origin brings its amount × the share of proposals of
  its kind, still open at its age, that were won within the target week's span of days since
  proposal (the observed win rate and lag together); proposals still to come count the same
  way at the last 4 weeks' pace; minus the weekly wins the level already holds (last 13 weeks);
- leading KPIs, where the lead analysis finds one (``History.leading``: a series and its lag).

It is fitted over every past origin and horizon whose outcome is known, recent origins weighing
more (half-life ``HALF_LIFE`` weeks). Which inputs enter is chosen by their errors on the newest
30 % of past origins when fitted on the older ones (the level alone always competes, so a
pipeline or a season that does not help is left out). The 80 % interval is the forecast plus
the 7th and 93rd percentiles of those held-out errors (scaled by the 13-week level and
√horizon, the newest weighing most); the wider-than-nominal percentiles make up for the
optimism of choosing the inputs on the same errors (benchmarks/forecast_backtest.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import numpy as np

from ..rules.periods import Period

MIN_WEEKS = 8
# Regression rows needed before the model is trusted over the plain 4-week mean.
MIN_ROWS = 30
SEASON = 52
# models.PROPOSAL_KINDS, spelt here because this module stays pure (no SQLAlchemy);
# tests/test_layers.py checks the two are equal.
KINDS = ("upsell", "cross_sell", "other")
COVERAGE = (0.07, 0.93)
# The newest share of past origins whose out-of-sample errors set the interval.
HOLDOUT = 0.3
# Weeks after which a past origin weighs half as much in the fit: the business changes.
HALF_LIFE = 26
# The same for the errors that set the interval: recent misses say most about the next ones.
INTERVAL_HALF_LIFE = 26
# Origins with a year of history behind them needed before the season is fitted.
SEASON_ORIGINS = 52
# Weeks after which a held-out origin weighs half as much in choosing the blend.
BLEND_HALF_LIFE = 26
# The blend of the model and the naive forecasts is chosen on a grid of 1/BLEND_STEPS.
BLEND_STEPS = 4
# At least this many proposals at risk before a kind's own win share is used (else all kinds).
MIN_AT_RISK = 5
# Days since proposal the win shares look at; a proposal open longer counts as not converting.
HORIZON_DAYS = 371
# Proposals older than this at a snapshot are left out (win shares and the open pipeline alike).
COHORT_DAYS = 730


class TooLittleHistory(ValueError):
    """Fewer than MIN_WEEKS complete weeks of sales before the origin."""


@dataclass
class History:
    """Sales by day and every proposal, as ordinals (date.toordinal) and plain arrays."""

    sale_days: np.ndarray
    sale_amounts: np.ndarray
    proposed: np.ndarray
    closed: np.ndarray  # a huge number when never closed
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
        return date.max.toordinal()


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


def _monday(day: date) -> date:
    return day - timedelta(days=day.weekday())


def _label(monday: date) -> str:
    year, week, _ = monday.isocalendar()
    return f"{year}-W{week:02d}"


def _first_week(history: History, known: np.ndarray) -> date:
    """The Monday of the first week of sales; a history that starts on a Wednesday or later
    starts with the next week (a part week would read as a slump)."""
    day = date.fromordinal(int(history.sale_days[known].min()))
    return _monday(day) + timedelta(weeks=1 if day.weekday() >= 2 else 0)


def weekly_sales(history: History, first: date, last: date) -> np.ndarray:
    """Sales per ISO week, from the week of ``first`` to the week of ``last`` (both Mondays)."""
    start, stop = first.toordinal(), last.toordinal() + 7
    keep = (history.sale_days >= start) & (history.sale_days < stop)
    index = (history.sale_days[keep] - start) // 7
    return np.bincount(index, weights=history.sale_amounts[keep], minlength=(stop - start) // 7)


class _Cohort:
    """The proposals known at a snapshot: who was still open at an age, who won and when.

    Counts come from per-kind tables of (days followed, days to close) capped at ``HORIZON_DAYS``,
    summed so that any "followed at least hi days, closed after day a" count is one lookup: the
    cost per snapshot grows with the proposals once, not with the questions asked.
    """

    def __init__(self, history: History, snapshot: int) -> None:
        known = (history.proposed <= snapshot) & (history.proposed > snapshot - COHORT_DAYS)
        proposed = history.proposed[known]
        closed = history.closed[known]
        self.settled = closed <= snapshot
        self.kinds = history.kinds[known]
        self.amounts = history.amounts[known]
        self.proposed = proposed
        cap = HORIZON_DAYS
        observed = np.minimum(snapshot - proposed, cap)
        duration = np.where(self.settled, np.clip(closed - proposed, 0, cap), cap)
        won = self.settled & history.won[known] & (closed - proposed < cap)
        side = cap + 1
        cells = (self.kinds * side + observed) * side + duration
        self.tables: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        grids = []
        for chosen in (np.ones(len(cells), dtype=bool), won):
            grid = np.bincount(cells[chosen], minlength=len(KINDS) * side * side).astype(np.int32)
            grid = grid.reshape(len(KINDS), side, side)
            grid = np.concatenate([grid, grid.sum(axis=0, keepdims=True)])  # last: all kinds
            # [kind, hi, d]: proposals followed at least hi days that closed (or not) by day d.
            followed = np.cumsum(grid[:, ::-1], axis=1, dtype=np.int32)[:, ::-1]
            grids.append(np.cumsum(followed, axis=2, dtype=np.int32))
        for kind in (*range(len(KINDS)), -1):
            self.tables[kind] = (grids[0][kind], grids[1][kind])
        self._open: dict[tuple[int, int], float] | None = None
        self._pace: list[float] | None = None

    def open_by_kind_and_age(self, snapshot: int) -> dict[tuple[int, int], float]:
        """Amounts of the proposals open at the snapshot by kind and age (weeks, as mid-days)."""
        if self._open is None:
            open_now = ~self.settled
            ages = (snapshot - self.proposed[open_now]) // 7
            keys = self.kinds[open_now] * 10_000 + ages
            found, index = np.unique(keys, return_inverse=True)
            totals = np.bincount(index, weights=self.amounts[open_now], minlength=len(found))
            self._open = {
                (int(k) // 10_000, int(k) % 10_000 * 7 + 3): float(t)
                for k, t in zip(found, totals, strict=True)
            }
        return self._open

    def pace(self, snapshot: int) -> list[float]:
        """Yen proposed a day over the last 4 weeks, per kind."""
        if self._pace is None:
            recent = self.proposed > snapshot - 28
            totals = np.bincount(self.kinds[recent], self.amounts[recent], minlength=len(KINDS))
            self._pace = [float(t) / 28 for t in totals]
        return self._pace

    def _counts(self, kind: int, age: int, lo: int, hi: int) -> tuple[int, int]:
        cap = HORIZON_DAYS
        if hi >= cap:
            return 0, 0
        every, won = self.tables[kind]
        at_risk = every[hi, cap] - (every[hi, age] if age >= 0 else 0)
        wins = won[hi, hi] - (won[hi, lo - 1] if lo >= 1 else 0)
        return int(at_risk), int(wins)

    def share(self, kind: int, age: int, lo: int, hi: int) -> float:
        """Of the proposals of a kind still open at ``age`` days and followed to day ``hi``,
        the share won between days ``lo`` and ``hi`` after their proposal (all kinds when a
        kind has too few)."""
        n, wins = self._counts(kind, age, lo, hi)
        if n >= MIN_AT_RISK:
            return wins / n
        n, wins = self._counts(-1, age, lo, hi)
        return wins / n if n >= MIN_AT_RISK else 0.0


def pipeline_expectation(history: History, snapshot: int, week_start: int) -> tuple[float, float]:
    """Expected sales in a week (both ordinals) from proposals: those open at ``snapshot``, and
    those still to come at the pace of the last 4 weeks.

    An open proposal of age a days brings amount × (the share of its kind still open at age a
    that was won within the week's span of days since proposal); a proposal still to come on a
    later day counts the same way from age 0. Shares come from the proposals known at the
    snapshot that were followed long enough to see the whole span (docs/kgi.md).
    """
    key = (snapshot, week_start)
    cached = history._pipe_cache.get(key)
    if cached is not None:
        return cached
    cohort = history._cohorts.get(snapshot)
    if cohort is None:
        cohort = history._cohorts = {snapshot: _Cohort(history, snapshot)}
        cohort = history._cohorts[snapshot]
    sums = cohort.open_by_kind_and_age(snapshot)
    lead = week_start - snapshot
    pending = sum(
        amount * cohort.share(kind, age, age + lead, age + lead + 6)
        for (kind, age), amount in sums.items()
        if amount > 0
    )
    upcoming = 0.0
    for kind, per_day in enumerate(cohort.pace(snapshot)):
        if per_day <= 0:
            continue
        for day in range(1, lead + 7):
            lo = max(0, lead - day)
            hi = lead + 6 - day
            if hi >= 0:
                upcoming += per_day * cohort.share(kind, -1, lo, hi)
    history._pipe_cache[key] = (pending, upcoming)
    return pending, upcoming


def _sales_between(history: History, first: int, last: int) -> float:
    """Sales from day ``first`` to day ``last`` (ordinals, both included)."""
    if history._cumulative is None:
        order = np.argsort(history.sale_days, kind="stable")
        history.sale_days = history.sale_days[order]
        history.sale_amounts = history.sale_amounts[order]
        history._cumulative = np.concatenate([[0.0], np.cumsum(history.sale_amounts)])
    lo = np.searchsorted(history.sale_days, first, side="left")
    hi = np.searchsorted(history.sale_days, last, side="right")
    return float(history._cumulative[hi] - history._cumulative[lo])


def recent_wins(history: History, snapshot: int, days: int = 91) -> float:
    """Amounts of the proposals won in the 13 weeks up to ``snapshot``: sales still arriving."""
    key = (snapshot, days)
    if key not in history._wins_cache:
        won = history.won & (history.closed <= snapshot) & (history.closed > snapshot - days)
        history._wins_cache[key] = float(history.amounts[won].sum())
    return history._wins_cache[key]


@dataclass
class _Design:
    names: list[str]
    rows: list[list[float]] = field(default_factory=list)
    y: list[float] = field(default_factory=list)
    horizon: list[int] = field(default_factory=list)
    origin: list[int] = field(default_factory=list)
    scale: list[float] = field(default_factory=list)


def _features(
    y: np.ndarray,
    i: int,
    h: int,
    *,
    history: History,
    mondays: list[date],
    snapshot: int,
    seasonal: bool,
    partial: int,
) -> tuple[list[float], float] | None:
    """The regression's inputs for origin week index ``i`` and target ``i + h``, and the scale."""
    if i < 3:
        return None
    l4 = float(y[i - 3 : i + 1].mean())
    window = y[max(0, i - 12) : i + 1]
    l13 = float(window.mean())
    if len(window) >= 6:
        x = np.arange(len(window)) - (len(window) - 1) / 2
        slope = float((x * (window - window.mean())).sum() / (x * x).sum())
    else:
        slope = 0.0
    trend = slope * (h + (len(window) - 1) / 2)
    row = [l4, l13, trend]
    if partial:
        start = (mondays[0] + timedelta(weeks=i + 1)).toordinal()
        row.append(_sales_between(history, start, start + partial - 1) * 7 / partial)
    if seasonal:
        t, o = i + h - SEASON, i - SEASON
        if t - 1 < 0 or o - 12 < 0:
            return None
        ly_target = (
            float(y[t - 1 : t + 2].mean()) if t + 2 <= len(y) else float(y[t - 1 : t + 1].mean())
        )
        ly_level = float(y[o - 12 : o + 1].mean())
        ratio = ly_target / ly_level if ly_level > 0 else 1.0
        row.append(l13 * (ratio - 1.0))
    target_monday = mondays[0] + timedelta(weeks=i + h)
    if seasonal:
        centre = mondays[0] + timedelta(weeks=i - (len(window) - 1) / 2)
        for day in (target_monday, centre):
            angle = 2 * np.pi * (day + timedelta(days=3)).timetuple().tm_yday / 365.25
            row += [l13 * np.sin(angle), l13 * np.cos(angle)]
    pending, upcoming = pipeline_expectation(history, snapshot, target_monday.toordinal())
    # What the proposals bring beyond the wins the recent level already holds.
    row.append(pending + upcoming - recent_wins(history, snapshot) / 13)
    for values, lag in history.leading.values():
        source = mondays[0] + timedelta(weeks=min(i, i + h - lag))
        row.append(values.get(source.toordinal(), 0.0))
    scale = max(l13, float(np.abs(window).mean()), 1.0)
    return row, scale


def forecast(history: History, as_of: date, weeks: int) -> Forecast:
    """Sales of the ``weeks`` ISO weeks after the week of ``as_of``, from data up to ``as_of``."""
    import statsmodels.api as sm

    if weeks < 1:
        raise ValueError("weeks must be at least 1")
    known = history.sale_days <= as_of.toordinal()
    if not known.any():
        raise TooLittleHistory(0)
    first = _first_week(history, known)
    # The last complete week: as_of's own if as_of is a Sunday.
    last = _monday(as_of) if as_of.weekday() == 6 else _monday(as_of) - timedelta(weeks=1)
    n = (last - first).days // 7 + 1
    if n < MIN_WEEKS:
        raise TooLittleHistory(max(n, 0))
    y = weekly_sales(history, first, last)
    mondays = [first]
    offset = 0 if as_of.weekday() == 6 else 1  # the partial week of as_of is not forecast
    days_after = (as_of - last).days - 6
    horizons = range(1 + offset, weeks + offset + 1)
    # A season only once enough origins have a year behind them to fit it: fewer rows would
    # let it swallow the noise (and drop the rows without a year of history).
    seasonal = n >= SEASON + 13 + SEASON_ORIGINS
    names = ["level_4", "level_13", "trend"] + (["this_week"] if days_after else [])
    names += ["season"] if seasonal else []
    if seasonal:
        names += ["year_sin", "year_cos", "level_sin", "level_cos"]
    names += ["pipeline"]
    names += [f"lead:{k}" for k in history.leading]
    design = _Design(names)
    for i in range(3, n - 1):
        # The pipeline as it stood the same number of days after the origin as as_of is.
        snapshot = (first + timedelta(weeks=i, days=6)).toordinal() + days_after
        for h in horizons:
            if i + h >= n:
                break
            got = _features(
                y,
                i,
                h,
                history=history,
                mondays=mondays,
                snapshot=snapshot,
                seasonal=seasonal,
                partial=days_after,
            )
            if got is None:
                continue
            design.rows.append(got[0])
            design.y.append(float(y[i + h]))
            design.horizon.append(h)
            design.origin.append(i)
            design.scale.append(got[1])
    origin = n - 1
    targets = [first + timedelta(weeks=origin + h) for h in horizons]
    if len(design.rows) < MIN_ROWS:
        return _mean_forecast(y, as_of, targets, n)
    X = np.array(design.rows)
    target = np.array(design.y)
    scale = np.array(design.scale)
    horizon = np.array(design.horizon)
    origins = np.array(design.origin)
    # Model choice and interval from honest errors: each candidate fitted on the older origins
    # and scored on the newer ones, as it would have been used then.
    older = origins < np.quantile(origins, 1 - HOLDOUT)
    if older.sum() < MIN_ROWS or (~older).sum() < MIN_ROWS // 2:
        return _mean_forecast(y, as_of, targets, n)
    best: tuple[float, list[int], np.ndarray] | None = None
    for columns in _candidates(design.names):
        # A column that never varied (no proposals yet, no leading KPI) says nothing.
        used = [j for j in columns if np.ptp(X[older][:, j]) > 0]
        if len(used) < len(columns):
            continue
        early = _ols(sm, X[older][:, used], target[older], origins[older].max() - origins[older])
        residual = (target[~older] - _predict(early, X[~older][:, used])) / scale[~older]
        score = float(np.abs(residual).mean())
        if best is None or score < best[0]:
            best = (score, used, residual)
    assert best is not None  # the level alone always qualifies
    _score, used, residual = best
    # Shrink towards the naive forecasts: the model, the same week last year and the means of
    # the last 4 and 13 weeks, weighted as their blend would have done best on the held-out
    # origins (all before as_of). The interval then comes from the blend's own held-out errors.
    held = ~older
    candidates = _naive_columns(y, X, design.names, origins, horizon)
    if np.isnan(candidates["last_year"][held]).any():  # not a year behind every held-out row
        del candidates["last_year"]
    model_held = target[held] - residual * scale[held]
    recency = 0.5 ** ((origins[held].max() - origins[held]) / INTERVAL_HALF_LIFE)
    fresh = 0.5 ** ((origins[held].max() - origins[held]) / BLEND_HALF_LIFE)
    weights = _blend_weights(
        [model_held, *(c[held] for c in candidates.values())], target[held], scale[held], fresh
    )
    blended = weights[0] * model_held + sum(
        w * c[held] for w, c in zip(weights[1:], candidates.values(), strict=True)
    )
    residual = (target[held] - blended) / scale[held]
    # Errors per unit of the 13-week level and of √horizon, the newest weighing most.
    held_h = horizon[~older]
    spread = residual / np.sqrt(held_h)
    fit = _ols(sm, X[:, used], target, origins.max() - origins)
    out = []
    for h, monday in zip(horizons, targets, strict=True):
        got = _features(
            y,
            origin,
            h,
            history=history,
            mondays=mondays,
            snapshot=as_of.toordinal(),
            seasonal=seasonal,
            partial=days_after,
        )
        assert got is not None
        row, level = got
        value = weights[0] * float(_predict(fit, np.array([[row[j] for j in used]]))[0])
        naive = _naive_row(y, row, design.names, origin, h)
        value += sum(w * naive[k] for w, k in zip(weights[1:], candidates, strict=True))
        # The errors at this horizon when there are enough; else all, per √horizon.
        mine = held_h == h
        if mine.sum() >= MIN_ROWS:
            width = level
            lo_q, hi_q = (_weighted_quantile(residual[mine], recency[mine], q) for q in COVERAGE)
        else:
            width = level * np.sqrt(h)
            lo_q, hi_q = (_weighted_quantile(spread, recency, q) for q in COVERAGE)
        out.append(_week(monday, value, value + lo_q * width, value + hi_q * width))
    method = (
        "WLS (statsmodels) of weekly sales on "
        + ", ".join(design.names[j] for j in used)
        + f" over {len(design.rows)} past origin×horizon pairs, the inputs chosen by their "
        "errors on the newest 30% of past origins when fitted on the older ones (recent origins "
        "weigh more); 80% interval from those errors, the newest "
        "weighing most (7th–93rd percentiles), scaled by the 13-week level and √horizon"
    )
    return Forecast(as_of, out, method, n)


def _naive_columns(
    y: np.ndarray, X: np.ndarray, names: list[str], origins: np.ndarray, horizon: np.ndarray
) -> dict[str, np.ndarray]:
    """The simple forecasts at each design row: the mean of the last 4 weeks, that mean carried
    along the 13-week trend, and the same week last year (NaN without a year behind)."""
    l4 = X[:, names.index("level_4")]
    trend = X[:, names.index("trend")]
    out = {"mean_4": l4, "line_4": l4 + trend * (horizon + 1.5) / (horizon + 6)}
    t = origins + horizon - SEASON
    out["last_year"] = np.where(t >= 0, y[np.maximum(t, 0)], np.nan)
    return out


def _naive_row(y: np.ndarray, row: list[float], names: list[str], i: int, h: int) -> dict:
    """The naive forecasts for origin ``i`` and horizon ``h`` (as ``_naive_columns``)."""
    l4, l13 = row[names.index("level_4")], row[names.index("level_13")]
    trend = row[names.index("trend")]
    out = {"mean_4": l4, "line_4": l4 + trend * (h + 1.5) / (h + 6)}
    t = i + h - SEASON
    out["last_year"] = float(y[t]) if 0 <= t < len(y) else l13
    return out


def _blend_weights(
    forecasts: list[np.ndarray], target: np.ndarray, scale: np.ndarray, recency: np.ndarray
) -> list[float]:
    """Non-negative weights summing to 1 (a grid of tenths) whose blend of the forecasts had
    the smallest recency-weighted absolute error per unit of level."""
    k = len(forecasts)
    stacked = np.array(forecasts)
    best: tuple[float, list[float]] | None = None
    for combo in _simplex(k, BLEND_STEPS):
        weights = np.array(combo) / BLEND_STEPS
        error = np.abs(weights @ stacked - target) / scale
        score = float((error * recency).sum())
        if best is None or score < best[0] - 1e-12:
            best = (score, list(weights))
    assert best is not None
    return best[1]


def _simplex(k: int, total: int) -> list[tuple[int, ...]]:
    """Every k non-negative integers summing to ``total``, the first forecast's share first."""
    if k == 1:
        return [(total,)]
    return [(a, *rest) for a in range(total, -1, -1) for rest in _simplex(k - 1, total - a)]


def _candidates(names: list[str]) -> list[list[int]]:
    """The input sets tried: a level, then trend, season, pipeline and leading KPIs or not."""
    index = {name: j for j, name in enumerate(names)}
    extras = [[index[k]] for k in ("this_week", "season", "pipeline") if k in index]
    if "year_sin" in index:
        extras.append([index[k] for k in ("year_sin", "year_cos", "level_sin", "level_cos")])
    leads = [j for name, j in index.items() if name.startswith("lead:")]
    if leads:
        extras.append(leads)
    out = []
    for base in (["level_13"], ["level_4", "level_13"], ["level_4", "level_13", "trend"]):
        for mask in range(1 << len(extras)):
            chosen = [index[k] for k in base]
            for bit, extra in enumerate(extras):
                if mask >> bit & 1:
                    chosen += extra
            out.append(chosen)
    return out


def _weighted_quantile(values: np.ndarray, weights: np.ndarray, q: float) -> float:
    """The q-quantile of values with weights (the step of the weighted empirical CDF)."""
    order = np.argsort(values)
    cumulative = np.cumsum(weights[order])
    position = np.searchsorted(cumulative, q * cumulative[-1])
    return float(values[order][min(position, len(values) - 1)])


def _ols(sm, X: np.ndarray, y: np.ndarray, age: np.ndarray):
    """A least-squares fit with an intercept, recent origins weighing more (HALF_LIFE weeks)."""
    weights = 0.5 ** (age / HALF_LIFE)
    return sm.WLS(y, sm.add_constant(X, has_constant="add"), weights=weights).fit()


def _predict(fit, X: np.ndarray) -> np.ndarray:
    return np.asarray(fit.predict(np.column_stack([np.ones(len(X)), X])))


def _week(monday: date, value: float, lo: float, hi: float) -> WeekForecast:
    """Sales are not forecast below zero; the interval always contains the forecast."""
    value = max(0.0, value)
    lo, hi = max(0.0, min(lo, value)), max(hi, value)
    return WeekForecast(_label(monday), round(value), (round(lo), round(hi)))


def _mean_forecast(y: np.ndarray, as_of: date, targets: list[date], n: int) -> Forecast:
    """Too few past origins for the regression: the last 4 weeks' mean, with its past errors."""
    level = float(y[-4:].mean())
    errors = [y[i] - y[i - 4 : i].mean() for i in range(4, len(y))]
    lo_q, hi_q = np.quantile(errors, COVERAGE) if errors else (0.0, 0.0)
    weeks = [_week(m, level, level + lo_q, level + hi_q) for m in targets]
    method = (
        "mean of the last 4 weeks (too few past weeks for the regression); 80% interval from "
        "the 7th–93rd percentiles of that mean's past one-week errors"
    )
    return Forecast(as_of, weeks, method, n)


def naive_forecasts(history: History, as_of: date, weeks: int) -> dict[str, list[float | None]]:
    """The two forecasts to beat: the same week last year, and the mean of the last 4 weeks."""
    known = history.sale_days <= as_of.toordinal()
    first = _monday(date.fromordinal(int(history.sale_days[known].min())))
    last = _monday(as_of) if as_of.weekday() == 6 else _monday(as_of) - timedelta(weeks=1)
    y = weekly_sales(history, first, last)
    offset = 0 if as_of.weekday() == 6 else 1
    n = len(y)
    last_year: list[float | None] = []
    for h in range(1 + offset, weeks + offset + 1):
        target = Period.week_of(last + timedelta(weeks=h)).last_year().start
        t = (target - first).days // 7
        last_year.append(float(y[t]) if 0 <= t < n else None)
    mean4 = float(y[-4:].mean())
    return {"last_year": last_year, "mean_4": [mean4] * weeks}
