"""The roll-up against every definition of docs/kpi.md, on SQLite and PostgreSQL."""

from __future__ import annotations

import os
import time
from datetime import date

import pytest
import sqlalchemy as sa

from fieldlog.app.extensions import db
from fieldlog.kpi import (
    KPI_KEYS,
    RATE_KEYS,
    Scope,
    rollup,
    rollup_by,
    trend,
    trend_by,
    trend_with_branches,
)
from fieldlog.models import FollowUp, Proposal, Purpose
from fieldlog.rules.periods import Period
from fieldlog.services.defaults import company_settings

from .conftest import TZ

W46, W47, W48 = (Period.parse(f"2026-W{n}") for n in (46, 47, 48))
TODAY = date(2026, 11, 23)


def roll(scope=None, period=W47, today=TODAY):
    return rollup(db.session, scope or Scope.company(), period, today=today, tz=TZ)


def fig(key, scope=None, period=W47, today=TODAY):
    return roll(scope, period, today)[key].as_dict()


def r(value, num, den):
    return {"value": value, "numerator": num, "denominator": den}


def proposal(
    rep,
    customer,
    proposed_on,
    kind="cross_sell",
    status="open",
    closed_on=None,
    amount=None,
    branch=None,
):
    row = Proposal(
        rep_id=rep.id,
        branch_id=(branch or rep.branch).id,
        customer_id=customer.id,
        kind=kind,
        amount=amount,
        proposed_on=proposed_on,
        status=status,
        closed_on=closed_on,
    )
    db.session.add(row)
    db.session.flush()
    return row


def follow_up(rep, customer, due_on, done_on=None, cancelled=False):
    row = FollowUp(
        rep_id=rep.id,
        branch_id=rep.branch_id,
        customer_id=customer.id,
        action="x",
        due_on=due_on,
        done_on=done_on,
        cancelled=cancelled,
    )
    db.session.add(row)
    db.session.flush()
    return row


@pytest.fixture
def world(make):
    """Two branches; rep a1 (and colleague a2) in A, rep b1 in B; one customer each."""
    a, b = make.branch("A"), make.branch("B")
    a1, a2, b1 = make.user("rep", a), make.user("rep", a), make.user("rep", b)
    ca, cb = make.customer(a, a1), make.customer(b, b1)
    return type("World", (), dict(a=a, b=b, a1=a1, a2=a2, b1=b1, ca=ca, cb=cb))


def test_output_shape_with_nothing_recorded(app):
    figures = roll()
    assert tuple(figures) == KPI_KEYS
    for key, value in figures.items():
        if key in RATE_KEYS:
            assert value.as_dict() == r(None, 0, 0), key
        else:
            assert value.as_dict() == r(0, 0, None), key


@pytest.mark.parametrize(
    "visits, expected",
    [
        # (purpose, hearing_done, with next action) per visit → purposeful, hearing, next action
        ([("hearing", True, True)], (1, 1, 1)),
        ([("routine", False, False), ("called", True, False)], (0, 1, 0)),
        (
            [("proposal", False, True), ("routine", True, False), ("follow_up", False, False)],
            (2, 1, 1),
        ),
    ],
)
def test_visit_rates(world, make, visits, expected):
    for purpose, hearing, action in visits:
        extra = {"next_action": {"action": "call", "due_on": "2026-11-30"}} if action else {}
        make.visit(
            world.a1,
            world.ca,
            purpose=purpose,
            hearing_done=hearing,
            visited_at="2026-11-18T10:00:00+09:00",
            **extra,
        )
    n = len(visits)
    got = roll(Scope.rep(world.a1.id))
    assert got["visit_count"].as_dict() == r(n, n, None)
    for key, num in zip(
        ("purposeful_visit_rate", "hearing_rate", "next_action_rate"), expected, strict=True
    ):
        assert got[key].as_dict() == r(num / n, num, n), key
    assert roll(Scope.rep(world.b1.id))["hearing_rate"].as_dict() == r(None, 0, 0)


