"""GET/POST /api/v1/plan and follow-up reschedule (docs/contract.md), with CSRF on."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from fieldlog.app.extensions import db
from fieldlog.models import PlannedVisit

from .conftest import visit_payload
from .test_api import post


@pytest.fixture
def world(make):
    branch = make.branch("TKY", "東京支店")
    other = make.branch("OSK", "大阪支店")
    rep = make.user("rep", branch, email="rep@example.jp")
    colleague = make.user("rep", branch, email="colleague@example.jp")
    mine = make.customer(branch, rep, code="C-1", name="山田工業")
    theirs = make.customer(branch, colleague, code="C-2")
    foreign = make.customer(other, code="C-9")
    db.session.commit()
    return locals()


def test_plan_of_today_lists_own_customers_with_reasons(client, auth, world):
    auth.login(world["rep"])
    answer = client.get("/api/v1/plan")
    assert answer.status_code == 200
    body = answer.get_json()
    assert body["date"] == "2026-11-23"
    assert [i["customer_code"] for i in body["items"]] == ["C-1"]
    item = body["items"][0]
    assert item["customer_name"] == "山田工業"
    codes = [r["code"] for r in item["reasons"]]
    assert codes == ["dormant_risk", "overdue_cycle"]
    assert all(r["detail"] for r in item["reasons"])
    assert item["suggested_purpose"] == "hearing" and item["suggestion"]


@pytest.mark.parametrize(
    "date,status",
    [
        ("2027-11-23", 200),  # a year ahead
        ("2025-11-23", 200),  # a year back
        ("2027-11-24", 422),
        ("2025-11-22", 422),
        ("2026-13-01", 422),
        ("tomorrow", 422),
    ],
)
def test_plan_date_within_a_year(client, auth, world, date, status):
    auth.login(world["rep"])
    answer = client.get(f"/api/v1/plan?date={date}")
    assert answer.status_code == status
    if status == 422:
        body = answer.get_json()
        assert body["error"] == "invalid" and "date" in body["errors"]


def test_plan_needs_login(client, world):
    answer = client.get("/api/v1/plan")
    assert (answer.status_code, answer.get_json()["error"]) == (401, "unauthorized")


def planned_rows() -> int:
    return db.session.scalar(select(func.count(PlannedVisit.id)))


def test_planning_twice_is_one_plan(client, auth, world):
    auth.login(world["rep"])
    token = auth.csrf()
    body = {"date": "2026-11-25", "customer_code": "C-1", "purpose": "proposal", "note": "新製品"}
    first = post(client, "/api/v1/plan", body, token)
    assert first.status_code == 201
    item = first.get_json()
    assert item["date"] == "2026-11-25" and item["customer_code"] == "C-1"
    assert item["reasons"][0]["code"] == "planned"
    assert item["suggested_purpose"] == "proposal" and item["purpose"] == "proposal"
    again = post(client, "/api/v1/plan", body, token)
    assert again.status_code == 200 and again.get_json() == item
    assert planned_rows() == 1
    day = client.get("/api/v1/plan?date=2026-11-25").get_json()
    assert day["items"][0]["customer_code"] == "C-1"
    assert day["items"][0]["suggested_purpose"] == "proposal"


def test_planning_a_colleagues_customer_of_the_branch(client, auth, world):
    auth.login(world["rep"])
    token = auth.csrf()
    answer = post(client, "/api/v1/plan", {"date": "2026-11-23", "customer_code": "C-2"}, token)
    assert answer.status_code == 201
    codes = [i["customer_code"] for i in client.get("/api/v1/plan").get_json()["items"]]
    assert "C-2" in codes


@pytest.mark.parametrize(
    "body,status,field",
    [
        ({"date": "2026-11-23", "customer_code": "NOPE"}, 404, None),
        ({"date": "2026-11-23", "customer_code": "C-9"}, 404, None),
        ({"date": "2026-11-23"}, 404, None),
        ({"date": "2028-01-01", "customer_code": "C-1"}, 422, "date"),
        ({"date": "23/11/2026", "customer_code": "C-1"}, 422, "date"),
        ({"date": "2026-11-23", "customer_code": "C-1", "purpose": "nap"}, 422, "purpose"),
        ({"date": "2026-11-23", "customer_code": "C-1", "note": "x" * 2001}, 422, "note"),
    ],
)
def test_bad_plans_are_refused(client, auth, world, body, status, field):
    auth.login(world["rep"])
    answer = post(client, "/api/v1/plan", body, auth.csrf())
    assert answer.status_code == status
    error = answer.get_json()
    if field:
        assert error["error"] == "invalid" and field in error["errors"]
    else:
        assert error["error"] == "not_found"
    assert planned_rows() == 0


def test_plan_post_checks_login_then_csrf(client, auth, world):
    path = "/api/v1/plan"
    anonymous = client.post(path, json={}, headers={"X-CSRFToken": "forged"})
    assert anonymous.status_code == 401
    auth.login(world["rep"])
    forged = client.post(path, json={}, headers={"X-CSRFToken": "forged"})
    assert (forged.status_code, forged.get_json()["error"]) == (400, "csrf_failed")


# ---- reschedule --------------------------------------------------------------------------


def _follow_up_id(client, token, visited_at="2026-11-20T10:00:00+09:00") -> int:
    body = post(
        client,
        "/api/v1/visits",
        visit_payload(
            "C-1", visited_at=visited_at, next_action={"action": "電話", "due_on": "2026-11-21"}
        ),
        token,
    ).get_json()
    return body["follow_up"]["id"]


def test_reschedule_moves_the_due_date(client, auth, world):
    auth.login(world["rep"])
    token = auth.csrf()
    fu = _follow_up_id(client, token)
    path = f"/api/v1/follow-ups/{fu}/reschedule"
    moved = post(client, path, {"due_on": "2026-12-01"}, token)
    assert moved.status_code == 200 and moved.get_json()["due_on"] == "2026-12-01"
    again = post(client, path, {"due_on": "2026-12-01"}, token)
    assert again.status_code == 200
    # The visit's own day is allowed; the day before is not.
    assert post(client, path, {"due_on": "2026-11-20"}, token).status_code == 200
    early = post(client, path, {"due_on": "2026-11-19"}, token)
    assert early.status_code == 422 and "due_on" in early.get_json()["errors"]
    for bad in ("", "2026-02-30", None, "2028-01-01"):
        answer = post(client, path, {"due_on": bad}, token)
        assert answer.status_code == 422 and "due_on" in answer.get_json()["errors"]


def test_reschedule_outside_scope_is_404(client, auth, world, make):
    auth.login(world["rep"])
    fu = _follow_up_id(client, auth.csrf())
    auth.logout()
    path = f"/api/v1/follow-ups/{fu}/reschedule"
    auth.login(world["colleague"])
    answer = post(client, path, {"due_on": "2026-12-01"}, auth.csrf())
    assert (answer.status_code, answer.get_json()["error"]) == (404, "not_found")
    auth.logout()
    auth.login(make.user("manager", world["other"]))
    assert post(client, path, {"due_on": "2026-12-01"}, auth.csrf()).status_code == 404
    assert post(client, "/api/v1/follow-ups/99999/reschedule", {}, auth.csrf()).status_code == 404


def test_a_done_follow_up_is_not_rescheduled(client, auth, world):
    auth.login(world["rep"])
    token = auth.csrf()
    fu = _follow_up_id(client, token)
    post(client, f"/api/v1/follow-ups/{fu}/done", {"done_on": "2026-11-22"}, token)
    answer = post(client, f"/api/v1/follow-ups/{fu}/reschedule", {"due_on": "2026-12-01"}, token)
    assert answer.status_code == 422 and "due_on" in answer.get_json()["errors"]
