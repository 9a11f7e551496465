"""The rep's screens: Today, visit entry, my visits, proposals, customers."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import format_date, get_locale
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required

from ..app.extensions import db
from ..models import Customer, Proposal, Visit
from ..present import charts, numbers
from ..rules import limits
from ..rules.text import search_key
from ..services import (
    access,
    browse,
    customer_profile,
    directory,
    plan,
    plan_text,
    visit_edits,
    visits,
)
from ..services import follow_ups as follow_up_service
from ..services import proposals as corrections
from ..services import today as today_service
from ..services.defaults import company_settings
from ..services.errors import ClientIdReused, Invalid
from . import visit_form
from .auth import _safe_next
from .common import company_tz, local_today, now, roles_required
from .transaction import unit_of_work

bp = Blueprint("field", __name__)

PAGE_SIZE = 20
CUSTOMER_ROWS = 50  # visits, proposals and follow-ups on a customer's page, each
# How many of the plan's customers Today shows before "show all" (the phone's first screen).
PLAN_HANDFUL = 5
SEARCH_LIMIT = 20


def _back(default: str = "field.today") -> Any:
    return redirect(_safe_next(request.form.get("next")) or url_for(default))


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
    branch = request.args.get("scope") == "branch"
    items = _plan_items(branch)
    # Only the handful is worded and rendered; "show all" fetches the rest (plan_rest), or
    # ?plan=all renders it here (no JavaScript, or offline from the page cache).
    shown = items if request.args.get("plan") == "all" else items[:PLAN_HANDFUL]
    labels = plan.purpose_labels(db.session, str(get_locale()))
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
    items = _plan_items(request.args.get("scope") == "branch")[PLAN_HANDFUL:]
    labels = plan.purpose_labels(db.session, str(get_locale()))
    return render_template(
        "field/plan_rest.html",
        rows=[(item, plan_text.item_to_dict(item, labels)) for item in items],
        purpose_labels=labels,
        reason_label=plan_text.label,
    )


# ---- visit entry -------------------------------------------------------------------------


def _picker_customers() -> tuple[list[Customer], list[Customer]]:
    """Today's due customers (overdue or with a follow-up due), then every active one."""
    day = local_today()
    overdue = today_service.overdue_customers(
        db.session, current_user, today=day, tz=company_tz(), settings=company_settings(db.session)
    )
    due = [s.customer for s in overdue]
    for follow_up in today_service.due_follow_ups(db.session, current_user, today=day):
        if follow_up.customer not in due:
            due.append(follow_up.customer)
    return due, today_service.active_customers(db.session, current_user)


def _render_form(values: dict[str, Any], errors: dict[str, list[str]], status: int = 200):
    due, everyone = _picker_customers()
    code = values.get("customer_code", "")
    customer = next((c for c in everyone if c.code == code), None)
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
        due_customers=due,
        customers=everyone,
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
            # A planned customer's visit starts from the purpose decided before going.
            "purpose": plan.planned_purpose(db.session, current_user, code, local_today())
            if code
            else None,
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


# ---- visits ------------------------------------------------------------------------------


def _list_filter() -> tuple[browse.ListFilter, dict[str, str]]:
    """?q= (a customer's code, name or reading, kana-insensitive) and, for managers, ?mine=1."""
    q = request.args.get("q", "").strip()
    mine = not access.is_rep(current_user) and request.args.get("mine") == "1"
    args = {k: v for k, v in (("q", q), ("mine", "1" if mine else "")) if v}
    return browse.ListFilter(search_key(q), mine), args


@bp.get("/visits", endpoint="visits")
@login_required
def visits_list():
    chosen, args = _list_filter()
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


# ---- follow-ups and proposals ------------------------------------------------------------


def _flash_errors(error: Invalid) -> None:
    for messages in error.errors.values():
        for message in messages:
            flash(message, "error")


@bp.post("/follow-ups/<int:follow_up_id>/done")
@login_required
def follow_up_done(follow_up_id: int):
    day = local_today()
    with unit_of_work():
        follow_up_service.complete_follow_up(
            db.session, current_user, follow_up_id, day.isoformat(), today=day
        )
    flash(_l("Follow-up marked done."), "success")
    return _back()


@bp.post("/follow-ups/<int:follow_up_id>/reschedule")
@login_required
def follow_up_reschedule(follow_up_id: int):
    try:
        with unit_of_work():
            follow_up_service.reschedule_follow_up(
                db.session,
                current_user,
                follow_up_id,
                request.form.get("due_on"),
                tz=company_tz(),
                today=local_today(),
            )
    except Invalid as error:
        for message in error.errors.get("due_on", []):
            flash(message, "error")
        return _back()
    flash(_l("Follow-up rescheduled."), "success")
    return _back()


@bp.post("/follow-ups/bulk")
@login_required
def follow_ups_bulk():
    """Reschedule or cancel the ticked follow-ups (Today's long-overdue group), all or none."""
    ids = [int(i) for i in request.form.getlist("ids") if i.isdigit()]
    action = request.form.get("action", "")
    try:
        with unit_of_work():
            count = follow_up_service.bulk_follow_ups(
                db.session,
                current_user,
                ids,
                action,
                request.form.get("due_on"),
                tz=company_tz(),
                today=local_today(),
            )
    except Invalid as error:
        _flash_errors(error)
        return _back()
    if action == "cancel":
        flash(_l("%(n)s follow-ups cancelled.", n=count), "success")
    else:
        flash(_l("%(n)s follow-ups rescheduled.", n=count), "success")
    return _back()


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
            planned, _created = plan.plan_visit(
                db.session, current_user, payload, today=local_today()
            )
    except Invalid as error:
        _flash_errors(error)
        return _back()
    flash(_l("Planned for %(date)s.", date=format_date(planned.planned_on, "medium")), "success")
    return _back()