def _week_boundary_case(world, make):
    make.visit(world.a1, world.ca, visited_at="2026-11-22T23:30:00+09:00")  # Sunday → W47
    make.visit(world.a1, world.ca, visited_at="2026-11-23T00:30:00+09:00")  # Monday → W48
    make.visit(world.a1, world.ca, visited_at="2026-11-15T23:59:00+09:00")  # Sunday → W46
    make.visit(world.a1, world.ca, visited_at="2026-11-16T00:00:00+09:00")  # Monday → W47
    return [fig("visit_count", period=p)["value"] for p in (W46, W47, W48)]


def test_week_boundaries_in_company_timezone(world, make):
    assert _week_boundary_case(world, make) == [1, 2, 1]


def test_week_boundaries_whatever_the_server_timezone(world, make, monkeypatch):
    monkeypatch.setenv("TZ", "America/New_York")
    time.tzset()
    try:
        if db.engine.dialect.name == "postgresql":
            db.session.execute(sa.text("SET TIME ZONE 'America/New_York'"))
        assert _week_boundary_case(world, make) == [1, 2, 1]
    finally:
        monkeypatch.undo()
        time.tzset()
    assert os.environ.get("TZ") != "America/New_York"


def test_calendar_months(world, make):
    make.visit(world.a1, world.ca, visited_at="2026-10-31T23:30:00+09:00")
    make.visit(world.a1, world.ca, visited_at="2026-11-01T00:30:00+09:00")
    make.visit(world.a1, world.ca, visited_at="2026-11-22T12:00:00+09:00")
    proposal(world.a1, world.ca, date(2026, 10, 31))
    proposal(world.a1, world.ca, date(2026, 11, 30))
    oct_, nov = Period.parse("2026-10"), Period.parse("2026-11")
    assert fig("visit_count", period=oct_)["value"] == 1
    assert fig("visit_count", period=nov)["value"] == 2
    assert fig("proposal_count", period=oct_)["value"] == 1
    assert fig("proposal_count", period=nov)["value"] == 1


def test_rep_who_moved_branch_leaves_old_visits_with_old_branch(world, make):
    make.visit(world.a1, world.ca, visited_at="2026-11-17T10:00:00+09:00")
    world.a1.branch_id = world.b.id
    db.session.flush()
    assert fig("visit_count", Scope.branch(world.a.id))["value"] == 1
    assert fig("visit_count", Scope.branch(world.b.id))["value"] == 0
    assert fig("visit_count", Scope.rep(world.a1.id))["value"] == 1


def test_visit_keeps_purposeful_as_recorded(world, make):
    make.visit(world.a1, world.ca, purpose="routine", visited_at="2026-11-17T10:00:00+09:00")
    routine = db.session.scalars(sa.select(Purpose).where(Purpose.code == "routine")).one()
    routine.purposeful = True
    db.session.flush()
    assert fig("purposeful_visit_rate") == r(0.0, 0, 1)


def test_next_action_counts_a_follow_up_cancelled_later(world, make):
    visit = make.visit(
        world.a1,
        world.ca,
        visited_at="2026-11-17T10:00:00+09:00",
        next_action={"action": "send quote", "due_on": "2026-11-20"},
    )
    make.visit(world.a1, world.ca, visited_at="2026-11-18T10:00:00+09:00")
    visit.follow_ups[0].cancelled = True
    db.session.flush()
    assert fig("next_action_rate") == r(0.5, 1, 2)


def test_additional_proposal_rate_counts_distinct_visited_customers(world, make):
    c1, c2, c3, c4 = (make.customer(world.a, world.a1) for _ in range(4))
    for c in (c1, c1, c2, c3):  # c1 visited twice counts once
        make.visit(world.a1, c, visited_at="2026-11-17T10:00:00+09:00")
    make.visit(world.a1, world.ca, visited_at="2026-11-17T11:00:00+09:00")
    proposal(world.a1, c1, date(2026, 11, 20), kind="upsell")
    proposal(world.a1, c1, date(2026, 11, 21), kind="cross_sell")
    proposal(world.a1, c2, date(2026, 11, 20), kind="other")  # other does not count
    proposal(world.a1, c3, date(2026, 11, 15), kind="cross_sell")  # W46
    proposal(world.a1, c4, date(2026, 11, 20), kind="upsell")  # not visited
    proposal(world.b1, world.ca, date(2026, 11, 20), kind="upsell")  # out of branch scope
    assert fig("additional_proposal_rate", Scope.branch(world.a.id)) == r(0.25, 1, 4)
    assert fig("additional_proposal_rate", Scope.company()) == r(0.5, 2, 4)
    assert fig("additional_proposal_rate", Scope.rep(world.b1.id)) == r(None, 0, 0)


