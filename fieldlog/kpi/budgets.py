"""Sales budgets (予算): a yen amount per month for a branch, or for one rep of that branch.

Reading a budget for a scope and a period (docs/kgi.md):

- a rep: the sum of the rep's own rows for the month (whatever branch they were entered under);
- a branch: the branch's own row (rep empty); without one, the sum of its reps' rows;
- the company: the sum of the branches' budgets read that way;
- a month: that month's budget; an ISO week: each of its 7 days carries 1/(days in its month)
  of its month's budget, so a week across two months takes a share of each. A period any of
  whose months has no budget at all has no budget (None), never a partial one.

Changes are kept (who, when, old → new) in the settings history (``audit.record_change``).
Services flush; the caller commits.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import Session

from ..models import Branch, SalesBudget, SettingChange, User, utcnow
from ..present.limit_messages import amount_error
from ..rules.periods import Period
from ..services import access, audit
from ..services.errors import Invalid
from .scope import Scope


def month_start(day: date) -> date:
    """The first day of a day's month: the key a budget is stored under."""
    return day.replace(day=1)


def months_of(period: Period) -> list[date]:
    """The first days of the months a period's days fall in, in order."""
    months: list[date] = []
    day = period.start
    while day <= period.end:
        first = month_start(day)
        if first not in months:
            months.append(first)
        day += timedelta(days=1)
    return months


def check_amount(value: Any) -> int:
    """A budget amount: whole yen from 0 to limits.MAX_AMOUNT; Invalid on 'amount' otherwise."""
    try:
        number = int(str(value).replace(",", "").strip())
    except (TypeError, ValueError):
        raise Invalid(errors={"amount": [_l("Enter a whole number of yen.")]}) from None
    problem = amount_error(number)
    if problem is not None:
        raise Invalid(errors={"amount": [problem]})
    return number


def record(
    session: Session,
    month: date,
    branch_id: int,
    rep_id: int | None,
    amount: int,
    user: User | None,
    existing: SalesBudget | None = None,
) -> SalesBudget:
    """Insert or update one budget row and keep the change; already-checked values."""
    if existing is None:
        existing = session.scalars(
            select(SalesBudget).where(
                SalesBudget.month == month,
                SalesBudget.branch_id == branch_id,
                SalesBudget.rep_id.is_(None) if rep_id is None else SalesBudget.rep_id == rep_id,
            )
        ).first()
    old = existing.amount if existing is not None else None
    if old != amount:
        rep = session.get(User, rep_id) if rep_id is not None else None
        key = f"{month:%Y-%m}" + (f" {rep.email}" if rep is not None else "")
        audit.record_change(session, user, "budget", key, old, amount, branch=branch_id)
    if existing is None:
        existing = SalesBudget(month=month, branch_id=branch_id, rep_id=rep_id, amount=amount)
        session.add(existing)
    elif old == amount:
        return existing
    existing.amount = amount
    existing.updated_by_id = user.id if user is not None else None
    existing.updated_at = utcnow()
    session.flush()
    return existing


def set_budget(
    session: Session,
    user: User | None,
    month: date,
    branch_id: int,
    rep_id: int | None,
    amount: Any,
) -> SalesBudget:
    """Set one month's budget for a branch (rep_id None) or a rep of it; flushes, never commits."""
    errors: dict[str, list[Any]] = {}
    try:
        number = check_amount(amount)
    except Invalid as exc:
        errors.update(exc.errors)
        number = 0
    if not isinstance(month, date):
        errors["month"] = [_l("Enter a month like 2026-11.")]
    if session.get(Branch, branch_id) is None:
        errors["branch"] = [_l("Unknown branch.")]
    if rep_id is not None:
        rep = session.get(User, rep_id)
        if rep is None or access.is_owner(rep):
            errors["rep"] = [_l("Unknown rep.")]
        elif rep.branch_id != branch_id:
            errors["rep"] = [_l("This rep does not belong to the branch.")]
    if errors:
        raise Invalid(errors=errors)
    return record(session, month_start(month), branch_id, rep_id, number, user)


