"""The category-buyer summary: on which days a customer counts as a buyer of a category.

The plan's cross-sell candidates (docs/kpi.md, "The plan's cross-sell shares") ask, for a day E,
how many of a branch's active customers of each rank bought each category in the 365 days
before E (E − 365 … E − 1). Read from the sales lines, every plan reads the branch's year of
lines. Instead, each customer's lines of a category are turned into *runs*
(``CategoryBuyerRun``): maximal spans of days E on which it has such a line. A line on day s
makes the customer a buyer on s + 1 … s + 365; the plan then counts, per rank and category,
the runs of the branch's customers that contain E (at most one per customer and category).

Kept in step by the same steps as the deepening summary (``fieldlog.kpi.deepening``):
``customers_changed`` recomputes customers whole (bulk writers), ``days_changed`` only the
days a few lines reach; ``rebuild`` and ``differences`` back ``flask kpi rebuild-summary``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import date, timedelta
from itertools import groupby

from sqlalchemy import Connection, and_, delete, func, insert, select
from sqlalchemy.orm import Session

from ..models import CategoryBuyerRun, Customer, SalesLine
from . import runs as stored_runs

Span = tuple[date, date]

# The window of ``visits.derive_kind`` and the plan: the 365 days strictly before the day.
WINDOW_DAYS = 365
_DAY = timedelta(days=1)
_CHUNK = 500  # customers per statement (bound parameters stay far below SQLite's limit)


def buyer_runs(days: Iterable[date]) -> list[Span]:
    """The days E with one of ``days`` in E − 365 … E − 1, as sorted merged spans; pure."""
    spans: list[Span] = []
    for day in sorted(set(days)):
        start, end = day + _DAY, day + timedelta(days=WINDOW_DAYS)
        if spans and start <= spans[-1][1] + _DAY:
            spans[-1] = (spans[-1][0], end)
        else:
            spans.append((start, end))
    return spans


def _runs_by_category(lines: Iterable[tuple[int, date]]) -> dict[int, list[Span]]:
    days: dict[int, list[date]] = defaultdict(list)
    for category_id, sold_on in lines:
        days[category_id].append(sold_on)
    return {category_id: buyer_runs(d) for category_id, d in days.items()}


def _lines(customer_ids: list[int]):
    S = SalesLine
    return (
        select(S.customer_id, S.category_id, S.sold_on)
        .where(S.customer_id.in_(customer_ids), S.category_id.is_not(None))
        .distinct()
        .order_by(S.customer_id)
    )


def customers_changed(conn: Connection, customer_ids: Iterable[int | None]) -> int:
    """Recompute these customers' runs whole from their sales lines; returns the runs written.

    For bulk writers (the import, the demo data, a rebuild); the caller locks the customers.
    """
    ids = sorted({i for i in customer_ids if i is not None})
    written = 0
    for k in range(0, len(ids), _CHUNK):
        chunk = ids[k : k + _CHUNK]
        conn.execute(delete(CategoryBuyerRun).where(CategoryBuyerRun.customer_id.in_(chunk)))
        rows = [
            {"customer_id": customer_id, "category_id": category_id, "starts_on": a, "ends_on": b}
            for customer_id, group in groupby(conn.execute(_lines(chunk)), key=lambda r: r[0])
            for category_id, spans in _runs_by_category((r[1], r[2]) for r in group).items()
            for a, b in spans
        ]
        if rows:
            conn.execute(insert(CategoryBuyerRun), rows)
        written += len(rows)
    return written


def days_changed(conn: Connection, customer_id: int, days: Iterable[date]) -> None:
    """Lines of this customer were added, moved or deleted on these days: rewrite what they reach.

    A line on day s decides the days s + 1 … s + 365 only, which depend on the lines of
    s − 364 … s + 364: only those lines and the runs touching those days are read, whatever the
    customer's history. The caller locks the customer.
    """
    R, S = CategoryBuyerRun, SalesLine
    for lo, hi in buyer_runs(days):
        lines = conn.execute(
            select(S.category_id, S.sold_on)
            .where(
                S.customer_id == customer_id,
                S.category_id.is_not(None),
                S.sold_on >= lo - timedelta(days=WINDOW_DAYS),
                S.sold_on <= hi - _DAY,
            )
            .distinct()
        )
        fresh = {
            category_id: [(a, b, None) for a, b in spans]
            for category_id, spans in _runs_by_category(lines).items()
        }
        old: dict[int, list[stored_runs.Run]] = defaultdict(list)
        for category_id, a, b in conn.execute(
            select(R.category_id, R.starts_on, R.ends_on)
            .where(
                R.customer_id == customer_id,
                R.ends_on >= stored_runs.before(lo),
                R.starts_on <= stored_runs.after(hi),
            )
            .order_by(R.category_id, R.starts_on)
        ):
            old[category_id].append((a, b, None))
        for category_id in sorted(old.keys() | fresh.keys()):
            current = old.get(category_id, [])
            outside = [(a, min(b, stored_runs.before(lo)), v) for a, b, v in current if a < lo]
            outside += [(max(a, stored_runs.after(hi)), b, v) for a, b, v in current if b > hi]
            new = stored_runs.merge(outside + stored_runs.clip(fresh.get(category_id, []), lo, hi))
            if new == current:
                continue
            if current:
                conn.execute(
                    delete(R).where(
                        R.customer_id == customer_id,
                        R.category_id == category_id,
                        R.starts_on.in_([a for a, _, _ in current]),
                    )
                )
            if new:
                conn.execute(
                    insert(R),
                    [
                        {
                            "customer_id": customer_id,
                            "category_id": category_id,
                            "starts_on": a,
                            "ends_on": b,
                        }
                        for a, b, _ in new
                    ],
                )


def rebuild(session: Session) -> int:
    """Recompute every customer's runs from scratch (idempotent); returns the number of runs."""
    session.flush()
    conn = session.connection()
    conn.execute(delete(CategoryBuyerRun))
    customers = session.scalars(select(SalesLine.customer_id).distinct()).all()
    return customers_changed(conn, customers)


