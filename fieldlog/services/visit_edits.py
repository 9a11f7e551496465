"""Correcting a visit after it was recorded: its own fields, by its rep, within 7 days.

Every change is kept as a ``VisitRevision`` (who, when, old → new); the visit's proposals and
the follow-ups it completed follow its new local date, and so do the dormancy runs.
Flushes, never commits.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import Session

from ..kpi import dormancy, lead_cache
from ..models import FollowUp, Purpose, User, Visit, VisitRevision
from ..rules.periods import local_date
from . import schemas
from .errors import Forbidden, Invalid

EDIT_WINDOW = timedelta(days=7)
EDITABLE = ("visited_at", "purpose", "purpose_note", "hearing_done", "hearing_note", "note")


def can_edit(user: User, visit: Visit, *, now: datetime) -> bool:
    """Only the rep who logged a visit may correct it, for 7 days after it was recorded."""
    return visit.rep_id == user.id and now <= visit.created_at + EDIT_WINDOW


def update_visit(
    session: Session,
    user: User,
    visit: Visit,
    changes: Mapping[str, Any],
    *,
    now: datetime,
    tz: ZoneInfo,
) -> VisitRevision | None:
    """Correct a visit's own fields, validated as record_visit does, keeping a revision.

    ``changes`` carries API-shaped values for keys of EDITABLE. The purposeful flag follows
    the new purpose; proposals keep ``proposed_on`` equal to the visit's local date, and the
    follow-ups this visit ticked off keep ``done_on`` equal to it (docs/domain.md), unless their
    date was set on its own since. Returns the revision, or None when nothing changed.
    """
    if not can_edit(user, visit, now=now):
        raise Forbidden(_l("A visit can be corrected only by its rep, within 7 days."))
    current: dict[str, Any] = {
        "client_id": visit.client_id,
        "customer_code": visit.customer.code,
        "visited_at": visit.visited_at.isoformat(),
        "purpose": visit.purpose.code,
        "purpose_note": visit.purpose_note,
        "hearing_done": visit.hearing_done,
        "hearing_note": visit.hearing_note,
        "note": visit.note,
    }
    merged = {**current, **{k: v for k, v in changes.items() if k in EDITABLE}}
    data = schemas.parse_visit(merged, now=now, client_id=visit.client_id)
    errors = schemas.Errors()
    purpose = session.scalars(select(Purpose).where(Purpose.code == data.purpose)).first()
    if purpose is None:
        errors.add("purpose", _l("Unknown purpose."))
    visit_day = local_date(data.visited_at, tz)
    if any(f.due_on < visit_day for f in visit.follow_ups):
        errors.add("visited_at", _l("The visit cannot be after its next action's due date."))
    if any(p.closed_on is not None and p.closed_on < visit_day for p in visit.proposals):
        errors.add("visited_at", _l("The visit cannot be after its proposal was closed."))
    if errors:
        raise Invalid(errors=dict(errors))
    assert purpose is not None

    new = {
        "visited_at": data.visited_at,
        "purpose": purpose,
        "purpose_note": data.purpose_note,
        "hearing_done": data.hearing_done,
        "hearing_note": data.hearing_note,
        "note": data.note,
    }
    old_at = visit.visited_at
    old_day = local_date(old_at, tz)
    diff: dict[str, list[Any]] = {}
    for name, value in new.items():
        old = getattr(visit, name)
        if old != value:
            diff[name] = [_plain(old, tz), _plain(value, tz)]
            setattr(visit, name, value)
    if not diff:
        return None
    if "visited_at" in diff:
        visit.time_known = True  # the rep gave the time (an imported bare date had none)
    if "purpose" in diff:
        # Only a new purpose takes the list's current flag; other edits keep the recorded one.
        visit.purposeful = purpose.purposeful
    for proposal in visit.proposals:
        proposal.proposed_on = visit_day
    lead_cache.rows_changed(session, [visit, *visit.proposals])  # before a query flushes them
    if visit_day != old_day:
        # done_on is the completing visit's local date; one marked done by hand since (the
        # last call wins) carries another date and is left as it is.
        completed = session.scalars(
            select(FollowUp).where(FollowUp.done_visit_id == visit.id, FollowUp.done_on == old_day)
        ).all()
        for follow_up in completed:
            follow_up.done_on = visit_day
        lead_cache.rows_changed(session, completed)
    revision = VisitRevision(visit=visit, user=user, changed_at=now, changes=diff)
    session.add(revision)
    session.flush()
    if "visited_at" in diff:
        dormancy.visits_changed(session, visit.customer_id, [old_at, data.visited_at])
    return revision


def _plain(value: Any, tz: ZoneInfo) -> Any:
    """A JSON-friendly form of a field value for the revision record."""
    if isinstance(value, datetime):
        return value.astimezone(tz).isoformat()
    if isinstance(value, Purpose):
        return value.code
    return value
