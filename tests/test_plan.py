"""The rep's plan (docs/contract.md, /api/v1/plan): each reason on and off at its boundary."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

import pytest

from fieldlog.app.extensions import db
from fieldlog.kpi import dormancy
from fieldlog.models import FollowUp, PlannedVisit, Proposal, Purpose
from fieldlog.services import plan, plan_facts
from fieldlog.services.defaults import company_settings

from .conftest import TZ

TODAY = date(2026, 11, 23)


def _at(days_ago: int) -> str:
    return datetime.combine(TODAY - timedelta(days=days_ago), time(15, 0), TZ).isoformat()


def _follow_up(rep, customer, due: int, *, done=False, cancelled=False):
    db.session.add(
        FollowUp(
            rep=rep,
            branch_id=rep.branch_id,
            customer=customer,
            action="見積りの回答を確認",
            due_on=TODAY + timedelta(days=due),
            done_on=TODAY - timedelta(days=40) if done else None,
            cancelled=cancelled,
        )
    )


def _proposal(rep, customer, status="open"):
    db.session.add(
        Proposal(
            rep=rep,
            branch_id=rep.branch_id,
            customer=customer,
            kind="other",
            proposed_on=TODAY - timedelta(days=20),
            status=status,
            closed_on=TODAY - timedelta(days=1) if status != "open" else None,
        )
    )


def _plan(rep, customer, day: int, purpose: str | None = None):
    db.session.add(
        PlannedVisit(
            rep=rep,
            customer=customer,
            planned_on=TODAY + timedelta(days=day),
            purpose=db.session.query(Purpose).filter_by(code=purpose).one() if purpose else None,
        )
    )


# Each case sets up one customer of the rep (B rank: 30-day cycle; dormant after 60 days
# without a visit or 90 without a purchase) and says whether ``code`` is among its reasons.
# "visit": days since the last visit (None: never); "sale": days since the last sale.
CASES = [
    # follow_up_due: an open follow-up of the rep due on or before the date
    ("follow_up_due", "due today", dict(visit=5, fu=[(0, {})]), True),
    ("follow_up_due", "due yesterday", dict(visit=5, fu=[(-1, {})]), True),
    ("follow_up_due", "due tomorrow", dict(visit=5, fu=[(1, {})]), False),
    ("follow_up_due", "done", dict(visit=5, fu=[(-1, {"done": True})]), False),
    ("follow_up_due", "cancelled", dict(visit=5, fu=[(-1, {"cancelled": True})]), False),
    ("follow_up_due", "a colleague's", dict(visit=5, fu_colleague=0), False),
    # overdue_cycle: docs/domain.md
    ("overdue_cycle", "30 days on a 30-day cycle", dict(visit=30), False),
    ("overdue_cycle", "31 days on a 30-day cycle", dict(visit=31), True),
    ("overdue_cycle", "never visited", dict(visit=None), True),
    ("overdue_cycle", "31 days, a follow-up booked today", dict(visit=31, fu=[(0, {})]), False),
    ("overdue_cycle", "31 days, booked by a colleague", dict(visit=31, fu_colleague=3), False),
    ("overdue_cycle", "31 days, follow-up overdue", dict(visit=31, fu=[(-1, {})]), True),
    # dormant_risk: dormant now, or within 14 days
    ("dormant_risk", "visited 45 days ago", dict(visit=45), False),
    ("dormant_risk", "visited 46 days ago (dormant in 14)", dict(visit=46), True),
    ("dormant_risk", "visited 60 days ago (dormant)", dict(visit=60), True),
    ("dormant_risk", "never visited", dict(visit=None), True),
    ("dormant_risk", "bought 75 days ago", dict(visit=3, sale=75), False),
    ("dormant_risk", "bought 76 days ago", dict(visit=3, sale=76), True),
    ("dormant_risk", "never bought", dict(visit=3), False),
    # open_proposal
    ("open_proposal", "open", dict(visit=3, proposal="open"), True),
    ("open_proposal", "won", dict(visit=3, proposal="won"), False),
    ("open_proposal", "lost", dict(visit=3, proposal="lost"), False),
    # planned: the rep's own plan for that date
    ("planned", "planned today", dict(visit=3, planned=0), True),
    ("planned", "planned tomorrow", dict(visit=3, planned=1), False),
    ("planned", "a colleague planned it", dict(visit=3, planned_colleague=0), False),
]


@pytest.mark.parametrize("code,case,setup,expected", CASES, ids=[f"{c[0]}: {c[1]}" for c in CASES])
def test_reason_boundaries(make, code, case, setup, expected):
    rep = make.user("rep")
    colleague = make.user("rep", rep.branch)
    customer = make.customer(rep=rep)
    if setup.get("visit") is not None:
        make.visit(colleague, customer, visited_at=_at(setup["visit"]))
    if setup.get("sale") is not None:
        make.sale(customer, TODAY - timedelta(days=setup["sale"]))
    for due, flags in setup.get("fu", []):
        _follow_up(rep, customer, due, **flags)
    if "fu_colleague" in setup:
        _follow_up(colleague, customer, setup["fu_colleague"])
    if "proposal" in setup:
        _proposal(rep, customer, setup["proposal"])
    if "planned" in setup:
        _plan(rep, customer, setup["planned"])
    if "planned_colleague" in setup:
        _plan(colleague, customer, setup["planned_colleague"])
    db.session.flush()
    items = plan.build_plan(db.session, rep, TODAY, tz=TZ, settings=company_settings(db.session))
    codes = {r.code for item in items for r in item.reasons}
    assert (code in codes) is expected
    assert all(item.customer == customer for item in items)


def test_other_reps_customers_never_appear(make):
    """A colleague's customer with every reason, and a customer of another branch: none shown."""
    rep = make.user("rep")
    colleague = make.user("rep", rep.branch)
    theirs = make.customer(rep=colleague, code="THEIRS")
    elsewhere = make.customer(rep=make.user("rep"), code="ELSEWHERE")
    gone = make.customer(rep=rep, code="GONE", active=False)
    mine = make.customer(rep=rep, code="MINE")
    for customer in (theirs, elsewhere, gone):
        _follow_up(rep, customer, -3)
        _proposal(rep, customer)
    db.session.flush()
    settings = company_settings(db.session)
    items = plan.build_plan(db.session, rep, TODAY, tz=TZ, settings=settings)
    assert [i.customer for i in items] == [mine]
    # Choosing the branch shows the colleague's customer too, never another branch's.
    branch = plan.build_plan(db.session, rep, TODAY, tz=TZ, settings=settings, branch=True)
    assert {i.customer.code for i in branch} == {"MINE", "THEIRS"}


