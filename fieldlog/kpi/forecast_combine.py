"""The simple forecasts the sales forecast combines, and how it weighs them (docs/kgi.md).

Pure (numpy, statsmodels). Each candidate is a forecast of one week's sales made at an origin
week ``i`` for the week ``i + h``; the combination weighs each by the inverse square of its
recent error at past origins whose outcome was known.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np

SEASON = 52
# Past rows a candidate needs before it is weighed at all.
MIN_JUDGED = 20
# Weeks after which a past origin's error weighs half as much: the business changes.
HALF_LIFE = 26
# Candidates adjusted by an input ("mean_4+pipeline", "level+lead:…") take its fitted coefficient,
# never below zero (an input that moved sales the wrong way is not trusted); the pipeline's, in
# yen of sales per yen expected, at most 2.
COEFFICIENT = (0.0, 2.0)


@dataclass
class Level:
    """A local linear trend (statsmodels UnobservedComponents) fitted to the weekly sales up to
    the origin; ``at(i, h)`` is its forecast of week ``i + h`` from the state after week ``i``."""

    levels: np.ndarray
    trends: np.ndarray

    @classmethod
    def fit(cls, y: np.ndarray, kind: str = "local linear trend") -> Level:
        from statsmodels.tsa.statespace.structural import UnobservedComponents

        unit = max(float(np.abs(y).mean()), 1.0)
        with warnings.catch_warnings():  # a flat series fits at a bound; that is no error
            warnings.simplefilter("ignore")
            fit = UnobservedComponents(y / unit, kind).fit(disp=False)
        states = np.asarray(fit.filtered_state) * unit
        return cls(states[0], states[1])

    def at(self, i: int, h: int) -> float:
        return float(self.levels[i] + h * self.trends[i])


def line_13(y: np.ndarray, i: int, h: int) -> float:
    """The least-squares line through the 13 weeks up to ``i``, carried to week ``i + h``."""
    window = y[max(0, i - 12) : i + 1]
    x = np.arange(len(window)) - (len(window) - 1) / 2
    slope = float((x * (window - window.mean())).sum() / (x * x).sum())
    return float(window.mean()) + slope * (h + (len(window) - 1) / 2)


def last_year(y: np.ndarray, i: int, h: int) -> float:
    """The same weeks last year (the target week and its neighbours), grown as the last 13 weeks
    grew over the same 13 weeks a year earlier; NaN without that much history."""
    t, o = i + h - SEASON, i - SEASON
    if t - 1 < 0 or o - 12 < 0:
        return float("nan")
    before = float(y[o - 12 : o + 1].mean())
    if before <= 0:
        return float("nan")
    return float(y[t - 1 : t + 2].mean()) * float(y[i - 12 : i + 1].mean()) / before


@dataclass
class Table:
    """Every candidate at every past origin×horizon whose outcome is known (``actual``), and the
    rows of the origin itself (``actual`` NaN). ``inputs`` holds, per adjusted candidate, the
    input whose coefficient is fitted on known rows."""

    names: list[str]
    values: list[list[float]] = field(default_factory=list)
    actual: list[float] = field(default_factory=list)
    origin: list[int] = field(default_factory=list)
    horizon: list[int] = field(default_factory=list)
    scale: list[float] = field(default_factory=list)
    inputs: dict[str, list[float]] = field(default_factory=dict)

    def arrays(self) -> Arrays:
        return Arrays(
            self.names,
            np.array(self.values, dtype=float),
            np.array(self.actual, dtype=float),
            np.array(self.origin),
            np.array(self.horizon),
            np.array(self.scale, dtype=float),
            {k: np.array(v, dtype=float) for k, v in self.inputs.items()},
        )


@dataclass
class Arrays:
    """``Table`` as numpy arrays."""

    names: list[str]
    values: np.ndarray
    actual: np.ndarray
    origin: np.ndarray
    horizon: np.ndarray
    scale: np.ndarray
    inputs: dict[str, np.ndarray]

    def adjusted(self, known: np.ndarray, weights: np.ndarray) -> np.ndarray:
        """The candidates with each input's coefficient fitted on the ``known`` rows: the error
        of the candidate it adjusts ("mean_4" in "mean_4+pipeline") regressed on the input,
        recent rows weighing more (``weights``), within COEFFICIENT."""
        out = self.values.copy()
        for name, x in self.inputs.items():
            level = self.values[:, self.names.index(name.partition("+")[0])]
            residual = self.actual[known] - level[known]
            xk, w = x[known], weights
            denominator = float((w * xk * xk).sum())
            beta = float((w * xk * residual).sum()) / denominator if denominator > 0 else 0.0
            # A lead moves sales its own way (docs/verification.md): only its sign is bounded.
            top = COEFFICIENT[1] if name.endswith("+pipeline") else np.inf
            beta = min(max(beta, COEFFICIENT[0]), top)
            out[:, self.names.index(name)] = level + beta * x
        return out


def recency(origins: np.ndarray, newest: int, half_life: float = HALF_LIFE) -> np.ndarray:
    """Weights of past origins seen from ``newest``: half as much every ``half_life`` weeks."""
    return 0.5 ** ((newest - origins) / half_life)


def choose_weights(
    forecasts: np.ndarray, actual: np.ndarray, scale: np.ndarray, weights: np.ndarray
) -> np.ndarray:
    """Weights of the candidates (columns; the first is the 4-week mean, always there) in
    inverse proportion to their squared recent error (Bates and Granger): each candidate's
    weighted mean absolute error per unit of level, against the 4-week mean's on the rows where
    it has a value. A candidate with too few such rows gets no weight."""
    k = forecasts.shape[1]
    errors = np.abs(forecasts - actual[:, None]) / scale[:, None]
    out = np.zeros(k)
    for j in range(k):
        rows = ~np.isnan(errors[:, j])
        if rows.sum() >= MIN_JUDGED:
            mine, mean_4 = weights[rows] @ errors[rows, j], weights[rows] @ errors[rows, 0]
            out[j] = ((mean_4 + 1e-9) / (mine + 1e-9)) ** 2  # a perfect past: all alike
    return out / out.sum()


def blend(values: np.ndarray, share: np.ndarray) -> np.ndarray:
    """Each row's weighted mean of the candidates that have a value there."""
    present = ~np.isnan(values)
    weights = present * share
    total = weights.sum(axis=1)
    return np.where(present, values, 0.0) @ share / np.where(total > 0, total, 1.0)


def weighted_quantile(values: np.ndarray, weights: np.ndarray, q: float) -> float:
    """The q-quantile of values with weights (the step of the weighted empirical CDF)."""
    order = np.argsort(values)
    cumulative = np.cumsum(weights[order])
    position = np.searchsorted(cumulative, q * cumulative[-1])
    return float(values[order][min(position, len(values) - 1)])
