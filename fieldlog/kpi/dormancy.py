"""The dormancy summary: the days on which each customer is *not* dormant, kept in step.

``dormant_rate`` (docs/kpi.md) counts, as of P.end, the active customers that had no visit (by
anyone) in the last ``dormant_visit_days`` — never visited counts — or had sales on or before
P.end but none in the last ``dormant_sales_days``. Computed from the events, a 13-week trend reads
every visit and sales line of the last quarter and a half. Instead each customer's visits and
sales are turned once into *runs* (``DormancyRun``): maximal spans of days on which it is kept
(not dormant). The roll-up counts, per period end, the runs containing it; the active customers
in scope minus those are the dormant ones. Exact for any day, so weeks and months alike.

The runs depend on the two thresholds and on the company timezone (a visit's local date), so
``SummaryState`` ("dormancy") records what they were built with; the roll-up uses them only when
that matches the current settings and reads the events otherwise. Changing a threshold rebuilds
them (``fieldlog.kpi.settings``). Every writer of visits or sales lines keeps them in step
through ``customers_changed``: the ORM flush hook of ``fieldlog.kpi.summary`` for forms and the
API, the sales import and the demo data explicitly.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import date, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import delete, insert, select
from sqlalchemy.orm import Session

from ..models import CompanySettings, Customer, DormancyRun, SalesLine, SummaryState, Visit

Span = tuple[date, date]

NAME = "dormancy"
_DAY = timedelta(days=1)
_CHUNK = 500  # customers per statement (bound parameters stay far below SQLite's limit)


# ---- the runs of one customer (pure) ------------------------------------------------------


def reach(days: Iterable[date], length: int) -> list[Span]:
    """The days E with one of ``days`` among the ``length`` days ending at E, as merged spans."""
    last = timedelta(days=length - 1)
    spans: list[Span] = []
    for day in sorted(set(days)):
        if spans and day <= spans[-1][1] + _DAY:
            spans[-1] = (spans[-1][0], day + last)
        else:
            spans.append((day, day + last))
    return spans


def _intersect(a: list[Span], b: list[Span]) -> list[Span]:
    """The days in both span lists (each sorted and disjoint)."""
    out: list[Span] = []
    i = j = 0
    while i < len(a) and j < len(b):
        lo, hi = max(a[i][0], b[j][0]), min(a[i][1], b[j][1])
        if lo <= hi:
            out.append((lo, hi))
        if a[i][1] < b[j][1]:
            i += 1
        else:
            j += 1
    return out


def kept_runs(
    visit_days: Iterable[date], sale_days: Iterable[date], visit_limit: int, sales_limit: int
) -> list[Span]:
    """One customer's days of not being dormant, from its visits' local dates and sale dates.

    Kept on E = a visit in the ``visit_limit`` days ending at E, and either no sale on or before
    E or one in the ``sales_limit`` days ending at E. Both are unions of spans, so the answer is
    their intersection; before the first sale the sales side holds from the beginning of time.
    """
    visited = reach(visit_days, visit_limit)
    selling = reach(sale_days, sales_limit)
    if selling:
        selling[0] = (date.min, selling[0][1])
    else:
        selling = [(date.min, date.max)]
    return _intersect(visited, selling)


def dormant_on(
    day: date, last_visit: date | None, last_sale: date | None, visit_limit: int, sales_limit: int
) -> bool:
    """Whether a customer is dormant on ``day`` from its last visit and last sale up to it.

    The same rule as ``kept_runs`` (docs/kpi.md) for one day: no visit in the ``visit_limit``
    days ending at ``day`` (never visited counts), or sales before but none in the
    ``sales_limit`` days ending at it. For lists of customers, where one day is asked.
    """
    if last_visit is None or (day - last_visit).days >= visit_limit:
        return True
    return last_sale is not None and (day - last_sale).days >= sales_limit


def turns_dormant_on(
    last_visit: date | None, last_sale: date | None, visit_limit: int, sales_limit: int
) -> date | None:
    """The first day ``dormant_on`` holds if nothing new happens; None when never visited.

    From then on the customer stays dormant until a visit (or a sale) moves the date on.
    """
    if last_visit is None:
        return None
    first = last_visit + timedelta(days=visit_limit)
    if last_sale is not None:
        first = min(first, last_sale + timedelta(days=sales_limit))
    return first


# ---- what the summary was built with ------------------------------------------------------


def wanted(settings: CompanySettings, tz: ZoneInfo) -> dict[str, Any]:
    """The parameters the runs must have been built with to answer for these settings."""
    return {
        "visit_days": int(settings.dormant_visit_days),
        "sales_days": int(settings.dormant_sales_days),
        "tz": tz.key,
    }


def built_with(session: Session) -> dict[str, Any] | None:
    """The parameters of the stored runs, or None when there is no summary to keep in step."""
    stmt = select(SummaryState.params).where(SummaryState.name == NAME)
    return session.connection().execute(stmt).scalar()


def usable(session: Session, settings: CompanySettings, tz: ZoneInfo) -> bool:
    """True when the stored runs answer ``dormant_rate`` for these settings and timezone."""
    return built_with(session) == wanted(settings, tz)


def _set_state(session: Session, params: dict[str, Any]) -> None:
    state = session.get(SummaryState, NAME)
    if state is None:
        session.add(SummaryState(name=NAME, params=params))
    else:
        state.params = params
    session.flush()


def start_if_empty(session: Session, settings: CompanySettings, tz: ZoneInfo) -> bool:
    """Start the summary (no runs) in a database without visits, where it is trivially in step."""
    if built_with(session) is not None:
        return False
    if session.scalar(select(Visit.id).limit(1)) is not None:
        return False  # there is history: only rebuild() may start it
    _set_state(session, wanted(settings, tz))
    return True


# ---- keeping it in step ---------------------------------------------------------------------


def lock_customers(session: Session, ids: list[int]) -> None:
    """Serialize writers of the same customers' runs (PostgreSQL; SQLite has one writer).

    Two transactions recording visits for one customer would otherwise each delete the runs
    they see and insert their own, leaving both sets. The second waits here for the first to
    commit, then reads its visits too. FOR NO KEY UPDATE: the visit just inserted holds a key
    share lock on its customer (the foreign key), which FOR UPDATE would wait on: a deadlock.
    """
    if session.get_bind().dialect.name == "postgresql":
        session.connection().execute(
            select(Customer.id)
            .where(Customer.id.in_(ids))
            .order_by(Customer.id)
            .with_for_update(key_share=True)  # FOR NO KEY UPDATE
        )


def customers_changed(session: Session, customer_ids: Iterable[int | None]) -> int:
    """Recompute these customers' runs from their visits and sales lines; returns the runs.

    Does nothing (returns 0) while no summary has been started. Flushes nothing.
    """
    params = built_with(session)
    if params is None:
        return 0
    tz = ZoneInfo(params["tz"])
    conn = session.connection()
    ids = sorted({i for i in customer_ids if i is not None})
    written = 0
    for k in range(0, len(ids), _CHUNK):
        chunk = ids[k : k + _CHUNK]
        lock_customers(session, chunk)
        conn.execute(delete(DormancyRun).where(DormancyRun.customer_id.in_(chunk)))
        visits: dict[int, set[date]] = defaultdict(set)
        for customer_id, at in conn.execute(
            select(Visit.customer_id, Visit.visited_at).where(Visit.customer_id.in_(chunk))
        ):
            visits[customer_id].add(at.astimezone(tz).date())
        sales: dict[int, set[date]] = defaultdict(set)
        for customer_id, sold_on in conn.execute(
            select(SalesLine.customer_id, SalesLine.sold_on)
            .where(SalesLine.customer_id.in_(chunk))
            .distinct()
        ):
            sales[customer_id].add(sold_on)
        rows = [
            {"customer_id": customer_id, "starts_on": a, "ends_on": b}
            for customer_id in sorted(visits)
            for a, b in kept_runs(
                visits[customer_id],
                sales.get(customer_id, ()),
                params["visit_days"],
                params["sales_days"],
            )
        ]
        if rows:
            conn.execute(insert(DormancyRun), rows)
        written += len(rows)
    return written


def rebuild(session: Session, settings: CompanySettings, tz: ZoneInfo) -> int:
    """Recompute every customer's runs for these settings (idempotent); returns the runs."""
    session.flush()
    session.connection().execute(delete(DormancyRun))
    _set_state(session, wanted(settings, tz))
    customers = session.scalars(select(Visit.customer_id).distinct()).all()
    return customers_changed(session, customers)


