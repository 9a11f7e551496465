"""The JSON API of docs/contract.md: visits, follow-ups, proposals, session."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from flask import Blueprint, current_app, jsonify, request
from flask_babel import get_locale
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf.csrf import generate_csrf

from ..app import openapi
from ..app.database import begin_writes
from ..app.extensions import csrf, db
from ..services import (
    directory,
    follow_ups,
    plan,
    plan_text,
    planned_visits,
    proposals,
    schemas,
    visits,
)
from ..services import today as today_service
from ..services.defaults import company_settings
from .common import company_tz, json_error, local_today, now
from .page_cache import kept
from .security import reads_first
from .transaction import unit_of_work

bp = Blueprint("api", __name__, url_prefix="/api/v1")
# CSRF is checked inside each view, after the login check, so that the answers come in the
# contract's order: 401 before 400 csrf_failed.
csrf.exempt(bp)


def api_view(view: Callable[..., Any]) -> Callable[..., Any]:
    """Require a session (401) and, for writes, the X-CSRFToken header (400)."""

    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if not current_user.is_authenticated:
            return json_error("unauthorized", 401, _l("Log in first."))
        if request.method not in ("GET", "HEAD", "OPTIONS"):
            csrf.protect()
        return view(*args, **kwargs)

    return wrapper


def _json_object() -> dict[str, Any]:
    """The request's JSON object, or an empty one when the body is not a JSON object."""
    body = request.get_json(silent=True)
    return body if isinstance(body, dict) else {}


@bp.get("/openapi.json")
def openapi_document():
    return jsonify(openapi.document())


@bp.get("/session")
@api_view
def session_info():
    user = current_user
    return jsonify(
        {
            "user": {
                "email": user.email,
                "name": user.name,
                "role": user.role,
                "branch": user.branch.code if user.branch else None,
            },
            "csrf_token": generate_csrf(),
        }
    )


@bp.post("/visits")
@reads_first
@api_view
def create_visit():
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        return json_error("invalid", 422, errors={"_": [_l("Send a JSON object.")]})
    tz, user = company_tz(), current_user._get_current_object()
    # The checks only read and hold no lock; the writes (the insert that is the idempotency
    # check, the summary steps) hold SQLite's one write lock from begin_writes to the commit.
    checked = visits.check_visit(db.session, user, body, tz=tz, now=now())
    if isinstance(checked, visits.Recorded):  # a replay of a request that fails the checks
        return jsonify(schemas.visit_to_dict(checked.visit, tz)), 200
    with unit_of_work(last=True):
        begin_writes(db.session)
        result = visits.store_visit(db.session, user, checked, now=now())
    # Built after the commit, once SQLite's write lock is let go (the other writers wait for it
    # meanwhile), from the objects in hand: the last unit of work did not expire them.
    return jsonify(schemas.visit_to_dict(result.visit, tz)), 201 if result.created else 200


@bp.post("/follow-ups/<int:follow_up_id>/done")
@api_view
def follow_up_done(follow_up_id: int):
    body = _json_object()
    with unit_of_work():
        follow_up = follow_ups.complete_follow_up(
            db.session, current_user, follow_up_id, body.get("done_on"), today=local_today()
        )
    return jsonify(schemas.follow_up_to_dict(follow_up))


@bp.post("/follow-ups/<int:follow_up_id>/reschedule")
@api_view
def follow_up_reschedule(follow_up_id: int):
    body = _json_object()
    with unit_of_work():
        follow_up = follow_ups.reschedule_follow_up(
            db.session,
            current_user,
            follow_up_id,
            body.get("due_on"),
            tz=company_tz(),
            today=local_today(),
        )
        answer = schemas.follow_up_to_dict(follow_up)
    return jsonify(answer)


@bp.post("/follow-ups/<int:follow_up_id>/cancel")
@api_view
def follow_up_cancel(follow_up_id: int):
    """Cancel an open follow-up (Today's bulk cancel sends one per follow-up, offline too)."""
    with unit_of_work():
        follow_up = follow_ups.cancel_follow_up(db.session, current_user, follow_up_id)
        answer = schemas.follow_up_to_dict(follow_up)
    return jsonify(answer)


