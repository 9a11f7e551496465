"""Follow-ups: done, rescheduled, cancelled, one at a time or in bulk."""

from __future__ import annotations

from flask import abort, flash, request
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required

from ...app.extensions import db
from ...rules import limits
from ...services import follow_ups as follow_up_service
from ...services.errors import Invalid
from ..common import company_tz, local_today
from ..transaction import unit_of_work
from .blueprint import back, bp, flash_errors


@bp.post("/follow-ups/<int:follow_up_id>/done")
@login_required
def follow_up_done(follow_up_id: int):
    day = local_today()
    with unit_of_work():
        follow_up_service.complete_follow_up(
            db.session, current_user, follow_up_id, day.isoformat(), today=day
        )
    flash(_l("Follow-up marked done."), "success")
    return back()


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
        return back()
    flash(_l("Follow-up rescheduled."), "success")
    return back()


@bp.post("/follow-ups/bulk")
@login_required
def follow_ups_bulk():
    """Reschedule or cancel the ticked follow-ups (Today's long-overdue group), all or none."""
    ids = [limits.row_id(i) for i in request.form.getlist("ids") if i.strip()]
    if None in ids:  # an id that cannot exist is unknown, as one out of the user's scope is
        abort(404)
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
        flash_errors(error)
        return back()
    if action == "cancel":
        flash(_l("%(n)s follow-ups cancelled.", n=count), "success")
    else:
        flash(_l("%(n)s follow-ups rescheduled.", n=count), "success")
    return back()


@bp.post("/follow-ups/<int:follow_up_id>/cancel")
@login_required
def follow_up_cancel(follow_up_id: int):
    with unit_of_work():
        follow_up_service.cancel_follow_up(db.session, current_user, follow_up_id)
    flash(_l("Follow-up cancelled."), "success")
    return back()