def test_proposal_count_by_own_rep_and_branch(world):
    proposal(world.a1, world.ca, date(2026, 11, 16))
    proposal(world.a1, world.ca, date(2026, 11, 22))
    proposal(world.a1, world.ca, date(2026, 11, 23))
    proposal(world.b1, world.cb, date(2026, 11, 18), kind="other")
    assert fig("proposal_count", Scope.branch(world.a.id)) == r(2, 2, None)
    assert fig("proposal_count", Scope.rep(world.b1.id)) == r(1, 1, None)
    assert fig("proposal_count") == r(3, 3, None)


@pytest.mark.parametrize(
    "kind, status, proposed_on, closed_on, won, closed",
    [
        ("cross_sell", "won", date(2026, 11, 2), date(2026, 11, 18), 1, 1),  # proposed earlier
        ("cross_sell", "lost", date(2026, 11, 16), date(2026, 11, 22), 0, 1),
        ("cross_sell", "won", date(2026, 11, 20), date(2026, 11, 23), 0, 0),  # closed in W48
        ("cross_sell", "open", date(2026, 11, 17), None, 0, 0),
        ("upsell", "won", date(2026, 11, 17), date(2026, 11, 18), 0, 0),
    ],
)
def test_cross_sell_rate_by_closed_on(world, kind, status, proposed_on, closed_on, won, closed):
    proposal(world.a1, world.ca, proposed_on, kind=kind, status=status, closed_on=closed_on)
    expected = r(won / closed, won, closed) if closed else r(None, 0, 0)
    assert fig("cross_sell_rate", Scope.branch(world.a.id)) == expected


@pytest.mark.parametrize(
    "due_on, done_on, cancelled, today, num, den",
    [
        (date(2026, 11, 18), date(2026, 11, 18), False, TODAY, 1, 1),  # on the day
        (date(2026, 11, 18), date(2026, 11, 10), False, TODAY, 1, 1),  # early
        (date(2026, 11, 18), date(2026, 11, 19), False, TODAY, 0, 1),  # late
        (date(2026, 11, 18), None, False, TODAY, 0, 1),  # missed
        (date(2026, 11, 18), None, True, TODAY, 0, 0),  # cancelled
        (date(2026, 11, 23), None, False, TODAY, 0, 0),  # due in W48
        (date(2026, 11, 20), None, False, date(2026, 11, 19), 0, 0),  # not yet due
        (date(2026, 11, 20), None, False, date(2026, 11, 20), 0, 1),  # due today, not done
        # Done early, due date still ahead: done on time, but not yet due (docs/kpi.md).
        (date(2026, 11, 20), date(2026, 11, 19), False, date(2026, 11, 19), 1, 0),
        (date(2026, 11, 20), date(2026, 11, 19), False, date(2026, 11, 20), 1, 1),  # now due
    ],
)
def test_follow_up_rate(world, due_on, done_on, cancelled, today, num, den):
    follow_up(world.a1, world.ca, due_on, done_on, cancelled)
    follow_up(world.b1, world.cb, date(2026, 11, 18))  # other branch
    expected = r(num / den, num, den) if den else r(None, num, 0)
    assert fig("follow_up_rate", Scope.branch(world.a.id), today=today) == expected


