"""What the customer page says about one customer: what it buys, what to propose next, when
it turns dormant and when the next visit is due.

Each fact asks the rule's one home: dormancy (``kpi.dormancy``), the visit cycle
(``today``), the cross-sell candidates of the plan (``cross_sell``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from ..app.database import money_sum
from ..kpi import dormancy
from ..models import Category, CompanySettings, Customer, SalesLine
from ..rules import cadence
from . import cross_sell
from .plan_facts import as_date, customer_facts
from .today import cycle_days

YEAR = 365


@dataclass
class CategorySales:
    """A category's sales to the customer: the last 365 days, the 365 before, the last sale."""

    name: str
    last_year: int
    year_before: int
    last_sold: date | None

    @property
    def total(self) -> int:
        return self.last_year + self.year_before


# The monthly series: this many calendar months, ending with the day's own (partial) month.
MONTHS = 24
# The biggest categories drawn one by one; the rest are summed as one "others" line.
TOP_CATEGORIES = 4


@dataclass
class CategoryMonths:
    """One line of the monthly series: a category (or the others summed) and its yen per month."""

    name: str
    amounts: list[int]
    others: bool = False

    @property
    def total(self) -> int:
        return sum(self.amounts)


@dataclass
class MonthlySales:
    """The customer's sales per category and calendar month: ``months`` are first days, oldest
    first; each line has one amount per month; ``totals`` per month over every category."""

    months: list[date]
    lines: list[CategoryMonths]

    @property
    def totals(self) -> list[int]:
        return [sum(line.amounts[i] for line in self.lines) for i in range(len(self.months))]


def months_back(day: date, n: int = MONTHS) -> list[date]:
    """The first days of the ``n`` calendar months ending with ``day``'s month, oldest first."""
    index = day.year * 12 + day.month - 1
    return [date(i // 12, i % 12 + 1, 1) for i in range(index - n + 1, index + 1)]


def monthly_sales(session: Session, customer_id: int, day: date) -> MonthlySales:
    """The customer's sales per category and month over the MONTHS months ending with ``day``.

    Grouped per category and day in SQL (a customer has a few hundred such rows in two years)
    and folded into months here, the same on SQLite and PostgreSQL.
    """
    months = months_back(day)
    slot = {(m.year, m.month): i for i, m in enumerate(months)}
    stmt = (
        select(Category.name, SalesLine.sold_on, money_sum(SalesLine.amount))
        .select_from(SalesLine)
        .outerjoin(Category, SalesLine.category_id == Category.id)
        .where(
            SalesLine.customer_id == customer_id,
            SalesLine.sold_on >= months[0],
            SalesLine.sold_on <= day,
        )
        .group_by(Category.name, SalesLine.sold_on)
    )
    by_name: dict[str, list[int]] = {}
    for name, sold_on, amount in session.execute(stmt):
        on = as_date(sold_on)
        by_name.setdefault(name or "", [0] * len(months))[slot[(on.year, on.month)]] += int(
            amount or 0
        )
    ranked = sorted(by_name.items(), key=lambda kv: (-sum(kv[1]), kv[0]))
    lines = [CategoryMonths(name, amounts) for name, amounts in ranked[:TOP_CATEGORIES]]
    rest = ranked[TOP_CATEGORIES:]
    if len(rest) == 1:
        lines.append(CategoryMonths(*rest[0]))
    elif rest:
        summed = [sum(amounts[i] for _name, amounts in rest) for i in range(len(months))]
        lines.append(CategoryMonths("", summed, others=True))
    return MonthlySales(months, lines)


@dataclass
class Profile:
    """The customer page's facts as of ``day``."""

    day: date
    sales: list[CategorySales] = field(default_factory=list)
    monthly: MonthlySales | None = None
    candidates: list[cross_sell.CrossSell] = field(default_factory=list)
    dormant: bool = False
    # The day it turned, or will turn, dormant if nothing new happens (None: never visited).
    dormant_from: date | None = None
    # The last day within its visit cycle (None: never visited, a visit is due now).
    next_visit_by: date | None = None


def sales_by_category(session: Session, customer_id: int, day: date) -> list[CategorySales]:
    """The customer's sales per category over the 730 days ending on ``day``, largest first."""
    split = day - timedelta(days=YEAR - 1)  # first day of the last 365
    start = day - timedelta(days=2 * YEAR - 1)
    recent = money_sum(case((SalesLine.sold_on >= split, SalesLine.amount), else_=None))
    before = money_sum(case((SalesLine.sold_on < split, SalesLine.amount), else_=None))
    stmt = (
        select(Category.name, recent, before, func.max(SalesLine.sold_on))
        .select_from(SalesLine)
        .outerjoin(Category, SalesLine.category_id == Category.id)
        .where(
            SalesLine.customer_id == customer_id,
            SalesLine.sold_on >= start,
            SalesLine.sold_on <= day,
        )
        .group_by(Category.name)
    )
    rows = [
        CategorySales(name or "", int(last or 0), int(prev or 0), as_date(sold) if sold else None)
        for name, last, prev, sold in session.execute(stmt)
    ]
    return sorted(rows, key=lambda r: (-r.total, r.name))


def profile(
    session: Session,
    customer: Customer,
    *,
    day: date,
    tz: ZoneInfo,
    settings: CompanySettings,
) -> Profile:
    """The customer page's facts: sales by category, cross-sell candidates, dormancy, cycle."""
    out = Profile(
        day=day,
        sales=sales_by_category(session, customer.id, day),
        monthly=monthly_sales(session, customer.id, day),
    )
    facts = customer_facts(session, select(Customer).where(Customer.id == customer.id), day, tz)
    fact = facts[customer.id][1]
    visit_limit, sales_limit = settings.dormant_visit_days, settings.dormant_sales_days
    out.dormant = dormancy.dormant_on(
        day, fact.last_visit, fact.last_sale, visit_limit, sales_limit
    )
    out.dormant_from = dormancy.turns_dormant_on(
        fact.last_visit, fact.last_sale, visit_limit, sales_limit
    )
    out.next_visit_by = cadence.cadence(
        fact.last_visit, cycle_days(customer, settings), day
    ).next_due
    bought = cross_sell.purchases(session, {customer.branch_id}, day, [customer.id])
    categories = {
        c.id: c for c in session.scalars(select(Category).where(Category.active.is_(True)))
    }
    if customer.active:  # an inactive one is in no peer group (the counts are of active ones)
        out.candidates = cross_sell.cross_sell_candidates(customer, bought, categories)
    return out
