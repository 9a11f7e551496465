"""The deepening summary: ``deepening_rate``'s state per customer and day, kept in step with sales.

``deepening_rate`` (docs/kpi.md) compares, per customer, the distinct categories bought in the
365-day window W ending at P.end with those bought in the 365 days before W. Computed from the
sales lines, every roll-up reads two years of them. Instead, each customer's lines are turned once
into *runs* (``DeepeningRun``): maximal spans of days E on which the customer has sales in the 365
days before the window ending at E (it counts in the denominator) with ``grew`` (it counts in the
numerator) constant. The roll-up then counts, per period end, the runs that contain it: exact for
any day — ISO weeks, calendar months, any 365-day window — not only for week ends.

Every path that writes sales lines says so as a step of its own: ``sales_lines_changed`` for a
few lines (it recomputes only the two years after each line's day, ``fieldlog.kpi.runs``), or
``sales_changed`` for bulk writers (the import and the demo data) that recompute each touched
customer whole. Both keep the dormancy summary and the category buyers (``fieldlog.kpi.buyers``,
the plan's cross-sell shares) in step too. ``rebuild`` recomputes it all from the sales lines
(``flask kpi rebuild-summary``), idempotently.
An ORM write that tells no step fails its tests (``fieldlog.kpi.untold``, the suite's check).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from datetime import date, timedelta
from itertools import groupby, pairwise

from sqlalchemy import delete, func, insert, select
from sqlalchemy.orm import Session

from ..models import CategoryBuyerRun, DeepeningRun, SalesLine
from . import buyers, dormancy, untold
from . import runs as stored_runs

Run = tuple[date, date, bool]

_WINDOW = timedelta(days=365)
_DAY = timedelta(days=1)
_CHUNK = 500  # customers per statement (bound parameters stay far below SQLite's limit)


def _covered(days: Iterable[date]) -> list[tuple[date, date]]:
    """The days E whose 365-day window (E − 364 … E) holds one of ``days``, as merged spans."""
    return dormancy.reach(days, 365)


def deepening_runs(lines: Iterable[tuple[date, int | None]]) -> list[Run]:
    """One customer's runs from its sales lines ``(sold_on, category_id)``; pure.

    On day E, with c(E) the number of distinct categories bought in E − 364 … E: the customer
    is in the denominator when it had any line (with or without a category) in E − 729 … E − 365,
    and in the numerator when, besides, c(E) > c(E − 365). Both change only where a category's
    (or any line's) coverage starts or ends, so a sweep over those days gives the runs.
    """
    by_category: dict[int, list[date]] = defaultdict(list)
    any_days: list[date] = []
    for sold_on, category_id in lines:
        any_days.append(sold_on)
        if category_id is not None:
            by_category[category_id].append(sold_on)
    growth: dict[date, int] = defaultdict(int)  # changes of c(E) − c(E − 365)
    base: dict[date, int] = defaultdict(int)  # changes of "any line in E − 729 … E − 365"
    for days in by_category.values():
        for start, end in _covered(days):
            growth[start] += 1
            growth[end + _DAY] -= 1
            growth[start + _WINDOW] -= 1
            growth[end + _DAY + _WINDOW] += 1
    for start, end in _covered(any_days):
        base[start + _WINDOW] += 1
        base[end + _DAY + _WINDOW] -= 1
    runs: list[Run] = []
    diff = had = 0
    changes = sorted(growth.keys() | base.keys())
    for day, following in pairwise(changes):  # after the last change nothing counts
        diff += growth.get(day, 0)
        had += base.get(day, 0)
        if not had:
            continue
        grew = diff > 0
        if runs and runs[-1][2] == grew and runs[-1][1] + _DAY == day:
            runs[-1] = (runs[-1][0], following - _DAY, grew)
        else:
            runs.append((day, following - _DAY, grew))
    return runs


def sales_changed(session: Session, customer_ids: Iterable[int | None]) -> int:
    """Recompute these customers' runs whole from their sales lines; flushes nothing, returns runs.

    For bulk writers (the import, the demo data), where much of each customer's history
    changed; a few lines go through ``sales_lines_changed``. It keeps the dormancy summary of
    these customers in step as well.
    """
    conn = session.connection()
    ids = sorted({i for i in customer_ids if i is not None})
    written = 0
    for k in range(0, len(ids), _CHUNK):
        chunk = ids[k : k + _CHUNK]
        dormancy.lock_customers(session, chunk)  # one writer of a customer's runs at a time
        conn.execute(delete(DeepeningRun).where(DeepeningRun.customer_id.in_(chunk)))
        S = SalesLine
        lines = conn.execute(
            select(S.customer_id, S.sold_on, S.category_id)
            .where(S.customer_id.in_(chunk))
            .distinct()
            .order_by(S.customer_id)
        )
        rows = [
            {"customer_id": customer_id, "starts_on": a, "ends_on": b, "grew": grew}
            for customer_id, group in groupby(lines, key=lambda line: line[0])
            for a, b, grew in deepening_runs((line[1], line[2]) for line in group)
        ]
        if rows:
            conn.execute(insert(DeepeningRun), rows)
        written += len(rows)
        buyers.customers_changed(conn, chunk)  # the plan's cross-sell shares
    dormancy.customers_changed(session, ids)  # a sale can end or start a dormant spell too
    untold.told(session, SalesLine, ids)
    return written


def sales_lines_changed(session: Session, days_by_customer: Mapping[int, Iterable[date]]) -> None:
    """Sales lines were added, corrected or deleted on these days: keep both summaries in step.

    For a few lines (a form, a correction, the tests' factory): a line on day s changes the
    deepening state of the days s … s + 729 only, decided by the lines of s − 729 … s + 729,
    so only those are read and only the runs there rewritten. Call it after the flush.
    """
    conn = session.connection()
    for customer_id, days in sorted(days_by_customer.items()):
        days = set(days)
        if not days:
            continue
        dormancy.lock_customers(session, [customer_id])
        for lo, hi in dormancy.reach(days, 2 * 365):
            S = SalesLine
            lines = conn.execute(
                select(S.sold_on, S.category_id)
                .where(
                    S.customer_id == customer_id,
                    S.sold_on >= lo - 2 * _WINDOW,
                    S.sold_on <= hi,
                )
                .distinct()
            ).all()
            fresh = deepening_runs((day, category) for day, category in lines)
            stored_runs.splice(conn, DeepeningRun, customer_id, lo, hi, lambda _old, f=fresh: f)
        buyers.days_changed(conn, customer_id, days)
        dormancy.sale_days_changed(session, customer_id, days)
    untold.told(session, SalesLine, days_by_customer)


def rebuild(session: Session) -> int:
    """Recompute every customer's runs from scratch (idempotent); returns the number of runs."""
    session.flush()
    session.connection().execute(delete(DeepeningRun))
    session.connection().execute(delete(CategoryBuyerRun))
    customers = session.scalars(select(SalesLine.customer_id).distinct()).all()
    return sales_changed(session, customers)


def differences(session: Session) -> int:
    """How many stored runs differ from a fresh computation (0 when in step); reads only."""
    stored: dict[int, list[Run]] = defaultdict(list)
    for row in session.execute(
        select(
            DeepeningRun.customer_id,
            DeepeningRun.starts_on,
            DeepeningRun.ends_on,
            DeepeningRun.grew,
        ).order_by(DeepeningRun.customer_id, DeepeningRun.starts_on)
    ):
        stored[row[0]].append((row[1], row[2], bool(row[3])))
    S = SalesLine
    lines = session.execute(
        select(S.customer_id, S.sold_on, S.category_id).distinct().order_by(S.customer_id)
    )
    fresh = {
        customer_id: deepening_runs((line[1], line[2]) for line in group)
        for customer_id, group in groupby(lines, key=lambda line: line[0])
    }
    return sum(
        len(set(stored.get(c, [])) ^ set(fresh.get(c, []))) for c in stored.keys() | fresh.keys()
    )


def count(session: Session) -> int:
    """The number of stored runs."""
    return session.scalar(select(func.count()).select_from(DeepeningRun)) or 0