@bp.get("/plan")
@api_view
def plan_of_day():
    """The logged-in user's plan for ?date= (default today): who to visit, why, for what."""
    today = local_today()
    day = plan.parse_day(request.args.get("date"), today=today)

    def build() -> bytes:
        items = plan.build_plan(
            db.session, current_user, day, tz=company_tz(), settings=company_settings(db.session)
        )
        labels = directory.purpose_labels(db.session, str(get_locale()))
        answer = {"date": day.isoformat(), "items": plan_text.items_to_dicts(items, labels)}
        return jsonify(answer).get_data()

    # Kept as the answer's bytes while the data holds (page_cache): 300 items are ~180 KB.
    return current_app.response_class(kept("api_plan", today, build), mimetype="application/json")


@bp.post("/plan")
@api_view
def plan_add():
    """Plan a visit to a customer on a day; the same customer and day again is harmless."""
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        return json_error("invalid", 422, errors={"_": [_l("Send a JSON object.")]})
    with unit_of_work():
        planned, created = planned_visits.plan_visit(
            db.session, current_user, body, today=local_today()
        )
        items = plan.build_plan(
            db.session,
            current_user,
            planned.planned_on,
            tz=company_tz(),
            settings=company_settings(db.session),
            only=planned.customer_id,
        )
        labels = directory.purpose_labels(db.session, str(get_locale()))
        answer = {
            "date": planned.planned_on.isoformat(),
            **plan_text.item_to_dict(items[0], labels),
            "purpose": planned.purpose.code if planned.purpose else None,
            "note": planned.note,
        }
    return jsonify(answer), 201 if created else 200


@bp.post("/proposals/<int:proposal_id>/close")
@api_view
def proposal_close(proposal_id: int):
    body = _json_object()
    with unit_of_work():
        proposal = proposals.close_proposal(
            db.session,
            current_user,
            proposal_id,
            body.get("status"),
            body.get("closed_on"),
            today=local_today(),
        )
    return jsonify(schemas.proposal_to_dict(proposal))


@bp.get("/offline-data")
@api_view
def offline_data():
    """What a phone keeps to work offline: customers, open follow-ups, purposes, categories,
    and today's plan (the Today page itself is kept by the service worker)."""
    user = current_user
    settings = company_settings(db.session)
    day = local_today()
    labels = directory.purpose_labels(db.session, str(get_locale()))
    todays_plan = plan.build_plan(db.session, user, day, tz=company_tz(), settings=settings)
    customers = today_service.active_customers(db.session, user)
    follow_ups = today_service.all_open_follow_ups(db.session, user)
    open_by_customer: dict[int, list[dict[str, Any]]] = {}
    for follow_up in follow_ups:
        open_by_customer.setdefault(follow_up.customer_id, []).append(
            {"id": follow_up.id, "action": follow_up.action, "due_on": follow_up.due_on.isoformat()}
        )
    purposes = directory.offered_purposes(db.session)
    categories = directory.offered_categories(db.session)
    return jsonify(
        {
            "user": user.email,
            "customers": [
                {
                    "code": c.code,
                    "name": c.name,
                    "name_kana": c.name_kana,
                    "search": c.search_text,
                    "rank": c.rank,
                    "visit_cycle_days": today_service.cycle_days(c, settings),
                    "own": c.rep_id == user.id,
                    "open_follow_ups": open_by_customer.get(c.id, []),
                }
                for c in customers
            ],
            "purposes": [
                {
                    "code": p.code,
                    "label_ja": p.label_ja,
                    "label_en": p.label_en,
                    "purposeful": p.purposeful,
                }
                for p in purposes
            ],
            "categories": [{"code": c.code, "name": c.name} for c in categories],
            "plan": {
                "date": day.isoformat(),
                "items": plan_text.items_to_dicts(todays_plan, labels),
            },
        }
    )
