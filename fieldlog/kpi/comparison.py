"""A hypothesis's before/after comparison against a comparison group (docs/verification.md).

Loads the weekly KPIs and KGI of the tested units and of the comparison units around the
hypothesis's start and hands them to the pure ``did.compare``:

- a branch's hypothesis: its reps are tested, the reps of the other branches are the comparison
  (reps only: managers, who own no customers, would add rows with no sales);
- a company-wide one: the branches that test it — those whose weekly reviews name it, the pilot
  — against the other branches; when every branch tests it (or none names it), the comparison
  is the same weeks a year earlier.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any, Literal
from zoneinfo import ZoneInfo

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from ..models import Branch, Hypothesis, Review, User
from ..rules.kpi_catalogue import CATALOGUE
from ..rules.periods import Period
from . import did
from .rollup import trend_by

WEEKS_BEFORE = 26  # weeks before the start compared
MAX_WEEKS_AFTER = 26  # weeks since the start compared, at most
YEAR = 52  # weeks back for "the same weeks a year earlier"


@dataclass(frozen=True)
class Unit:
    """A branch or a rep (``code``: the branch code or the rep's email)."""

    id: int
    code: str
    name: str


@dataclass
class UnitComparison:
    """One tested unit (or the tested group as a whole) against the comparison, key by key."""

    name: str
    code: str
    group: bool  # the whole tested group, not one unit of it
    by_key: dict[str, did.Comparison]
    # key → (the unit's or group's weekly values, the comparison's), for a small chart
    series: dict[str, tuple[list[float | None], list[float | None]]] = field(default_factory=dict)
    labels: list[str] = field(default_factory=list)
    start_index: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {"unit": self.code, "by_key": {k: c.as_dict() for k, c in self.by_key.items()}}


@dataclass
class GroupSeries:
    """One key's weekly mean of the tested group and of the comparison, for the chart."""

    key: str
    tested: list[float | None]
    comparison: list[float | None]


@dataclass
class HypothesisComparison:
    """The before/after comparison of a hypothesis: who was compared with whom, the estimates."""

    level: Literal["branch", "rep"]
    against: Literal["group", "year"]
    tested: list[Unit]
    comparison: list[Unit]
    labels: list[str]  # the weeks, "W47"
    start_index: int
    weeks_before: int
    weeks_after: int
    keys: list[str]
    units: list[UnitComparison] = field(default_factory=list)
    series: list[GroupSeries] = field(default_factory=list)

    @property
    def method(self) -> str:
        found = next((c.method for u in self.units for c in u.by_key.values() if c.method), "")
        return found or did.METHOD.format(against=did.AGAINST[self.against])

    def for_unit(self, code: str) -> UnitComparison | None:
        """The comparison of one tested unit (a branch code), or of the group if it is alone."""
        for row in self.units:
            if row.code == code:
                return row
        return None

    def group(self) -> UnitComparison | None:
        return next((row for row in self.units if row.group), None)


def tested_branches(session: Session, hypothesis: Hypothesis) -> list[int]:
    """A company-wide hypothesis's pilot: the branches whose weekly reviews name it."""
    stmt = select(Review.branch_id).where(Review.hypothesis_id == hypothesis.id).distinct()
    return sorted(session.scalars(stmt))


def hypothesis_comparison(
    session: Session, hypothesis: Hypothesis, *, today: date, tz: ZoneInfo
) -> HypothesisComparison:
    """Each linked KPI and the KGI, before vs since the start, tested vs comparison."""
    first = Period.week_of(hypothesis.started_on)
    last = Period.week_of(today).previous()
    after = max(0, min(MAX_WEEKS_AFTER, (last.start - first.start).days // 7 + 1))
    periods = [first.shift(i) for i in range(-WEEKS_BEFORE, after)]
    keys = [k for k in hypothesis.kpis if k in CATALOGUE] + [hypothesis.kgi]

    if hypothesis.branch_id is not None:
        level: Literal["branch", "rep"] = "rep"
        people = session.execute(
            select(User.id, User.email, User.name, User.branch_id)
            # Reps only: a manager's joint visits carry no customers, so no sales of their own
            # (docs/verification.md, "Who is tested, who compares").
            .where(User.role == "rep", User.branch_id.is_not(None))
            .order_by(User.name, User.id)
        ).all()
        tested = [
            Unit(p.id, p.email, p.name) for p in people if p.branch_id == hypothesis.branch_id
        ]
        others = [
            Unit(p.id, p.email, p.name) for p in people if p.branch_id != hypothesis.branch_id
        ]
    else:
        level = "branch"
        branches = [
            Unit(b.id, b.code, b.name)
            for b in session.scalars(select(Branch).order_by(Branch.code))
        ]
        pilot = set(tested_branches(session, hypothesis))
        tested = [b for b in branches if b.id in pilot] or branches
        others = [b for b in branches if b not in tested]
    against: Literal["group", "year"] = "group" if others else "year"

    fetched = [p.shift(-YEAR) for p in periods] + periods if against == "year" else periods
    raw = trend_by(session, level, fetched, keys=keys, today=today, tz=tz)
    found = HypothesisComparison(
        level=level,
        against=against,
        tested=tested,
        comparison=others,
        labels=[p.label[-3:] for p in periods],
        start_index=WEEKS_BEFORE,
        weeks_before=WEEKS_BEFORE,
        weeks_after=after,
        keys=keys,
    )
    n = len(periods)
    for key in keys:
        panel = {uid: _known(rows, key) for uid, rows in raw.items()}
        now = _stack([panel.get(u.id, _empty(len(fetched)))[-n:] for u in tested], n)
        if against == "year":
            base = _stack([panel.get(u.id, _empty(len(fetched)))[:n] for u in tested], n)
        else:
            base = _stack([panel.get(u.id, _empty(len(fetched))) for u in others], n)
        shown = GroupSeries(key, _listed(did.group_mean(now)), _listed(did.group_mean(base)))
        found.series.append(shown)
        row = _row(found, "", "", True)
        row.by_key[key] = did.compare(now, base, WEEKS_BEFORE, against=against)
        row.series[key] = (shown.tested, shown.comparison)
        if len(tested) > 1:
            for i, unit in enumerate(tested):
                own = base[i] if against == "year" else base
                row = _row(found, unit.name, unit.code, False)
                row.by_key[key] = did.compare(now[i], own, WEEKS_BEFORE, against=against)
                row.series[key] = (_listed(now[i]), _listed(did.group_mean(own)))
    if len(tested) == 1 and found.units:
        found.units[0].name, found.units[0].code = tested[0].name, tested[0].code
    return found


def _row(found: HypothesisComparison, name: str, code: str, group: bool) -> UnitComparison:
    for row in found.units:
        if row.code == code and row.group == group:
            return row
    row = UnitComparison(name, code, group, {}, labels=found.labels, start_index=WEEKS_BEFORE)
    found.units.append(row)
    return row


def _known(rows: list[dict[str, Any]], key: str) -> np.ndarray:
    """One unit's weekly values; the zeros before its first activity are unknown, not zero."""
    values = np.array(
        [np.nan if week[key].value is None else float(week[key].value) for week in rows],
        dtype=float,
    )
    started = np.flatnonzero(~np.isnan(values) & (values != 0))
    values[: started[0] if started.size else len(values)] = np.nan
    return values


def _empty(weeks: int) -> np.ndarray:
    return np.full(weeks, np.nan)


def _stack(rows: list[np.ndarray], weeks: int) -> np.ndarray:
    return np.array(rows, dtype=float).reshape(len(rows), weeks)


def _listed(values: np.ndarray) -> list[float | None]:
    return [None if np.isnan(v) else float(v) for v in values]
