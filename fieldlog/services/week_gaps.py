"""The customers behind a rep's KPI gaps in a period ("My week"): who to work on next.

Each list is the KPI's denominator minus its numerator, by customer, for the rep's own records
(docs/kpi.md): a visit without a purpose, without hearing, without a next action; a visited
customer without an additional proposal; a follow-up missed; an own customer dormant.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import Select, and_, exists, select
from sqlalchemy.orm import Session

from ..kpi import dormancy
from ..models import CompanySettings, Customer, FollowUp, Proposal, User, Visit
from ..rules.periods import Period
from . import plan, plan_facts

# How many customers each list shows (the count says how many there are in all).
SHOWN = 8
# The purpose a visit to close each gap is planned with.
PURPOSE_FOR = {
    "purposeful_visit_rate": "hearing",
    "hearing_rate": "hearing",
    "next_action_rate": "follow_up",
    "additional_proposal_rate": "proposal",
    "proposal_count": "proposal",
    "follow_up_rate": "follow_up",
    "dormant_rate": "relationship",
}


@dataclass
class Gap:
    """The customers behind one KPI's gap: the first SHOWN of them, the rest, how many in all."""

    key: str
    customers: list[Customer]
    total: int
    purpose: str
    # The ones after the first SHOWN: the page opens them in place ("and 10 more").
    more: list[Customer] = field(default_factory=list)


def _visits(user: User, period: Period, tz: ZoneInfo) -> Select[tuple[int]]:
    start, end = period.utc_bounds(tz)
    return select(Visit.customer_id).where(
        Visit.rep_id == user.id, Visit.visited_at >= start, Visit.visited_at < end
    )


def _customers(session: Session, ids: Select[tuple[int]] | list[int]) -> list[Customer]:
    return list(
        session.scalars(
            select(Customer)
            .where(Customer.id.in_(ids), Customer.active.is_(True))
            .order_by(Customer.code)
        )
    )


def gaps(
    session: Session,
    user: User,
    period: Period,
    keys: list[str],
    *,
    today: date,
    tz: ZoneInfo,
    settings: CompanySettings,
) -> dict[str, Gap]:
    """For each of ``keys`` that has one, the customers behind its gap in ``period``."""
    visits = _visits(user, period, tz)
    found: dict[str, list[Customer]] = {}
    if "purposeful_visit_rate" in keys:
        found["purposeful_visit_rate"] = _customers(
            session, visits.where(Visit.purposeful.is_(False))
        )
    if "hearing_rate" in keys:
        found["hearing_rate"] = _customers(session, visits.where(Visit.hearing_done.is_(False)))
    if "next_action_rate" in keys:
        no_follow_up = ~exists().where(FollowUp.visit_id == Visit.id)
        found["next_action_rate"] = _customers(session, visits.where(no_follow_up))
    if "additional_proposal_rate" in keys:
        additional = exists().where(
            Proposal.customer_id == Visit.customer_id,
            Proposal.rep_id == user.id,
            Proposal.kind.in_(("upsell", "cross_sell")),
            Proposal.proposed_on >= period.start,
            Proposal.proposed_on <= period.end,
        )
        found["additional_proposal_rate"] = _customers(session, visits.where(~additional))
    if "proposal_count" in keys:
        # Heard a problem but made no proposal on that visit.
        no_proposal = ~exists().where(Proposal.visit_id == Visit.id)
        found["proposal_count"] = _customers(
            session, visits.where(Visit.hearing_done.is_(True), no_proposal)
        )
    if "follow_up_rate" in keys:
        missed = select(FollowUp.customer_id).where(
            FollowUp.rep_id == user.id,
            FollowUp.cancelled.is_(False),
            FollowUp.due_on >= period.start,
            FollowUp.due_on <= min(period.end, today),
            ~and_(FollowUp.done_on.is_not(None), FollowUp.done_on <= FollowUp.due_on),
        )
        found["follow_up_rate"] = _customers(session, missed)
    if "dormant_rate" in keys:
        as_of = min(period.end, today)
        own = plan.plan_scope(user)
        facts = plan_facts.customer_facts(session, own, as_of, tz)
        dormant = [
            customer
            for customer, fact in facts.values()
            if dormancy.dormant_on(
                as_of,
                fact.last_visit,
                fact.last_sale,
                settings.dormant_visit_days,
                settings.dormant_sales_days,
            )
        ]
        found["dormant_rate"] = sorted(dormant, key=lambda c: c.code)
    return {
        key: Gap(key, customers[:SHOWN], len(customers), PURPOSE_FOR[key], customers[SHOWN:])
        for key, customers in found.items()
        if customers
    }


def plan_day(today: date) -> date:
    """The day a visit planned from My week goes to: the next day."""
    return today + timedelta(days=1)