@dataclass(frozen=True)
class _Rows:
    """The budget rows of some months, indexed the ways the scope rules read them."""

    branch: dict[tuple[date, int], int]  # (month, branch) → the branch's own row
    reps_of_branch: dict[tuple[date, int], int]  # (month, branch) → sum of its reps' rows
    rep: dict[tuple[date, int], int]  # (month, rep) → sum of the rep's rows

    def month(self, scope: Scope, month: date, branch_ids: Iterable[int]) -> int | None:
        if scope.kind == "rep":
            return self.rep.get((month, scope.id))  # type: ignore[arg-type]
        ids = [scope.id] if scope.kind == "branch" else list(branch_ids)
        found = [self._branch(month, b) for b in ids]
        kept = [v for v in found if v is not None]
        return sum(kept) if kept else None

    def _branch(self, month: date, branch_id: int | None) -> int | None:
        key = (month, branch_id)
        if key in self.branch:
            return self.branch[key]  # type: ignore[index]
        return self.reps_of_branch.get(key)  # type: ignore[arg-type]


def _rows(session: Session, months: list[date]) -> _Rows:
    branch: dict[tuple[date, int], int] = {}
    reps_of_branch: dict[tuple[date, int], int] = {}
    rep: dict[tuple[date, int], int] = {}
    stmt = select(SalesBudget.month, SalesBudget.branch_id, SalesBudget.rep_id, SalesBudget.amount)
    for month, branch_id, rep_id, amount in session.execute(
        stmt.where(SalesBudget.month.in_(months))
    ):
        if rep_id is None:
            branch[(month, branch_id)] = amount
        else:
            reps_of_branch[(month, branch_id)] = reps_of_branch.get((month, branch_id), 0) + amount
            rep[(month, rep_id)] = rep.get((month, rep_id), 0) + amount
    return _Rows(branch, reps_of_branch, rep)


def budgets_for(session: Session, scope: Scope, periods: list[Period]) -> list[int | None]:
    """The budget of each period for a scope (see the module's rule), in yen, or None."""
    months = sorted({m for p in periods for m in months_of(p)})
    if not months:
        return []
    rows = _rows(session, months)
    branch_ids = session.scalars(select(Branch.id)).all() if scope.kind == "company" else []
    per_month = {m: rows.month(scope, m, branch_ids) for m in months}
    out: list[int | None] = []
    for period in periods:
        if period.kind == "month":
            out.append(per_month[month_start(period.start)])
            continue
        share = 0.0
        for offset in range(period.days):
            day = period.start + timedelta(days=offset)
            value = per_month[month_start(day)]
            if value is None:
                share = float("nan")
                break
            share += value / Period.month_of(day).days
        out.append(None if share != share else round(share))
    return out


def budget_for(session: Session, scope: Scope, period: Period) -> int | None:
    """The budget of one period for a scope, in yen, or None (see the module's rule)."""
    return budgets_for(session, scope, [period])[0]


def budget_table(
    session: Session, months: list[date], branch_id: int | None = None
) -> list[SalesBudget]:
    """The budget rows of some months (optionally one branch), by month, branch, rep."""
    stmt = select(SalesBudget).where(SalesBudget.month.in_(months))
    if branch_id is not None:
        stmt = stmt.where(SalesBudget.branch_id == branch_id)
    rows = session.scalars(stmt).all()
    return sorted(
        rows,
        key=lambda b: (b.month, b.branch.code, b.rep is not None, b.rep.name if b.rep else ""),
    )


def budget_changes(
    session: Session, branch_id: int | None = None, limit: int = 50
) -> list[SettingChange]:
    """The latest budget changes of the settings history, newest first (optionally one
    branch's): the same rows /settings/history lists."""
    stmt = (
        select(SettingChange)
        .where(SettingChange.kind == "budget")
        .order_by(SettingChange.changed_at.desc(), SettingChange.id.desc())
        .limit(limit)
    )
    if branch_id is not None:
        stmt = stmt.where(SettingChange.branch_id == branch_id)
    return list(session.scalars(stmt))


def rep_budgets(session: Session, month: date) -> dict[int, int]:
    """Every rep's budget for one month (the month's first day), by user id."""
    return {rep: amount for (_m, rep), amount in _rows(session, [month]).rep.items()}
