"""Follow-ups after they were set: done, moved to another day, cancelled, one or many at once.

Each takes the acting user and looks the follow-up up in their scope (``access.follow_ups``):
one outside it reads as unknown. Flushes, never commits.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session

from ..kpi import lead_cache
from ..models import FollowUp, User
from ..rules import limits
from ..rules.periods import local_date
from . import access, schemas
from .errors import Invalid, NotFound


def complete_follow_up(
    session: Session, user: User, follow_up_id: int, done_on: Any, *, today: date
) -> FollowUp:
    """Mark a follow-up done on a date; repeating it is harmless and the last call wins."""
    follow_up = access.get(session, access.follow_ups(user), FollowUp, follow_up_id)
    if follow_up is None:
        raise NotFound(_l("No such follow-up."))
    day = schemas.past_date("done_on", done_on, today=today)
    if follow_up.cancelled:
        raise Invalid(errors={"done_on": [_l("This follow-up was cancelled.")]})
    follow_up.done_on = day
    lead_cache.rows_changed(session, [follow_up])
    session.flush()
    return follow_up


def reschedule_follow_up(
    session: Session, user: User, follow_up_id: int, due_on: Any, *, tz: ZoneInfo, today: date
) -> FollowUp:
    """Move an open follow-up to another day, never before the visit that set it."""
    follow_up = access.get(session, access.follow_ups(user), FollowUp, follow_up_id)
    if follow_up is None:
        raise NotFound(_l("No such follow-up."))
    day = schemas.parse_date(due_on)
    # Each refusal is keyed on due_on and names the field in the form's words ("New due date"),
    # never by its key: the outbox and the form show the message as it is (docs/contract.md).
    if day is None:
        raise Invalid(
            errors={"due_on": [_l("New due date: give it as YYYY-MM-DD, e.g. 2026-12-06.")]}
        )
    if follow_up.cancelled or follow_up.done_on is not None:
        raise Invalid(
            errors={
                "due_on": [
                    _l(
                        "New due date: this follow-up is already done or cancelled, "
                        "so it cannot be moved."
                    )
                ]
            }
        )
    visit_day = local_date(follow_up.visit.visited_at, tz) if follow_up.visit else None
    if visit_day is not None and day < visit_day:
        raise Invalid(
            errors={
                "due_on": [
                    _l(
                        "New due date: it cannot be before the visit that set the "
                        "follow-up (%(date)s).",
                        date=f"{visit_day:%Y/%m/%d}",
                    )
                ]
            }
        )
    latest = today + timedelta(days=limits.MAX_DAYS_AWAY)
    if day > latest:
        raise Invalid(
            errors={
                "due_on": [
                    _l(
                        "New due date: it must be within a year of today (%(date)s at the latest).",
                        date=f"{latest:%Y/%m/%d}",
                    )
                ]
            }
        )
    follow_up.due_on = day
    lead_cache.rows_changed(session, [follow_up])
    session.flush()
    return follow_up


def cancel_follow_up(session: Session, user: User, follow_up_id: int) -> FollowUp:
    """Cancel a follow-up that is no longer needed (it stops counting as due).

    Cancelling again is harmless (an outbox may replay it); a follow-up already done stays done.
    """
    follow_up = access.get(session, access.follow_ups(user), FollowUp, follow_up_id)
    if follow_up is None:
        raise NotFound(_l("No such follow-up."))
    if follow_up.done_on is not None:
        raise Invalid(
            errors={
                "done_on": [
                    _l(
                        "This follow-up was done on %(date)s; only an open one can be cancelled.",
                        date=f"{follow_up.done_on:%Y/%m/%d}",
                    )
                ]
            }
        )
    follow_up.cancelled = True
    lead_cache.rows_changed(session, [follow_up])
    session.flush()
    return follow_up


def bulk_follow_ups(
    session: Session,
    user: User,
    ids: list[int],
    action: str,
    due_on: Any,
    *,
    tz: ZoneInfo,
    today: date,
) -> int:
    """Reschedule or cancel several follow-ups at once (all or nothing); returns how many."""
    if not ids:
        raise Invalid(errors={"ids": [_l("Tick at least one follow-up.")]})
    for follow_up_id in ids:
        if action == "reschedule":
            reschedule_follow_up(session, user, follow_up_id, due_on, tz=tz, today=today)
        elif action == "cancel":
            cancel_follow_up(session, user, follow_up_id)
        else:
            raise Invalid(errors={"action": [_l("Choose reschedule or cancel.")]})
    return len(ids)