@pytest.mark.parametrize(
    "follow_ups, today, expected",
    [
        # (due_on, done_on) per follow-up of W47 (2026-11-16 … 22); today inside the week.
        ([(16, 16), (18, None), (21, 19)], 19, r(1.0, 2, 2)),  # 2 on time, 2 due (16, 18)
        ([(16, 16), (20, 19), (21, 19)], 19, r(3.0, 3, 1)),  # two done before they are due
        ([(20, 19)], 19, r(None, 1, 0)),  # nothing due yet: null, the numerator still shown
        ([(16, 17), (20, 19), (21, None)], 22, r(1 / 3, 1, 3)),  # week over: late, on time, missed
    ],
)
def test_follow_up_rate_counts_each_side_as_defined(world, follow_ups, today, expected):
    for due, done in follow_ups:
        follow_up(world.a1, world.ca, date(2026, 11, due), done and date(2026, 11, done))
    assert fig("follow_up_rate", Scope.branch(world.a.id), today=date(2026, 11, today)) == expected


def test_deepening_rate_365_day_windows(world, make):
    # W47 ends 2026-11-22: W = 2025-11-23 … 2026-11-22, previous = 2024-11-23 … 2025-11-22.
    A, B = make.category(), make.category()
    c = [make.customer(world.a, world.a1) for _ in range(6)]
    c[4].active = False
    sales = [
        (c[0], date(2024, 11, 23), A),
        (c[0], date(2025, 11, 23), A),
        (c[0], date(2026, 11, 22), B),  # 2 > 1
        (c[1], date(2025, 1, 10), A),
        (c[1], date(2025, 11, 22), B),
        (c[1], date(2026, 5, 1), A),  # 1 < 2
        (c[2], date(2024, 11, 22), A),
        (c[2], date(2026, 1, 1), B),  # no sales in previous
        (c[3], date(2025, 6, 1), None),
        (c[3], date(2026, 6, 1), A),  # 1 > 0
        (c[4], date(2025, 6, 1), A),
        (c[4], date(2026, 6, 1), A),
        (c[4], date(2026, 6, 2), B, -500),  # inactive, a return: still counts
        (c[5], date(2025, 6, 1), A),
        (c[5], date(2026, 6, 1), A),
        (c[5], date(2026, 11, 23), B),  # after P.end
    ]
    for customer, day, category, *amount in sales:
        make.sale(customer, day, category=category, amount=amount[0] if amount else 1000)
    assert fig("deepening_rate", Scope.branch(world.a.id)) == r(0.6, 3, 5)
    assert fig("deepening_rate", Scope.branch(world.b.id)) == r(None, 0, 0)


def test_dormant_rate_60_and_90_day_rules(world, make):
    # As of 2026-11-22: visits count from 2026-09-24, sales from 2026-08-25 (days inclusive).
    d = [make.customer(world.a, world.a1) for _ in range(8)]
    world.ca.active = False  # world's own customer out of the way (inactive: excluded)
    recent = "2026-11-10T10:00:00+09:00"
    make.visit(world.a1, d[0], visited_at="2026-09-24T00:30:00+09:00")  # first day in: fine
    make.visit(world.a1, d[1], visited_at="2026-09-23T23:30:00+09:00")  # one day out: dormant
    # d[2] never visited: dormant
    make.visit(world.a1, d[3], visited_at=recent)
    make.sale(d[3], date(2026, 8, 24))  # sales, none in the last 90 days: dormant
    make.visit(world.a1, d[4], visited_at=recent)
    make.sale(d[4], date(2026, 8, 25))  # fine
    make.visit(world.a2, d[5], visited_at=recent)  # visited by a colleague: fine
    make.visit(world.a1, d[6], visited_at="2026-11-23T00:30:00+09:00")  # after P.end: dormant
    make.visit(world.a1, d[7], visited_at=recent)
    make.sale(d[7], date(2026, 11, 23))  # sale after P.end only: fine
    inactive = make.customer(world.a, world.a1, active=False)  # never visited, excluded
    assert inactive.active is False
    assert fig("dormant_rate", Scope.branch(world.a.id)) == r(4 / 8, 4, 8)
    assert fig("dormant_rate", Scope.rep(world.a1.id)) == r(4 / 8, 4, 8)
    assert fig("dormant_rate", Scope.rep(world.a2.id)) == r(None, 0, 0)
    settings = company_settings(db.session)
    settings.dormant_visit_days, settings.dormant_sales_days = 61, 91
    db.session.flush()
    # d[1] now visited in time, d[3]'s sale now recent enough.
    assert fig("dormant_rate", Scope.branch(world.a.id)) == r(2 / 8, 2, 8)