def settings_changed(session: Session, settings: CompanySettings) -> int | None:
    """Rebuild the runs (same timezone) after the thresholds changed; None when not needed."""
    params = built_with(session)
    if params is None:
        return None
    tz = ZoneInfo(params["tz"])
    if params == wanted(settings, tz):
        return None
    return rebuild(session, settings, tz)


def differences(session: Session) -> int:
    """How many stored runs differ from a fresh computation (0 when in step); reads only."""
    params = built_with(session)
    if params is None:
        return 0
    tz = ZoneInfo(params["tz"])
    stored: dict[int, set[Span]] = defaultdict(set)
    for customer_id, a, b in session.execute(
        select(DormancyRun.customer_id, DormancyRun.starts_on, DormancyRun.ends_on)
    ):
        stored[customer_id].add((a, b))
    visits: dict[int, set[date]] = defaultdict(set)
    for customer_id, at in session.execute(select(Visit.customer_id, Visit.visited_at)):
        visits[customer_id].add(at.astimezone(tz).date())
    sales: dict[int, set[date]] = defaultdict(set)
    for customer_id, sold_on in session.execute(
        select(SalesLine.customer_id, SalesLine.sold_on).distinct()
    ):
        sales[customer_id].add(sold_on)
    fresh = {
        c: set(kept_runs(days, sales.get(c, ()), params["visit_days"], params["sales_days"]))
        for c, days in visits.items()
    }
    return sum(len(stored.get(c, set()) ^ fresh.get(c, set())) for c in stored.keys() | fresh)
