"""Customers: the list, and one customer's page (its visits, sales, what to do next)."""

from __future__ import annotations

from flask import abort, render_template, request
from flask_babel import format_date, get_locale
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required

from ...app.extensions import db
from ...present import charts, numbers
from ...rules import limits
from ...rules.text import search_key
from ...services import access, browse, customer_profile, directory, planned_visits
from ...services import proposals as corrections
from ...services import today as today_service
from ...services.defaults import company_settings
from ..common import company_tz, local_today
from .blueprint import CUSTOMER_ROWS, PAGE_SIZE, bp


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
        purposes=directory.purpose_labels(db.session, locale),
        plans=planned_visits.upcoming_plans(db.session, current_user, customer_id, day),
        customer=status.customer,
        visits=list(history),
        proposals=list(proposals_),
        follow_ups=list(follow_ups),
        shown=shown,
        can_visit=access.can_visit(current_user, status.customer),
    )
