"""The demo company's sales budgets (予算), planned month by month as a company plans them.

docs/kgi.md ("The demo company's budgets") says what the owner sees. Each rep's budget for a month
is planned from the monthly sales of the rep's customers known when the month was planned:

- the months known are the complete months before the budget's month (it is planned once the
  month before it has closed); for the months ahead of the current one, those before the current
  month;
- with the history for it, the same month last year × the growth of the last 3 known months over
  the same 3 months a year earlier (前年同月 × 直近3か月の前年比): the season and the trend;
- otherwise the mean of the last 3 known months (at least one): the trend alone;
- times ``UPLIFT``, rounded to ¥100,000.

A branch's budget is the sum of its reps' budgets plus the plan, made the same way, of its
customers without a rep (the branch owns those), so it is never below the sum of its reps'.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date

from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from ..models import Customer, SalesBudget, SalesLine
from ..rules.periods import Period

UPLIFT = 1.03  # the stretch over the planned trend
TRAILING = 3  # known months the trend is read over
MONTHS_BACK, MONTHS_AHEAD = 12, 2  # budgets from a year back to two months ahead


def _month(start: date, n: int) -> date:
    return Period.month_of(start).shift(n).start


def _owner_order(item: tuple[tuple[int, int | None], dict[date, float]]) -> tuple[int, int]:
    (branch_id, rep_id), _sales = item
    return branch_id, rep_id or 0


def plan(sales: dict[date, float], month: date, known_before: date) -> int | None:
    """One month's budget from monthly sales (complete months only, keyed by their first day),
    knowing the months before ``known_before``; None without any known month."""
    known = sorted(m for m in sales if m < known_before)[-TRAILING:]
    if not known:
        return None
    recent = sum(sales[m] for m in known)
    year_before = [_month(m, -12) for m in known]
    same_month = _month(month, -12)
    if len(known) == TRAILING and same_month in sales and all(m in sales for m in year_before):
        earlier = sum(sales[m] for m in year_before)
        if earlier > 0 and sales[same_month] > 0:
            return _rounded(sales[same_month] * recent / earlier)
    return _rounded(recent / len(known))


def _rounded(planned: float) -> int:
    """The plan with the uplift, in ¥100,000 steps, never below zero (returns can outweigh)."""
    return max(0, int(round(planned * UPLIFT, -5)))


def build(session: Session, today: date) -> None:
    """Insert the demo's budgets per branch and rep, from 12 months back to 2 ahead."""
    this_month = today.replace(day=1)
    first_sale = session.scalar(select(func.min(SalesLine.sold_on)))
    if first_sale is None:
        return
    complete_from = first_sale if first_sale.day == 1 else _month(first_sale, 1)
    sold = (
        select(Customer.branch_id, Customer.rep_id, SalesLine.sold_on, SalesLine.amount)
        .join(Customer, Customer.id == SalesLine.customer_id)
        .where(SalesLine.sold_on >= complete_from, SalesLine.sold_on < this_month)
    )
    # (branch, rep or None) → month → sales of the customers it owns
    monthly: dict[tuple[int, int | None], dict[date, float]] = defaultdict(
        lambda: defaultdict(float)
    )
    for branch_id, rep_id, sold_on, amount in session.execute(sold):
        monthly[(branch_id, rep_id)][sold_on.replace(day=1)] += float(amount)
    rows = []
    for k in range(-MONTHS_BACK, MONTHS_AHEAD + 1):
        start = _month(this_month, k)
        known_before = min(start, this_month)
        branch_total: dict[int, int] = defaultdict(int)
        for (branch_id, rep_id), sales in sorted(monthly.items(), key=_owner_order):
            amount = plan(sales, start, known_before)
            if amount is None:
                continue
            branch_total[branch_id] += amount
            if rep_id is not None:
                rows.append(
                    {"month": start, "branch_id": branch_id, "rep_id": rep_id, "amount": amount}
                )
        rows += [
            {"month": start, "branch_id": b, "rep_id": None, "amount": total}
            for b, total in sorted(branch_total.items())
        ]
    if rows:
        session.execute(insert(SalesBudget), rows)
