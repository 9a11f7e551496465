"""What the sales forecast reads from the database, as of a date (docs/kgi.md)."""

from __future__ import annotations

from datetime import date
from zoneinfo import ZoneInfo

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ..app.database import money_sum
from ..models import Customer, Proposal, SalesLine
from .forecast import KINDS, History
from .scope import Scope


def load_history(session: Session, scope: Scope, until: date | None = None) -> History:
    """Daily sales and every proposal of a company or branch scope, known on ``until``.

    Both follow the customer's current branch, as the sales KPIs do. A proposal closed after
    ``until`` is read as still open then: its outcome was not known yet.
    """
    if scope.kind == "rep":
        raise ValueError("the forecast covers the company or one branch")
    in_scope = [Customer.branch_id == scope.id] if scope.kind == "branch" else []
    sales = select(SalesLine.sold_on, money_sum(SalesLine.amount)).join(
        Customer, Customer.id == SalesLine.customer_id
    )
    proposals = select(
        Proposal.proposed_on,
        Proposal.closed_on,
        Proposal.status,
        Proposal.kind,
        func.coalesce(Proposal.amount, 0),
    ).join(Customer, Customer.id == Proposal.customer_id)
    if until is not None:
        sales = sales.where(SalesLine.sold_on <= until)
        proposals = proposals.where(Proposal.proposed_on <= until)
    days = session.execute(sales.where(*in_scope).group_by(SalesLine.sold_on)).all()
    rows = session.execute(proposals.where(*in_scope)).all()
    never = History.never()
    limit = until.toordinal() if until is not None else never
    closed = [
        c.toordinal() if c is not None and c.toordinal() <= limit else never
        for _p, c, _s, _k, _a in rows
    ]
    return History(
        sale_days=np.array([d.toordinal() for d, _ in days], dtype=np.int64),
        sale_amounts=np.array([float(a or 0) for _, a in days]),
        proposed=np.array([p.toordinal() for p, *_ in rows], dtype=np.int64),
        closed=np.array(closed, dtype=np.int64),
        won=np.array(
            [
                s == "won" and c != never
                for (_p, _c, s, _k, _a), c in zip(rows, closed, strict=True)
            ],
            dtype=bool,
        ),
        kinds=np.array(
            [KINDS.index(k) if k in KINDS else 2 for *_x, k, _a in rows], dtype=np.int64
        ),
        amounts=np.array([float(a or 0) for *_x, a in rows]),
    )


def add_leading_kpis(
    session: Session, history: History, scope: Scope, until: date, *, tz: ZoneInfo
) -> list[str]:
    """Give ``history`` the active KPIs that the lead analysis finds to lead sales here.

    Each is analysed over the ``lead.LEAD_WEEKS`` (52) complete weeks up to ``until`` only
    (nothing after it; the kept analysis when the KPI ranking has it), and, where the verdict
    is ``leads``, its weekly values over the whole history go in with the lag found; the
    forecast then keeps it only if it predicts better. Returns the keys.
    """
    from ..rules.periods import Period
    from ..services.defaults import company_settings
    from .choices import active_kpis
    from .lead import LEAD_WEEKS
    from .lead_cache import cached_lead
    from .rollup import trend

    last = Period.week_of(until) if until.weekday() == 6 else Period.week_of(until).previous()
    found = []
    for key in active_kpis(company_settings(session)):
        try:
            result = cached_lead(session, key, "sales_amount", scope, LEAD_WEEKS, last, tz=tz)
        except ValueError:  # too few units or weeks for the analysis: no lead known
            continue
        if result.verdict != "leads" or result.lag_weeks is None:
            continue
        first = date.fromordinal(int(history.sale_days.min())) if len(history.sale_days) else until
        periods = [Period.week_of(first)]
        while periods[-1].start < last.start:
            periods.append(periods[-1].next())
        series = trend(session, scope, periods, keys=[key], today=until, tz=tz)
        values = {
            p.start.toordinal(): float(s[key].value or 0)
            for p, s in zip(periods, series, strict=True)
        }
        history.leading[key] = (values, result.lag_weeks)
        found.append(key)
    return found
