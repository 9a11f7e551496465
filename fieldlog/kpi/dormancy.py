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
them (``fieldlog.kpi.choices``). Every writer of visits or sales lines says what it wrote, as a
named step of its own: ``visit_added`` (``record_visit``: reads only the sales around the new
day and the runs it touches), ``visits_changed`` (a visit moved or deleted: recomputes the 60
days after each date it left or reached), ``fieldlog.kpi.deepening.sales_lines_changed`` (single
sales lines) and ``customers_changed`` (bulk writers: the sales import, the demo data, which
recompute each touched customer whole). None of them reads a customer's whole history
(``fieldlog.kpi.runs``), so a visit costs the same for a customer with 10 visits or 2,000.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import date, datetime, time, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo

from sqlalchemy import (
    Boolean,
    Connection,
    Date,
    bindparam,
    cast,
    delete,
    func,
    insert,
    literal,
    null,
    select,
    union_all,
)
from sqlalchemy.orm import Session

from ..models import CompanySettings, Customer, DormancyRun, SalesLine, SummaryState, Visit
from . import runs as stored_runs
from . import untold

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
    return _intersect(reach(visit_days, visit_limit), _selling(sale_days, sales_limit))


def _selling(sale_days: Iterable[date], sales_limit: int) -> list[Span]:
    """The days with no sale on or before them, or one in the ``sales_limit`` days ending there."""
    selling = reach(sale_days, sales_limit)
    if selling:
        selling[0] = (date.min, selling[0][1])
    else:
        selling = [(date.min, date.max)]
    return selling


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


_BUILT_WITH = select(SummaryState.params).where(SummaryState.name == NAME)


def built_with(session: Session) -> dict[str, Any] | None:
    """The parameters of the stored runs, or None when there is no summary to keep in step."""
    return session.connection().execute(_BUILT_WITH).scalar()


# For a writer to read beside its own write (the visit post's insert returns it), and hand to
# ``visit_added`` as ``params``: one statement fewer on every post.
BUILT_WITH = _BUILT_WITH.scalar_subquery()


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


def _local_start(day: date, tz: ZoneInfo) -> datetime:
    return datetime.combine(day, time.min, tz)


def _sale_day_selects(*extra: Any) -> tuple[Any, Any]:
    """The customer's distinct sale days in ``lo``..``hi``, and its last one before ``lo``
    (two index lookups), each with the ``extra`` columns after the day."""
    S = SalesLine
    mine = S.customer_id == bindparam("customer_id")
    lo, hi = bindparam("lo", type_=Date), bindparam("hi", type_=Date)
    in_window = select(S.sold_on, *extra).where(mine, S.sold_on >= lo, S.sold_on <= hi)
    earlier = select(func.max(S.sold_on), *extra).where(mine, S.sold_on < lo)
    return in_window.distinct(), earlier


_SALE_DAYS = union_all(*_sale_day_selects())  # every visit post runs it: built once


def _sales_and_runs_statement() -> Any:
    """``_SALE_DAYS`` and the stored runs around the window (``runs.stored_select``) in one
    statement: (first day, last day, True) for a run, (sale day, NULL, False) for a sale day.
    The runs come first: a UNION's columns take the first member's types."""
    runs = stored_runs.stored_select(DormancyRun).add_columns(literal(True, Boolean))
    return union_all(runs, *_sale_day_selects(cast(null(), Date), literal(False, Boolean)))


# A visit post's one read for its dormancy step (one statement fewer than reading each).
_SALES_AND_RUNS = _sales_and_runs_statement()


def _sale_days(conn: Connection, customer_id: int, lo: date, hi: date) -> list[date]:
    """The customer's sale days in ``lo``..``hi``, and the last one before ``lo`` if any.

    The earlier day matters only as "not the first sale": it keeps ``_selling`` from holding
    before the window's first sale. Two index lookups, whatever the customer's history.
    """
    rows = conn.execute(_SALE_DAYS, {"customer_id": customer_id, "lo": lo, "hi": hi})
    return [day for (day,) in rows if day is not None]


def _kept_between(
    conn: Connection, customer_id: int, lo: date, hi: date, params: dict[str, Any]
) -> list[stored_runs.Run]:
    """The customer's exact runs on ``lo``..``hi`` from the events that decide those days only."""
    tz = ZoneInfo(params["tz"])
    visit_days, sales_days = params["visit_days"], params["sales_days"]
    first_visit = lo - timedelta(days=visit_days - 1)
    stmt = select(Visit.visited_at).where(
        Visit.customer_id == customer_id, Visit.visited_at >= _local_start(first_visit, tz)
    )
    if hi < date.max:
        stmt = stmt.where(Visit.visited_at < _local_start(hi + _DAY, tz))
    visits = {at.astimezone(tz).date() for (at,) in conn.execute(stmt)}
    sales = _sale_days(conn, customer_id, lo - timedelta(days=sales_days - 1), hi)
    runs = kept_runs(visits, sales, visit_days, sales_days)
    return stored_runs.clip([(a, b, None) for a, b in runs], lo, hi)