def test_manager_plans_their_own_customers(make):
    manager = make.user("manager")
    rep = make.user("rep", manager.branch)
    own = make.customer(rep=manager, code="OWN")
    make.customer(rep=rep, code="REPS")
    items = plan.build_plan(
        db.session, manager, TODAY, tz=TZ, settings=company_settings(db.session)
    )
    assert [i.customer for i in items] == [own]


def test_most_urgent_first_and_purposes_suggested(make):
    rep = make.user("rep")
    recent = make.customer(rep=rep, code="A-RECENT")
    make.visit(rep, recent, visited_at=_at(2))
    _proposal(rep, recent)
    overdue = make.customer(rep=rep, code="B-OVERDUE")
    make.visit(rep, overdue, visited_at=_at(35))
    follow = make.customer(rep=rep, code="C-FOLLOW")
    make.visit(rep, follow, visited_at=_at(5))
    _follow_up(rep, follow, -2)
    planned = make.customer(rep=rep, code="D-PLANNED")
    make.visit(rep, planned, visited_at=_at(1))
    _plan(rep, planned, 0, purpose="relationship")
    db.session.flush()
    items = plan.build_plan(db.session, rep, TODAY, tz=TZ, settings=company_settings(db.session))
    assert [(i.customer.code, i.suggested_purpose) for i in items] == [
        ("D-PLANNED", "relationship"),
        ("C-FOLLOW", "follow_up"),
        ("B-OVERDUE", "hearing"),
        ("A-RECENT", "proposal"),
    ]


