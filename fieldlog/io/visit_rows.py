"""The proposals and next actions of imported visit rows (docs/import-visits.md).

Each row's proposal and follow-up are written in bulk after its visit: inserted, updated in
place (a row with a known ``ref``), or removed when the row no longer has one. Used by
``visit_history.VisitHandler.write``.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.orm import Session

from ..models import FollowUp, Proposal, ProposalRevision
from ..services.visits import derive_kinds


def owned(r: dict[str, Any]) -> dict[str, Any]:
    return {
        "visit_id": r["visit_id"],
        "rep_id": r["rep_id"],
        "branch_id": r["branch_id"],
        "customer_id": r["customer_id"],
    }


def write_proposals(
    session: Session, records: list[dict[str, Any]], any_old: bool, now: datetime
) -> None:
    """Each row's proposal: inserted, updated in place, or removed when the row has none."""
    s = session
    stored: dict[int, tuple[int, int, int | None, str, date]] = {}
    if any_old:
        for proposal_id, visit_id, customer_id, category_id, kind, proposed_on in s.execute(
            select(
                Proposal.id,
                Proposal.visit_id,
                Proposal.customer_id,
                Proposal.category_id,
                Proposal.kind,
                Proposal.proposed_on,
            )
            .where(Proposal.visit_id.in_([r["visit_id"] for r in records]))
            .order_by(Proposal.id)
        ):
            stored.setdefault(visit_id, (proposal_id, customer_id, category_id, kind, proposed_on))
    kinds = _kinds(session, records, stored)
    inserts, updates, gone = [], [], []
    for r in records:
        p, known = r["proposal"], stored.get(r["visit_id"])
        if p is None:
            if known is not None:
                gone.append(r["visit_id"])
            continue
        kind = p["kind"] or kinds[r["visit_id"]]
        values = {
            **owned(r),
            "category_id": p["category_id"],
            "kind": kind,
            "amount": p["amount"],
            "status": p["status"],
            "closed_on": p["closed_on"],
            "proposed_on": r["day"],
            "updated_at": now,
        }
        if known is None:
            inserts.append({**values, "note": "", "created_at": now})
        else:
            updates.append({"id": known[0], **values})
    if gone:
        dropped = select(Proposal.id).where(Proposal.visit_id.in_(gone))
        s.execute(delete(ProposalRevision).where(ProposalRevision.proposal_id.in_(dropped)))
        s.execute(delete(Proposal).where(Proposal.visit_id.in_(gone)))
    if inserts:
        s.execute(insert(Proposal), inserts)
    if updates:
        s.execute(update(Proposal), updates)


def _kinds(
    session: Session,
    records: list[dict[str, Any]],
    stored: dict[int, tuple[int, int, int | None, str, date]],
) -> dict[int, str]:
    """The kind of each row's proposal that has none given, by visit id (one query).

    Derived once, when recorded (docs/domain.md): a stored kind is kept unless what it
    rests on — the customer, the category or the day — moved.
    """
    kinds: dict[int, str] = {}
    derive = []
    for r in records:
        p, known = r["proposal"], stored.get(r["visit_id"])
        if p is None or p["kind"] is not None:
            continue
        if known is not None and (known[1], known[2], known[4]) == (
            r["customer_id"],
            p["category_id"],
            r["day"],
        ):
            kinds[r["visit_id"]] = known[3]
        else:
            derive.append(r)
    wanted = [(r["customer_id"], r["proposal"]["category_id"], r["day"]) for r in derive]
    for r, kind in zip(derive, derive_kinds(session, wanted), strict=True):
        kinds[r["visit_id"]] = kind
    return kinds


def write_follow_ups(
    session: Session, records: list[dict[str, Any]], any_old: bool, now: datetime
) -> None:
    """Each row's next action: inserted, updated in place, or removed when the row has none."""
    s = session
    stored: dict[int, int] = {}
    if any_old:
        for follow_up_id, visit_id in s.execute(
            select(FollowUp.id, FollowUp.visit_id)
            .where(FollowUp.visit_id.in_([r["visit_id"] for r in records]))
            .order_by(FollowUp.id)
        ):
            stored.setdefault(visit_id, follow_up_id)
    inserts, updates, gone = [], [], []
    for r in records:
        f, known = r["follow_up"], stored.get(r["visit_id"])
        if f is None:
            if known is not None:
                gone.append(r["visit_id"])
            continue
        values = {**owned(r), **f, "updated_at": now}
        if known is None:
            inserts.append({**values, "cancelled": False, "created_at": now})
        else:
            updates.append({"id": known, **values})
    if gone:
        s.execute(delete(FollowUp).where(FollowUp.visit_id.in_(gone)))
    if inserts:
        s.execute(insert(FollowUp), inserts)
    if updates:
        s.execute(update(FollowUp), updates)