def test_customer_based_figures_follow_current_rep_and_branch(world, make):
    cat = make.category()
    make.sale(world.ca, date(2025, 6, 1), category=cat)
    make.sale(world.ca, date(2026, 11, 18), amount=5000, gross_profit=1000, category=cat)
    make.sale(world.ca, date(2026, 11, 19), amount=-1000, gross_profit=-200)
    make.sale(world.ca, date(2026, 11, 20), amount=3000)  # no gross profit: not in the margin
    make.visit(world.a1, world.ca, visited_at="2026-11-17T10:00:00+09:00")
    a_scope, b_scope = Scope.branch(world.a.id), Scope.branch(world.b.id)
    assert fig("sales_amount", a_scope) == r(7000, 7000, None)
    assert fig("gross_margin_rate", a_scope) == r(0.2, 800, 4000)
    world.ca.branch_id, world.ca.rep_id = world.b.id, world.b1.id
    db.session.flush()
    for key in ("sales_amount", "gross_margin_rate", "deepening_rate", "dormant_rate"):
        assert fig(key, a_scope) == fig(key, Scope.rep(world.a1.id)), key
        assert fig(key, b_scope) == fig(key, Scope.rep(world.b1.id)), key
    assert fig("sales_amount", a_scope) == r(0, 0, None)
    assert fig("sales_amount", b_scope) == r(7000, 7000, None)
    assert fig("deepening_rate", b_scope) == r(0.0, 0, 1)
    assert fig("dormant_rate", b_scope) == r(0.5, 1, 2)  # cb never visited
    assert fig("dormant_rate", a_scope) == r(None, 0, 0)
    assert fig("visit_count", a_scope)["value"] == 1  # the visit stays with its own branch


def test_pipeline_as_of_period_end(world):
    proposal(world.a1, world.ca, date(2026, 11, 20), amount=1000)  # open
    proposal(
        world.a1,
        world.ca,
        date(2026, 11, 1),
        amount=2000,
        status="won",
        closed_on=date(2026, 11, 23),
    )  # closed after P.end: still open at P.end
    proposal(
        world.a1,
        world.ca,
        date(2026, 11, 1),
        amount=4000,
        status="lost",
        closed_on=date(2026, 11, 22),
    )  # closed on P.end
    proposal(world.a1, world.ca, date(2026, 11, 23), amount=8000)  # after P.end
    proposal(world.a1, world.ca, date(2026, 1, 5))  # no amount adds 0
    assert fig("pipeline_count", Scope.branch(world.a.id)) == r(3, 3, None)
    assert fig("pipeline_amount", Scope.branch(world.a.id)) == r(3000, 3000, None)
    assert fig("pipeline_count", Scope.branch(world.b.id)) == r(0, 0, None)


def test_gross_margin_null_without_gross_profit(world, make):
    make.sale(world.ca, date(2026, 11, 18), amount=5000)
    assert fig("gross_margin_rate") == r(None, 0, 0)
    assert fig("sales_amount") == r(5000, 5000, None)


def test_sales_count_inactive_customers_and_returns(world, make):
    world.ca.active = False
    make.sale(world.ca, date(2026, 11, 16), amount=10000, gross_profit=3000)
    make.sale(world.ca, date(2026, 11, 22), amount=-2000, gross_profit=-500)
    make.sale(world.ca, date(2026, 11, 23), amount=99999, gross_profit=1)  # W48
    assert fig("sales_amount", Scope.rep(world.a1.id)) == r(8000, 8000, None)
    assert fig("gross_margin_rate", Scope.branch(world.a.id)) == r(2500 / 8000, 2500, 8000)
    assert fig("dormant_rate", Scope.branch(world.a.id)) == r(None, 0, 0)


