"""What a rep should do today: customers overdue for their visit cycle and follow-ups due.

Plain functions over a session, the acting user, the company's local ``today`` and timezone;
every list starts from an ``access`` scope.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import Select, case, exists, func, or_, select
from sqlalchemy.orm import Session, joinedload

from ..models import CompanySettings, Customer, FollowUp, User, Visit
from ..rules import cadence
from ..rules.periods import local_date
from . import access


@dataclass
class CustomerStatus:
    """A customer with its last visit, cycle and whether a visit is overdue."""

    customer: Customer
    last_visited_at: datetime | None
    last_visit_on: date | None
    cycle_days: int
    days_since: int | None
    has_open_follow_up: bool
    overdue: bool
    # Days past the last day of its cycle when overdue (None: never visited, or not overdue).
    days_overdue: int | None = None


def cycle_days(customer: Customer, settings: CompanySettings) -> int:
    """The customer's own visit cycle, or its rank's default (``rules.cadence.cycle_days``)."""
    return cadence.cycle_days(customer.visit_cycle_days, settings.cycle_days(customer.rank))


def open_follow_up_booked(today: date):
    """SQL: the customer has a follow-up not done, not cancelled, due today or later."""
    return exists().where(
        FollowUp.customer_id == Customer.id,
        FollowUp.done_on.is_(None),
        FollowUp.cancelled.is_(False),
        FollowUp.due_on >= today,
    )


def customer_statuses(
    session: Session,
    customers: Select[tuple[Customer]],
    *,
    today: date,
    tz: ZoneInfo,
    settings: CompanySettings,
) -> list[CustomerStatus]:
    """Status of every customer of a scope, in one query (last visit and open follow-up).

    Overdue (docs/domain.md): more days than the cycle since the local date of the last visit
    (never visited counts), and no open follow-up booked. The scope's order is kept.
    """
    # Per customer, so that it reads only the scope's rows of ix_visit_customer_at: a GROUP BY
    # over every visit of the company grew with the table (17 ms at 10,000 visits).
    last_at = (
        select(func.max(Visit.visited_at))
        .where(Visit.customer_id == Customer.id)
        .correlate(Customer)
        .scalar_subquery()
    )
    stmt = customers.add_columns(
        last_at.label("last_at"), open_follow_up_booked(today).label("booked")
    )
    out = []
    for customer, last_at, booked in session.execute(stmt):
        last_on = local_date(last_at, tz) if last_at is not None else None
        due = cadence.cadence(last_on, cycle_days(customer, settings), today, booked=bool(booked))
        out.append(
            CustomerStatus(
                customer,
                last_at,
                last_on,
                due.cycle,
                due.days_since,
                bool(booked),
                due.overdue,
                due.days_overdue,
            )
        )
    return out


def overdue_customers(
    session: Session, user: User, *, today: date, tz: ZoneInfo, settings: CompanySettings
) -> list[CustomerStatus]:
    """Active customers of the user's scope overdue for a visit: own first, longest gap first."""
    scope = (
        access.customers(user)
        .where(Customer.active.is_(True), ~open_follow_up_booked(today))
        .options(joinedload(Customer.rep))
    )
    rows = [
        s
        for s in customer_statuses(session, scope, today=today, tz=tz, settings=settings)
        if s.overdue
    ]
    never = 10**6

    def order(s: CustomerStatus) -> tuple[int, int, str]:
        own = 0 if s.customer.rep_id == user.id else 1
        gap = never if s.days_overdue is None else s.days_overdue
        return (own, -gap, s.customer.code)

    return sorted(rows, key=order)


def due_follow_ups(session: Session, user: User, *, today: date) -> list[FollowUp]:
    """The user's open follow-ups due today or earlier, oldest first."""
    stmt = (
        access.follow_ups(user)
        .where(
            FollowUp.done_on.is_(None),
            FollowUp.cancelled.is_(False),
            FollowUp.due_on <= today,
        )
        .options(joinedload(FollowUp.customer))
        .order_by(FollowUp.due_on, FollowUp.id)
    )
    return list(session.scalars(stmt))


# Follow-ups later than this are grouped and collapsed on Today, for bulk reschedule or cancel.
LONG_OVERDUE_DAYS = 30
# How many of them Today lists before "show all" (the demo's first rep had 72: rendered on
# every view of the rep's home page, behind a closed <details>).
LONG_OVERDUE_SHOWN = 20


