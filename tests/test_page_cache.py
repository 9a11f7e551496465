"""Today and the plan kept while the data's stamp holds (web/page_cache.py, services/data_stamp.py).

Each write the plan or Today depends on must show on the next view; a kept page must never
carry another session's CSRF token, another user's data or a flash message twice.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta

import pytest

from fieldlog.app.extensions import db
from fieldlog.models import Category, Customer, FollowUp, PlannedVisit, Purpose
from fieldlog.services import data_stamp, plan

from .conftest import csrf_from, visit_payload

TODAY = date(2026, 11, 23)


@pytest.fixture
def world(app, make):
    # Kept at once: the tests' writes are milliseconds apart (production waits 2 s).
    app.config["FIELDLOG_PAGE_CACHE_SETTLE"] = 0.0
    branch = make.branch()
    rep = make.user("rep", branch, email="rep@example.jp")
    colleague = make.user("rep", branch, email="colleague@example.jp")
    mine = make.customer(branch, rep, code="C001", name="青空商店")
    theirs = make.customer(branch, colleague, code="C002", name="緑川工業")
    due = FollowUp(
        rep=rep, branch_id=branch.id, customer=mine, action="見積りを届ける", due_on=TODAY
    )
    db.session.add(due)
    db.session.commit()
    return locals()


@pytest.fixture
def builds(monkeypatch):
    """How many times the plan is built."""
    calls = []
    real = plan.build_plan

    def counted(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(plan, "build_plan", counted)
    return calls


# A CSRF token is the session's value, signed with the second it was served in: two views a
# second apart differ there alone (WTForms' signed token).
_TOKEN = re.compile(r'(name="csrf_token" value=")([^".]+)\.[^"]+(")')


def _unsigned(html: str) -> str:
    """The page with each CSRF token cut to the session's value it signs."""
    return _TOKEN.sub(r"\1\2\3", html)


def _today(client) -> str:
    answer = client.get("/")
    assert answer.status_code == 200
    return answer.get_data(as_text=True)


def test_a_second_view_is_served_kept_with_the_sessions_own_token(client, auth, world, builds):
    auth.login(world["rep"])
    first = _today(client)
    second = _today(client)
    assert len(builds) == 1
    assert _unsigned(first) == _unsigned(second)
    assert "\x00" not in second
    assert csrf_from(second).split(".")[0] == csrf_from(first).split(".")[0]
    # The token in a kept page works for a write.
    answer = client.post(
        f"/follow-ups/{world['due'].id}/reschedule",
        data={"csrf_token": csrf_from(second), "due_on": "2026-11-30"},
    )
    assert answer.status_code == 302


def test_another_login_gets_its_own_token_and_another_user_their_own_page(app, auth, world, builds):
    one, two = app.test_client(), app.test_client()
    type(auth)(one).login(world["rep"])
    type(auth)(two).login(world["rep"])
    page_one, page_two = _today(one), _today(two)
    assert len(builds) == 1  # the same user, language, day and path: one build
    assert csrf_from(page_one) != csrf_from(page_two)
    other = app.test_client()
    type(auth)(other).login(world["colleague"])
    theirs = _today(other)
    assert "緑川工業" in theirs and "緑川工業" not in page_one
    assert len(builds) == 2
    # Another path (the branch's plan) is kept apart.
    assert "緑川工業" in one.get("/?scope=branch").get_data(as_text=True)


def test_writes_through_the_app_show_on_the_next_view(client, auth, world, builds):
    auth.login(world["rep"])
    token = csrf_from(_today(client))
    assert "見積りを届ける" in _today(client)
    client.post(f"/follow-ups/{world['due'].id}/done", data={"csrf_token": token})
    assert "見積りを届ける" not in _today(client)
    # A visit logged through the API shows among the recent ones.
    recent = _today(client).split('id="recent-head"')[1]
    assert "青空商店" not in recent
    answer = client.post(
        "/api/v1/visits", json=visit_payload("C001"), headers={"X-CSRFToken": token}
    )
    assert answer.status_code == 201, answer.get_data(as_text=True)
    assert "青空商店" in _today(client).split('id="recent-head"')[1]
    client.post("/plan", data={"csrf_token": token, "customer_code": "C001", "purpose": "hearing"})
    assert db.session.query(PlannedVisit).count() == 1
    assert "予定：" in _today(client)


