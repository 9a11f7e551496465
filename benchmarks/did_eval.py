"""Before/after comparison: how often it calls a difference that is not there, how often it
finds one that is (docs/verification.md).

Several hundred random synthetic designs like a hypothesis's: 1–3 tested units against 1–8
comparison units (or, for one unit, its own weeks a year earlier), 12–26 weeks before the start
and 6–26 since, AR(1) noise (φ 0–0.8, sd 1), a season and a random walk shared by every unit.
Nulls: nothing happens at the start; the false-alarm rate is the share called ``up`` or
``down``. Planted: the tested units' level moves by 1, 1.5 or 2 (noise sd) from the start on;
detected = ``up``. The baseline, run on the same panels in the same process, is the textbook
estimator: the same regression with Newey–West (HAC) standard errors and normal critical values.

    .venv/bin/python benchmarks/did_eval.py --panels 400
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import statsmodels.api as sm

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from fieldlog.kpi.did import compare, group_mean
from tests.panels import ar1


def _ar1(rng: np.random.Generator, shape: tuple[int, int], phi: float) -> np.ndarray:
    """AR(1) noise scaled to unit innovations' variance (tests.panels.ar1 × sqrt(1 − phi²))."""
    return ar1(rng, shape, phi) * np.sqrt(1 - phi**2)


def design(rng: np.random.Generator, effect: float) -> tuple[np.ndarray, np.ndarray, int]:
    tested, others = int(rng.integers(1, 4)), int(rng.integers(1, 9))
    before, after = int(rng.integers(12, 27)), int(rng.integers(6, 27))
    weeks = before + after
    t = np.arange(weeks)
    shared = 3 * np.sin(2 * np.pi * (t + rng.integers(0, 52)) / 52)
    shared = shared + np.cumsum(rng.normal(0, 0.5, weeks))
    phi = float(rng.uniform(0.0, 0.8))
    panel = (
        rng.normal(20, 5, (tested + others, 1)) + shared + _ar1(rng, (tested + others, weeks), phi)
    )
    panel[:tested, before:] += effect
    return panel[:tested], panel[tested:], before


def baseline(tested: np.ndarray, comparison: np.ndarray, start: int) -> str:
    """The textbook: OLS of the gap on the after indicator, Newey–West SEs, normal 90 %."""
    gap = group_mean(tested) - group_mean(comparison)
    post = (np.arange(gap.size) >= start).astype(float)
    lags = int(np.floor(4 * (gap.size / 100) ** (2 / 9)))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = sm.OLS(gap, sm.add_constant(post)).fit(cov_type="HAC", cov_kwds={"maxlags": lags})
    lo, hi = fit.conf_int(alpha=0.10)[1]
    return "up" if lo > 0 else "down" if hi < 0 else "no_change"


def run(panels: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    print(f"{panels} designs per row, 90% intervals; nominal false-alarm rate 10%")
    print(
        f"{'planted':>8} | {'ours: called':>12} {'pre-trend':>9} | {'baseline NW':>11} | ms/panel"
    )
    for effect in (0.0, 1.0, 1.5, 2.0):
        ours: list[str] = []
        base: list[str] = []
        started = time.perf_counter()
        for _ in range(panels):
            tested, comparison, start = design(rng, effect)
            ours.append(compare(tested, comparison, start).verdict)
            base.append(baseline(tested, comparison, start))
        took = (time.perf_counter() - started) / panels * 1000
        wanted = ("up", "down") if effect == 0 else ("up",)
        mine = sum(v in wanted for v in ours) / panels
        theirs = sum(v in wanted for v in base) / panels
        trend = ours.count("pre_trend") / panels
        label = "null" if effect == 0 else f"+{effect:g} sd"
        print(f"{label:>8} | {mine:12.1%} {trend:9.1%} | {theirs:11.1%} | {took:.1f}")
        if effect == 0:
            print(f"{'':>8}   false alarms: ours / baseline = {mine / max(theirs, 1e-9):.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--panels", type=int, default=400)
    parser.add_argument("--seed", type=int, default=18)
    args = parser.parse_args()
    run(args.panels, args.seed)


if __name__ == "__main__":
    main()
