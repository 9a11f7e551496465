"""GET/POST /api/v1/plan and follow-up reschedule (docs/contract.md), with CSRF on."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from fieldlog.app.extensions import db
from fieldlog.models import FollowUp, PlannedVisit

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


# Who plans, which customer: only the planner's own customers may be planned (the plan shows
# only those, docs/contract.md); anything else is the API's out-of-scope answer, 404 not_found.
@pytest.mark.parametrize(
    "who,code,status",
    [
        ("rep", "C-1", 201),  # their own
        ("rep", "C-2", 404),  # a colleague's customer of the branch
        ("rep", "C-9", 404),  # another branch's
        ("colleague", "C-2", 201),
        ("colleague", "C-1", 404),
        ("manager", "C-3", 201),  # a manager's own customer
        ("manager", "C-1", 404),  # one of their reps' customers
    ],
)
def test_only_the_planners_own_customers_can_be_planned(
    client, auth, world, make, who, code, status
):
    manager = make.user("manager", world["branch"], email="manager@example.jp")
    make.customer(world["branch"], manager, code="C-3")
    db.session.commit()
    auth.login({"rep": world["rep"], "colleague": world["colleague"], "manager": manager}[who])
    answer = post(
        client, "/api/v1/plan", {"date": "2026-11-23", "customer_code": code}, auth.csrf()
    )
    assert answer.status_code == status
    plan_codes = [i["customer_code"] for i in client.get("/api/v1/plan").get_json()["items"]]
    if status == 201:
        assert planned_rows() == 1 and code in plan_codes
    else:
        body = answer.get_json()
        assert body["error"] == "not_found" and body["message"]
        assert planned_rows() == 0 and code not in plan_codes


def test_a_colleagues_customer_is_refused_by_name_in_both_languages(client, auth, world):
    auth.login(world["rep"])
    token = auth.csrf()
    body = {"date": "2026-11-23", "customer_code": "C-2"}
    ja = post(client, "/api/v1/plan", body, token).get_json()["message"]
    assert "C-2" in ja and "担当顧客" in ja
    client.set_cookie("fieldlog_lang", "en")
    en = post(client, "/api/v1/plan", body, token).get_json()["message"]
    assert en == "C-2 is not one of your customers: you can plan visits only to your own."


def test_a_plan_whose_customer_moved_to_a_colleague_drops_out(client, auth, world):
    auth.login(world["rep"])
    body = {"date": "2026-11-23", "customer_code": "C-1"}
    assert post(client, "/api/v1/plan", body, auth.csrf()).status_code == 201
    world["mine"].rep = world["colleague"]
    db.session.commit()
    codes = [i["customer_code"] for i in client.get("/api/v1/plan").get_json()["items"]]
    assert codes == []


def test_a_planned_customer_visited_that_day_stays_marked_visited(client, auth, world):
    auth.login(world["rep"])
    token = auth.csrf()
    body = {"date": "2026-11-23", "customer_code": "C-1", "purpose": "proposal"}
    post(client, "/api/v1/plan", body, token)
    before = client.get("/api/v1/plan").get_json()["items"]
    assert [(i["customer_code"], i["visited"]) for i in before] == [("C-1", False)]
    post(client, "/api/v1/visits", visit_payload("C-1"), token)
    after = client.get("/api/v1/plan").get_json()["items"]
    assert [(i["customer_code"], i["visited"]) for i in after] == [("C-1", True)]
    assert after[0]["reasons"][0]["code"] == "planned"
    # The next day's plan does not count today's visit as that day's.
    tomorrow = client.get("/api/v1/plan?date=2026-11-24").get_json()["items"]
    assert all(not i["visited"] for i in tomorrow)


@pytest.mark.parametrize(
    "body,status,field",
    [
        ({"date": "2026-11-23", "customer_code": "NOPE"}, 404, None),
        ({"date": "2026-11-23", "customer_code": "C-9"}, 404, None),
        ({"date": "2026-11-23"}, 422, "customer_code"),
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


def test_reschedule_refusals_name_the_field_in_words_in_both_languages(client, auth, world):
    auth.login(world["rep"])
    token = auth.csrf()
    path = f"/api/v1/follow-ups/{_follow_up_id(client, token)}/reschedule"
    early = post(client, path, {"due_on": "2026-11-19"}, token).get_json()["errors"]["due_on"]
    assert early == ["新しい期日：フォローを設定した訪問の日（2026/11/20）より前にはできません。"]
    client.set_cookie("fieldlog_lang", "en")
    cases = {
        "soon": "New due date: give it as YYYY-MM-DD, e.g. 2026-12-06.",
        "2026-11-19": "New due date: it cannot be before the visit that set the "
        "follow-up (2026/11/20).",
        "2027-11-24": "New due date: it must be within a year of today (2027/11/23 at the latest).",
    }
    for due_on, message in cases.items():
        answer = post(client, path, {"due_on": due_on}, token)
        assert answer.get_json()["errors"] == {"due_on": [message]}


_KEY = re.compile(r"[A-Za-z]+_[A-Za-z_.]+")


@pytest.mark.parametrize("lang", ["ja", "en"])
def test_refusals_keep_the_field_key_for_machines_and_words_for_people(client, auth, world, lang):
    """A 422 names its field by the key of ``errors`` (docs/contract.md); the messages a rep
    reads (the outbox shows them as they are) never spell a key like due_on or client_id."""
    auth.login(world["rep"])
    token = auth.csrf()
    client.set_cookie("fieldlog_lang", lang)
    done, cancelled, moved = (_follow_up_id(client, token) for _ in range(3))
    post(client, f"/api/v1/follow-ups/{done}/done", {"done_on": "2026-11-22"}, token)
    post(client, f"/api/v1/follow-ups/{cancelled}/cancel", {}, token)
    reused = visit_payload("C-1")
    post(client, "/api/v1/visits", reused, token)
    calls = [
        (f"/api/v1/follow-ups/{done}/reschedule", {"due_on": "2026-12-01"}, "due_on"),
        (f"/api/v1/follow-ups/{cancelled}/reschedule", {"due_on": "2026-12-01"}, "due_on"),
        (f"/api/v1/follow-ups/{moved}/reschedule", {"due_on": "soon"}, "due_on"),
        (f"/api/v1/follow-ups/{moved}/reschedule", {"due_on": "2026-11-19"}, "due_on"),
        (f"/api/v1/follow-ups/{moved}/reschedule", {"due_on": "2027-11-24"}, "due_on"),
        (f"/api/v1/follow-ups/{moved}/done", {"done_on": "2026-11-30"}, "done_on"),
        (f"/api/v1/follow-ups/{moved}/done", {"done_on": "11/22"}, "done_on"),
        (f"/api/v1/follow-ups/{cancelled}/done", {"done_on": "2026-11-22"}, "done_on"),
        (f"/api/v1/follow-ups/{done}/cancel", {}, "done_on"),
        ("/api/v1/visits", visit_payload("C-1", client_id=None), "client_id"),
        ("/api/v1/visits", visit_payload("C-1", client_id="abc"), "client_id"),
        (
            "/api/v1/visits",
            visit_payload("C-1", next_action={"action": "電話", "due_on": "20261201"}),
            "next_action.due_on",
        ),
    ]
    for path, body, field in calls:
        answer = post(client, path, body, token)
        said = answer.get_json()
        assert (answer.status_code, said["error"], list(said["errors"])) == (
            422,
            "invalid",
            [field],
        ), (path, body, said)
        for message in said["errors"][field]:
            assert not _KEY.search(message), (path, body, message)
    again = post(client, "/api/v1/visits", {**reused, "note": "別の訪問"}, token).get_json()
    assert again["error"] == "client_id_reused"
    assert again["message"] and not _KEY.search(again["message"]), again
    if lang == "ja":
        answer = post(
            client, f"/api/v1/follow-ups/{done}/reschedule", {"due_on": "2026-12-01"}, token
        )
        assert answer.get_json()["errors"] == {
            "due_on": ["新しい期日：このフォローは完了または取消済みのため、期日を変更できません。"]
        }


# ---- cancel ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "who,status",
    [
        ("rep", 200),
        ("colleague", 404),  # same scope as done: another rep's follow-up is not found
        ("manager", 200),  # the branch's manager may, as with done
        ("other_manager", 404),
    ],
)
def test_cancel_has_the_scope_of_done(client, auth, world, make, who, status):
    auth.login(world["rep"])
    fu = _follow_up_id(client, auth.csrf())
    auth.logout()
    users = {
        "rep": world["rep"],
        "colleague": world["colleague"],
        "manager": make.user("manager", world["branch"]),
        "other_manager": make.user("manager", world["other"]),
    }
    db.session.commit()
    auth.login(users[who])
    path = f"/api/v1/follow-ups/{fu}/cancel"
    answer = post(client, path, {}, auth.csrf())
    assert answer.status_code == status
    stored = db.session.get(FollowUp, fu)
    db.session.refresh(stored)
    if status == 200:
        assert answer.get_json()["cancelled"] is True and stored.cancelled
        # Again (an outbox replay): harmless, the same answer.
        assert post(client, path, {}, auth.csrf()).get_json() == answer.get_json()
    else:
        assert answer.get_json()["error"] == "not_found" and not stored.cancelled


def test_cancel_refuses_a_done_follow_up_and_an_unknown_id(client, auth, world):
    auth.login(world["rep"])
    token = auth.csrf()
    fu = _follow_up_id(client, token)
    post(client, f"/api/v1/follow-ups/{fu}/done", {"done_on": "2026-11-22"}, token)
    answer = post(client, f"/api/v1/follow-ups/{fu}/cancel", {}, token)
    assert answer.status_code == 422 and "done_on" in answer.get_json()["errors"]
    assert not db.session.get(FollowUp, fu).cancelled
    assert post(client, "/api/v1/follow-ups/99999/cancel", {}, token).status_code == 404
    # A cancelled follow-up leaves the plan's follow_up_due.
    fu2 = _follow_up_id(client, token, visited_at="2026-11-21T10:00:00+09:00")
    post(client, f"/api/v1/follow-ups/{fu2}/cancel", {}, token)
    reasons = [
        r["code"] for i in client.get("/api/v1/plan").get_json()["items"] for r in i["reasons"]
    ]
    assert "follow_up_due" not in reasons


def test_cancel_checks_login_then_csrf(client, auth, world):
    path = "/api/v1/follow-ups/1/cancel"
    assert client.post(path, json={}).status_code == 401
    auth.login(world["rep"])
    forged = client.post(path, json={}, headers={"X-CSRFToken": "forged"})
    assert (forged.status_code, forged.get_json()["error"]) == (400, "csrf_failed")
