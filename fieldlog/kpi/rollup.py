"""The roll-up: every KPI of docs/kpi.md for a scope and one or more periods, in SQL.

All figures come from a fixed number of aggregate queries (one per source family), whatever the
number of periods or groups: the periods are joined in as a small derived table of their bounds
(local dates, and the UTC instants of their local midnights), so a 13-week trend for every branch
costs the same number of queries as one branch-week. No per-row Python, no N+1.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..models import Branch, CompanySettings, User
from ..rules.periods import Period
from .rollup_engine import _Dim, _Engine, _wanted_keys
from .scope import Scope


@dataclass(frozen=True)
class KpiValue:
    """A figure with the numbers behind it: rates are fractions 0–1, None when nothing counts."""

    value: float | int | None
    numerator: float | int
    denominator: float | int | None

    def as_dict(self) -> dict[str, Any]:
        return {"value": self.value, "numerator": self.numerator, "denominator": self.denominator}


def rate(numerator: int | float, denominator: int | float) -> KpiValue:
    """A rate; a zero denominator gives value None (never 0, never an error)."""
    if not denominator:
        return KpiValue(None, numerator or 0, 0)
    return KpiValue(numerator / denominator, numerator, denominator)


def amount(total: int | float) -> KpiValue:
    """A count or a sum: numerator = value, denominator None."""
    return KpiValue(total, total, None)


# ---- public entry points -----------------------------------------------------------------


def rollup(
    session: Session,
    scope: Scope,
    period: Period,
    *,
    today: date,
    tz: ZoneInfo,
    settings: CompanySettings | None = None,
) -> dict[str, KpiValue]:
    """All 14 KPIs of docs/kpi.md for one scope and one period."""
    return trend(session, scope, [period], today=today, tz=tz, settings=settings)[0]


def trend(
    session: Session,
    scope: Scope,
    periods: Sequence[Period],
    *,
    keys: Iterable[str] | None = None,
    today: date,
    tz: ZoneInfo,
    settings: CompanySettings | None = None,
) -> list[dict[str, KpiValue]]:
    """The KPIs (all, or ``keys``) per period, in the order given; a fixed number of queries."""
    dim = _Dim(scope=scope, group=None, rep_branch_id=None)
    raw = _Engine(session, periods, tz, today, settings, dim, keys).run()
    wanted = _wanted_keys(keys)
    return [_assemble(raw.get((i, None), {}), wanted) for i in range(len(periods))]


def rollup_by(
    session: Session,
    group: str,
    period: Period,
    *,
    branch_id: int | None = None,
    today: date,
    tz: ZoneInfo,
    settings: CompanySettings | None = None,
) -> dict[int, dict[str, KpiValue]]:
    """Per-branch (every branch) or per-rep (users of ``branch_id``, or all) KPIs for one period.

    Each entry equals ``rollup`` for ``Scope.branch(id)`` / ``Scope.rep(id)``.
    """
    by = trend_by(
        session, group, [period], branch_id=branch_id, today=today, tz=tz, settings=settings
    )
    return {key: series[0] for key, series in by.items()}


def trend_by(
    session: Session,
    group: str,
    periods: Sequence[Period],
    *,
    branch_id: int | None = None,
    keys: Iterable[str] | None = None,
    today: date,
    tz: ZoneInfo,
    settings: CompanySettings | None = None,
) -> dict[int, list[dict[str, KpiValue]]]:
    """A trend per branch or per rep (as rollup_by), still a fixed number of queries."""
    if group not in ("branch", "rep"):
        raise ValueError(f"group must be 'branch' or 'rep', not {group!r}")
    dim = _Dim(scope=Scope.company(), group=group, rep_branch_id=branch_id)
    raw = _Engine(session, periods, tz, today, settings, dim, keys).run()
    if group == "branch":
        members = session.scalars(select(Branch.id).order_by(Branch.code)).all()
    else:
        stmt = select(User.id).where(User.role != "owner").order_by(User.name, User.id)
        if branch_id is not None:
            stmt = stmt.where(User.branch_id == branch_id)
        members = session.scalars(stmt).all()
    wanted = _wanted_keys(keys)
    return {
        member: [_assemble(raw.get((i, member), {}), wanted) for i in range(len(periods))]
        for member in members
    }


def trend_with_branches(
    session: Session,
    periods: Sequence[Period],
    *,
    keys: Iterable[str] | None = None,
    today: date,
    tz: ZoneInfo,
    settings: CompanySettings | None = None,
) -> tuple[list[dict[str, KpiValue]], dict[int, list[dict[str, KpiValue]]]]:
    """The company trend and every branch's (as ``trend`` and ``trend_by("branch")``), at once.

    Every event and customer belongs to exactly one branch, so the company's counts are the
    sums of the branches'; only the distinct customers of ``additional_proposal_rate`` (one
    customer may be visited from two branches) take one more query at company level.
    """
    dim = _Dim(scope=Scope.company(), group="branch", rep_branch_id=None)
    raw = _Engine(session, periods, tz, today, settings, dim, keys).run(total=True)
    members = session.scalars(select(Branch.id).order_by(Branch.code)).all()
    wanted = _wanted_keys(keys)
    company = [_assemble(raw.get((i, None), {}), wanted) for i in range(len(periods))]
    return company, {
        member: [_assemble(raw.get((i, member), {}), wanted) for i in range(len(periods))]
        for member in members
    }


# ---- assembly ----------------------------------------------------------------------------


def _assemble(r: dict[str, int], wanted: tuple[str, ...]) -> dict[str, KpiValue]:
    def n(field: str) -> int:
        return int(r.get(field) or 0)

    visits = n("visits")
    values = {
        "visit_count": amount(visits),
        "purposeful_visit_rate": rate(n("purposeful"), visits),
        "hearing_rate": rate(n("hearing"), visits),
        "next_action_rate": rate(n("next_action"), visits),
        "proposal_count": amount(n("proposals")),
        "additional_proposal_rate": rate(n("customers_proposed"), n("customers_visited")),
        "cross_sell_rate": rate(n("xs_won"), n("xs_closed")),
        "follow_up_rate": rate(n("fu_done"), n("fu_due")),
        "deepening_rate": rate(n("deep_num"), n("deep_den")),
        "dormant_rate": rate(n("dorm_num"), n("dorm_den")),
        "pipeline_count": amount(n("pipe_n")),
        "pipeline_amount": amount(n("pipe_amount")),
        "sales_amount": amount(n("sales")),
        "gross_margin_rate": rate(n("gp"), n("gp_amount")),
    }
    return {key: values[key] for key in wanted}
