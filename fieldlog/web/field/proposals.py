"""Proposals: the list (open ones paged, recent closed ones), won or lost, corrected."""

from __future__ import annotations

from typing import Any

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required

from ...app.extensions import db
from ...models import Proposal
from ...rules import limits
from ...services import access, browse
from ...services import proposals as corrections
from ...services.errors import Invalid
from .. import visit_form
from ..common import local_today, now
from ..transaction import unit_of_work
from .blueprint import PAGE_SIZE, back, bp, list_filter


@bp.get("/proposals")
@login_required
def proposals():
    chosen, args = list_filter()
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
    return back("field.proposals")


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
