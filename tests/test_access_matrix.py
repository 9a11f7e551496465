"""Every route × every kind of user, generated from the app's URL map.

A route that is not listed in POLICY fails the test, so a new route cannot escape the matrix.
Users: anonymous, the rep who owns the records, another rep of the same branch, the branch's
manager, a manager of another branch, and the owner.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import pytest
from flask import Flask, current_app, url_for

from fieldlog import create_app
from fieldlog.app.extensions import db
from fieldlog.jobs.imports import JobStore
from fieldlog.models import Hypothesis, ReportDelivery

from .conftest import Auth, csrf_from, visit_payload

ROLES = ("anonymous", "rep", "other_rep", "manager", "other_manager", "owner")
OK, DENIED, LOGIN = "ok", "denied", "login"


def _policy(anonymous=LOGIN, rep=OK, other_rep=OK, manager=OK, other_manager=OK, owner=OK):
    return {
        "anonymous": anonymous,
        "rep": rep,
        "other_rep": other_rep,
        "manager": manager,
        "other_manager": other_manager,
        "owner": owner,
    }


PUBLIC = _policy(anonymous=OK)
ANY_USER = _policy()
# Records the rep logged (visit, proposal, follow-up): the rep, their manager and the owner.
REPS_RECORD = _policy(other_rep=DENIED, other_manager=DENIED)
# Things of the rep's branch (its customers): everyone of the branch and the owner.
BRANCH_THING = _policy(other_manager=DENIED)
# Running a branch (dashboard, review, report): its manager and the owner.
BRANCH_MANAGEMENT = _policy(rep=DENIED, other_rep=DENIED, other_manager=DENIED)
# Logging a visit for a customer of the rep's branch: people of that branch.
VISIT_LOGGERS = _policy(other_manager=DENIED, owner=DENIED)
# Planning a visit: only to one's own customers (docs/contract.md, POST /api/v1/plan).
OWN_CUSTOMER = _policy(other_rep=DENIED, manager=DENIED, other_manager=DENIED, owner=DENIED)
OWNER_ONLY = _policy(rep=DENIED, other_rep=DENIED, manager=DENIED, other_manager=DENIED)
MANAGERS_AND_OWNER = _policy(rep=DENIED, other_rep=DENIED)
# The visit form: anyone with a branch (owners have none).
VISIT_FORM = _policy(owner=DENIED)
# Correcting a visit: only the rep who logged it.
OWN_RECORD_ONLY = _policy(other_rep=DENIED, manager=DENIED, other_manager=DENIED, owner=DENIED)
# Something only its creator sees (an import job of the branch manager).
MANAGERS_OWN = _policy(rep=DENIED, other_rep=DENIED, other_manager=DENIED, owner=DENIED)

# endpoint → {method: policy}
POLICY: dict[str, dict[str, dict[str, str]]] = {
    "static": {"GET": PUBLIC},
    "health.healthz": {"GET": PUBLIC},
    "auth.login": {"GET": PUBLIC, "POST": PUBLIC},
    "auth.logout": {"POST": ANY_USER},
    "auth.set_locale": {"POST": PUBLIC},
    "api.openapi_document": {"GET": PUBLIC},
    "api.session_info": {"GET": ANY_USER},
    "api.create_visit": {"POST": VISIT_LOGGERS},
    "api.follow_up_done": {"POST": REPS_RECORD},
    "api.proposal_close": {"POST": REPS_RECORD},
    "api.follow_up_reschedule": {"POST": REPS_RECORD},
    "api.follow_up_cancel": {"POST": REPS_RECORD},
    # Anyone's plan is their own (an owner's is empty); planning a visit: one's own customers.
    "api.plan_of_day": {"GET": ANY_USER},
    "api.plan_add": {"POST": OWN_CUSTOMER},
    "field.today": {"GET": ANY_USER},
    "field.plan_rest": {"GET": ANY_USER},
    "field.new_visit": {"GET": VISIT_FORM, "POST": VISIT_FORM},
    "field.visits": {"GET": ANY_USER},
    "field.visit": {"GET": REPS_RECORD},
    "field.edit_visit": {"GET": OWN_RECORD_ONLY, "POST": OWN_RECORD_ONLY},
    "field.follow_up_done": {"POST": REPS_RECORD},
    "field.follow_up_cancel": {"POST": REPS_RECORD},
    "field.follow_up_reschedule": {"POST": REPS_RECORD},
    # Without ticked follow-ups the form only says so; each ticked one is checked like cancel.
    "field.follow_ups_bulk": {"POST": ANY_USER},
    "field.plan_add": {"POST": OWN_CUSTOMER},
    "field.proposals": {"GET": ANY_USER},
    "field.proposal_close": {"POST": REPS_RECORD},
    # Correcting a proposal: its rep (within the correction window), their manager, the owner.
    "field.proposal_edit": {"GET": REPS_RECORD, "POST": REPS_RECORD},
    "field.customers": {"GET": ANY_USER},
    "field.customer": {"GET": BRANCH_THING},
    "field.customer_search": {"GET": ANY_USER},
    "field.customer_open_follow_ups": {"GET": BRANCH_THING},
    "api.offline_data": {"GET": ANY_USER},
    "pwa.service_worker": {"GET": PUBLIC},
    "pwa.manifest": {"GET": PUBLIC},
    "pwa.offline": {"GET": PUBLIC},
    "pwa.outbox": {"GET": ANY_USER},
    "reports.branch_pdf": {"GET": BRANCH_MANAGEMENT},
    "reports.deliveries_page": {"GET": MANAGERS_AND_OWNER},
    # A failed mail of the Tokyo report: its manager and the owner may send it again.
    "reports.delivery_resend": {"POST": BRANCH_MANAGEMENT},
    "io.import_page": {"GET": MANAGERS_AND_OWNER},
    "io.upload": {"POST": MANAGERS_AND_OWNER},
    "io.job": {"GET": MANAGERS_OWN},
    "io.job_status": {"GET": MANAGERS_OWN},
    "io.confirm": {"POST": MANAGERS_OWN},
    "io.export_page": {"GET": ANY_USER},
    "io.download": {"GET": ANY_USER},
    "manage.branch_home": {"GET": MANAGERS_AND_OWNER},
    "manage.branch": {"GET": BRANCH_MANAGEMENT},
    "manage.summary": {"GET": OWNER_ONLY},
    "manage.forecast_job": {"GET": MANAGERS_AND_OWNER},
    "manage.lead_job": {"GET": MANAGERS_AND_OWNER},
    "manage.review": {"GET": BRANCH_MANAGEMENT, "POST": BRANCH_MANAGEMENT},
    "manage.hypotheses_list": {"GET": MANAGERS_AND_OWNER},
    "manage.hypothesis_new": {"GET": MANAGERS_AND_OWNER, "POST": MANAGERS_AND_OWNER},
    # The world's hypothesis belongs to the Tokyo branch (its manager made it).
    "manage.hypothesis": {"GET": BRANCH_MANAGEMENT, "POST": BRANCH_MANAGEMENT},
    "manage.my_week": {"GET": _policy(owner=DENIED)},
    "settings.kpis": {"GET": OWNER_ONLY, "POST": OWNER_ONLY},
    "settings.ranking_panel": {"GET": OWNER_ONLY},
    "settings.ranking_status": {"GET": OWNER_ONLY},
    # Managers set their own branch's targets (the form refuses other scopes: a test in
    # test_settings.py); reps never.
    "settings.targets": {"GET": MANAGERS_AND_OWNER, "POST": MANAGERS_AND_OWNER},
    "settings.thresholds": {"GET": OWNER_ONLY, "POST": OWNER_ONLY},
    "settings.budgets": {"POST": OWNER_ONLY},
    # Managers read their branch's and the company-wide changes (test_settings_history.py).
    "settings.history": {"GET": MANAGERS_AND_OWNER},
    "admin.index": {"GET": OWNER_ONLY},
    "admin.branches": {"GET": OWNER_ONLY},
    "admin.branch_edit": {"GET": OWNER_ONLY, "POST": OWNER_ONLY},
    "admin.users": {"GET": OWNER_ONLY},
    "admin.user_edit": {"GET": OWNER_ONLY, "POST": OWNER_ONLY},
    "admin.customers": {"GET": OWNER_ONLY},
    "admin.customer_edit": {"GET": OWNER_ONLY, "POST": OWNER_ONLY},
    "admin.purposes": {"GET": OWNER_ONLY},
    "admin.purpose_edit": {"GET": OWNER_ONLY, "POST": OWNER_ONLY},
    "admin.categories": {"GET": OWNER_ONLY},
    "admin.category_edit": {"GET": OWNER_ONLY, "POST": OWNER_ONLY},
}


# API bodies that reach the scope check (an empty body is refused before it).
BODIES: dict[str, object] = {
    "api.create_visit": visit_payload("C-1"),
    "api.plan_add": {"date": "2026-11-24", "customer_code": "C-1"},
    "field.plan_add": {"customer_code": "C-1"},
}

# URL parameters that mean something else on one route (a customer's code, not a branch's).
OVERRIDES: dict[str, dict[str, object]] = {
    "field.customer_open_follow_ups": {"code": "C-1"},
    # Any job id: an unknown one reads as done (the page then asks again).
    "manage.forecast_job": {"token": "no-such-job"},
    "manage.lead_job": {"week": "2026-W47"},
}


@dataclass
class World:
    params: dict[str, object]
    users: dict[str, object]


def build_world(make) -> World:
    tokyo = make.branch("TKY", "東京支店")
    osaka = make.branch("OSK", "大阪支店")
    rep = make.user("rep", tokyo)
    users = {
        "rep": rep,
        "other_rep": make.user("rep", tokyo),
        "manager": make.user("manager", tokyo),
        "other_manager": make.user("manager", osaka),
        "owner": make.user("owner"),
    }
    customer = make.customer(tokyo, rep, code="C-1")
    category = make.category("OIL")
    visit = make.visit(
        rep,
        customer,
        proposal={"category": "OIL"},
        next_action={"action": "電話", "due_on": "2026-11-30"},
    )
    hypothesis = Hypothesis(
        statement="追加提案を増やせば売上が上がる",
        kpis=["additional_proposal_rate"],
        started_on=date(2026, 11, 2),
        branch_id=tokyo.id,
        author_id=users["manager"].id,
    )
    db.session.add(hypothesis)
    failed_mail = ReportDelivery(
        week="2026-W47",
        report=f"branch:{tokyo.code}",
        recipient=users["manager"].email,
        status="failed",
        attempts=1,
        error="TimeoutError: timed out",
    )
    db.session.add(failed_mail)
    db.session.commit()
    job_id = JobStore(current_app.config["FIELDLOG_IMPORT_DIR"]).create(
        user_id=users["manager"].id,
        kind="customers",
        filename="customers.csv",
        locale="ja",
        data="code,name,branch\nC-NEW,新規顧客,TKY\n".encode(),
    )
    params = {
        "job_id": job_id,
        "kind": "visits",
        "fmt": "csv",
        "visit_id": visit.id,
        "proposal_id": visit.proposals[0].id,
        "follow_up_id": visit.follow_ups[0].id,
        "customer_id": customer.id,
        "category_id": category.id,
        "code": tokyo.code,
        "branch_id": tokyo.id,
        "purpose_id": visit.purpose_id,
        "branch_code": tokyo.code,
        "user_id": rep.id,
        "hypothesis_id": hypothesis.id,
        "delivery_id": failed_mail.id,
        "filename": "css/app.css",
    }
    return World(params=params, users=users)


def _routes() -> list[tuple[str, str, str, tuple[str, ...]]]:
    app = create_app({"TESTING": True, "SECRET_KEY": "x", "SQLALCHEMY_DATABASE_URI": "sqlite://"})
    found = []
    for rule in app.url_map.iter_rules():
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            found.append((rule.endpoint, method, rule.rule, tuple(sorted(rule.arguments))))
    return sorted(found)


ROUTES = _routes()


def test_every_route_is_in_the_matrix():
    missing = sorted({f"{e} {m}" for e, m, _r, _a in ROUTES if m not in POLICY.get(e, {})})
    assert missing == [], "add these routes to POLICY:\n" + "\n".join(missing)


def _classify(response, path: str) -> str:
    status = response.status_code
    if status in (401,) or (
        status in (302, 303) and "/login?next=" in response.headers.get("Location", "")
    ):
        return LOGIN
    if status in (403, 404):
        return DENIED
    if status < 500 and status not in (405,):
        return OK
    return f"status {status}"


@pytest.mark.parametrize(
    ("endpoint", "method", "rule", "arguments"), ROUTES, ids=[f"{m} {r}" for _e, m, r, _a in ROUTES]
)
def test_route_access(app: Flask, make, endpoint, method, rule, arguments):
    policy = POLICY.get(endpoint, {}).get(method)
    if policy is None:
        pytest.fail(f"{method} {rule} ({endpoint}) is not in POLICY")
    world = build_world(make)
    with app.test_request_context():
        params = {**world.params, **OVERRIDES.get(endpoint, {})}
        path = url_for(endpoint, **{name: params[name] for name in arguments})
    for role in ROLES:
        client = app.test_client()
        auth = Auth(client)
        token = None
        if role != "anonymous":
            auth.login(world.users[role])
            token = auth.csrf()
        if method == "GET":
            response = client.get(path)
        elif path.startswith("/api/"):
            headers = {"X-CSRFToken": token} if token else {}
            body = BODIES.get(endpoint, {})
            response = client.open(path, method=method, json=body, headers=headers)
        else:
            if token is None:
                token = csrf_from(client.get("/login").get_data(as_text=True))
            data = {"csrf_token": token, **BODIES.get(endpoint, {})}
            response = client.open(path, method=method, data=data)
        got = _classify(response, path)
        response.close()
        assert got == policy[role], f"{role} {method} {path}: expected {policy[role]}, got {got}"
        db.session.rollback()


POSTS = sorted({(e, r, a) for e, m, r, a in ROUTES if m == "POST"})


@pytest.mark.parametrize(("endpoint", "rule", "arguments"), POSTS, ids=[r for _e, r, _a in POSTS])
def test_every_state_changing_route_refuses_a_missing_csrf_token(
    app: Flask, make, endpoint, rule, arguments
):
    """CSRF on every POST: a user allowed to call it, without a token, gets 400."""
    world = build_world(make)
    policy = POLICY[endpoint]["POST"]
    role = next(r for r in ROLES if r != "anonymous" and policy[r] == OK)
    client = app.test_client()
    Auth(client).login(world.users[role])
    with app.test_request_context():
        params = {**world.params, **OVERRIDES.get(endpoint, {})}
        path = url_for(endpoint, **{name: params[name] for name in arguments})
    if path.startswith("/api/"):
        response = client.post(path, json=visit_payload("C-1"))
    else:
        response = client.post(path, data={"email": "x@example.jp", "password": "x"})
    assert response.status_code == 400, f"{role} POST {path}: {response.status_code}"
    db.session.rollback()


@pytest.mark.parametrize(
    ("role", "flags"),
    [
        ("rep", {"member", "in_the_field"}),
        (
            "manager",
            {"member", "in_the_field", "sees_colleagues", "runs_a_branch", "manages_one_branch"},
        ),
        ("owner", {"member", "sees_colleagues", "runs_a_branch", "runs_the_company"}),
    ],
)
def test_templates_read_page_flags_from_access(make, role, flags):
    """What each role's pages show comes from access.viewer (tests/test_layers.py checks that
    no template compares a role); an anonymous visitor has none."""
    from dataclasses import asdict

    from fieldlog.services import access

    user = make.user(role, None if role == "owner" else make.branch("A"))
    assert {k for k, v in asdict(access.viewer(user)).items() if v} == flags
    assert not any(asdict(access.viewer(None)).values())