@pytest.mark.parametrize(
    "late,stale,weight",
    [(0, False, 500), (30, False, 530), (31, True, 90), (200, True, 90)],
)
def test_a_follow_up_over_30_days_late_stays_a_reason_but_no_longer_leads(
    make, late, stale, weight
):
    rep = make.user("rep")
    customer = make.customer(rep=rep, code="FU")
    make.visit(rep, customer, visited_at=_at(late + 1))
    _follow_up(rep, customer, -late)
    db.session.flush()
    (item,) = plan.build_plan(db.session, rep, TODAY, tz=TZ, settings=company_settings(db.session))
    reason = next(r for r in item.reasons if r.code == "follow_up_due")
    assert (reason.params["stale"], reason.weight) == (stale, weight)


def test_stale_follow_ups_come_after_the_live_reasons_and_suggest_nothing_else_has(make):
    """The day's first screen goes to what is live; a months-old follow-up is still listed."""
    rep = make.user("rep")
    stale_only = make.customer(rep=rep, code="A-STALE")
    make.visit(rep, stale_only, visited_at=_at(20))
    _follow_up(rep, stale_only, -45)
    stale_and_proposal = make.customer(rep=rep, code="B-STALE-PROPOSAL")
    make.visit(rep, stale_and_proposal, visited_at=_at(20))
    _follow_up(rep, stale_and_proposal, -90)
    _proposal(rep, stale_and_proposal)
    proposal = make.customer(rep=rep, code="C-PROPOSAL")
    make.visit(rep, proposal, visited_at=_at(20))
    _proposal(rep, proposal)
    fresh = make.customer(rep=rep, code="D-FRESH")
    make.visit(rep, fresh, visited_at=_at(20))
    _follow_up(rep, fresh, -3)
    db.session.flush()
    items = plan.build_plan(db.session, rep, TODAY, tz=TZ, settings=company_settings(db.session))
    assert [(i.customer.code, i.suggested_purpose) for i in items] == [
        ("D-FRESH", "follow_up"),
        ("B-STALE-PROPOSAL", "proposal"),  # the open proposal, not the 90-day-old follow-up
        ("C-PROPOSAL", "proposal"),
        ("A-STALE", "follow_up"),  # nothing else: the follow-up is still what to go for
    ]
    assert all(
        "follow_up_due" in [r.code for r in i.reasons] for i in items if "STALE" in i.customer.code
    )


def test_open_proposals_are_summed_up_per_customer(make):
    """How many are open, the oldest's day and category (the first made that day), the sum;
    closed ones and ones made after the day do not count."""
    rep = make.user("rep")
    customer = make.customer(rep=rep, code="C-PROP")
    make.visit(rep, customer, visited_at=_at(3))
    oil, tools = make.category("OIL", "潤滑油"), make.category("CUT", "切削工具")
    for days_ago, category, amount, status in [
        (30, tools, 20000, "open"),
        (30, oil, None, "open"),  # made the same day, after it: not the oldest
        (10, oil, 5000, "open"),
        (60, oil, 90000, "won"),
        (-1, oil, 70000, "open"),  # tomorrow's
    ]:
        db.session.add(
            Proposal(
                rep=rep,
                branch_id=rep.branch_id,
                customer=customer,
                category=category,
                kind="other",
                amount=amount,
                proposed_on=TODAY - timedelta(days=days_ago),
                status=status,
                closed_on=TODAY - timedelta(days=1) if status != "open" else None,
            )
        )
    db.session.flush()
    found = plan_facts.open_proposals(db.session, [customer.id], TODAY)
    assert found == {
        customer.id: plan_facts.OpenProposals(3, TODAY - timedelta(days=30), "切削工具", 25000)
    }
    assert plan_facts.open_proposals(db.session, [customer.id], TODAY - timedelta(days=31)) == {}


