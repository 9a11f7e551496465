"""The rep's plan for a day: the customers worth a visit, why, and what to go for.

Route sales decides the purpose before going (docs/contract.md, ``/api/v1/plan``). Each reason
asks the rule that already has a home: the visit cycle (``rules.cadence``), dormancy
(``kpi.dormancy.dormant_on``), the upsell/cross-sell window of ``visits.derive_kind``.
Plain functions over a session, the acting user and the date; numbers and keys only — the
words are said by ``schemas.plan_item_to_dict``.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from flask_babel import lazy_gettext as _l
from sqlalchemy import Select, false, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ..app.database import money_sum
from ..kpi import buyers, dormancy
from ..models import (
    Category,
    CompanySettings,
    Customer,
    FollowUp,
    PlannedVisit,
    Proposal,
    Purpose,
    SalesLine,
    User,
    Visit,
)
from ..present import limit_messages
from ..rules import cadence, limits
from ..rules.periods import local_date, local_midnight_utc
from . import access, schemas
from .errors import Invalid, NotFound
from .today import LONG_OVERDUE_DAYS, cycle_days, open_follow_up_booked
from .visits import UPSELL_LOOKBACK_DAYS

# dormant_risk also warns of customers that turn dormant within this many days.
DORMANT_SOON_DAYS = 14
# A cross-sell candidate: bought by at least this share of the customer's peers (same rank
# and branch), and there are at least this many peers to say so.
CROSS_SELL_MIN_SHARE = 0.5
CROSS_SELL_MIN_PEERS = 3

# follow_up_due whose latest follow-up is over LONG_OVERDUE_DAYS late weighs less than an open
# proposal: Today groups such follow-ups apart, and the plan's first screen goes to the live ones.
STALE_FOLLOW_UP_WEIGHT = 90

REASON_CODES = (
    "planned",
    "follow_up_due",
    "dormant_risk",
    "overdue_cycle",
    "open_proposal",
    "cross_sell",
)
# The purpose each reason suggests, in the order a reason's suggestion wins.
SUGGESTS = (
    ("planned", None),
    ("follow_up_due", "follow_up"),
    ("open_proposal", "proposal"),
    ("cross_sell", "proposal"),
    ("dormant_risk", "hearing"),
    ("overdue_cycle", "hearing"),
)


@dataclass
class Reason:
    """Why a customer is in the plan: a code and the numbers behind it."""

    code: str
    weight: int
    params: dict[str, Any] = field(default_factory=dict)


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


@dataclass
class Facts:
    """What one customer's reasons are computed from, as of the plan's date."""

    last_visit: date | None
    last_sale: date | None
    booked: bool


# ---- input -----------------------------------------------------------------------------------


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


# ---- the plan ----------------------------------------------------------------------------------


def plan_scope(user: User, *, branch: bool = False) -> Select[tuple[Customer]]:
    """The customers a plan considers: the user's own active ones, or their branch's."""
    if not access.can_log_visits(user):
        return select(Customer).where(false())
    stmt = select(Customer).where(Customer.active.is_(True))
    if branch:
        return stmt.where(Customer.branch_id == user.branch_id)
    return stmt.where(Customer.rep_id == user.id, Customer.branch_id == user.branch_id)


def customer_facts(
    session: Session, scope: Select[tuple[Customer]], day: date, tz: ZoneInfo
) -> dict[int, tuple[Customer, Facts]]:
    """Each customer's last visit and last sale up to ``day`` and whether a follow-up is booked."""
    # One seek each in ix_visit_customer_at and ix_sales_line_customer_on_category_amounts.
    last_at = (
        select(func.max(Visit.visited_at))
        .where(
            Visit.customer_id == Customer.id,
            Visit.visited_at < local_midnight_utc(day + timedelta(days=1), tz),
        )
        .correlate(Customer)
        .scalar_subquery()
    )
    last_sale = (
        select(func.max(SalesLine.sold_on))
        .where(SalesLine.customer_id == Customer.id, SalesLine.sold_on <= day)
        .correlate(Customer)
        .scalar_subquery()
    )
    stmt = scope.add_columns(
        last_at.label("last_at"),
        last_sale.label("last_sale"),
        open_follow_up_booked(day).label("booked"),
    )
    out = {}
    for customer, at, sold, booked in session.execute(stmt):
        visited = local_date(_instant(at), tz) if at is not None else None
        sold_on = as_date(sold) if sold is not None else None
        out[customer.id] = (customer, Facts(visited, sold_on, bool(booked)))
    return out


