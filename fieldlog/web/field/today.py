"""Today: the rep's plan for the day, the rest of it, and adding a customer to it."""

from __future__ import annotations

from datetime import timedelta

from flask import current_app, flash, redirect, render_template, request, url_for
from flask_babel import format_date, get_locale
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required

from ...app.extensions import db
from ...services import access, directory, plan, plan_text, planned_visits
from ...services import today as today_service
from ...services.defaults import company_settings
from ...services.errors import Invalid
from ..common import company_tz, local_today, roles_required
from ..page_cache import kept_page
from ..transaction import unit_of_work
from .blueprint import PLAN_HANDFUL, back, bp, flash_errors


def _plan_items(branch: bool) -> list[plan.PlanItem]:
    return plan.build_plan(
        db.session,
        current_user,
        local_today(),
        tz=company_tz(),
        settings=company_settings(db.session),
        branch=branch,
    )


@bp.get("/")
@login_required
def today():
    if access.is_owner(current_user):
        if "manage.summary" in current_app.view_functions:
            return redirect(url_for("manage.summary"))
        return render_template("field/owner_home.html")
    day = local_today()
    return kept_page("today", day, lambda: _render_today(day))


def _render_today(day):
    branch = request.args.get("scope") == "branch"
    items = _plan_items(branch)
    # Only the handful is worded and rendered; "show all" fetches the rest (plan_rest), or
    # ?plan=all renders it here (no JavaScript, or offline from the page cache).
    shown = items if request.args.get("plan") == "all" else items[:PLAN_HANDFUL]
    labels = directory.purpose_labels(db.session, str(get_locale()))
    # The long-overdue group lists its first rows; ?overdue=all lists every one (its link).
    every_old = request.args.get("overdue") == "all"
    due = today_service.due_today(
        db.session,
        current_user,
        today=day,
        shown=None if every_old else today_service.LONG_OVERDUE_SHOWN,
    )
    return render_template(
        "field/today.html",
        today=day,
        next_week=day + timedelta(days=7),
        branch=branch,
        plan=[(item, plan_text.item_to_dict(item, labels)) for item in shown],
        plan_count=len(items),
        handful=PLAN_HANDFUL,
        purpose_labels=labels,
        reason_label=plan_text.label,
        due=due.due,
        long_overdue=due.long_overdue,
        long_overdue_count=due.long_overdue_count,
        long_overdue_open=every_old,
        long_overdue_days=today_service.LONG_OVERDUE_DAYS,
        recent=today_service.recent_visits(db.session, current_user),
    )


@bp.get("/plan/rest")
@login_required
def plan_rest():
    """The plan's rows after Today's handful, as list items for "show all"."""
    return kept_page("plan_rest", local_today(), _render_plan_rest)


def _render_plan_rest():
    items = _plan_items(request.args.get("scope") == "branch")[PLAN_HANDFUL:]
    labels = directory.purpose_labels(db.session, str(get_locale()))
    return render_template(
        "field/plan_rest.html",
        rows=list(zip(items, plan_text.items_to_dicts(items, labels), strict=True)),
        purpose_labels=labels,
        reason_label=plan_text.label,
    )


@bp.post("/plan")
@roles_required("rep", "manager")
def plan_add():
    """Plan a visit (from the customer page or My week): the form twin of POST /api/v1/plan."""
    payload = {
        "date": request.form.get("date") or local_today().isoformat(),
        "customer_code": request.form.get("customer_code"),
        "purpose": request.form.get("purpose") or None,
        "note": request.form.get("note") or None,
    }
    try:
        with unit_of_work():
            planned, _created = planned_visits.plan_visit(
                db.session, current_user, payload, today=local_today()
            )
    except Invalid as error:
        flash_errors(error)
        return back()
    flash(_l("Planned for %(date)s.", date=format_date(planned.planned_on, "medium")), "success")
    return back()