def _populate(world, make):
    cat = make.category()
    for rep, c in ((world.a1, world.ca), (world.a2, world.ca), (world.b1, world.cb)):
        for day in ("2026-11-03", "2026-11-10", "2026-11-17"):
            make.visit(
                rep,
                c,
                visited_at=f"{day}T10:00:00+09:00",
                purpose="routine",
                proposal={"category": cat.code},
                next_action={"action": "x", "due_on": day},
            )
    make.sale(world.ca, date(2026, 11, 12), amount=2000, gross_profit=500)
    make.sale(world.cb, date(2026, 11, 18), amount=7000)


def test_rollup_by_and_trend_equal_single_rollups(world, make):
    _populate(world, make)
    periods = W47.trailing(3)
    by_branch = rollup_by(db.session, "branch", W47, today=TODAY, tz=TZ)
    assert set(by_branch) == {world.a.id, world.b.id}
    for branch_id, figures in by_branch.items():
        assert figures == roll(Scope.branch(branch_id))
    by_rep = rollup_by(db.session, "rep", W47, branch_id=world.a.id, today=TODAY, tz=TZ)
    assert set(by_rep) == {world.a1.id, world.a2.id}
    for rep_id, figures in by_rep.items():
        assert figures == roll(Scope.rep(rep_id))
    series = trend(db.session, Scope.branch(world.a.id), periods, today=TODAY, tz=TZ)
    assert series == [roll(Scope.branch(world.a.id), p) for p in periods]
    assert [s["visit_count"].value for s in series] == [2, 2, 2]
    per_branch = trend_by(db.session, "branch", periods, keys=["sales_amount"], today=TODAY, tz=TZ)
    assert [s["sales_amount"].value for s in per_branch[world.a.id]] == [0, 2000, 0]
    assert [s["sales_amount"].value for s in per_branch[world.b.id]] == [0, 0, 7000]


def test_company_with_branches_equals_separate_trends(world, make):
    _populate(world, make)
    # ca moves to branch B and is visited from there too: the company counts it once.
    world.ca.branch_id, world.ca.rep_id = world.b.id, world.b1.id
    db.session.flush()
    make.visit(world.b1, world.ca, visited_at="2026-11-18T10:00:00+09:00", purpose="routine")
    make.sale(world.cb, date(2025, 11, 2), category=make.category())
    make.sale(world.cb, date(2026, 11, 2), category=make.category())
    db.session.flush()
    periods = W47.trailing(3)
    company, by_branch = trend_with_branches(db.session, periods, today=TODAY, tz=TZ)
    assert company == trend(db.session, Scope.company(), periods, today=TODAY, tz=TZ)
    assert by_branch == trend_by(db.session, "branch", periods, today=TODAY, tz=TZ)
    w47 = company[-1]
    assert w47["additional_proposal_rate"].denominator == 2  # ca (from A and B), cb
    assert sum(b[-1]["additional_proposal_rate"].denominator for b in by_branch.values()) == 3


def test_trend_costs_a_bounded_number_of_queries(world, make):
    _populate(world, make)
    statements: list[str] = []

    def count(conn, cursor, statement, *args):
        statements.append(statement)

    company_settings(db.session)
    sa.event.listen(db.engine, "before_cursor_execute", count)
    try:
        trend(db.session, Scope.company(), W47.trailing(2), today=TODAY, tz=TZ)
        two = len(statements)
        statements.clear()
        trend_by(db.session, "branch", W47.trailing(13), today=TODAY, tz=TZ)
        thirteen = len(statements)
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", count)
    # One per source, two for dormant_rate's summary (its state, the active customers).
    assert two <= 12
    assert thirteen <= two + 1  # + the list of branches


def test_unknown_keys_and_groups_are_refused(app):
    with pytest.raises(ValueError, match="unknown KPI"):
        trend(db.session, Scope.company(), [W47], keys=["nope"], today=TODAY, tz=TZ)
    with pytest.raises(ValueError, match="group"):
        rollup_by(db.session, "team", W47, today=TODAY, tz=TZ)