@pytest.mark.parametrize(
    "change",
    ["rename customer", "move customer", "rename category", "retire purpose", "settings"],
)
def test_changes_made_elsewhere_move_the_stamp(app, world, make, change):
    before = data_stamp.stamp(db.session, world["branch"].id)
    if change == "rename customer":
        world["mine"].name = "青空商店（新）"
    elif change == "move customer":
        world["mine"].rep_id = world["colleague"].id
    elif change == "rename category":
        category = db.session.query(Category).first() or make.category()
        db.session.commit()
        before = data_stamp.stamp(db.session, world["branch"].id)
        category.name = category.name + "（改）"
    elif change == "retire purpose":
        db.session.query(Purpose).filter_by(code="hearing").one().active = False
    else:
        from fieldlog.services.defaults import company_settings

        company_settings(db.session).dormant_visit_days += 1
    db.session.commit()
    assert data_stamp.stamp(db.session, world["branch"].id) != before


def test_a_flash_is_shown_once_and_never_kept(client, auth, world, builds):
    auth.login(world["rep"])
    token = csrf_from(_today(client))
    client.post("/plan", data={"csrf_token": token, "customer_code": "C001"})
    flashed = _today(client)
    assert "flash-success" in flashed
    again = _today(client)
    assert "flash-success" not in again


def test_nothing_is_kept_while_the_newest_change_is_younger_than_the_margin(
    app, client, auth, world, builds
):
    app.config["FIELDLOG_PAGE_CACHE_SETTLE"] = 3600.0
    auth.login(world["rep"])
    _today(client)
    _today(client)
    assert len(builds) == 2


def test_settled():
    margin = timedelta(seconds=2)
    now = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)
    young = (now - timedelta(seconds=1)).replace(tzinfo=None)
    old = (now - timedelta(seconds=3)).replace(tzinfo=None)
    values = [None] * 40
    assert data_stamp.settled(tuple(values), now, margin)
    values[data_stamp._INSTANTS[0]] = old
    assert data_stamp.settled(tuple(values), now, margin)
    values[data_stamp._INSTANTS[-1]] = young.isoformat(sep=" ")  # SQLite's text
    assert not data_stamp.settled(tuple(values), now, margin)


def test_the_api_plan_is_kept_and_follows_the_data(client, auth, world, builds):
    auth.login(world["rep"])
    first = client.get("/api/v1/plan")
    second = client.get("/api/v1/plan")
    assert first.status_code == second.status_code == 200
    assert second.mimetype == "application/json"
    assert first.get_json() == second.get_json()
    assert len(builds) == 1
    customer = db.session.get(Customer, world["mine"].id)
    customer.name = "青空商店（新）"
    db.session.commit()
    names = [i["customer_name"] for i in client.get("/api/v1/plan").get_json()["items"]]
    assert names == ["青空商店（新）"]
    # Another date is another answer.
    tomorrow = client.get("/api/v1/plan?date=2026-11-24").get_json()
    assert tomorrow["date"] == "2026-11-24"


def test_the_least_recently_used_go_first_past_the_size():
    from fieldlog.web.page_cache import PageCache

    cache = PageCache(size=10)
    cache.put("a", (1,), "aaaa")
    cache.put("b", (1,), "bbbb")
    assert cache.get("a", (1,)) == "aaaa"  # a is now the most recent
    cache.put("c", (1,), "cccc")  # 12 > 10: b goes
    assert cache.get("b", (1,)) is None
    assert cache.get("a", (1,)) == "aaaa" and cache.get("c", (1,)) == "cccc"
    assert cache.get("a", (2,)) is None  # another stamp: gone
    assert cache.held == 4
