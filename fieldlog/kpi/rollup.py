"""The roll-up: every KPI of docs/kpi.md for a scope and one or more periods, in SQL.

All figures come from a fixed number of aggregate queries (one per source family), whatever the
number of periods or groups: the periods are joined in as a small derived table of their bounds
(local dates, and the UTC instants of their local midnights), so a 13-week trend for every branch
costs the same number of queries as one branch-week. No per-row Python, no N+1.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from itertools import accumulate, pairwise
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import (
    Date,
    DateTime,
    Integer,
    and_,
    bindparam,
    case,
    cast,
    column,
    distinct,
    exists,
    func,
    literal,
    literal_column,
    or_,
    select,
    text,
)
from sqlalchemy.orm import Session

from ..app.database import money_sum
from ..models import (
    Branch,
    CompanySettings,
    Customer,
    DeepeningRun,
    DormancyRun,
    FollowUp,
    Proposal,
    SalesLine,
    User,
    UTCDateTime,
    Visit,
)
from ..rules.kpi_catalogue import KPI_KEYS
from ..rules.periods import Period, local_midnight_utc
from ..services.defaults import company_settings
from . import dormancy
from .scope import Scope

# Which query feeds which KPI, so a trend of two KPIs runs only the queries it needs.
_SOURCES: dict[str, tuple[str, ...]] = {
    "visits": (
        "visit_count",
        "purposeful_visit_rate",
        "hearing_rate",
        "next_action_rate",
        "additional_proposal_rate",
    ),
    "proposed": ("additional_proposal_rate",),
    "proposals": ("proposal_count",),
    "cross_sell": ("cross_sell_rate",),
    "follow_ups": ("follow_up_rate",),
    "pipeline": ("pipeline_count", "pipeline_amount"),
    "deepening": ("deepening_rate",),
    "dormant": ("dormant_rate",),
    "sales": ("sales_amount", "gross_margin_rate"),
}


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


def _wanted_keys(keys: Iterable[str] | None) -> tuple[str, ...]:
    if keys is None:
        return KPI_KEYS
    wanted = tuple(keys)
    unknown = set(wanted) - set(KPI_KEYS)
    if unknown:
        raise ValueError(f"unknown KPI keys: {', '.join(sorted(unknown))}")
    return wanted


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


# ---- the queries -------------------------------------------------------------------------


@dataclass(frozen=True)
class _Dim:
    """Scope filter and optional grouping, for event rows and for customer-based rows."""

    scope: Scope
    group: str | None
    rep_branch_id: int | None

    def _on(self, rep_col: Any, branch_col: Any) -> tuple[list[Any], Any]:
        conds: list[Any] = []
        if self.scope.kind == "branch":
            conds.append(branch_col == self.scope.id)
        elif self.scope.kind == "rep":
            conds.append(rep_col == self.scope.id)
        key = None
        if self.group == "branch":
            key = branch_col
        elif self.group == "rep":
            key = rep_col
            if self.rep_branch_id is not None:
                members = select(User.id).where(User.branch_id == self.rep_branch_id)
                conds.append(rep_col.in_(members.scalar_subquery()))
        return conds, key

    def events(self, model: Any) -> tuple[list[Any], Any]:
        """Visits, proposals, follow-ups: by their own rep/branch columns."""
        return self._on(model.rep_id, model.branch_id)

    def customers(self) -> tuple[list[Any], Any]:
        """Customer-based figures: by the customer's current rep/branch."""
        return self._on(Customer.rep_id, Customer.branch_id)

    def same(self, other: Any, model: Any) -> list[Any]:
        """Conditions putting ``other`` (an event row) in the scope/group of ``model``'s row."""
        conds, _ = self._on(other.rep_id, other.branch_id)
        if self.group == "branch":
            conds.append(other.branch_id == model.branch_id)
        elif self.group == "rep":
            conds.append(other.rep_id == model.rep_id)
        return conds


