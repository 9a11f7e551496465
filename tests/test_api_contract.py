"""Black-box checks of the interface contract that an audit found the code to disagree with.

Each test names the contract rule it holds (docs/contract.md); the world is the one of
tests/test_api_plan.py: a rep with customer C-1, a colleague with C-2, another branch's C-9.
"""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import func, select

from fieldlog.app.extensions import db
from fieldlog.models import FollowUp, PlannedVisit, Proposal, Visit

from .conftest import visit_payload
from .test_api import post
from .test_api_plan import world as _plan_world

world = _plan_world  # the same fixture: a rep with C-1, a colleague with C-2, C-9 elsewhere


def count(model) -> int:
    return db.session.scalar(select(func.count(model.id)))


# Dates are "YYYY-MM-DD": Python's date.fromisoformat also reads the ISO basic and week forms,
# which a client sending them would have taken for accepted dates of another meaning.
NOT_YYYY_MM_DD = ["20261125", "2026-W48", "2026-W48-3", "2026-330", " 2026-11-2 "]


@pytest.mark.parametrize("text", NOT_YYYY_MM_DD)
def test_plan_date_is_exactly_yyyy_mm_dd(client, auth, world, text):
    auth.login(world["rep"])
    answer = client.get("/api/v1/plan", query_string={"date": text})
    assert answer.status_code == 422
    assert answer.get_json()["error"] == "invalid" and "date" in answer.get_json()["errors"]
    planned = post(client, "/api/v1/plan", {"date": text, "customer_code": "C-1"}, auth.csrf())
    assert planned.status_code == 422 and "date" in planned.get_json()["errors"]
    assert count(PlannedVisit) == 0


@pytest.mark.parametrize("text", NOT_YYYY_MM_DD)
def test_api_dates_are_exactly_yyyy_mm_dd(client, auth, world, make, text):
    make.category("OIL", "潤滑油")
    auth.login(world["rep"])
    token = auth.csrf()
    payload = visit_payload(
        "C-1",
        proposal={"category": "OIL", "amount": 1000},
        next_action={"action": "電話", "due_on": text},
    )
    refused = post(client, "/api/v1/visits", payload, token)
    assert refused.status_code == 422
    assert "next_action.due_on" in refused.get_json()["errors"]
    assert count(Visit) == 0
    payload["next_action"]["due_on"] = "2026-11-25"
    visit = post(client, "/api/v1/visits", payload, token).get_json()
    follow_up, proposal = visit["follow_up"]["id"], visit["proposal"]["id"]
    for path, body, field in [
        (f"/api/v1/follow-ups/{follow_up}/reschedule", {"due_on": text}, "due_on"),
        (f"/api/v1/follow-ups/{follow_up}/done", {"done_on": text}, "done_on"),
        (f"/api/v1/proposals/{proposal}/close", {"status": "won", "closed_on": text}, "closed_on"),
    ]:
        answer = post(client, path, body, token)
        assert answer.status_code == 422, path
        assert field in answer.get_json()["errors"]
    db.session.expire_all()
    assert db.session.get(FollowUp, follow_up).due_on.isoformat() == "2026-11-25"
    assert db.session.get(FollowUp, follow_up).done_on is None
    assert db.session.get(Proposal, proposal).status == "open"


# POST /api/v1/plan {"date", "customer_code", "purpose"?, "note"?}: date and customer_code are
# required, so a missing one is invalid input naming it (422), not an unknown customer (404).
@pytest.mark.parametrize(
    "body,fields",
    [
        ({"customer_code": "C-1"}, {"date"}),
        ({"date": "2026-11-25"}, {"customer_code"}),
        ({"date": "2026-11-25", "customer_code": "  "}, {"customer_code"}),
        ({"date": "2026-11-25", "customer_code": 1}, {"customer_code"}),
        ({}, {"date", "customer_code"}),
        ({"date": "2030-01-01"}, {"date", "customer_code"}),
    ],
)
def test_plan_post_names_each_missing_field(client, auth, world, body, fields):
    auth.login(world["rep"])
    answer = post(client, "/api/v1/plan", body, auth.csrf())
    assert answer.status_code == 422
    error = answer.get_json()
    assert error["error"] == "invalid" and set(error["errors"]) == fields
    assert count(PlannedVisit) == 0


# The branch dashboard takes ?week= or ?month=. A month whose KPI met its target 4 months
# running asks the lead analysis the design question; it was given the month as its last week
# and the page answered 500.
def test_branch_dashboard_of_a_month_met_four_months_running(client, auth, world, make):
    from fieldlog.kpi import Scope
    from fieldlog.kpi.targets import set_target

    owner = make.user("owner")
    manager = make.user("manager", world["branch"])
    for month in (8, 9, 10, 11):
        make.visit(world["rep"], world["mine"], visited_at=f"2026-{month:02d}-10T10:00:00+09:00")
    set_target(
        db.session,
        "purposeful_visit_rate",
        Scope.company(),
        "month",
        0.5,
        date(2026, 1, 1),
        owner,
        today=date(2026, 11, 23),
    )
    db.session.commit()
    auth.login(manager)
    for query in ("month=2026-11", "month=2026-10", "week=2026-W47"):
        answer = client.get(f"/branches/TKY?{query}")
        assert answer.status_code == 200, query


# Invalid input names every bad field: a close with a bad status and a bad date named only the
# status, so a client fixing that one learnt of the other on its next try.
def test_proposal_close_names_every_bad_field(client, auth, world, make):
    make.category("OIL", "潤滑油")
    auth.login(world["rep"])
    token = auth.csrf()
    payload = visit_payload("C-1", proposal={"category": "OIL"})
    proposal = post(client, "/api/v1/visits", payload, token).get_json()["proposal"]["id"]
    path = f"/api/v1/proposals/{proposal}/close"
    for body, fields in [
        ({"status": "maybe", "closed_on": "soon"}, {"status", "closed_on"}),
        ({}, {"status", "closed_on"}),
        ({"status": "open", "closed_on": "2026-11-23"}, {"status"}),
        ({"status": "won", "closed_on": "2026-11-01"}, {"closed_on"}),
    ]:
        answer = post(client, path, body, token)
        assert answer.status_code == 422
        assert set(answer.get_json()["errors"]) == fields, body
    db.session.expire_all()
    assert db.session.get(Proposal, proposal).status == "open"


def test_csrf_failure_says_what_to_do_in_the_users_language(client, auth, world):
    auth.login(world["rep"])
    answer = client.post("/api/v1/plan", json={}, headers={"X-CSRFToken": "forged"})
    assert answer.status_code == 400
    body = answer.get_json()
    assert body["error"] == "csrf_failed" and "/api/v1/session" in body["message"]
    assert "トークン" in body["message"]  # Japanese first, as every other API message


# Every API message is in the user's language (Japanese first): an unknown API path or a wrong
# method answered with Werkzeug's English description.
@pytest.mark.parametrize(
    ("method", "path", "status", "code", "words"),
    [
        ("post", "/api/v1/follow-ups/abc/reschedule", 404, "not_found", "存在しません"),
        ("post", "/api/v1/no-such-thing", 404, "not_found", "存在しません"),
        ("get", "/api/v1/follow-ups/1/reschedule", 405, "http_error", "処理できませんでした"),
    ],
)
def test_route_errors_speak_the_users_language(
    client, auth, world, method, path, status, code, words
):
    auth.login(world["rep"])
    answer = getattr(client, method)(path, json={}, headers={"X-CSRFToken": auth.csrf()})
    assert answer.status_code == status
    body = answer.get_json()
    assert body["error"] == code and words in body["message"]
