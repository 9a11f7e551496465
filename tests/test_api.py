"""The JSON API contract of docs/contract.md, through the test client with CSRF on."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import event, func, select

from fieldlog.app.extensions import db
from fieldlog.models import Visit

from .conftest import visit_payload


@pytest.fixture
def world(make):
    branch = make.branch("TKY", "東京支店")
    other = make.branch("OSK", "大阪支店")
    rep = make.user("rep", branch, email="rep@example.jp")
    customer = make.customer(branch, rep, code="C-1")
    foreign = make.customer(other, code="C-9")
    make.category("OIL", "潤滑油")
    db.session.commit()
    return locals()


def post(client, path, body, token):
    return client.post(path, json=body, headers={"X-CSRFToken": token})


def visits_stored() -> int:
    return db.session.scalar(select(func.count(Visit.id)))


def test_session_requires_login(client):
    response = client.get("/api/v1/session")
    assert response.status_code == 401
    assert response.get_json()["error"] == "unauthorized"


def test_session_answers_user_and_token(client, auth, world):
    auth.login(world["rep"])
    body = client.get("/api/v1/session").get_json()
    assert body["user"] == {
        "email": "rep@example.jp",
        "name": world["rep"].name,
        "role": "rep",
        "branch": "TKY",
    }
    assert body["csrf_token"]


def test_create_then_replay_then_reuse(client, auth, world):
    auth.login(world["rep"])
    token = auth.csrf()
    payload = visit_payload(
        "C-1",
        proposal={"category": "OIL", "amount": 1000},
        next_action={"action": "電話", "due_on": "2026-11-30"},
    )
    created = post(client, "/api/v1/visits", payload, token)
    assert created.status_code == 201
    body = created.get_json()
    assert body["id"] and body["customer_code"] == "C-1"
    assert body["proposal"]["id"] and body["proposal"]["kind"] == "cross_sell"
    assert body["follow_up"]["id"] and body["follow_up"]["due_on"] == "2026-11-30"

    replay = post(client, "/api/v1/visits", payload, token)
    assert replay.status_code == 200
    assert replay.get_json() == body  # the same answer, field for field

    reused = post(client, "/api/v1/visits", {**payload, "hearing_done": False}, token)
    assert reused.status_code == 422
    assert reused.get_json()["error"] == "client_id_reused"
    assert visits_stored() == 1


def test_not_logged_in_comes_before_csrf(client, world):
    response = client.post("/api/v1/visits", json=visit_payload("C-1"))
    assert response.status_code == 401
    assert response.get_json()["error"] == "unauthorized"


@pytest.mark.parametrize("token", [None, "forged"])
def test_missing_or_bad_csrf_is_400(client, auth, world, token):
    auth.login(world["rep"])
    headers = {"X-CSRFToken": token} if token else {}
    response = client.post("/api/v1/visits", json=visit_payload("C-1"), headers=headers)
    assert response.status_code == 400
    assert response.get_json()["error"] == "csrf_failed"
    assert visits_stored() == 0


def test_a_token_that_passed_once_passes_only_with_its_own_session(app, client, auth, world):
    """The process remembers a CSRF check that passed (extensions._CSRFProtect): the same
    token passes again in the same session, and still fails in another one or altered."""
    auth.login(world["rep"])
    token = auth.csrf()
    assert post(client, "/api/v1/visits", visit_payload("C-1"), token).status_code == 201
    assert post(client, "/api/v1/visits", visit_payload("C-1"), token).status_code == 201
    altered = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    refused = post(client, "/api/v1/visits", visit_payload("C-1"), altered)
    assert refused.status_code == 400 and refused.get_json()["error"] == "csrf_failed"

    other = app.test_client()  # another browser: a session of its own, the first one's token
    other_auth = type(auth)(other)
    other_auth.login(world["rep"])
    stolen = post(other, "/api/v1/visits", visit_payload("C-1"), token)
    assert stolen.status_code == 400 and stolen.get_json()["error"] == "csrf_failed"
    assert post(other, "/api/v1/visits", visit_payload("C-1"), other_auth.csrf()).status_code == 201
    assert visits_stored() == 3


def test_with_a_time_limit_every_csrf_check_is_made_in_full(app, client, auth, world, monkeypatch):
    auth.login(world["rep"])
    token = auth.csrf()
    assert post(client, "/api/v1/visits", visit_payload("C-1"), token).status_code == 201
    app.config["WTF_CSRF_TIME_LIMIT"] = 60
    signed = time.time()
    monkeypatch.setattr(time, "time", lambda: signed + 61)  # the token is 61 s old now
    expired = post(client, "/api/v1/visits", visit_payload("C-1"), token)
    assert expired.status_code == 400
    assert expired.get_json()["error"] == "csrf_failed"
    assert visits_stored() == 1


def test_unknown_customer_is_422_and_foreign_customer_403(client, auth, world):
    auth.login(world["rep"])
    token = auth.csrf()
    unknown = post(client, "/api/v1/visits", visit_payload("NOPE"), token)
    assert unknown.status_code == 422
    assert unknown.get_json()["error"] == "invalid"
    assert "customer_code" in unknown.get_json()["errors"]
    foreign = post(client, "/api/v1/visits", visit_payload("C-9"), token)
    assert foreign.status_code == 403
    assert foreign.get_json()["error"] == "forbidden"


def test_invalid_fields_answer_with_dotted_names(client, auth, world):
    auth.login(world["rep"])
    response = post(
        client,
        "/api/v1/visits",
        visit_payload("C-1", proposal={"amount": -5}, next_action={"action": "", "due_on": "x"}),
        auth.csrf(),
    )
    assert response.status_code == 422
    errors = response.get_json()["errors"]
    assert {"proposal.amount", "next_action.action", "next_action.due_on"} <= set(errors)
    assert all(isinstance(m, str) for msgs in errors.values() for m in msgs)


def test_non_object_body_is_invalid(client, auth, world):
    auth.login(world["rep"])
    response = client.post(
        "/api/v1/visits",
        data="[1]",
        content_type="application/json",
        headers={"X-CSRFToken": auth.csrf()},
    )
    assert response.status_code == 422
    assert response.get_json()["error"] == "invalid"


def test_follow_up_done_and_proposal_close(client, auth, world, make):
    auth.login(world["rep"])
    token = auth.csrf()
    body = post(
        client,
        "/api/v1/visits",
        visit_payload("C-1", proposal={}, next_action={"action": "電話", "due_on": "2026-11-30"}),
        token,
    ).get_json()
    fu_id, proposal_id = body["follow_up"]["id"], body["proposal"]["id"]

    done = post(client, f"/api/v1/follow-ups/{fu_id}/done", {"done_on": "2026-11-23"}, token)
    assert done.status_code == 200 and done.get_json()["done_on"] == "2026-11-23"
    again = post(client, f"/api/v1/follow-ups/{fu_id}/done", {"done_on": "2026-11-23"}, token)
    assert again.status_code == 200

    won = post(
        client,
        f"/api/v1/proposals/{proposal_id}/close",
        {"status": "won", "closed_on": "2026-11-23"},
        token,
    )
    assert won.status_code == 200 and won.get_json()["status"] == "won"
    lost = post(
        client,
        f"/api/v1/proposals/{proposal_id}/close",
        {"status": "lost", "closed_on": "2026-11-23"},
        token,
    )
    assert lost.get_json()["status"] == "lost"
    early = post(
        client,
        f"/api/v1/proposals/{proposal_id}/close",
        {"status": "won", "closed_on": "2026-11-01"},
        token,
    )
    assert early.status_code == 422 and "closed_on" in early.get_json()["errors"]

    assert (
        post(
            client,
            "/api/v1/proposals/99999/close",
            {"status": "won", "closed_on": "2026-11-23"},
            token,
        ).status_code
        == 404
    )
    assert (
        post(client, "/api/v1/follow-ups/99999/done", {"done_on": "2026-11-23"}, token).status_code
        == 404
    )


def test_other_users_ids_are_not_found(client, auth, world, make):
    auth.login(world["rep"])
    token = auth.csrf()
    body = post(client, "/api/v1/visits", visit_payload("C-1", proposal={}), token).get_json()
    auth.logout()
    other = make.user("rep", world["branch"])
    auth.login(other)
    token = auth.csrf()
    response = post(
        client,
        f"/api/v1/proposals/{body['proposal']['id']}/close",
        {"status": "won", "closed_on": "2026-11-23"},
        token,
    )
    assert response.status_code == 404
    assert response.get_json()["error"] == "not_found"


def test_healthz(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok", "database": "ok"}


def test_customer_is_checked_before_the_fields(client, auth, world):
    auth.login(world["rep"])
    token = auth.csrf()
    foreign = post(client, "/api/v1/visits", visit_payload("C-9", hearing_done="yes"), token)
    assert foreign.status_code == 403 and foreign.get_json()["error"] == "forbidden"
    unknown = post(client, "/api/v1/visits", visit_payload("NOPE", hearing_done="yes"), token)
    assert unknown.status_code == 422
    assert set(unknown.get_json()["errors"]) == {"customer_code"}


def test_a_visit_post_writes_in_one_short_transaction_after_its_reads(client, auth, world):
    """The checks read without SQLite's write lock; BEGIN IMMEDIATE comes just before the
    insert (which is the idempotency check: no client_id lookup), and one COMMIT ends it."""
    if db.engine.dialect.name != "sqlite":
        pytest.skip("SQLite's write lock")
    auth.login(world["rep"])
    token = auth.csrf()
    statements: list[str] = []

    def seen(_conn, _cursor, statement, *_args):
        statements.append(statement.split()[0] + " " + statement.split()[1])

    db.session.close()  # the test's reads share the request's session: end them first
    event.listen(db.engine, "before_cursor_execute", seen)
    commits: list[int] = []
    event.listen(db.engine, "commit", lambda _conn: commits.append(len(statements)))
    try:
        created = post(client, "/api/v1/visits", visit_payload("C-1"), token)
    finally:
        event.remove(db.engine, "before_cursor_execute", seen)
    assert created.status_code == 201
    begins = [i for i, s in enumerate(statements) if s.startswith("BEGIN")]
    assert [statements[i] for i in begins] == ["BEGIN IMMEDIATE"]
    assert statements[begins[0] + 1].startswith("INSERT INTO")
    assert all(s.startswith("SELECT") for s in statements[: begins[0]])
    assert not any("visit.client_id" in s for s in statements)
    assert len(commits) == 1
    assert visits_stored() == 1


def test_replay_comes_before_every_other_rule(client, auth, world):
    auth.login(world["rep"])
    token = auth.csrf()
    payload = visit_payload("C-1", note="")
    first = post(client, "/api/v1/visits", payload, token).get_json()
    world["customer"].branch = world["other"]
    db.session.commit()
    # The same entry, re-serialised by the phone: other offset, keys reordered, note left out.
    again = {k: v for k, v in reversed(payload.items()) if k != "note"}
    again["visited_at"] = "2026-11-23T00:00:00Z"
    replay = post(client, "/api/v1/visits", again, token)
    assert replay.status_code == 200 and replay.get_json()["id"] == first["id"]
    changed = post(client, "/api/v1/visits", {**again, "hearing_done": "yes"}, token)
    assert changed.status_code == 422 and changed.get_json()["error"] == "client_id_reused"
    assert visits_stored() == 1


def test_another_users_client_id_reveals_nothing(client, auth, world, make):
    auth.login(world["rep"])
    payload = visit_payload("C-1", note="社外秘")
    mine = post(client, "/api/v1/visits", payload, auth.csrf()).get_json()
    auth.logout()
    auth.login(make.user("rep", world["branch"]))
    theirs = post(client, "/api/v1/visits", {**payload, "note": "別"}, auth.csrf())
    assert theirs.status_code == 201
    assert theirs.get_json()["id"] != mine["id"] and theirs.get_json()["note"] == "別"


def test_owner_logs_no_visits_through_the_api(client, auth, world, make):
    auth.login(make.user("owner"))
    response = post(client, "/api/v1/visits", visit_payload("C-1"), auth.csrf())
    assert response.status_code == 403 and response.get_json()["error"] == "forbidden"
    assert visits_stored() == 0


def test_follow_up_done_outside_scope_is_404_and_last_call_wins(client, auth, world, make):
    auth.login(world["rep"])
    token = auth.csrf()
    body = post(
        client,
        "/api/v1/visits",
        visit_payload("C-1", next_action={"action": "電話", "due_on": "2026-11-30"}),
        token,
    ).get_json()
    path = f"/api/v1/follow-ups/{body['follow_up']['id']}/done"
    assert post(client, path, {"done_on": "2026-11-22"}, token).status_code == 200
    later = post(client, path, {"done_on": "2026-11-23"}, token)
    assert later.status_code == 200 and later.get_json()["done_on"] == "2026-11-23"
    auth.logout()
    auth.login(make.user("manager", world["other"]))
    outside = post(client, path, {"done_on": "2026-11-23"}, auth.csrf())
    assert outside.status_code == 404 and outside.get_json()["error"] == "not_found"


@pytest.mark.parametrize(
    "path", ["/api/v1/visits", "/api/v1/follow-ups/1/done", "/api/v1/proposals/1/close"]
)
def test_every_write_checks_login_then_csrf(client, auth, world, path):
    anonymous = client.post(path, json={}, headers={"X-CSRFToken": "forged"})
    assert (anonymous.status_code, anonymous.get_json()["error"]) == (401, "unauthorized")
    auth.login(world["rep"])
    forged = client.post(path, json={}, headers={"X-CSRFToken": "forged"})
    assert (forged.status_code, forged.get_json()["error"]) == (400, "csrf_failed")