class _Engine:
    def __init__(
        self,
        session: Session,
        periods: Sequence[Period],
        tz: ZoneInfo,
        today: date,
        settings: CompanySettings | None,
        dim: _Dim,
        keys: Iterable[str] | None,
    ) -> None:
        if not periods:
            raise ValueError("at least one period is needed")
        self.session = session
        self.today = today
        self.dim = dim
        self.settings = settings or company_settings(session)
        wanted = set(_wanted_keys(keys))
        self.sources = [s for s, ks in _SOURCES.items() if wanted & set(ks)]
        self.pg = session.get_bind().dialect.name == "postgresql"
        self.periods = list(periods)
        self.tz = tz
        self.P = self._periods_table(periods, tz)

    # The periods as a derived table: idx, local date bounds, UTC instant bounds.
    def _periods_table(self, periods: Sequence[Period], tz: ZoneInfo) -> Any:
        # Written as text with bound values: SQLAlchemy's UNION of 104 selects took ~0.3 s to
        # build (its column proxies), more than the queries over a year of visits.
        types = {"idx": Integer(), "d_start": Date(), "d_end": Date()}
        types |= {"u_start": DateTime(), "u_end": DateTime()}
        sql = {"idx": "INTEGER", "d_start": "DATE", "d_end": "DATE"}
        sql |= {"u_start": "TIMESTAMP WITHOUT TIME ZONE", "u_end": "TIMESTAMP WITHOUT TIME ZONE"}
        rows, params = [], []
        for i, p in enumerate(periods):
            u_start, u_end = p.utc_bounds(tz)
            values = {"idx": i, "d_start": p.start, "d_end": p.end}
            values |= {"u_start": _naive(u_start), "u_end": _naive(u_end)}
            columns = []
            for name, value in values.items():
                params.append(bindparam(f"{name}_{i}", value, type_=types[name]))
                slot = f":{name}_{i}"
                # PostgreSQL cannot type a bare parameter inside a UNION; SQLite must not CAST
                # to DATE.
                columns.append(
                    f"CAST({slot} AS {sql[name]}) AS {name}" if self.pg else f"{slot} AS {name}"
                )
            rows.append("SELECT " + ", ".join(columns))
        table = text(" UNION ALL ".join(rows)).bindparams(*params)
        return table.columns(*[column(name, type_) for name, type_ in types.items()]).subquery(
            "periods"
        )

    def run(self, total: bool = False) -> dict[tuple[int, int | None], dict[str, int]]:
        """Raw sums per (period index, group); with ``total``, also the company's (group None)."""
        raw: dict[tuple[int, int | None], dict[str, int]] = {}
        for source in self.sources:
            if source in ("pipeline", "deepening", "dormant"):
                for idx, key, values in getattr(self, "_" + source)():
                    raw.setdefault((idx, key), {}).update(values)
                continue
            stmt, fields = getattr(self, "_" + source)()
            for row in self.session.execute(stmt):
                key = row[1] if self.dim.group else None
                values = row[2:] if self.dim.group else row[1:]
                slot = raw.setdefault((row[0], key), {})
                for field, value in zip(fields, values, strict=True):
                    slot[field] = int(value or 0)
        if total:
            self._add_total(raw)
        return raw

    def _add_total(self, raw: dict[tuple[int, int | None], dict[str, int]]) -> None:
        """The company's sums from the groups' (branches: each row has exactly one)."""
        assert self.dim.group == "branch" and self.dim.scope.kind == "company"
        for i in range(len(self.periods)):
            raw[(i, None)] = {}
        for (i, _g), values in list(raw.items()):
            if _g is not None:
                slot = raw[(i, None)]
                for field, value in values.items():
                    slot[field] = slot.get(field, 0) + value
        # Distinct customers do not add up across branches: counted again for the company.
        company = _Dim(scope=self.dim.scope, group=None, rep_branch_id=None)
        again = []
        if "visits" in self.sources:
            again.append(self._visits(company, customers_only=True))
        if "proposed" in self.sources:
            again.append(self._proposed(company))
        for stmt, fields in again:
            for row in self.session.execute(stmt):
                raw[(row[0], None)].update(zip(fields, (int(v or 0) for v in row[1:]), strict=True))

    def _grouped(self, key: Any, *aggregates: Any) -> tuple[list[Any], list[Any]]:
        group = [self.P.c.idx] + ([key] if key is not None else [])
        return group + list(aggregates), group

    def _visits(
        self, dim: _Dim | None = None, customers_only: bool = False
    ) -> tuple[Any, list[str]]:
        P, V = self.P, Visit
        dim = dim or self.dim
        conds, key = dim.events(V)
        created_follow_up = exists().where(FollowUp.visit_id == V.id)
        counts = {
            "visits": func.count(V.id),
            "purposeful": func.sum(case((V.purposeful, 1), else_=0)),
            "hearing": func.sum(case((V.hearing_done, 1), else_=0)),
            "next_action": func.sum(case((created_follow_up, 1), else_=0)),
            "customers_visited": func.count(distinct(V.customer_id)),
        }
        if customers_only:
            counts = {"customers_visited": counts["customers_visited"]}
        cols, group = self._grouped(key, *counts.values())
        stmt = (
            select(*cols)
            .select_from(P)
            .join(V, and_(V.visited_at >= P.c.u_start, V.visited_at < P.c.u_end))
            .where(*conds)
            .group_by(*group)
        )
        return stmt, list(counts)

    def _proposed(self, dim: _Dim | None = None) -> tuple[Any, list[str]]:
        """Distinct customers visited in P that got an upsell/cross-sell proposal in P (scope).

        Driven by the proposals, which are few: the distinct (period, group, customer) of the
        proposals in scope, each kept when a visit in scope, group and period exists for that
        customer — one seek on the visits' (customer, time) index each, instead of a pass
        over every visit of the periods.
        """
        P, V, R = self.P, Visit, Proposal
        dim = dim or self.dim
        r_conds, r_key = dim.events(R)
        proposed = (
            select(
                P.c.idx.label("idx"),
                P.c.u_start.label("u_start"),
                P.c.u_end.label("u_end"),
                *([r_key.label("g")] if r_key is not None else []),
                R.customer_id.label("customer_id"),
            )
            .select_from(P)
            .join(R, and_(R.proposed_on >= P.c.d_start, R.proposed_on <= P.c.d_end))
            .where(R.kind.in_(("upsell", "cross_sell")), *r_conds)
            .distinct()
            .subquery("proposed")
        )
        c = proposed.c
        v_conds, v_key = dim.events(V)
        if v_key is not None:
            v_conds.append(v_key == c.g)
        # A scalar look-up with LIMIT 1 rather than EXISTS: PostgreSQL turns EXISTS into a
        # hash semi-join over every visit (its estimate of the proposals is far too high).
        first_visit = (
            select(V.id)
            .where(
                V.customer_id == c.customer_id,
                V.visited_at >= c.u_start,
                V.visited_at < c.u_end,
                *v_conds,
            )
            .limit(1)
            .scalar_subquery()
        )
        group = [c.idx] + ([c.g] if r_key is not None else [])
        stmt = select(*group, func.count()).where(first_visit.is_not(None)).group_by(*group)
        return stmt, ["customers_proposed"]

    def _proposals(self) -> tuple[Any, list[str]]:
        P, R = self.P, Proposal
        conds, key = self.dim.events(R)
        cols, group = self._grouped(key, func.count(R.id))
        stmt = (
            select(*cols)
            .select_from(P)
            .join(R, and_(R.proposed_on >= P.c.d_start, R.proposed_on <= P.c.d_end))
            .where(*conds)
            .group_by(*group)
        )
        return stmt, ["proposals"]

    def _cross_sell(self) -> tuple[Any, list[str]]:
        P, R = self.P, Proposal
        conds, key = self.dim.events(R)
        cols, group = self._grouped(
            key, func.sum(case((R.status == "won", 1), else_=0)), func.count(R.id)
        )
        stmt = (
            select(*cols)
            .select_from(P)
            .join(R, and_(R.closed_on >= P.c.d_start, R.closed_on <= P.c.d_end))
            .where(R.kind == "cross_sell", R.status.in_(("won", "lost")), *conds)
            .group_by(*group)
        )
        return stmt, ["xs_won", "xs_closed"]

    def _follow_ups(self) -> tuple[Any, list[str]]:
        P, F = self.P, FollowUp
        conds, key = self.dim.events(F)
        on_time = and_(F.done_on.is_not(None), F.done_on <= F.due_on)
        cols, group = self._grouped(
            key,
            func.sum(case((on_time, 1), else_=0)),
            # docs/kpi.md, taken literally: the denominator is only what is due (due_on <=
            # today), even for one already done early; so the numerator may exceed it until
            # the due date.
            func.sum(case((F.due_on <= self.today, 1), else_=0)),
        )
        stmt = (
            select(*cols)
            .select_from(P)
            .join(F, and_(F.due_on >= P.c.d_start, F.due_on <= P.c.d_end))
            .where(F.cancelled.is_(False), *conds)
            .group_by(*group)
        )
        return stmt, ["fu_done", "fu_due"]

    def _pipeline(self) -> list[tuple[int, int | None, dict[str, int]]]:
        """Open proposals at each period end, in one pass over the proposals.

        A proposal is open at E when proposed_on <= E and not closed_on <= E. Each proposal is
        bucketed once by the first period end at or after its proposed_on ("opens") and at or
        after max(proposed_on, closed_on) ("closes"); the open count at the k-th end is then
        opens − closes summed over buckets <= k, a sum over at most (periods + 1)² rows a group.
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

    def _sales(self) -> tuple[Any, list[str]]:
        P, S = self.P, SalesLine
        conds, key = self.dim.customers()
        has_gp = S.gross_profit.is_not(None)
        cols, group = self._grouped(
            key,
            money_sum(S.amount),
            money_sum(case((has_gp, S.gross_profit), else_=0)),
            money_sum(case((has_gp, S.amount), else_=0)),
        )
        stmt = (
            select(*cols)
            .select_from(P)
            .join(S, and_(S.sold_on >= P.c.d_start, S.sold_on <= P.c.d_end))
            .join(Customer, Customer.id == S.customer_id)
            .where(*conds)
            .group_by(*group)
        )
        return stmt, ["sales", "gp", "gp_amount"]

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