def differences(session: Session) -> int:
    """How many stored runs differ from a fresh computation (0 when in step); reads only."""
    R = CategoryBuyerRun
    stored = set(session.execute(select(R.customer_id, R.category_id, R.starts_on, R.ends_on)))
    S = SalesLine
    lines = session.execute(
        select(S.customer_id, S.category_id, S.sold_on)
        .where(S.category_id.is_not(None))
        .distinct()
        .order_by(S.customer_id)
    )
    fresh = {
        (customer_id, category_id, a, b)
        for customer_id, group in groupby(lines, key=lambda r: r[0])
        for category_id, spans in _runs_by_category((r[1], r[2]) for r in group).items()
        for a, b in spans
    }
    return len(stored ^ fresh)


# ---- reading it ---------------------------------------------------------------------------------


def _on(day: date):
    return and_(CategoryBuyerRun.starts_on <= day, CategoryBuyerRun.ends_on >= day)


def buyers_on(session: Session, branch_ids: set[int], day: date) -> dict[tuple[int, str, int], int]:
    """Per (branch, rank, category): how many active customers bought it in the 365 days before.

    One index seek per customer of the branches (the runs reaching ``day``), whatever their
    sales: ~12 entries a customer instead of its year of lines.
    """
    if not branch_ids:
        return {}
    R = CategoryBuyerRun
    stmt = (
        select(Customer.branch_id, Customer.rank, R.category_id, func.count())
        .join(R, R.customer_id == Customer.id)
        .where(Customer.branch_id.in_(branch_ids), Customer.active.is_(True), _on(day))
        .group_by(Customer.branch_id, Customer.rank, R.category_id)
    )
    return {(b, rank, c): int(n) for b, rank, c, n in session.execute(stmt)}


def bought_on(session: Session, customer_ids: list[int], day: date) -> dict[int, set[int]]:
    """Per customer, the categories it bought in the 365 days before ``day``."""
    R = CategoryBuyerRun
    out: dict[int, set[int]] = defaultdict(set)
    for k in range(0, len(customer_ids), _CHUNK):
        chunk = customer_ids[k : k + _CHUNK]
        for customer_id, category_id in session.execute(
            select(R.customer_id, R.category_id).where(R.customer_id.in_(chunk), _on(day))
        ):
            out[customer_id].add(category_id)
    return out
