"""The roll-up's queries over events: one aggregate query per source family and period set.

``kpi.rollup`` is the public face (the figures and their assembly); this is the engine behind
it: the scope and grouping (``_Dim``), the periods as a derived table, and the queries over
visits, proposals, follow-ups and sales. The figures counted at period ends (the pipeline, the
per-customer runs of deepening and dormancy) are in ``kpi.rollup_ends``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import (
    Date,
    DateTime,
    Integer,
    and_,
    bindparam,
    case,
    column,
    distinct,
    exists,
    func,
    select,
    text,
)
from sqlalchemy.orm import Session

from ..app.database import money_sum
from ..models import CompanySettings, Customer, FollowUp, Proposal, SalesLine, User, Visit
from ..rules.kpi_catalogue import KPI_KEYS
from ..rules.periods import Period
from ..services.defaults import company_settings
from .rollup_ends import AtPeriodEnds, _naive
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


def _wanted_keys(keys: Iterable[str] | None) -> tuple[str, ...]:
    if keys is None:
        return KPI_KEYS
    wanted = tuple(keys)
    unknown = set(wanted) - set(KPI_KEYS)
    if unknown:
        raise ValueError(f"unknown KPI keys: {', '.join(sorted(unknown))}")
    return wanted


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


class _Engine(AtPeriodEnds):
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
