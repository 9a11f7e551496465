"""Closing a proposal (won or lost), and correcting its amount, category and status after the
fact, with every change kept.

A manager or owner corrects any proposal in their scope; a rep corrects their own within the
visit correction window (visit_edits.EDIT_WINDOW, counted from when the proposal was recorded).
Flushes, never commits.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime, timedelta
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import Select, select
from sqlalchemy.orm import Session, joinedload

from ..kpi import lead_cache
from ..models import PROPOSAL_STATUSES, Category, Proposal, ProposalRevision, User
from ..present import limit_messages
from . import access, directory, schemas
from .errors import Forbidden, Invalid, NotFound
from .visit_edits import EDIT_WINDOW
from .visits import derive_kind

CORRECTABLE = ("amount", "category", "status", "closed_on")


def close_proposal(
    session: Session, user: User, proposal_id: int, status: Any, closed_on: Any, *, today: date
) -> Proposal:
    """Mark a proposal won or lost; the last call wins, so a rep may correct won to lost."""
    proposal = access.get(session, access.proposals(user), Proposal, proposal_id)
    if proposal is None:
        raise NotFound(_l("No such proposal."))
    errors = schemas.Errors()  # both fields are checked: an answer names every bad one
    if status not in ("won", "lost"):
        errors.add("status", _l("Status must be won or lost."))
    day = None
    try:
        day = schemas.past_date("closed_on", closed_on, today=today)
    except Invalid as exc:
        errors.update(exc.errors)
    if day is not None and day < proposal.proposed_on:
        errors.add("closed_on", _l("A proposal cannot close before it was made."))
    if errors or day is None:
        raise Invalid(errors=dict(errors))
    proposal.status = status
    proposal.closed_on = day
    lead_cache.rows_changed(session, [proposal])
    session.flush()
    return proposal


def can_correct(user: User, proposal: Proposal, *, now: datetime) -> bool:
    """Managers and owners within their scope; a rep their own, for EDIT_WINDOW after recording."""
    if access.is_manager_of(user, proposal.branch_id):
        return True
    return proposal.rep_id == user.id and now <= proposal.created_at + EDIT_WINDOW


def _amount(errors: schemas.Errors, raw: Any) -> int | None:
    if raw in (None, ""):
        return None
    if isinstance(raw, bool) or not isinstance(raw, int):
        errors.add("amount", _l("The amount must be a whole number of yen."))
        return None
    if message := limit_messages.amount_error(raw):
        errors.add("amount", message)
        return None
    return raw


def correct_proposal(
    session: Session,
    user: User,
    proposal: Proposal,
    changes: Mapping[str, Any],
    *,
    now: datetime,
    today: date,
) -> ProposalRevision | None:
    """Apply a correction; returns the revision kept, or None when nothing changed.

    ``changes`` holds any of CORRECTABLE: ``amount`` (whole yen or None), ``category`` (a code
    or "" for none), ``status`` (open, won, lost) and ``closed_on`` (YYYY-MM-DD; a closed
    status without it closes today). A new category derives the kind again, as when recorded.
    """
    if not can_correct(user, proposal, now=now):
        raise Forbidden(_l("Only a manager, or the rep within 7 days, may correct this proposal."))
    errors = schemas.Errors()
    new: dict[str, Any] = {}
    if "amount" in changes:
        new["amount"] = _amount(errors, changes["amount"])
    if "category" in changes:
        code = str(changes["category"] or "").strip()
        category = None
        if code:
            category = session.scalars(select(Category).where(Category.code == code)).first()
            if category is None:
                errors.add("category", _l("Unknown category."))
        new["category"] = category
    status = changes.get("status", proposal.status)
    if status not in PROPOSAL_STATUSES:
        errors.add("status", _l("Status must be open, won or lost."))
    elif status == "open":
        new["status"], new["closed_on"] = "open", None
    else:
        raw = changes.get("closed_on") or proposal.closed_on or today
        closed_on = schemas.parse_date(raw)
        if closed_on is None:
            errors.add("closed_on", _l("Give the date as YYYY-MM-DD."))
        elif closed_on < proposal.proposed_on:
            errors.add("closed_on", _l("A proposal cannot close before it was made."))
        elif closed_on > today + timedelta(days=1):
            errors.add("closed_on", _l("The date cannot be in the future."))
        else:
            new["status"], new["closed_on"] = status, closed_on
    if errors:
        raise Invalid(errors=dict(errors))

    diff: dict[str, list[Any]] = {}
    for name, value in new.items():
        old = getattr(proposal, name)
        if old != value:
            diff[name] = [_plain(old), _plain(value)]
            setattr(proposal, name, value)
    if not diff:
        return None
    if "category" in diff:
        category_id = proposal.category.id if proposal.category else None
        kind = derive_kind(session, proposal.customer_id, category_id, proposal.proposed_on)
        if kind != proposal.kind:
            diff["kind"] = [proposal.kind, kind]
            proposal.kind = kind
    revision = ProposalRevision(proposal=proposal, user=user, changed_at=now, changes=diff)
    session.add(revision)
    lead_cache.rows_changed(session, [proposal])
    session.flush()
    return revision


def _plain(value: Any) -> Any:
    """A JSON-friendly form of a field value for the revision record."""
    if isinstance(value, Category):
        return value.code
    if isinstance(value, date):
        return value.isoformat()
    return value


def categories(session: Session) -> list[Category]:
    """The categories a correction may choose, in the catalogue's order."""
    return directory.offered_categories(session)


def for_customer(session: Session, user: User, customer_id: int, limit: int = 50) -> list[Proposal]:
    """A customer's first ``limit`` proposals the user may see: open ones first, then by the day
    proposed, latest first."""
    stmt = (
        access.proposals(user)
        .where(Proposal.customer_id == customer_id)
        .order_by(Proposal.status != "open", Proposal.proposed_on.desc(), Proposal.id.desc())
        .limit(limit)
    )
    return list(session.scalars(stmt))


def _listed(user: User, where: Sequence[Any]) -> Select[tuple[Proposal]]:
    return (
        access.proposals(user)
        .where(*where)
        .options(joinedload(Proposal.customer), joinedload(Proposal.category))
    )


def open_proposals(user: User, where: Sequence[Any]) -> Select[tuple[Proposal]]:
    """The user's open proposals matching ``where``, latest proposed first (a statement to page)."""
    return (
        _listed(user, where)
        .where(Proposal.status == "open")
        .order_by(Proposal.proposed_on.desc(), Proposal.id)
    )


def recently_closed(
    session: Session, user: User, where: Sequence[Any], *, limit: int
) -> list[Proposal]:
    """The user's latest ``limit`` closed proposals matching ``where``, latest closed first."""
    stmt = (
        _listed(user, where)
        .where(Proposal.status != "open")
        .order_by(Proposal.closed_on.desc(), Proposal.id.desc())
        .limit(limit)
    )
    return list(session.scalars(stmt))
