"""The rep's plan for a day: the customers worth a visit, why, and what to go for.

Route sales decides the purpose before going (docs/contract.md, ``/api/v1/plan``). The facts
come from ``plan_facts`` and ``cross_sell``, the reasons and the suggested purpose from
``plan_reasons``; this module gathers them for the user's customers and orders the plan.
Plain functions over a session, the acting user and the date; numbers and keys only — the
words are said by ``plan_text``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any
from zoneinfo import ZoneInfo

from flask_babel import lazy_gettext as _l
from sqlalchemy import Select, false, select
from sqlalchemy.orm import Session

from ..models import Category, CompanySettings, Customer, PlannedVisit, Purpose, User
from ..rules import limits
from . import access, schemas
from .cross_sell import CrossSell, not_bought, purchases, ranking
from .errors import Invalid
from .plan_facts import customer_facts, due_follow_ups, open_proposals
from .plan_reasons import Reason, reasons_for, suggest
from .today import active_customers
from .today import due_follow_ups as follow_ups_due


@dataclass
class PlanItem:
    """One customer of the plan with its reasons, most urgent first."""

    customer: Customer
    reasons: list[Reason]
    suggested_purpose: str | None
    suggestion: Reason | None
    planned: PlannedVisit | None = None
    # A visit to the customer is already logged on the plan's day (docs/decisions.md).
    visited: bool = False

    @property
    def urgency(self) -> int:
        return sum(r.weight for r in self.reasons)


def parse_day(value: Any, *, today: date, name: str = "date") -> date:
    """A plan date (default today) no more than a year before or after today, or Invalid."""
    if value is None or value == "":
        return today
    day = schemas.parse_date(value)
    if day is None:
        raise Invalid(errors={name: [_l("Give the date as YYYY-MM-DD.")]})
    if abs((day - today).days) > limits.MAX_DAYS_AWAY:
        raise Invalid(errors={name: [_l("The date must be within a year of today.")]})
    return day


def plan_scope(user: User, *, branch: bool = False) -> Select[tuple[Customer]]:
    """The customers a plan considers: the user's own active ones, or their branch's."""
    if not access.can_log_visits(user):
        return select(Customer).where(false())
    stmt = select(Customer).where(Customer.active.is_(True))
    if branch:
        return stmt.where(Customer.branch_id == user.branch_id)
    return stmt.where(Customer.rep_id == user.id, Customer.branch_id == user.branch_id)


def build_plan(
    session: Session,
    user: User,
    day: date,
    *,
    tz: ZoneInfo,
    settings: CompanySettings,
    branch: bool = False,
    only: int | None = None,
) -> list[PlanItem]:
    """The customers worth a visit on ``day``, most urgent first (``only``: one customer's item).

    Only the user's own follow-ups and plans count; other people's are never shown.
    """
    scope = plan_scope(user, branch=branch)
    if only is not None:
        scope = select(Customer).where(Customer.id == only)
    planned_q = select(PlannedVisit).where(
        PlannedVisit.rep_id == user.id, PlannedVisit.planned_on == day
    )
    facts = customer_facts(session, scope, day, tz)
    # A plan made before its customer moved to a colleague is not shown: only the user's own.
    planned = {p.customer_id: p for p in session.scalars(planned_q)}
    ids = list(facts)
    if not ids:
        return []

    due = due_follow_ups(session, user, ids, day)
    open_ = open_proposals(session, ids, day)
    categories = {
        c.id: c for c in session.scalars(select(Category).where(Category.active.is_(True)))
    }
    bought = purchases(session, {c.branch_id for c, _ in facts.values()}, day, ids)
    purposes = {
        p.id: p.code for p in session.scalars(select(Purpose).where(Purpose.active.is_(True)))
    }

    items = []
    ranked: dict[tuple[int, str, bool], list[CrossSell]] = {}
    for customer_id, (customer, fact) in facts.items():
        group = (customer.branch_id, customer.rank, customer.active)
        if group not in ranked:
            ranked[group] = ranking(bought, categories, *group)
        own = bought.bought.get(customer_id, {})
        candidates = not_bought(ranked[group], own)
        reasons = reasons_for(
            customer,
            fact,
            day,
            settings=settings,
            follow_ups=due.get(customer_id),
            proposals=open_.get(customer_id),
            cross_sell=candidates[0] if candidates else None,
            # What it bought most is said only beside a cross-sell candidate.
            bought=[categories[c] for c in _by_amount(own) if c in categories]
            if candidates
            else [],
            planned=planned.get(customer_id),
        )
        if not reasons:
            continue
        purpose, suggestion = suggest(reasons, set(purposes.values()))
        items.append(
            PlanItem(
                customer,
                reasons,
                purpose,
                suggestion,
                planned.get(customer_id),
                visited=fact.last_visit == day,
            )
        )
    # Visited ones last: what is left to do on the day comes first.
    items.sort(key=lambda i: (i.visited, -i.urgency, i.customer.code))
    return items


def _by_amount(bought: dict[int, int]) -> list[int]:
    return sorted(bought, key=lambda c: -bought[c])


@dataclass
class Picker:
    """The visit form's customer picker, group by group, each customer once: the user's plan
    for the day in its order, then the customers of the user's own follow-ups due by then
    that the plan does not hold (a colleague's customer), the user's other customers, and
    the branch's other customers (a rep may log a visit to any of them, docs/domain.md)."""

    plan: list[Customer] = field(default_factory=list)
    follow_ups: list[Customer] = field(default_factory=list)
    own: list[Customer] = field(default_factory=list)
    others: list[Customer] = field(default_factory=list)

    def __iter__(self):
        return iter([*self.plan, *self.follow_ups, *self.own, *self.others])


def picker(
    session: Session, user: User, day: date, *, tz: ZoneInfo, settings: CompanySettings
) -> Picker:
    """The groups of the visit form's picker on ``day`` (see ``Picker``): the plan's
    statements, the user's due follow-ups and the active customers the user may see, whatever
    their number. Only active customers the user may see are offered."""
    everyone = active_customers(session, user)
    visible = {c.id for c in everyone}
    out = Picker()
    taken: set[int] = set()
    for item in build_plan(session, user, day, tz=tz, settings=settings):
        if item.customer.id in visible and item.customer.id not in taken:
            taken.add(item.customer.id)
            out.plan.append(item.customer)
    for follow_up in follow_ups_due(session, user, today=day):
        if follow_up.customer_id in visible and follow_up.customer_id not in taken:
            taken.add(follow_up.customer_id)
            out.follow_ups.append(follow_up.customer)
    for customer in everyone:
        if customer.id not in taken:
            (out.own if customer.rep_id == user.id else out.others).append(customer)
    return out
