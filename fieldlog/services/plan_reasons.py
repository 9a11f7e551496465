"""Why a customer is in the plan, and what to go for: pure rules over its facts.

Each reason asks the rule that already has a home: the visit cycle (``rules.cadence``),
dormancy (``kpi.dormancy.dormant_on``), the cross-sell candidates (``cross_sell``). Numbers
and keys only; ``plan_text`` says them in words. The tests drive ``reasons_for`` by table.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from ..kpi import dormancy
from ..models import Category, CompanySettings, Customer, PlannedVisit
from ..rules import cadence
from .cross_sell import CrossSell
from .plan_facts import DueFollowUps, Facts, OpenProposals
from .today import LONG_OVERDUE_DAYS, cycle_days

# dormant_risk also warns of customers that turn dormant within this many days.
DORMANT_SOON_DAYS = 14

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