def _instant(value: Any) -> datetime:
    """An aggregated instant (SQLite may hand back text) as an aware UTC datetime."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def as_date(value: Any) -> date:
    """A date from an aggregate (SQLite may hand back text)."""
    return date.fromisoformat(value) if isinstance(value, str) else value


@dataclass
class Purchases:
    """What the active customers of some branches bought in a window, for cross-selling.

    ``sizes``: active customers per (branch, rank); ``counts``: how many of them bought each
    category, per (branch, rank, category); ``bought``: per customer asked for, each category's
    amount.
    """

    sizes: dict[tuple[int, str], int]
    counts: dict[tuple[int, str, int], int]
    bought: dict[int, dict[int, int]]


def purchases(
    session: Session, branch_ids: set[int], day: date, customer_ids: list[int]
) -> Purchases:
    """The branches' buyers per rank and category on ``day``, and these customers' purchases.

    The counts come from the category buyer summary (``kpi.buyers``: one index seek per
    customer of the branches, not their year of sales lines, which took 17-21 ms for a branch
    of 500 customers at 1M visits); only ``customer_ids``' own lines of the window are read,
    for the amounts that order what each bought.
    """
    out = Purchases({}, {}, defaultdict(dict))
    if not branch_ids:
        return out
    for branch_id, rank, n in session.execute(
        select(Customer.branch_id, Customer.rank, func.count(Customer.id))
        .where(Customer.branch_id.in_(branch_ids), Customer.active.is_(True))
        .group_by(Customer.branch_id, Customer.rank)
    ):
        out.sizes[(branch_id, rank)] = n
    out.counts.update(buyers.buyers_on(session, branch_ids, day))
    window = lookback(day)
    for k in range(0, len(customer_ids), 500):
        stmt = (
            select(SalesLine.customer_id, SalesLine.category_id, money_sum(SalesLine.amount))
            .where(
                SalesLine.customer_id.in_(customer_ids[k : k + 500]),
                SalesLine.sold_on >= window[0],
                SalesLine.sold_on <= window[1],
                SalesLine.category_id.is_not(None),
            )
            .group_by(SalesLine.customer_id, SalesLine.category_id)
        )
        for customer_id, category_id, amount in session.execute(stmt):
            out.bought[customer_id][category_id] = int(amount or 0)
    return out


@dataclass
class DueFollowUps:
    """A customer's open follow-ups of the user due by the day: how many, and the latest one.

    The latest is what the visit is for: one months late is often stale (Today collapses
    those), so the suggestion names, and the visit form ticks, the one due nearest the day.
    """

    count: int
    id: int
    action: str
    due_on: date


def due_follow_ups(
    session: Session, user: User, ids: list[int], day: date
) -> dict[int, DueFollowUps]:
    """Per customer, the user's open follow-ups due on or before ``day``, summed up in SQL."""
    ranked = (
        select(
            FollowUp.customer_id,
            FollowUp.id,
            FollowUp.action,
            FollowUp.due_on,
            func.row_number()
            .over(
                partition_by=FollowUp.customer_id,
                order_by=(FollowUp.due_on.desc(), FollowUp.id.desc()),
            )
            .label("rank"),
            func.count().over(partition_by=FollowUp.customer_id).label("n"),
        )
        .where(
            FollowUp.rep_id == user.id,
            FollowUp.customer_id.in_(ids),
            FollowUp.done_on.is_(None),
            FollowUp.cancelled.is_(False),
            FollowUp.due_on <= day,
        )
        .subquery()
    )
    stmt = select(
        ranked.c.customer_id, ranked.c.n, ranked.c.id, ranked.c.action, ranked.c.due_on
    ).where(ranked.c.rank == 1)
    return {
        customer_id: DueFollowUps(int(n), follow_up_id, action, as_date(due_on))
        for customer_id, n, follow_up_id, action, due_on in session.execute(stmt)
    }