def test_pipeline_trend_equals_single_periods(world):
    proposal(world.a1, world.ca, date(2026, 11, 3), amount=100)
    proposal(
        world.a1,
        world.ca,
        date(2026, 11, 4),
        amount=200,
        status="won",
        closed_on=date(2026, 11, 17),
    )
    proposal(
        world.a1,
        world.ca,
        date(2026, 11, 10),
        amount=400,
        status="lost",
        closed_on=date(2026, 11, 15),
    )
    proposal(world.b1, world.cb, date(2026, 11, 18), amount=800)
    periods = [W48, W46, Period.parse("2026-11"), W47]  # any order, mixed kinds
    series = trend(
        db.session,
        Scope.branch(world.a.id),
        periods,
        today=TODAY,
        tz=TZ,
        keys=["pipeline_count", "pipeline_amount"],
    )
    assert [s["pipeline_amount"].value for s in series] == [100, 300, 100, 100]
    assert [s["pipeline_count"].value for s in series] == [1, 2, 1, 1]
    by = trend_by(db.session, "branch", periods, keys=["pipeline_amount"], today=TODAY, tz=TZ)
    assert [s["pipeline_amount"].value for s in by[world.b.id]] == [800, 0, 800, 800]


OCT, NOV = Period.parse("2026-10"), Period.parse("2026-11")


def _months_case(world, make):
    """Events on both sides of the October/November boundary (today is 2026-11-23)."""
    a1, ca = world.a1, world.ca
    c2 = make.customer(world.a, a1)
    make.visit(a1, ca, visited_at="2026-10-31T23:30:00+09:00")  # October, local date
    make.visit(
        a1,
        ca,
        visited_at="2026-11-01T00:30:00+09:00",
        next_action={"action": "call", "due_on": "2026-11-20"},  # due, missed
    )
    make.visit(
        a1, c2, visited_at="2026-11-15T10:00:00+09:00", purpose="routine", hearing_done=False
    )
    for proposed_on, kind, status, closed_on, amount in [
        (date(2026, 10, 1), "cross_sell", "won", date(2026, 10, 31), 100),
        (date(2026, 10, 30), "cross_sell", "lost", date(2026, 11, 1), 200),  # closed next month
        (date(2026, 11, 30), "cross_sell", "open", None, 400),
        (date(2026, 11, 1), "upsell", "won", date(2026, 11, 30), 800),
    ]:
        proposal(a1, ca, proposed_on, kind, status, closed_on, amount)
    follow_up(a1, ca, date(2026, 10, 31), date(2026, 10, 31))
    follow_up(a1, ca, date(2026, 11, 1))  # missed
    follow_up(a1, ca, date(2026, 11, 30))  # not yet due
    follow_up(a1, ca, date(2026, 12, 1))
    cat_a, cat_b, cat_c, cat_d = (make.category() for _ in range(4))
    for sold_on, category, amount, gross_profit in [
        (date(2025, 10, 31), cat_a, 100, None),  # last day of October's previous 365 days
        (date(2025, 11, 30), cat_b, 100, None),  # last day of November's previous 365 days
        (date(2026, 6, 1), cat_c, 100, None),
        (date(2026, 10, 31), None, 1000, 300),
        (date(2026, 11, 1), None, 2000, None),  # no gross profit: out of the margin
        (date(2026, 11, 30), cat_c, 3000, 600),
        (date(2026, 12, 1), cat_d, 9999, 9999),
    ]:
        make.sale(ca, sold_on, category=category, amount=amount, gross_profit=gross_profit)