@bp.post("/follow-ups/<int:follow_up_id>/cancel")
@login_required
def follow_up_cancel(follow_up_id: int):
    with unit_of_work():
        follow_up_service.cancel_follow_up(db.session, current_user, follow_up_id)
    flash(_l("Follow-up cancelled."), "success")
    return _back()


@bp.get("/proposals")
@login_required
def proposals():
    chosen, args = _list_filter()
    open_, closed = browse.proposals(
        db.session,
        current_user,
        chosen,
        page=limits.page_number(request.args.get("page")),
        per_page=PAGE_SIZE,
    )
    clock = now()
    return render_template(
        "field/proposals.html",
        page=open_,
        closed=closed,
        args=args,
        can_correct=lambda p: corrections.can_correct(current_user, p, now=clock),
    )


@bp.post("/proposals/<int:proposal_id>/close")
@login_required
def proposal_close(proposal_id: int):
    day = local_today()
    status = request.form.get("status")
    # A correction from the closed list sends the day it closed; a first result is today's.
    closed_on = request.form.get("closed_on") or day.isoformat()
    with unit_of_work():
        corrections.close_proposal(
            db.session, current_user, proposal_id, status, closed_on, today=day
        )
    flash(_l("Marked as won.") if status == "won" else _l("Marked as lost."), "success")
    return _back("field.proposals")


@bp.route("/proposals/<int:proposal_id>/edit", methods=["GET", "POST"])
@login_required
def proposal_edit(proposal_id: int):
    """Correct a proposal's amount, category and status; every change is kept and listed."""
    item = access.get(db.session, access.proposals(current_user), Proposal, proposal_id)
    if item is None:
        abort(404)
    if not corrections.can_correct(current_user, item, now=now()):
        abort(403)
    errors: dict[str, list[Any]] = {}
    if request.method == "POST":
        values = request.form.to_dict()
        # Only the fields the form sent: an absent one is left as it is.
        changes: dict[str, Any] = {
            k: values[k] for k in ("category", "status", "closed_on") if k in values
        }
        if "amount" in values:
            changes["amount"] = visit_form.parse_amount(values["amount"])
        try:
            with unit_of_work():
                corrections.correct_proposal(
                    db.session, current_user, item, changes, now=now(), today=local_today()
                )
        except Invalid as error:
            errors = error.errors
        else:
            flash(_l("Proposal corrected."), "success")
            return redirect(url_for("field.proposal_edit", proposal_id=item.id))
    else:
        values = {
            "amount": "" if item.amount is None else str(item.amount),
            "category": item.category.code if item.category else "",
            "status": item.status,
            "closed_on": item.closed_on.isoformat() if item.closed_on else "",
        }
    return render_template(
        "field/proposal_edit.html",
        proposal=item,
        v=values,
        errors=errors,
        categories=corrections.categories(db.session),
    ), (422 if errors else 200)


# ---- customers ---------------------------------------------------------------------------


@bp.get("/customers")
@login_required
def customers():
    q = request.args.get("q", "").strip()
    page = browse.customers_page(
        db.session,
        current_user,
        search_key(q),
        page=limits.page_number(request.args.get("page")),
        per_page=PAGE_SIZE,
    )
    return render_template("field/customers.html", page=page, q=q)


def _short(name: str, size: int = 5) -> str:
    """A category name short enough for a chart's axis (the table beside it has it whole)."""
    return name if len(name) <= size else name[: size - 1] + "…"


def _line_name(line: customer_profile.CategoryMonths, size: int = 7) -> str:
    """A line of the monthly series by name: its category, "others" or "no category"."""
    if line.others:
        return str(_l("Others"))
    return _short(line.name, size) if line.name else str(_l("No category"))


def _monthly_chart(monthly: customer_profile.MonthlySales | None, locale: str) -> str | None:
    """The customer's sales per category and month as one small line chart (docs/kpi.md)."""
    if monthly is None or not monthly.lines:
        return None
    return charts.line_chart(
        [format_date(m, "yy/MM") for m in monthly.months],
        [charts.Series(_line_name(line), line.amounts) for line in monthly.lines],
        title=str(_l("Sales by category per month, last 24 months")),
        fmt=lambda v: numbers.compact_yen(v, locale),
        width=360,
        height=230,
        text_size=9,
    )


@bp.get("/customers/<int:customer_id>")
@login_required
def customer(customer_id: int):
    status = browse.customer_status(
        db.session,
        current_user,
        customer_id,
        today=local_today(),
        tz=company_tz(),
        settings=company_settings(db.session),
    )
    if status is None:
        abort(404)
    shown = CUSTOMER_ROWS
    history = today_service.customer_visits(db.session, current_user, customer_id, shown)
    proposals_ = corrections.for_customer(db.session, current_user, customer_id, shown)
    follow_ups = today_service.customer_follow_ups(db.session, current_user, customer_id, shown)
    day = local_today()
    facts = customer_profile.profile(
        db.session, status.customer, day=day, tz=company_tz(), settings=company_settings(db.session)
    )
    locale = str(get_locale())
    return render_template(
        "field/customer.html",
        status=status,
        today=day,
        profile=facts,
        sales_chart=_monthly_chart(facts.monthly, locale) if facts.sales else None,
        line_name=_line_name,
        compact=lambda v: numbers.compact_yen(v, locale) if v else numbers.DASH,
        purposes=plan.purpose_labels(db.session, locale),
        plans=plan.upcoming_plans(db.session, current_user, customer_id, day),
        customer=status.customer,
        visits=list(history),
        proposals=list(proposals_),
        follow_ups=list(follow_ups),
        shown=shown,
        can_visit=access.can_visit(current_user, status.customer),
    )