@dataclass
class OpenProposals:
    """A customer's proposals still open: how many, the oldest's day and category, the sum."""

    count: int
    oldest_on: date
    category: str | None
    amount: int


def open_proposals(session: Session, ids: list[int], day: date) -> dict[int, OpenProposals]:
    """Per customer, its open proposals made on or before ``day``, summed up in SQL.

    One row per customer (a window over its proposals): loading every open proposal as an
    object took ~40 ms for a rep with 300 customers at 1M visits.
    """
    ranked = (
        select(
            Proposal.customer_id,
            Proposal.proposed_on,
            Category.name.label("category"),
            func.row_number()
            .over(partition_by=Proposal.customer_id, order_by=(Proposal.proposed_on, Proposal.id))
            .label("rank"),
            func.count().over(partition_by=Proposal.customer_id).label("n"),
            func.sum(func.coalesce(Proposal.amount, 0))
            .over(partition_by=Proposal.customer_id)
            .label("amount"),
        )
        .outerjoin(Category, Proposal.category_id == Category.id)
        .where(
            Proposal.customer_id.in_(ids),
            Proposal.status == "open",
            Proposal.proposed_on <= day,
        )
        .subquery()
    )
    stmt = select(
        ranked.c.customer_id, ranked.c.n, ranked.c.proposed_on, ranked.c.category, ranked.c.amount
    ).where(ranked.c.rank == 1)
    return {
        customer_id: OpenProposals(int(n), as_date(on), category, int(amount or 0))
        for customer_id, n, on, category, amount in session.execute(stmt)
    }


@dataclass
class CrossSell:
    """A category a customer's peers buy and it has not bought in the window."""

    category: Category
    share: float
    buyers: int
    peers: int


def cross_sell_candidates(
    customer: Customer,
    bought: Purchases,
    categories: dict[int, Category],
) -> list[CrossSell]:
    """Categories at least CROSS_SELL_MIN_SHARE of its peers buy and it does not; best first.

    Peers are the other active customers of the same branch and rank; the customer itself is
    never counted (it did not buy the category, so it is in neither count).
    """
    size = bought.sizes.get((customer.branch_id, customer.rank), 0)
    own = bought.bought.get(customer.id, {})
    peers = size - 1 if customer.active else size
    if peers < CROSS_SELL_MIN_PEERS:
        return []
    found = []
    for category_id, category in categories.items():
        if category_id in own:
            continue
        n = bought.counts.get((customer.branch_id, customer.rank, category_id), 0)
        share = n / peers
        if share >= CROSS_SELL_MIN_SHARE:
            found.append(CrossSell(category, share, n, peers))
    return sorted(found, key=lambda c: (-c.share, c.category.sort, c.category.code))


