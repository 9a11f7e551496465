"""Before and after a hypothesis's start, against a comparison group (docs/verification.md).

Pure: weekly values of the tested units and of the comparison units (units × weeks, oldest week
first, NaN where a week has no value) and the index of the first week on or after the start in,
a ``Comparison`` out; no database.

The estimate is a difference in differences: how much more the tested group changed from before
to after the start than the comparison group did. With g[t] = mean over tested units − mean over
comparison units in week t (the comparison may also be the tested units' own weeks a year
earlier), the model

    g[t] = a + τ · after[t] + e[t]

is the two-way fixed-effects regression (unit and week effects) of the two-group panel; τ is the
estimate. Weeks are not independent (a good month stays good), so its standard error allows for
AR(1) errors across the weeks, with a deliberately cautious ρ. Newey–West (HAC, Driscoll–Kraay
on the panel) standard errors were tried first: over 12–52 weeks with a step regressor they let
20–27 % of planted nulls through at a nominal 10 %, even with fixed-b critical values
(benchmarks/did_eval.py, docs/verification.md).

The gap's trend before the start is checked the same way: when the tested group was already
pulling away from the comparison group, the difference after the start may be that trend, not
the hypothesis, and the comparison says so instead of claiming an effect.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

Verdict = Literal["up", "down", "no_change", "pre_trend", "too_little_data"]

LEVEL = 0.90
MIN_BEFORE = 12  # weeks with a gap before the start
MIN_AFTER = 6  # weeks with a gap since the start

RHO_CAP = 0.95
METHOD = (
    "difference in differences: OLS of the weekly gap (tested minus {against}) on an "
    "after-start indicator (= unit and week fixed effects), standard errors for AR(1) errors "
    "across weeks (rho bias-corrected and raised by 1/sqrt(T)), Student-t 90% interval "
    "(statsmodels)"
)
AGAINST = {"group": "comparison group", "year": "the same weeks a year earlier"}


@dataclass(frozen=True)
class Comparison:
    """The difference in differences, its interval, and the four means it is made of."""

    verdict: Verdict
    effect: float | None
    interval: tuple[float, float] | None
    before_weeks: int
    after_weeks: int
    tested_before: float | None = None
    tested_after: float | None = None
    comparison_before: float | None = None
    comparison_after: float | None = None
    pre_trend: float | None = None  # the gap's change per week before the start
    method: str = ""

    def as_dict(self) -> dict[str, Any]:
        def r(value: float | None) -> float | None:
            return None if value is None else float(f"{value:.6g}")

        return {
            "verdict": self.verdict,
            "effect": r(self.effect),
            "interval": [r(v) for v in self.interval] if self.interval else None,
            "before_weeks": self.before_weeks,
            "after_weeks": self.after_weeks,
            "tested": [r(self.tested_before), r(self.tested_after)],
            "comparison": [r(self.comparison_before), r(self.comparison_after)],
            "method": self.method,
        }


def group_mean(panel: np.ndarray) -> np.ndarray:
    """The mean over units of each week, NaN where no unit has a value."""
    values = np.atleast_2d(np.asarray(panel, dtype=float))
    if values.shape[0] == 0:
        return np.full(values.shape[1], np.nan)
    known = ~np.isnan(values)
    sums = np.where(known, values, 0.0).sum(axis=0)
    counts = known.sum(axis=0)
    return np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)


def compare(
    tested: np.ndarray,
    comparison: np.ndarray,
    start: int,
    *,
    against: Literal["group", "year"] = "group",
    level: float = LEVEL,
) -> Comparison:
    """τ = (tested after − before) − (comparison after − before), with a HAC interval.

    ``tested`` and ``comparison`` are units × weeks (or one series); ``start`` is the index of
    the first week on or after the hypothesis's start.
    """
    a, b = group_mean(tested), group_mean(comparison)
    if a.shape != b.shape:
        raise ValueError(f"tested and comparison weeks differ: {a.shape} vs {b.shape}")
    weeks = np.arange(a.size)
    gap = a - b
    known = ~np.isnan(gap)
    before, after = known & (weeks < start), known & (weeks >= start)
    n_before, n_after = int(before.sum()), int(after.sum())
    means = {
        "tested_before": _mean(a[before]),
        "tested_after": _mean(a[after]),
        "comparison_before": _mean(b[before]),
        "comparison_after": _mean(b[after]),
    }
    if n_before < MIN_BEFORE or n_after < MIN_AFTER:
        return Comparison("too_little_data", None, None, n_before, n_after, **means)
    y = gap[known]
    post = (weeks[known] >= start).astype(float)
    method = METHOD.format(against=AGAINST[against])
    effect, se, df = _ar1_slope(y, post)
    if se is None or not np.isfinite(se) or se <= 0:
        return Comparison("too_little_data", None, None, n_before, n_after, **means)
    crit = _t_quantile(level, df)
    interval = (effect - crit * se, effect + crit * se)
    trend = _pre_trend(gap[before], weeks[before], level)
    if trend is not None:
        verdict: Verdict = "pre_trend"
    elif interval[0] > 0:
        verdict = "up"
    elif interval[1] < 0:
        verdict = "down"
    else:
        verdict = "no_change"
    return Comparison(
        verdict, effect, interval, n_before, n_after, **means, pre_trend=trend, method=method
    )


def _pre_trend(gap: np.ndarray, weeks: np.ndarray, level: float) -> float | None:
    """The gap's slope per week before the start when its interval excludes zero, else None."""
    slope, se, df = _ar1_slope(gap, weeks.astype(float) - weeks.mean())
    if se is None or not np.isfinite(se) or se <= 0:
        return None
    crit = _t_quantile(level, df)
    return slope if abs(slope) > crit * se else None


