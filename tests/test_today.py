"""Overdue customers and due follow-ups (docs/domain.md), table-driven, without HTTP."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

import pytest

from fieldlog.app.extensions import db
from fieldlog.models import FollowUp
from fieldlog.services.defaults import company_settings
from fieldlog.services.today import due_follow_ups, overdue_customers

from .conftest import NOW, TZ, visit_payload

TODAY = date(2026, 11, 23)


def _at(days_ago: int, hour: int = 23) -> str:
    """A local visit time ``days_ago`` days before today (late in the day, to test dates)."""
    return datetime.combine(TODAY - timedelta(days=days_ago), time(hour, 30), TZ).isoformat()


# (case, rank, own cycle, days since last visit or None, follow-up (due offset, done, cancelled),
#  overdue?)
CASES = [
    ("never visited", "B", None, None, None, True),
    ("B exactly on its 30-day cycle", "B", None, 30, None, False),
    ("B one day past its cycle", "B", None, 31, None, True),
    ("A past 14 days", "A", None, 15, None, True),
    ("A on 14 days", "A", None, 14, None, False),
    ("C on 60 days", "C", None, 60, None, False),
    ("own cycle 7 overrides rank", "C", 7, 8, None, True),
    ("own cycle 7 boundary", "C", 7, 7, None, False),
    ("open follow-up due today suppresses", "B", None, None, (0, False, False), False),
    ("open follow-up due later suppresses", "B", None, 40, (5, False, False), False),
    ("overdue follow-up does not suppress", "B", None, 40, (-1, False, False), True),
    ("cancelled follow-up does not suppress", "B", None, 40, (3, False, True), True),
    ("done follow-up does not suppress", "B", None, None, (3, True, False), True),
]


@pytest.mark.parametrize(
    "case,rank,cycle,days_ago,follow_up,overdue", CASES, ids=[c[0] for c in CASES]
)
def test_overdue_rule(make, case, rank, cycle, days_ago, follow_up, overdue):
    rep = make.user("rep")
    customer = make.customer(rep=rep, rank=rank, visit_cycle_days=cycle)
    if days_ago is not None:
        make.visit(rep, customer, visited_at=_at(days_ago))
    if follow_up is not None:
        due, done, cancelled = follow_up
        db.session.add(
            FollowUp(
                rep=rep,
                branch_id=rep.branch_id,
                customer=customer,
                action="電話",
                due_on=TODAY + timedelta(days=due),
                done_on=TODAY - timedelta(days=1) if done else None,
                cancelled=cancelled,
            )
        )
    db.session.flush()
    found = overdue_customers(
        db.session, rep, today=TODAY, tz=TZ, settings=company_settings(db.session)
    )
    assert [s.customer.code for s in found] == ([customer.code] if overdue else [])


def test_days_are_counted_in_the_company_timezone(make):
    """00:30 JST 31 days ago is 31 days ago, though in UTC it falls on the day before."""
    rep = make.user("rep")
    customer = make.customer(rep=rep)
    make.visit(rep, customer, visited_at=_at(31, hour=0))
    found = overdue_customers(
        db.session, rep, today=TODAY, tz=TZ, settings=company_settings(db.session)
    )
    assert found[0].days_since == 31


def test_own_customers_first_then_the_branch_then_inactive_never(make):
    rep = make.user("rep")
    colleague = make.user("rep", rep.branch)
    theirs = make.customer(rep=colleague, code="A-THEIRS")
    mine = make.customer(rep=rep, code="Z-MINE")
    make.customer(rep=rep, code="M-GONE", active=False)
    make.customer(code="OTHER-BRANCH")
    found = overdue_customers(
        db.session, rep, today=TODAY, tz=TZ, settings=company_settings(db.session)
    )
    assert [s.customer for s in found] == [mine, theirs]


def test_due_follow_ups_are_the_users_open_ones_due_today_or_earlier(make):
    rep = make.user("rep")
    colleague = make.user("rep", rep.branch)
    customer = make.customer(rep=rep)
    payload = visit_payload(customer, visited_at=(NOW - timedelta(days=3)).isoformat())
    kept = []
    for due, who in [(-2, rep), (0, rep), (1, rep), (0, colleague)]:
        payload = visit_payload(
            customer,
            visited_at=(NOW - timedelta(days=3)).isoformat(),
            next_action={"action": "電話", "due_on": (TODAY + timedelta(days=due)).isoformat()},
        )
        visit = make.visit(who, customer, **{k: v for k, v in payload.items() if k != "client_id"})
        if who is rep and due <= 0:
            kept.append(visit.follow_ups[0])
    assert due_follow_ups(db.session, rep, today=TODAY) == kept


def test_anyones_visit_and_anyones_follow_up_count_for_the_customer(make):
    """The last visit and the booked follow-up are the customer's, whoever logged them."""
    rep = make.user("rep")
    colleague = make.user("rep", rep.branch)
    covered = make.customer(rep=rep, code="COVERED")
    booked = make.customer(rep=rep, code="BOOKED")
    make.visit(colleague, covered, visited_at=_at(3))
    make.visit(
        colleague,
        booked,
        visited_at=_at(40),
        next_action={"action": "電話", "due_on": TODAY.isoformat()},
    )
    found = overdue_customers(
        db.session, rep, today=TODAY, tz=TZ, settings=company_settings(db.session)
    )
    assert found == []


def test_rank_cycles_are_company_settings(make):
    rep = make.user("rep")
    customer = make.customer(rep=rep, rank="A")
    make.visit(rep, customer, visited_at=_at(10))
    settings = company_settings(db.session)
    assert overdue_customers(db.session, rep, today=TODAY, tz=TZ, settings=settings) == []
    settings.cycle_days_a = 7
    found = overdue_customers(db.session, rep, today=TODAY, tz=TZ, settings=settings)
    assert [(s.customer, s.cycle_days) for s in found] == [(customer, 7)]