@dataclass
class DueToday:
    """Today's follow-ups: those due today or late up to 30 days, and the first of the older
    ones (oldest first) with how many there are."""

    due: list[FollowUp]
    long_overdue: list[FollowUp]
    long_overdue_count: int


def due_today(session: Session, user: User, *, today: date, shown: int | None) -> DueToday:
    """``due_follow_ups`` split as Today shows it, reading at most ``shown`` of the long-overdue
    ones (None: all of them); bounded by the recent ones however many old ones pile up."""
    cutoff = today - timedelta(days=LONG_OVERDUE_DAYS)
    open_ = access.follow_ups(user).where(FollowUp.done_on.is_(None), FollowUp.cancelled.is_(False))
    ordered = open_.options(joinedload(FollowUp.customer)).order_by(FollowUp.due_on, FollowUp.id)
    due = list(session.scalars(ordered.where(FollowUp.due_on >= cutoff, FollowUp.due_on <= today)))
    old = ordered.where(FollowUp.due_on < cutoff)
    long_overdue = list(session.scalars(old if shown is None else old.limit(shown)))
    count = len(long_overdue)
    if shown is not None and count == shown:
        count = session.scalar(
            open_.where(FollowUp.due_on < cutoff)
            .with_only_columns(func.count(FollowUp.id))
            .order_by(None)
        )
    return DueToday(due, long_overdue, count or 0)


def open_follow_ups(session: Session, user: User, customer: Customer) -> list[FollowUp]:
    """A customer's open follow-ups that the user may see and tick off from a visit."""
    stmt = (
        access.follow_ups(user)
        .where(
            FollowUp.customer_id == customer.id,
            FollowUp.done_on.is_(None),
            FollowUp.cancelled.is_(False),
        )
        .order_by(FollowUp.due_on, FollowUp.id)
    )
    return list(session.scalars(stmt))


def recent_visits(session: Session, user: User, limit: int = 5) -> list[Visit]:
    """The user's latest visits (for a manager, the branch's)."""
    stmt = (
        access.visits(user)
        .options(joinedload(Visit.customer), joinedload(Visit.purpose), joinedload(Visit.rep))
        .order_by(Visit.visited_at.desc(), Visit.id.desc())
        .limit(limit)
    )
    return list(session.scalars(stmt))


def active_customers(
    session: Session, user: User, *, search: str = "", limit: int | None = None
) -> list[Customer]:
    """The active customers the user may see (own first), those whose search text holds
    ``search`` (already folded by ``text.search_key``) when given, at most ``limit``."""
    stmt = access.customers(user).where(Customer.active.is_(True))
    if search:
        stmt = stmt.where(Customer.search_text.contains(search, autoescape=True))
    if limit is not None:
        stmt = stmt.limit(limit)
    return list(session.scalars(stmt))


def visible_customer(session: Session, user: User, code: str) -> Customer | None:
    """The customer with this code, if the user may see it."""
    return session.scalars(access.customers(user).where(Customer.code == code)).first()


def all_open_follow_ups(session: Session, user: User) -> list[FollowUp]:
    """Every open follow-up the user may see, soonest due first (for the offline copy)."""
    stmt = (
        access.follow_ups(user)
        .where(FollowUp.done_on.is_(None), FollowUp.cancelled.is_(False))
        .order_by(FollowUp.due_on)
    )
    return list(session.scalars(stmt))


def customer_visits(session: Session, user: User, customer_id: int, limit: int = 50) -> list[Visit]:
    """A customer's latest visits the user may see, newest first."""
    stmt = (
        access.visits(user)
        .where(Visit.customer_id == customer_id)
        .options(joinedload(Visit.purpose), joinedload(Visit.rep))
        .order_by(Visit.visited_at.desc())
        .limit(limit)
    )
    return list(session.scalars(stmt))


def customer_follow_ups(
    session: Session, user: User, customer_id: int, limit: int = 50
) -> list[FollowUp]:
    """A customer's first ``limit`` follow-ups: open ones first, soonest due on top (what the
    rep acts on), then the done and cancelled ones, latest due first."""
    is_closed = or_(FollowUp.cancelled.is_(True), FollowUp.done_on.is_not(None))
    stmt = (
        access.follow_ups(user)
        .where(FollowUp.customer_id == customer_id)
        .order_by(
            is_closed,
            case((is_closed, None), else_=FollowUp.due_on),
            FollowUp.due_on.desc(),
            FollowUp.id.desc(),
        )
        .limit(limit)
    )
    return list(session.scalars(stmt))