def test_dormant_date_agrees_with_the_dormant_rule():
    """turns_dormant_on is the first day dormant_on holds, on either side of the rule."""
    for last_visit, last_sale in [
        (date(2026, 9, 1), None),
        (date(2026, 9, 1), date(2026, 6, 20)),
        (date(2026, 9, 1), date(2026, 8, 30)),
    ]:
        first = dormancy.turns_dormant_on(last_visit, last_sale, 60, 90)
        assert first is not None
        assert not dormancy.dormant_on(first - timedelta(days=1), last_visit, last_sale, 60, 90)
        assert dormancy.dormant_on(first, last_visit, last_sale, 60, 90)


# ---- cross-sell ----------------------------------------------------------------------------


@pytest.fixture
def peers(make):
    """A rep's customer C0 among B-rank peers of one branch, and two categories."""
    rep = make.user("rep")
    colleague = make.user("rep", rep.branch)
    oil = make.category("OIL", "潤滑油")
    tools = make.category("CUT", "切削工具")
    target = make.customer(rep=rep, code="C0", rank="B")
    make.visit(rep, target, visited_at=_at(3))
    make.sale(target, TODAY - timedelta(days=10), category=tools)
    others = [make.customer(rep=colleague, rank="B", code=f"P{i}") for i in range(4)]
    return rep, target, oil, tools, others


def _cross_sell(rep):
    items = plan.build_plan(db.session, rep, TODAY, tz=TZ, settings=company_settings(db.session))
    return [r.params for i in items for r in i.reasons if r.code == "cross_sell"]


def test_cross_sell_when_half_the_peers_buy_it(make, peers):
    rep, _target, oil, _tools, others = peers
    for p in others[:2]:  # 2 of 4 peers: exactly the 50 % threshold
        make.sale(p, TODAY - timedelta(days=100), category=oil)
    found = _cross_sell(rep)
    assert found == [
        {
            "category": "潤滑油",
            "category_code": "OIL",
            "share": 0.5,
            "peers": 4,
            "bought": ["切削工具"],
        }
    ]


def test_no_cross_sell_below_the_share_or_with_few_peers(make, peers):
    rep, _target, oil, _tools, others = peers
    make.sale(others[0], TODAY - timedelta(days=100), category=oil)  # 1 of 4
    assert _cross_sell(rep) == []
    make.sale(others[1], TODAY - timedelta(days=100), category=oil)
    others[2].rank = "A"  # 2 of 3 peers is a share, but 3 peers are the least...
    others[3].rank = "A"  # ...and 2 are too few
    db.session.flush()
    assert _cross_sell(rep) == []


def test_peers_are_of_the_same_rank_and_window_is_the_365_days_before(make, peers):
    rep, target, oil, _tools, others = peers
    for p in others[:2]:
        make.sale(p, TODAY - timedelta(days=365), category=oil)  # first day of the window
    assert [c["category_code"] for c in _cross_sell(rep)] == ["OIL"]
    make.sale(target, TODAY - timedelta(days=365), category=oil)  # it bought it: no candidate
    assert _cross_sell(rep) == []


def test_purchases_before_the_window_do_not_count(make, peers):
    rep, target, oil, _tools, others = peers
    for p in others[:3]:
        make.sale(p, TODAY - timedelta(days=366), category=oil)
    assert _cross_sell(rep) == []
    make.sale(target, TODAY - timedelta(days=366), category=oil)
    for p in others[:3]:
        make.sale(p, TODAY - timedelta(days=30), category=oil)
    # Bought only before the window: a candidate again, as derive_kind would call it cross_sell.
    assert [c["category_code"] for c in _cross_sell(rep)] == ["OIL"]


def test_an_inactive_category_is_never_suggested(make, peers):
    rep, _target, oil, _tools, others = peers
    for p in others:
        make.sale(p, TODAY - timedelta(days=30), category=oil)
    oil.active = False
    db.session.flush()
    assert _cross_sell(rep) == []