@pytest.mark.parametrize(
    "key, october, november",
    [
        ("visit_count", r(1, 1, None), r(2, 2, None)),
        ("purposeful_visit_rate", r(1.0, 1, 1), r(0.5, 1, 2)),
        ("hearing_rate", r(1.0, 1, 1), r(0.5, 1, 2)),
        ("next_action_rate", r(0.0, 0, 1), r(0.5, 1, 2)),
        ("proposal_count", r(2, 2, None), r(2, 2, None)),
        ("additional_proposal_rate", r(1.0, 1, 1), r(0.5, 1, 2)),
        ("cross_sell_rate", r(1.0, 1, 1), r(0.0, 0, 1)),
        # November: due 1st and 20th missed; due 30th not yet due on the 23rd.
        ("follow_up_rate", r(1.0, 1, 1), r(0.0, 0, 2)),
        # October: {B, C} in W against {A} before; November: {C} against {A, B}.
        ("deepening_rate", r(1.0, 1, 1), r(0.0, 0, 1)),
        # As of 31 October c2 was never visited; by 30 November it was.
        ("dormant_rate", r(0.5, 1, 2), r(0.0, 0, 2)),
        ("pipeline_count", r(1, 1, None), r(1, 1, None)),
        ("pipeline_amount", r(200, 200, None), r(400, 400, None)),
        ("sales_amount", r(1000, 1000, None), r(5000, 5000, None)),
        ("gross_margin_rate", r(0.3, 300, 1000), r(0.2, 600, 3000)),
    ],
)
def test_every_kpi_over_calendar_months_and_a_rep_moving_branch(
    world, make, key, october, november
):
    _months_case(world, make)
    a, b, a1 = Scope.branch(world.a.id), Scope.branch(world.b.id), Scope.rep(world.a1.id)
    assert [fig(key, a, p) for p in (OCT, NOV)] == [october, november]
    assert [fig(key, a1, p) for p in (OCT, NOV)] == [october, november]
    before_b = [fig(key, b, p) for p in (OCT, NOV)]
    # The rep moves to branch B: their visits, proposals and follow-ups stay with branch A
    # (their own branch column), the customers stay with A; the rep keeps their history.
    world.a1.branch_id = world.b.id
    db.session.flush()
    assert [fig(key, a, p) for p in (OCT, NOV)] == [october, november]
    assert [fig(key, a1, p) for p in (OCT, NOV)] == [october, november]
    assert [fig(key, b, p) for p in (OCT, NOV)] == before_b


def test_open_at_one_rule_for_the_rollup_the_forecast_and_plain_rows(world):
    """The pipeline KPIs (SQL, kpi.rollup_ends), the forecast's open proposals (numpy,
    kpi.forecast_pipeline) and rules.proposals.open_at on the rows count the same proposals."""
    import random

    from fieldlog.kpi.forecast_data import load_history
    from fieldlog.kpi.forecast_pipeline import _Cohort
    from fieldlog.rules.proposals import NEVER, open_at

    rng = random.Random(15)
    start = date(2026, 8, 3)
    rows = []
    for n in range(120):
        proposed = date.fromordinal(start.toordinal() + rng.randrange(0, 100))
        shape = n % 5
        if shape == 0:
            closed = None  # still open
        elif shape == 1:
            closed = proposed  # closed the day it was made
        elif shape == 2:
            closed = date.fromordinal(proposed.toordinal() - 1)  # a correction: never open
        else:
            closed = date.fromordinal(proposed.toordinal() + rng.randrange(0, 40))
        amount = None if n % 7 == 0 else rng.randrange(1, 50) * 1000
        status = "open" if closed is None else rng.choice(["won", "lost"])
        rep, customer = (world.a1, world.ca) if n % 2 else (world.b1, world.cb)
        proposal(rep, customer, proposed, status=status, closed_on=closed, amount=amount)
        rows.append((proposed, closed or NEVER, amount or 0))
    weeks = [Period.parse(f"2026-W{n}") for n in range(32, 50)]
    series = trend(
        db.session,
        Scope.company(),
        weeks,
        today=TODAY,
        tz=TZ,
        keys=["pipeline_count", "pipeline_amount"],
    )
    assert max(s["pipeline_count"].value for s in series) > 10  # not an empty agreement
    for week, figures in zip(weeks, series, strict=True):
        end = week.end
        by_rule = [a for p, c, a in rows if open_at(p, c, end)]
        history = load_history(db.session, Scope.company(), until=end)
        cohort = _Cohort(history, end.toordinal())
        assert figures["pipeline_count"].value == len(by_rule) == int(cohort.open_now.sum())
        forecast_amount = sum(cohort.open_by_kind_and_age(end.toordinal()).values())
        assert figures["pipeline_amount"].value == sum(by_rule) == forecast_amount