def lookback(day: date) -> tuple[date, date]:
    """The 365 days before ``day`` (the day excluded): the window of ``visits.derive_kind``."""
    return day - timedelta(days=UPSELL_LOOKBACK_DAYS), day - timedelta(days=1)


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
    for customer_id, (customer, fact) in facts.items():
        candidates = cross_sell_candidates(customer, bought, categories)
        reasons = reasons_for(
            customer,
            fact,
            day,
            settings=settings,
            follow_ups=due.get(customer_id),
            proposals=open_.get(customer_id),
            cross_sell=candidates[0] if candidates else None,
            bought=[
                categories[c]
                for c in _by_amount(bought.bought.get(customer_id, {}))
                if c in categories
            ],
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


def reasons_for(
    customer: Customer,
    fact: Facts,
    day: date,
    *,
    settings: CompanySettings,
    follow_ups: DueFollowUps | None,
    proposals: OpenProposals | None,
    cross_sell: CrossSell | None,
    bought: list[Category],
    planned: PlannedVisit | None,
) -> list[Reason]:
    """A customer's reasons on ``day``, weightiest first (pure: the tests drive it by table)."""
    reasons = []
    if planned is not None:
        reasons.append(
            Reason(
                "planned",
                1000,
                {
                    "purpose": planned.purpose.code if planned.purpose else None,
                    "note": planned.note,
                },
            )
        )
    if follow_ups is not None:
        late = (day - follow_ups.due_on).days
        # Even the customer's latest due follow-up is long overdue: still a reason (the
        # contract's follow_up_due), but no longer what leads the day (docs/decisions.md).
        stale = late > LONG_OVERDUE_DAYS
        reasons.append(
            Reason(
                "follow_up_due",
                STALE_FOLLOW_UP_WEIGHT if stale else 500 + min(late, LONG_OVERDUE_DAYS),
                {
                    "stale": stale,
                    "count": follow_ups.count,
                    "action": follow_ups.action,
                    "due_on": follow_ups.due_on,
                    "days_late": late,
                    "ids": [follow_ups.id],
                },
            )
        )
    visit_limit, sales_limit = settings.dormant_visit_days, settings.dormant_sales_days
    soon = day + timedelta(days=DORMANT_SOON_DAYS)
    if dormancy.dormant_on(soon, fact.last_visit, fact.last_sale, visit_limit, sales_limit):
        dormant = dormancy.dormant_on(
            day, fact.last_visit, fact.last_sale, visit_limit, sales_limit
        )
        on = dormancy.turns_dormant_on(fact.last_visit, fact.last_sale, visit_limit, sales_limit)
        by_sales = (
            on is not None
            and fact.last_sale is not None
            and on == fact.last_sale + timedelta(days=sales_limit)
        )
        reasons.append(
            Reason(
                "dormant_risk",
                400
                if dormant
                else 300 + (DORMANT_SOON_DAYS - max((on - day).days, 0) if on else 0),
                {
                    "dormant": dormant,
                    "on": on,
                    "by": "sales" if by_sales else "visit",
                    "visit_days": visit_limit,
                    "sales_days": sales_limit,
                },
            )
        )
    due = cadence.cadence(fact.last_visit, cycle_days(customer, settings), day, booked=fact.booked)
    if due.overdue:
        over = due.cycle if due.days_overdue is None else due.days_overdue  # never visited: a cycle
        reasons.append(
            Reason(
                "overdue_cycle",
                200 + min(over, 100),
                {"days_since": due.days_since, "cycle": due.cycle},
            )
        )
    if proposals is not None:
        age = (day - proposals.oldest_on).days
        reasons.append(
            Reason(
                "open_proposal",
                100 + min(age, 60),
                {
                    "count": proposals.count,
                    "age_days": age,
                    "category": proposals.category,
                    "amount": proposals.amount,
                },
            )
        )
    if cross_sell is not None:
        reasons.append(
            Reason(
                "cross_sell",
                50 + round(cross_sell.share * 10),
                {
                    "category": cross_sell.category.name,
                    "category_code": cross_sell.category.code,
                    "share": cross_sell.share,
                    "peers": cross_sell.peers,
                    "bought": [c.name for c in bought[:2]],
                },
            )
        )
    return reasons


def suggest(reasons: list[Reason], known: set[str]) -> tuple[str | None, Reason | None]:
    """The purpose to go for and the reason that says why (the first that applies)."""
    by_code = {r.code: r for r in reasons}
    for code, purpose in SUGGESTS:
        reason = by_code.get(code)
        if reason is None:
            continue
        if reason.params.get("stale") and len(reasons) > 1:
            continue  # a months-old follow-up is not what to go for when there is more
        if code == "planned":
            if reason.params.get("purpose"):
                return reason.params["purpose"], reason
            continue
        return (purpose if purpose in known else None), reason
    return None, None


# ---- planning a visit --------------------------------------------------------------------------


def plan_visit(
    session: Session,
    user: User,
    payload: dict[str, Any],
    *,
    today: date,
) -> tuple[PlannedVisit, bool]:
    """Plan a visit to a customer on a date; the same customer and date again is the same plan.

    Returns the planned visit and whether it was created. A purpose or note given again
    replaces the earlier one (the rep changed their mind); one left out keeps it.
    """
    day = parse_day(payload.get("date"), today=today)
    code = payload.get("customer_code")
    customer = None
    if isinstance(code, str) and code.strip():
        customer = session.scalars(
            access.customers(user).where(Customer.code == code.strip())
        ).first()
    if customer is None or not access.can_visit(user, customer):
        raise NotFound(_l("No such customer."))
    if customer.rep_id != user.id:
        # The plan holds only the user's own customers (docs/contract.md): one planned for a
        # colleague's would never show in it. Out of scope, as a colleague's follow-up is.
        raise NotFound(
            _l(
                "%(code)s is not one of your customers: you can plan visits only to your own.",
                code=customer.code,
            )
        )
    errors = schemas.Errors()
    if not customer.active:
        errors.add("customer_code", _l("This customer is no longer active."))
    purpose = None
    raw_purpose = payload.get("purpose")
    if raw_purpose not in (None, ""):
        purpose = session.scalars(
            select(Purpose).where(Purpose.code == raw_purpose, Purpose.active.is_(True))
        ).first()
        if purpose is None:
            errors.add("purpose", _l("Unknown purpose."))
    note = payload.get("note")
    if note is not None and not isinstance(note, str):
        errors.add("note", _l("Must be text."))
    elif note is not None and (message := limit_messages.text_error(note)):
        errors.add("note", message)
    if errors:
        raise Invalid(errors=dict(errors))

    existing = _planned(session, user, customer, day)
    created = existing is None
    if existing is None:
        existing = PlannedVisit(rep=user, customer=customer, planned_on=day, note="")
        try:
            with session.begin_nested():
                session.add(existing)
                session.flush()
        except IntegrityError:
            # The same plan arrived twice at once (a replayed outbox): answer with the first.
            existing = _planned(session, user, customer, day)
            if existing is None:
                raise
            created = False
    if purpose is not None:
        existing.purpose = purpose
    if isinstance(note, str):
        existing.note = note.strip()
    session.flush()
    return existing, created


def _planned(session: Session, user: User, customer: Customer, day: date) -> PlannedVisit | None:
    return session.scalars(
        select(PlannedVisit).where(
            PlannedVisit.rep_id == user.id,
            PlannedVisit.customer_id == customer.id,
            PlannedVisit.planned_on == day,
        )
    ).first()


def planned_customer_ids(session: Session, user: User, day: date) -> set[int]:
    """The customers the user already planned for the day: My week shows them as planned."""
    return set(
        session.scalars(
            select(PlannedVisit.customer_id).where(
                PlannedVisit.rep_id == user.id, PlannedVisit.planned_on == day
            )
        )
    )


def upcoming_plans(
    session: Session, user: User, customer_id: int, today: date
) -> list[PlannedVisit]:
    """The user's visits planned for this customer from today on: the customer page lists them."""
    return list(
        session.scalars(
            select(PlannedVisit)
            .where(
                PlannedVisit.rep_id == user.id,
                PlannedVisit.customer_id == customer_id,
                PlannedVisit.planned_on >= today,
            )
            .order_by(PlannedVisit.planned_on)
        )
    )


def planned_purpose(session: Session, user: User, customer_code: str, day: date) -> str | None:
    """The purpose the user planned for this customer on this day, to pre-fill the visit form."""
    return session.scalar(
        select(Purpose.code)
        .join(PlannedVisit, PlannedVisit.purpose_id == Purpose.id)
        .join(Customer, PlannedVisit.customer_id == Customer.id)
        .where(
            PlannedVisit.rep_id == user.id,
            Customer.code == customer_code,
            PlannedVisit.planned_on == day,
            Purpose.active.is_(True),
        )
    )


def purpose_labels(session: Session, locale: str) -> dict[str, str]:
    """Every purpose's label in the reader's language, by code."""
    return {p.code: p.label(locale) for p in session.scalars(select(Purpose))}
