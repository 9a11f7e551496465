"""Logging a visit (the form and its pickers), my visits, one visit and its correction."""

from __future__ import annotations

import uuid
from typing import Any

from flask import abort, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import get_locale
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required

from ...app.extensions import db
from ...models import Visit
from ...rules import limits
from ...rules.text import search_key
from ...services import access, browse, directory, plan, planned_visits, visit_edits, visits
from ...services import today as today_service
from ...services.defaults import company_settings
from ...services.errors import ClientIdReused, Invalid
from .. import visit_form
from ..common import company_tz, local_today, now, roles_required
from ..transaction import unit_of_work
from .blueprint import PAGE_SIZE, SEARCH_LIMIT, bp, list_filter


def _render_form(values: dict[str, Any], errors: dict[str, list[str]], status: int = 200):
    groups = plan.picker(
        db.session,
        current_user,
        local_today(),
        tz=company_tz(),
        settings=company_settings(db.session),
    )
    code = values.get("customer_code", "")
    customer = next((c for c in groups if c.code == code), None)
    follow_ups = (
        today_service.open_follow_ups(db.session, current_user, customer) if customer else []
    )
    purposes = directory.offered_purposes(db.session)
    categories = directory.offered_categories(db.session)
    late_days = company_settings(db.session).late_entry_days
    return render_template(
        "field/visit_new.html",
        v=values,
        late_entry_days=late_days,
        late_shown=visit_form.entered_late(
            values.get("visited_at", ""), company_tz(), now(), late_days
        )
        or bool(values.get("late_reason")),
        errors=errors,
        picker=groups,
        customer=customer,
        follow_ups=follow_ups,
        purposes=list(purposes),
        categories=list(categories),
        due_presets=visit_form.DUE_PRESETS,
        action_presets=visit_form.ACTION_PRESETS,
        utc_offset=now().astimezone(company_tz()).isoformat()[-6:],
    ), status


@bp.route("/visits/new", methods=["GET", "POST"])
@roles_required("rep", "manager")
def new_visit():
    tz = company_tz()
    if request.method == "GET":
        code = request.args.get("customer", "")
        values = {
            "client_id": str(uuid.uuid4()),
            "customer_code": code,
            "visited_at": visit_form.local_input_value(now(), tz),
            # A follow-up row of Today opens the form with that follow-up ticked.
            "completes_follow_ups": request.args.getlist("follow_up"),
            # A planned customer's visit starts from the purpose decided before going, else
            # from the one Today's plan suggested (its link carries it; the form offers only
            # active purposes, so another code selects nothing).
            "purpose": (
                planned_visits.planned_purpose(db.session, current_user, code, local_today())
                if code
                else None
            )
            or request.args.get("purpose", "")[:64]
            or None,
        }
        return _render_form(values, {})
    values = request.form.to_dict()
    values["completes_follow_ups"] = request.form.getlist("completes_follow_ups")
    payload = visit_form.to_payload(request.form, tz=tz, now=now())
    try:
        with unit_of_work():
            result = visits.record_visit(db.session, current_user, payload, tz=tz, now=now())
    except Invalid as error:
        return _render_form(values, visit_form.form_errors(error.errors), 422)
    except ClientIdReused as error:
        values["client_id"] = str(uuid.uuid4())
        return _render_form(values, {"form": [str(error.message)]}, 422)
    flash(_l("Visit saved.") if result.created else _l("This visit was already saved."), "success")
    return redirect(url_for("field.today"))


@bp.get("/customers/search")
@login_required
def customer_search():
    """JSON for the picker: active customers matching code, name or reading (kana-insensitive)."""
    key = search_key(request.args.get("q", ""))
    found = today_service.active_customers(db.session, current_user, search=key, limit=SEARCH_LIMIT)
    return jsonify([{"code": c.code, "name": c.name, "name_kana": c.name_kana} for c in found])


@bp.get("/customers/<code>/open-follow-ups")
@login_required
def customer_open_follow_ups(code: str):
    """JSON for the form: the chosen customer's open follow-ups the user may tick off."""
    customer = today_service.visible_customer(db.session, current_user, code)
    if customer is None:
        abort(404)
    items = today_service.open_follow_ups(db.session, current_user, customer)
    return jsonify(
        [{"id": f.id, "action": f.action, "due_on": f.due_on.isoformat()} for f in items]
    )


@bp.get("/visits", endpoint="visits")
@login_required
def visits_list():
    chosen, args = list_filter()
    page = browse.visits_page(
        db.session,
        current_user,
        chosen,
        page=limits.page_number(request.args.get("page")),
        per_page=PAGE_SIZE,
    )
    return render_template("field/visits.html", page=page, args=args)


def _visit_or_404(visit_id: int) -> Visit:
    visit = access.get(db.session, access.visits(current_user), Visit, visit_id)
    if visit is None:
        abort(404)
    return visit


@bp.get("/visits/<int:visit_id>")
@login_required
def visit(visit_id: int):
    item = _visit_or_404(visit_id)
    purposes = directory.purposes(db.session)
    return render_template(
        "field/visit.html",
        visit=item,
        can_edit=visit_edits.can_edit(current_user, item, now=now()),
        purpose_labels={p.code: p.label(str(get_locale())) for p in purposes},
    )


@bp.route("/visits/<int:visit_id>/edit", methods=["GET", "POST"])
@login_required
def edit_visit(visit_id: int):
    item = _visit_or_404(visit_id)
    if not visit_edits.can_edit(current_user, item, now=now()):
        abort(403)
    tz = company_tz()
    errors: dict[str, list[str]] = {}
    if request.method == "POST":
        raw_time = request.form.get("visited_at", "")
        changes = {
            "purpose": request.form.get("purpose", ""),
            "purpose_note": request.form.get("purpose_note", ""),
            "hearing_done": {"yes": True, "no": False}.get(request.form.get("hearing_done", "")),
            "hearing_note": request.form.get("hearing_note", ""),
            "note": request.form.get("note", ""),
        }
        # The input shows minutes only: an untouched time must not count as a change.
        if raw_time != visit_form.local_input_value(item.visited_at, tz):
            changes["visited_at"] = visit_form.parse_local(raw_time, tz)
        try:
            with unit_of_work():
                visit_edits.update_visit(db.session, current_user, item, changes, now=now(), tz=tz)
        except Invalid as error:
            errors = visit_form.form_errors(error.errors)
        else:
            flash(_l("Visit corrected."), "success")
            return redirect(url_for("field.visit", visit_id=item.id))
        values = request.form.to_dict()
    else:
        values = {
            "visited_at": visit_form.local_input_value(item.visited_at, tz),
            "purpose": item.purpose.code,
            "purpose_note": item.purpose_note,
            "hearing_done": "yes" if item.hearing_done else "no",
            "hearing_note": item.hearing_note,
            "note": item.note,
        }
    purposes = directory.offered_purposes(db.session)
    return render_template(
        "field/visit_edit.html", visit=item, v=values, errors=errors, purposes=purposes
    ), (422 if errors else 200)