def _t_quantile(level: float, df: int) -> float:
    """The two-sided ``level`` quantile of Student's t with ``df`` degrees of freedom."""
    from scipy import stats  # here: scipy.stats costs ~0.5 s of every worker's start-up

    return float(stats.t.ppf(1 - (1 - level) / 2, df=df))


def _ar1_slope(y: np.ndarray, x: np.ndarray) -> tuple[float, float | None, int]:
    """The OLS slope of y on [1, x], its standard error under AR(1) errors, and the t's df.

    ρ is the residuals' lag-1 autocorrelation, bias-corrected ((1 + 3ρ)/T) and then raised by
    1/√T, about one standard error: with 12–52 weeks ρ is estimated so loosely that the plain
    estimate let 15–30 % of planted nulls through at a nominal 10 % (benchmarks/did_eval.py).
    """
    weeks = y.size
    if np.ptp(x) == 0 or weeks < 4:
        return 0.0, None, 1
    # Imported here: statsmodels costs ~1.7 s of every worker's start-up, for pages that a
    # worker may never serve (the hypothesis comparisons).
    import statsmodels.api as sm

    design = np.column_stack([np.ones(weeks), x])
    fit = sm.OLS(y, design).fit()
    resid = np.asarray(fit.resid)
    ss = float(resid @ resid)
    if ss <= 1e-300:
        return float(fit.params[1]), None, 1
    rho = float(resid[1:] @ resid[:-1]) / ss
    rho = float(np.clip(rho + (1 + 3 * rho) / weeks + 1 / np.sqrt(weeks), 0.0, RHO_CAP))
    lags = np.arange(weeks)
    corr = rho ** np.abs(lags[:, None] - lags[None, :])
    df = weeks - 3  # two coefficients and ρ
    sigma2 = float(resid @ np.linalg.solve(corr, resid)) / df
    bread = np.linalg.inv(design.T @ design)
    cov = sigma2 * bread @ design.T @ corr @ design @ bread
    return float(fit.params[1]), float(np.sqrt(cov[1, 1])), df


def _mean(values: np.ndarray) -> float | None:
    return float(values.mean()) if values.size else None
