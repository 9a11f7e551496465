"""The report's lists that are not KPIs: overdue follow-ups, customers at risk, pipeline,
hypotheses under test. Plain reads of one branch (or the company) for one week."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import and_, exists, func, or_, select
from sqlalchemy.orm import Session

from ..kpi import Scope, dormancy, trend
from ..models import (
    Branch,
    Customer,
    FollowUp,
    Hypothesis,
    Proposal,
    SalesLine,
    User,
    Visit,
)
from ..rules import cadence
from ..rules.periods import Period, local_midnight_utc
from ..services.defaults import company_settings

WORST = 20


@dataclass
class FollowUpLine:
    customer: str
    rep: str
    action: str
    due_on: date
    days_late: int


@dataclass
class CustomerLine:
    code: str
    name: str
    rep: str
    rank: str
    last_visit: date | None
    days_since: int | None
    reason: str  # "cycle" | "dormant"


@dataclass
class Pipeline:
    new: int = 0
    won: int = 0
    lost: int = 0
    open_count: int = 0
    open_amount: int = 0


def overdue_follow_ups(session: Session, branch: Branch, as_of: date, tz: ZoneInfo):
    """The worst (oldest) overdue follow-ups of a branch at the end of ``as_of``, and how many
    there are in all; ages are counted to ``as_of``, so a past week's report reads as it did
    then (docs/kgi.md). A follow-up done after ``as_of`` was still open then; one cancelled
    later (its last change after ``as_of``) too."""
    after = local_midnight_utc(as_of + timedelta(days=1), tz)
    overdue = (
        FollowUp.branch_id == branch.id,
        or_(FollowUp.done_on.is_(None), FollowUp.done_on > as_of),
        or_(FollowUp.cancelled.is_(False), FollowUp.updated_at >= after),
        FollowUp.due_on < as_of,
    )
    # Only the lines shown are read: a branch with years of history has thousands overdue.
    total = session.scalar(select(func.count(FollowUp.id)).where(*overdue)) or 0
    stmt = (
        select(Customer.name, User.name, FollowUp.action, FollowUp.due_on)
        .join(Customer, FollowUp.customer_id == Customer.id)
        .join(User, FollowUp.rep_id == User.id)
        .where(*overdue)
        .order_by(FollowUp.due_on, FollowUp.id)
        .limit(WORST)
    )
    lines = [
        FollowUpLine(customer, rep, action, due_on, (as_of - due_on).days)
        for customer, rep, action, due_on in session.execute(stmt)
    ]
    return lines, total


def customers_at_risk(session: Session, branch: Branch, as_of: date, tz: ZoneInfo):
    """Active customers overdue for their visit cycle or dormant, worst first.

    Overdue as docs/domain.md (more days than the cycle since the last visit, never visited
    counts, and no open follow-up booked); dormant exactly as ``dormant_rate`` counts it as of
    ``as_of`` (docs/kpi.md): no visit in the last N days, or sales before but none in the last
    M days — whatever follow-ups are booked. A dormant customer is labelled dormant.
    """
    settings = company_settings(session)
    # Each customer's last visit and last sale up to as_of: one seek each in the indexes on
    # visit(customer_id, visited_at) and sales_line(customer_id, sold_on), rather than
    # aggregating years of the branch's events.
    last_visit = (
        select(func.max(Visit.visited_at))
        .where(
            Visit.customer_id == Customer.id,
            Visit.visited_at < local_midnight_utc(as_of + timedelta(days=1), tz),
        )
        .scalar_subquery()
    )
    last_sale = (
        select(func.max(SalesLine.sold_on))
        .where(SalesLine.customer_id == Customer.id, SalesLine.sold_on <= as_of)
        .scalar_subquery()
    )
    # Correlated per customer (index on follow_up.customer_id): a NOT IN over every open
    # follow-up of the company was ~10× slower on the 1M-visit data set.
    open_follow_up = exists().where(
        FollowUp.customer_id == Customer.id,
        FollowUp.done_on.is_(None),
        FollowUp.cancelled.is_(False),
        FollowUp.due_on >= as_of,
    )
    stmt = (
        select(
            Customer.code,
            Customer.name,
            Customer.rank,
            Customer.visit_cycle_days,
            User.name,
            last_visit.label("last"),
            last_sale.label("last_sale"),
            open_follow_up.label("booked"),
        )
        .outerjoin(User, Customer.rep_id == User.id)
        .where(Customer.branch_id == branch.id, Customer.active.is_(True))
    )
    lines = []
    for code, name, rank, cycle_days, rep, last, sold, booked in session.execute(stmt):
        last_day = _as_instant(last).astimezone(tz).date() if last else None
        cycle = cadence.cycle_days(cycle_days, settings.cycle_days(rank))
        due = cadence.cadence(last_day, cycle, as_of, booked=bool(booked))
        dormant = dormancy.dormant_on(
            as_of, last_day, sold, settings.dormant_visit_days, settings.dormant_sales_days
        )
        if not (due.overdue or dormant):
            continue
        lines.append(
            CustomerLine(
                code,
                name,
                rep or "",
                rank or "B",
                last_day,
                due.days_since,
                "dormant" if dormant else "cycle",
            )
        )
    lines.sort(key=lambda c: (c.days_since is not None, -(c.days_since or 0), c.code))
    return lines[:WORST], len(lines)


def _as_instant(value: Any) -> datetime:
    """A stored instant (naive UTC; SQLite returns an aggregate's result as text) made aware."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def pipeline(
    session: Session, branch_id: int, period: Period, *, today: date, tz: ZoneInfo
) -> Pipeline:
    """A branch's proposals made, won and lost in the period, and its pipeline at the end.

    The open count and amount are the ``pipeline_count`` / ``pipeline_amount`` KPIs themselves
    (docs/kpi.md: open at P.end), asked of the roll-up so the list and the KPI never differ.
    """
    base = select(func.count(Proposal.id)).where(Proposal.branch_id == branch_id)
    closed = and_(Proposal.closed_on >= period.start, Proposal.closed_on <= period.end)
    (open_at_end,) = trend(
        session,
        Scope.branch(branch_id),
        [period],
        keys=("pipeline_count", "pipeline_amount"),
        today=today,
        tz=tz,
    )
    return Pipeline(
        new=session.scalar(
            base.where(Proposal.proposed_on >= period.start, Proposal.proposed_on <= period.end)
        )
        or 0,
        won=session.scalar(base.where(closed, Proposal.status == "won")) or 0,
        lost=session.scalar(base.where(closed, Proposal.status == "lost")) or 0,
        open_count=int(open_at_end["pipeline_count"].value or 0),
        open_amount=int(open_at_end["pipeline_amount"].value or 0),
    )


def hypotheses_under_test(session: Session, branch_id: int | None) -> list[str]:
    stmt = select(Hypothesis.statement).where(Hypothesis.status == "testing")
    if branch_id is not None:
        stmt = stmt.where(or_(Hypothesis.branch_id.is_(None), Hypothesis.branch_id == branch_id))
    return list(session.scalars(stmt.order_by(Hypothesis.started_on, Hypothesis.id)))
