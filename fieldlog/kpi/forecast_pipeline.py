"""The open pipeline as a forecast input: what proposals known at a date should bring in a week.

Pure (numpy only). An open proposal brings its amount × the share of proposals of its kind, still
open at its age, that were won within the target week's span of days since proposal (the win rate
and the lag observed together); proposals still to come count the same way at the last 4 weeks'
pace (docs/kgi.md).
"""

from __future__ import annotations

import numpy as np

from ..rules.proposals import open_at
from .forecast_history import KINDS, History

# At least this many proposals at risk before a kind's own win share is used (else all kinds).
MIN_AT_RISK = 5
# Days since proposal the win shares look at; a proposal open longer counts as not converting.
HORIZON_DAYS = 371
# Proposals older than this at a snapshot are left out (win shares and the open pipeline alike).
COHORT_DAYS = 730


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
        # Open at the snapshot as the pipeline KPIs count it (rules.proposals); the rest of
        # the proposals known then had settled.
        self.open_now = open_at(proposed, closed, snapshot)
        self.settled = ~self.open_now
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
            open_now = self.open_now
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
        # One snapshot kept at a time: the forecast walks its past origins in order.
        cohort = _Cohort(history, snapshot)
        history._cohorts = {snapshot: cohort}
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


def recent_wins(history: History, snapshot: int, days: int = 91) -> float:
    """Amounts of the proposals won in the 13 weeks up to ``snapshot``: sales still arriving."""
    key = (snapshot, days)
    if key not in history._wins_cache:
        won = history.won & (history.closed <= snapshot) & (history.closed > snapshot - days)
        history._wins_cache[key] = float(history.amounts[won].sum())
    return history._wins_cache[key]