def visit_added(
    session: Session,
    customer_id: int,
    visited_at: datetime,
    *,
    params: dict[str, Any] | Literal[False] | None = False,
) -> None:
    """A new visit keeps its customer on the next ``dormant_visit_days``: add those runs.

    Kept days only grow with a visit (kept = visited ∩ selling), so this reads the customer's
    sale days around the window and the runs touching it, never its visits. Flushes nothing.
    ``params``: ``built_with``, when the caller read it (``BUILT_WITH``) in its write
    transaction; False: read it here.
    """
    untold.told(session, Visit, [customer_id])
    if params is False:
        params = built_with(session)
    if params is None:
        return
    day = visited_at.astimezone(ZoneInfo(params["tz"])).date()
    lo, hi = day, day + timedelta(days=params["visit_days"] - 1)
    lock_customers(session, [customer_id])
    conn = session.connection()
    rows = conn.execute(
        _SALES_AND_RUNS,
        {
            "customer_id": customer_id,
            "lo": lo - timedelta(days=params["sales_days"] - 1),
            "hi": hi,
            "lo1": stored_runs.before(lo),
            "hi1": stored_runs.after(hi),
        },
    ).all()
    sales = [first for first, _last, run in rows if not run and first is not None]
    old = stored_runs.runs_from([row for row in rows if row[2]], DormancyRun, lo)
    gained = _intersect([(lo, hi)], _selling(sales, params["sales_days"]))

    def with_gained(current: list[stored_runs.Run]) -> list[stored_runs.Run]:
        return stored_runs.merge(current + [(a, b, None) for a, b in gained])

    stored_runs.splice(conn, DormancyRun, customer_id, lo, hi, with_gained, old=old)


def visits_changed(session: Session, customer_id: int, moments: Iterable[datetime]) -> None:
    """Visits of this customer left or reached these moments (moved, deleted, added).

    Recomputes only the ``dormant_visit_days`` after each of their local dates, from the visits
    and sales that decide those days. Call it after the change is flushed. Flushes nothing.
    """
    untold.told(session, Visit, [customer_id])
    params = built_with(session)
    if params is None:
        return
    tz = ZoneInfo(params["tz"])
    days = {at.astimezone(tz).date() for at in moments}
    if not days:
        return
    lock_customers(session, [customer_id])
    conn = session.connection()
    for lo, hi in reach(days, params["visit_days"]):
        fresh = _kept_between(conn, customer_id, lo, hi, params)
        stored_runs.splice(conn, DormancyRun, customer_id, lo, hi, lambda _old, f=fresh: f)


def sale_days_changed(session: Session, customer_id: int, days: Iterable[date]) -> None:
    """Sales lines of this customer were added, moved or deleted on these days.

    A sale on day s changes the days s … s + ``dormant_sales_days`` − 1 and, when no sale
    lies before it, every day up to the next sale (before its first sale a customer is not
    lapsed): only those are recomputed. Call it after the change is flushed.
    """
    params = built_with(session)
    if params is None:
        return
    lock_customers(session, [customer_id])
    conn = session.connection()
    S = SalesLine
    windows: list[Span] = []
    for s in sorted(set(days)):
        hi = s + timedelta(days=params["sales_days"] - 1)
        first = conn.execute(
            select(S.id).where(S.customer_id == customer_id, S.sold_on < s).limit(1)
        ).first()
        if first is None:  # s is, or was, the customer's first sale
            following = conn.execute(
                select(func.min(S.sold_on)).where(S.customer_id == customer_id, S.sold_on > s)
            ).scalar()
            hi = max(hi, following - _DAY) if following is not None else date.max
        windows.append((s, hi))
    for lo, hi, _ in stored_runs.merge([(a, b, None) for a, b in windows]):
        fresh = _kept_between(conn, customer_id, lo, hi, params)
        stored_runs.splice(conn, DormancyRun, customer_id, lo, hi, lambda _old, f=fresh: f)


def customers_changed(session: Session, customer_ids: Iterable[int | None]) -> int:
    """Recompute these customers' runs whole from their visits and sales lines; returns the runs.

    For bulk writers (the sales import, the demo data, a rebuild), where most of each
    customer's history changed. Does nothing (returns 0) while no summary has been started.
    Flushes nothing.
    """
    params = built_with(session)
    if params is None:
        return 0
    tz = ZoneInfo(params["tz"])
    conn = session.connection()
    ids = sorted({i for i in customer_ids if i is not None})
    untold.told(session, Visit, ids)
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
