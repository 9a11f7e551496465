"""The roll-up's figures at period ends: the open pipeline, and the customers counted by their
per-customer runs (deepening, dormancy) or, when the dormancy summary is not current, from
the visits and sales themselves (docs/kpi.md).

A mixin of ``kpi.rollup_engine._Engine``: it reads the engine's session, periods, scope and
settings.
"""

from __future__ import annotations

from datetime import date, timedelta
from itertools import accumulate, pairwise
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Date, Integer, and_, case, cast, func, literal, literal_column, or_, select
from sqlalchemy.orm import Session

from ..app.database import money_sum
from ..models import (
    CompanySettings,
    Customer,
    DeepeningRun,
    DormancyRun,
    Proposal,
    SalesLine,
    UTCDateTime,
    Visit,
)
from ..rules.periods import Period, local_midnight_utc
from . import dormancy


class AtPeriodEnds:
    """Queries counting what holds at each period's end (one pass each, whatever the periods)."""

    session: Session
    periods: list[Period]
    dim: Any  # rollup_engine._Dim
    settings: CompanySettings
    tz: ZoneInfo
    pg: bool

    def _pipeline(self) -> list[tuple[int, int | None, dict[str, int]]]:
        """Open proposals at each period end, in one pass over the proposals.

        A proposal is open at E as ``rules.proposals.open_at`` says: proposed_on <= E and not
        closed_on <= E (the forecast applies the same rule to its arrays; tests/test_kpi.py
        checks that the three agree). Each proposal is bucketed once by the first period end
        at or after its proposed_on ("opens") and at or after max(proposed_on, closed_on)
        ("closes"); the open count at the k-th end is then opens − closes summed over buckets
        <= k, a sum over at most (periods + 1)² rows a group.
        """
        R = Proposal
        conds, key = self.dim.events(R)
        ends = sorted({p.end for p in self.periods})

        def bucket(column: Any) -> Any:
            return self._first_end_from(column, ends, else_=None)

        settled = case((R.closed_on > R.proposed_on, R.closed_on), else_=R.proposed_on)
        inner = (
            select(
                bucket(R.proposed_on).label("opened"),
                case((R.closed_on.is_(None), None), else_=bucket(settled)).label("closed"),
                *([key.label("g")] if key is not None else []),
                func.coalesce(R.amount, 0).label("amount"),
            )
            .where(
                R.proposed_on <= ends[-1],
                # Settled on or before the first end: opened and closed in bucket 0, nets to 0.
                or_(R.closed_on.is_(None), R.closed_on > ends[0], R.proposed_on > ends[0]),
                *conds,
            )
            .subquery("pipeline")
        )
        group = [inner.c.opened, inner.c.closed] + ([inner.c.g] if key is not None else [])
        stmt = select(*group, func.count(), money_sum(inner.c.amount)).group_by(*group)
        count: dict[Any, list[int]] = {}
        total: dict[Any, list[int]] = {}
        for row in self.session.execute(stmt):
            opened, closed, g = row[0], row[1], (row[2] if key is not None else None)
            n, money = int(row[-2]), int(row[-1] or 0)
            counts = count.setdefault(g, [0] * (len(ends) + 1))
            sums = total.setdefault(g, [0] * (len(ends) + 1))
            counts[opened] += n
            sums[opened] += money
            if closed is not None:
                counts[closed] -= n
                sums[closed] -= money
        out = []
        position = {e: k for k, e in enumerate(ends)}
        for g in count:
            open_n = list(accumulate(count[g]))
            open_amount = list(accumulate(total[g]))
            for i, p in enumerate(self.periods):
                k = position[p.end]
                out.append((i, g, {"pipe_n": open_n[k], "pipe_amount": open_amount[k]}))
        return out

    def _at_ends(self, R: Any, *where: Any) -> tuple[dict[Any, list[int]], dict[Any, list[int]]]:
        """Per group, how many runs of ``R`` contain each period end, and how many flagged ones.

        Runs are disjoint spans of days per customer (``kpi.deepening``, ``kpi.dormancy``), so a
        customer counts at an end when one of its runs contains it. Only runs overlapping the
        ends are read (one covering index); each is reduced to the range of ends it contains,
        [first, stop), and counted per range, so the sums per end are a few hundred additions
        in Python. ``grew`` is the flag where ``R`` has one. Keyed by the period end's index.
        """
        conds, key = self.dim.customers()
        ends = self._ends
        m = len(ends)

        def index(j: int) -> Any:
            return literal_column(str(j), Integer)

        first = self._first_end_from(R.starts_on, ends, else_=index(m))
        stop = self._ends_through(R.ends_on, ends)
        flag = R.grew if hasattr(R, "grew") else literal_column("0", Integer)
        keys = [key.label("g")] if key is not None else []
        runs = select(first.label("first"), stop.label("stop"), flag.label("flag"), *keys).where(
            R.ends_on >= ends[0], R.starts_on <= ends[-1]
        )
        if key is not None or conds or where:
            # "+ 0": read the runs alive over the ends from the index on ends_on, then their
            # customers; SQLite would otherwise walk every customer's runs (5× the rows).
            runs = runs.join(Customer, Customer.id == R.customer_id + 0).where(*conds, *where)
        runs = runs.subquery("runs")
        c = runs.c
        group = [c.first, c.stop, c.flag] + ([c.g] if key is not None else [])
        counted: dict[Any, list[int]] = {}
        flagged: dict[Any, list[int]] = {}
        for row in self.session.execute(select(*group, func.count()).group_by(*group)):
            lo, hi, on, g = row[0], row[1], row[2], (row[3] if key is not None else None)
            n = int(row[-1])
            counts, flags = counted.setdefault(g, [0] * m), flagged.setdefault(g, [0] * m)
            for j in range(lo, hi):
                counts[j] += n
                if on:
                    flags[j] += n
        return counted, flagged

    # Period ends as indexes. Weekly ends (7 days apart, the trends of every page and the lead
    # analysis) are counted by arithmetic on the day number; other ends by one CASE branch per
    # end (the first true one wins), which costs a comparison per end and row.
    def _weekly(self, ends: list[date]) -> bool:
        return len(ends) > 2 and all((b - a).days == 7 for a, b in pairwise(ends))

    def _days_after(self, column: Any, day: date) -> Any:
        """Whole days from ``day`` to the date ``column`` (negative before it)."""
        if self.pg:
            return column - cast(literal(day, Date), Date)
        return cast(func.julianday(column) - func.julianday(literal(day.isoformat())), Integer)

    def _first_end_from(self, column: Any, ends: list[date], else_: Any) -> Any:
        """The index of the first end on or after ``column``; ``else_`` after the last."""
        if not self._weekly(ends):
            whens = [(column <= e, literal_column(str(j), Integer)) for j, e in enumerate(ends)]
            return case(*whens, else_=else_)
        zero = literal_column("0", Integer)
        weeks = (self._days_after(column, ends[0]) + 6) // 7
        return case((column <= ends[0], zero), (column <= ends[-1], weeks), else_=else_)

    def _ends_through(self, column: Any, ends: list[date]) -> Any:
        """How many ends fall on or before ``column`` (0 to all of them)."""
        m = len(ends)
        if not self._weekly(ends):
            whens = [
                (column >= ends[j], literal_column(str(j + 1), Integer)) for j in reversed(range(m))
            ]
            return case(*whens, else_=literal_column("0", Integer))
        weeks = self._days_after(column, ends[0]) // 7 + 1
        return case(
            (column >= ends[-1], literal_column(str(m), Integer)),
            (column >= ends[0], weeks),
            else_=literal_column("0", Integer),
        )

    @property
    def _ends(self) -> list[date]:
        return sorted({p.end for p in self.periods})

    def _deepening(self) -> list[tuple[int, int | None, dict[str, int]]]:
        """deepening_rate for every period from the per-customer runs (``kpi.deepening``).

        A customer's runs are the days on which it counts in the denominator, each flagged with
        whether it also counts in the numerator.
        """
        den, num = self._at_ends(DeepeningRun)
        position = {e: j for j, e in enumerate(self._ends)}
        return [
            (i, g, {"deep_num": num[g][position[p.end]], "deep_den": den[g][position[p.end]]})
            for g in den
            for i, p in enumerate(self.periods)
        ]

    def _dormant(self) -> list[tuple[int, int | None, dict[str, int]]]:
        """dormant_rate from the dormancy summary when it is current, else from the events."""
        if not dormancy.usable(self.session, self.settings, self.tz):
            return self._dormant_from_events()
        conds, key = self.dim.customers()
        active = [Customer.active.is_(True), *conds]
        kept, _ = self._at_ends(DormancyRun, *active)
        stmt = select(*([key] if key is not None else []), func.count(Customer.id)).where(*active)
        if key is not None:
            stmt = stmt.group_by(key)
        position = {e: j for j, e in enumerate(self._ends)}
        out = []
        for row in self.session.execute(stmt):
            g = row[0] if key is not None else None
            den = int(row[-1])
            counts = kept.get(g)
            for i, p in enumerate(self.periods):
                alive = counts[position[p.end]] if counts else 0
                out.append((i, g, {"dorm_num": den - alive, "dorm_den": den}))
        return out

    def _dormant_from_events(self) -> list[tuple[int, int | None, dict[str, int]]]:
        """dormant_rate for every period with one pass over recent visits and sales.

        Per customer: a flag per period for "visited in the last N days as of the end" (visits
        by anyone) and for "sold in the last M days"; the first sale day comes from one index
        seek per customer. Active customers in scope are then counted per group and period.
        """
        n = len(self.periods)
        dv = self.settings.dormant_visit_days
        ds = self.settings.dormant_sales_days
        visit_spans = []
        for p in self.periods:
            u_start = local_midnight_utc(p.end - timedelta(days=dv - 1), self.tz)
            visit_spans.append((_naive(u_start), _naive(local_midnight_utc(p.end + _DAY, self.tz))))
        sale_spans = [(p.end - timedelta(days=ds - 1), p.end) for p in self.periods]

        V, S = Visit, SalesLine
        conds, key = self.dim.customers()
        # Only the customers in scope (a branch or a rep needs a few hundred, not all).
        in_scope = select(Customer.id).where(*conds).scalar_subquery()
        visit_scope = [V.customer_id.in_(in_scope)] if conds else []
        sale_scope = [S.customer_id.in_(in_scope)] if conds else []
        visited = (
            select(
                V.customer_id.label("customer_id"),
                *[
                    func.max(case((and_(V.visited_at >= a, V.visited_at < b), 1), else_=0)).label(
                        f"v{i}"
                    )
                    for i, (a, b) in enumerate(visit_spans)
                ],
            )
            .where(
                V.visited_at >= min(a for a, _ in visit_spans),
                V.visited_at < max(b for _, b in visit_spans),
                *visit_scope,
            )
            .group_by(V.customer_id)
            .subquery("visited")
        )
        sold = (
            select(
                S.customer_id.label("customer_id"),
                *[
                    func.max(case((and_(S.sold_on >= a, S.sold_on <= b), 1), else_=0)).label(
                        f"s{i}"
                    )
                    for i, (a, b) in enumerate(sale_spans)
                ],
            )
            .where(
                S.sold_on >= min(a for a, _ in sale_spans),
                S.sold_on <= max(b for _, b in sale_spans),
                *sale_scope,
            )
            .group_by(S.customer_id)
            .subquery("sold")
        )
        # The customers in scope with their first sale: one index seek each, done once (a
        # materialized CTE, or the seek would be repeated in every period's column).
        first_sale = (
            select(func.min(S.sold_on)).where(S.customer_id == Customer.id).scalar_subquery()
        )
        active = (
            select(
                Customer.id.label("id"),
                *([key.label("g")] if key is not None else []),
                first_sale.label("first_sale"),
            )
            .where(Customer.active.is_(True), *conds)
            .cte("active")
            .prefix_with("MATERIALIZED")
        )
        a = active.c
        columns = []
        for i, p in enumerate(self.periods):
            not_visited = func.coalesce(visited.c[f"v{i}"], 0) == 0
            lapsed = and_(a.first_sale <= p.end, func.coalesce(sold.c[f"s{i}"], 0) == 0)
            columns.append(func.sum(case((or_(not_visited, lapsed), 1), else_=0)))
        stmt = (
            select(*([a.g] if key is not None else []), func.count(a.id), *columns)
            .select_from(active)
            .outerjoin(visited, visited.c.customer_id == a.id)
            .outerjoin(sold, sold.c.customer_id == a.id)
        )
        if key is not None:
            stmt = stmt.group_by(a.g)
        out = []
        for row in self.session.execute(stmt):
            g = row[0] if key is not None else None
            values = row[1:] if key is not None else row
            for i in range(n):
                den = int(values[0] or 0)
                out.append((i, g, {"dorm_num": int(values[1 + i] or 0), "dorm_den": den}))
        return out


_DAY = timedelta(days=1)


def _naive(instant: Any) -> Any:
    """Naive UTC, as UTCDateTime stores instants."""
    return UTCDateTime().process_bind_param(instant, None)
