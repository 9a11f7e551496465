"""My week: the customers behind each KPI's gap, with one tap to plan a visit."""

from __future__ import annotations

from datetime import date

from fieldlog.app.extensions import db
from fieldlog.models import FollowUp, PlannedVisit
from fieldlog.rules.periods import Period
from fieldlog.services import week_gaps
from fieldlog.services.defaults import company_settings

from .conftest import TZ, csrf_from

TODAY = date(2026, 11, 23)
WEEK = Period.week_of(TODAY)
KEYS = [
    "purposeful_visit_rate",
    "hearing_rate",
    "next_action_rate",
    "additional_proposal_rate",
    "proposal_count",
    "follow_up_rate",
    "dormant_rate",
]


def _gaps(rep):
    found = week_gaps.gaps(
        db.session, rep, WEEK, KEYS, today=TODAY, tz=TZ, settings=company_settings(db.session)
    )
    return {key: [c.code for c in gap.customers] for key, gap in found.items()}


def test_each_gap_lists_the_customers_behind_it(make):
    rep = make.user("rep")
    colleague = make.user("rep", rep.branch)
    make.category("OIL")
    routine = make.customer(rep=rep, code="ROUTINE")
    heard = make.customer(rep=rep, code="HEARD")
    good = make.customer(rep=rep, code="GOOD")
    missed = make.customer(rep=rep, code="MISSED")
    make.customer(rep=rep, code="SLEEPY")
    make.customer(rep=colleague, code="THEIRS")
    make.visit(rep, routine, purpose="routine", hearing_done=False)
    make.visit(rep, heard, purpose="hearing", hearing_done=True)
    make.visit(
        rep,
        good,
        proposal={"category": "OIL", "kind": "cross_sell"},
        next_action={"action": "電話", "due_on": "2026-11-30"},
    )
    make.visit(colleague, missed)  # a colleague's visit is not the rep's gap
    db.session.add(
        FollowUp(
            rep=rep,
            branch_id=rep.branch_id,
            customer=missed,
            action="見積り",
            due_on=TODAY,  # Monday: due this week, not done
        )
    )
    db.session.flush()
    assert _gaps(rep) == {
        "purposeful_visit_rate": ["ROUTINE"],
        "hearing_rate": ["ROUTINE"],
        "next_action_rate": ["HEARD", "ROUTINE"],
        "additional_proposal_rate": ["HEARD", "ROUTINE"],
        "proposal_count": ["HEARD"],
        "follow_up_rate": ["MISSED"],
        # Visited this week by anyone (MISSED by the colleague) is not dormant; never is.
        "dormant_rate": ["SLEEPY"],
    }


def test_my_week_offers_one_tap_to_plan_a_visit(make, client, auth):
    rep = make.user("rep")
    customer = make.customer(rep=rep, code="ROUTINE", name="青空商店")
    make.visit(rep, customer, purpose="routine", hearing_done=False)
    auth.login(rep)
    html = client.get("/me").get_data(as_text=True)
    assert "目的なし訪問の顧客 1社" in html and "青空商店" in html
    client.post(
        "/plan",
        data={
            "csrf_token": csrf_from(html),
            "customer_code": "ROUTINE",
            "date": "2026-11-24",
            "purpose": "hearing",
        },
    )
    planned = db.session.query(PlannedVisit).one()
    assert (planned.customer.code, planned.planned_on, planned.purpose.code) == (
        "ROUTINE",
        date(2026, 11, 24),
        "hearing",
    )
    # Planned: My week says so instead of offering the same tap again.
    html = client.get("/me").get_data(as_text=True)
    assert "の予定に入れる" not in html and "2026/11/24の予定に入れました。" in html


def test_every_customer_behind_a_gap_is_reachable_and_only_own_ones_are_planned(make, client, auth):
    """11 customers behind a gap: 8 shown, "ほか3社を表示" opens the other 3 in place, each with
    its link and plan button; a colleague's customer the rep visited is named, not planned."""
    rep = make.user("rep")
    colleague = make.user("rep", rep.branch, name="鈴木")
    codes = [f"R{i:02d}" for i in range(11)]
    for code in codes:
        make.visit(rep, make.customer(rep=rep, code=code), purpose="routine", hearing_done=False)
    make.visit(rep, make.customer(rep=colleague, code="THEIRS"), purpose="routine")
    db.session.commit()
    found = week_gaps.gaps(
        db.session,
        rep,
        WEEK,
        ["purposeful_visit_rate"],
        today=TODAY,
        tz=TZ,
        settings=company_settings(db.session),
    )["purposeful_visit_rate"]
    assert found.total == 12 and len(found.customers) == week_gaps.SHOWN
    assert [c.code for c in found.customers + found.more] == [*codes, "THEIRS"]
    auth.login(rep)
    html = client.get("/me").get_data(as_text=True)
    more = html[html.index('class="gap-more"') :]
    assert "ほか4社を表示" in more
    for code in [*codes[week_gaps.SHOWN :], "THEIRS"]:
        assert f'<span class="muted">{code}</span>' in more
    forms = more[: more.index("</details>")].count('name="customer_code"')
    assert forms == 3  # the colleague's customer has no plan button
    assert "担当：鈴木" in more
