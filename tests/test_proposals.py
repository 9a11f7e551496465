"""Correcting a proposal: who may, what is checked, and the history kept."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from fieldlog.app.extensions import db
from fieldlog.models import ProposalRevision
from fieldlog.rules.limits import MAX_AMOUNT
from fieldlog.services.errors import Forbidden, Invalid
from fieldlog.services.proposals import can_correct, correct_proposal

from .conftest import NOW, TZ, csrf_from

TODAY = date(2026, 11, 23)


@pytest.fixture
def world(make):
    branch = make.branch("TKY", "東京支店")
    rep = make.user("rep", branch)
    colleague = make.user("rep", branch)
    manager = make.user("manager", branch)
    other_manager = make.user("manager", make.branch("OSK", "大阪支店"))
    owner = make.user("owner")
    customer = make.customer(branch, rep, code="C-1")
    make.category("OIL", "潤滑油")
    tools = make.category("TOOL", "工具")
    make.sale(customer, date(2026, 6, 1), category=tools)
    visit = make.visit(rep, customer, proposal={"category": "OIL", "amount": 1000})
    proposal = visit.proposals[0]
    proposal.amount = 100_000_000_000  # stored before the amount rule: beyond the range
    db.session.commit()
    return locals()


def correct(user, proposal, now=NOW, **changes):
    return correct_proposal(db.session, user, proposal, changes, now=now, today=TODAY)


@pytest.mark.parametrize(
    ("who", "days_later", "allowed"),
    [
        ("rep", 0, True),
        ("rep", 6, True),
        ("rep", 8, False),
        ("colleague", 0, False),
        ("manager", 400, True),
        ("owner", 400, True),
        ("other_manager", 0, False),
    ],
)
def test_who_may_correct(world, who, days_later, allowed):
    later = world["proposal"].created_at + timedelta(days=days_later)
    assert can_correct(world[who], world["proposal"], now=later) is allowed
    if not allowed:
        with pytest.raises(Forbidden):
            correct(world[who], world["proposal"], now=later, amount=1)


def test_a_manager_corrects_amount_category_and_status_with_history(world):
    proposal = world["proposal"]
    revision = correct(world["manager"], proposal, amount=120_000, category="TOOL", status="won")
    assert (proposal.amount, proposal.category.code, proposal.status) == (120_000, "TOOL", "won")
    assert proposal.closed_on == TODAY
    # TOOL was bought in the year before: the kind follows the new category.
    assert proposal.kind == "upsell"
    assert revision.changes == {
        "amount": [100_000_000_000, 120_000],
        "category": ["OIL", "TOOL"],
        "status": ["open", "won"],
        "closed_on": [None, TODAY.isoformat()],
        "kind": ["cross_sell", "upsell"],
    }
    assert revision.user_id == world["manager"].id
    # Back to open clears the closing date; nothing changed keeps no revision.
    correct(world["manager"], proposal, status="open")
    assert proposal.closed_on is None
    assert correct(world["manager"], proposal, status="open") is None
    assert db.session.query(ProposalRevision).count() == 2


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"amount": MAX_AMOUNT + 1}, "amount"),
        ({"amount": -1}, "amount"),
        ({"amount": "たくさん"}, "amount"),
        ({"category": "NOPE"}, "category"),
        ({"status": "maybe"}, "status"),
        ({"status": "won", "closed_on": "2020-01-01"}, "closed_on"),
        ({"status": "won", "closed_on": "2099-01-01"}, "closed_on"),
        ({"status": "lost", "closed_on": "x"}, "closed_on"),
    ],
)
def test_bad_corrections_name_the_field(world, changes, field):
    with pytest.raises(Invalid) as caught:
        correct(world["manager"], world["proposal"], **changes)
    assert field in caught.value.errors
    assert world["proposal"].revisions == []


def test_correction_page(client, auth, world):
    """The too-large amount that broke the dashboards is corrected from the page."""
    proposal_id = world["proposal"].id
    auth.login(world["manager"])
    page = client.get(f"/proposals/{proposal_id}/edit")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    bad = client.post(
        f"/proposals/{proposal_id}/edit",
        data={"csrf_token": csrf_from(html), "amount": "100,000,000,000", "status": "open"},
    )
    assert bad.status_code == 422 and 'id="amount-error"' in bad.get_data(as_text=True)
    good = client.post(
        f"/proposals/{proposal_id}/edit",
        data={"csrf_token": csrf_from(html), "amount": "¥120,000", "category": "OIL"},
    )
    assert good.status_code == 302
    history = client.get(good.headers["Location"]).get_data(as_text=True)
    assert "金額: 100000000000 → 120000" in history
    assert "/proposals/" in client.get("/proposals").get_data(as_text=True)
    auth.logout()
    auth.login(world["colleague"])
    assert client.get(f"/proposals/{proposal_id}/edit").status_code == 404


def test_open_proposals_are_paged_newest_first(client, auth, make):
    """A branch with hundreds of open proposals gets pages of 20, not one endless page."""
    branch = make.branch("TKY", "東京支店")
    rep = make.user("rep", branch)
    customer = make.customer(branch, rep, code="C-1")
    make.category("OIL", "潤滑油")
    for day in range(25):
        when = (NOW - timedelta(days=day, hours=1)).astimezone(TZ).isoformat()
        make.visit(rep, customer, visited_at=when, proposal={"category": "OIL", "amount": day + 1})
    closed = make.visit(rep, customer, proposal={"category": "OIL", "amount": 777})
    closed.proposals[0].status, closed.proposals[0].closed_on = "won", TODAY
    db.session.commit()
    auth.login(rep)
    first = client.get("/proposals").get_data(as_text=True)
    assert '<span class="count">25</span>' in first
    assert first.count('data-outbox="proposal_close" data-id=') == 20 + 1  # 20 open, 1 closed
    assert "¥1 ·" in first and "¥21 ·" not in first  # newest proposed first
    assert "1 / 2 ページ" in first and "?page=2" in first
    second = client.get("/proposals?page=2").get_data(as_text=True)
    assert second.count('data-outbox="proposal_close" data-id=') == 5
    assert "¥25 ·" in second and "¥777" not in second  # closed ones only on the first page
    assert client.get("/proposals?page=3").status_code == 404
