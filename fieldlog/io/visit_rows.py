"""The proposals and next actions of imported visit rows (docs/import-visits.md).

Each row's proposal and follow-up are written in bulk after its visit: inserted, updated in
place (a row with a known ``ref``), or removed when the row no longer has one. Used by
``visit_history.VisitHandler.write``.
"""

from __future__ import annotations

from collections.abc import Callable
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

    def values(r: dict[str, Any]) -> dict[str, Any]:
        p = r["proposal"]
        return {
            **owned(r),
            "category_id": p["category_id"],
            "kind": p["kind"] or kinds[r["visit_id"]],
            "amount": p["amount"],
            "status": p["status"],
            "closed_on": p["closed_on"],
            "proposed_on": r["day"],
            "updated_at": now,
        }

    ids = {visit_id: known[0] for visit_id, known in stored.items()}
    inserts, updates, gone = _sorted_out(
        records, "proposal", ids, values, {"note": "", "created_at": now}
    )
    if gone:
        dropped = select(Proposal.id).where(Proposal.visit_id.in_(gone))
        s.execute(delete(ProposalRevision).where(ProposalRevision.proposal_id.in_(dropped)))
        s.execute(delete(Proposal).where(Proposal.visit_id.in_(gone)))
    _write(s, Proposal, inserts, updates)


def _sorted_out(
    records: list[dict[str, Any]],
    part: str,
    stored: dict[int, int],
    values: Callable[[dict[str, Any]], dict[str, Any]],
    when_new: dict[str, Any],
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[int]]:
    """Each row's ``part`` (its proposal or its next action) as a row to insert, a row to update
    in place (``stored``: the id kept for the visit), or the visit whose stored one goes."""
    inserts, updates, gone = [], [], []
    for r in records:
        known = stored.get(r["visit_id"])
        if r[part] is None:
            if known is not None:
                gone.append(r["visit_id"])
        elif known is None:
            inserts.append({**values(r), **when_new})
        else:
            updates.append({"id": known, **values(r)})
    return inserts, updates, gone


def _write(
    session: Session, model: Any, inserts: list[dict[str, Any]], updates: list[dict[str, Any]]
) -> None:
    """The rows sorted out, in bulk: one INSERT and one UPDATE (by primary key) at most."""
    if inserts:
        session.execute(insert(model), inserts)
    if updates:
        session.execute(update(model), updates)


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
    inserts, updates, gone = _sorted_out(
        records,
        "follow_up",
        stored,
        lambda r: {**owned(r), **r["follow_up"], "updated_at": now},
        {"cancelled": False, "created_at": now},
    )
    if gone:
        s.execute(delete(FollowUp).where(FollowUp.visit_id.in_(gone)))
    _write(s, FollowUp, inserts, updates)
