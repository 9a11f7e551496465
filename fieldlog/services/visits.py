"""The one write path for visits: a visit with its proposal, next action and the follow-ups it
completes, stored once per client_id; and the upsell / cross-sell rule of its proposal.

Corrections live beside it: ``visit_edits`` (a visit's own fields), ``follow_ups`` (done,
moved, cancelled), ``proposals`` (closed, corrected). Every function here takes the acting
user, the session and the clock explicitly, flushes and never commits: the caller (view, API
handler, CLI) owns the transaction.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from flask_babel import lazy_gettext as _l
from sqlalchemy import bindparam, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from ..app import database
from ..kpi import dormancy, lead_cache
from ..models import (
    Category,
    Customer,
    FollowUp,
    Proposal,
    Purpose,
    SalesLine,
    User,
    Visit,
    utcnow,
)
from ..rules.periods import local_date
from . import access, schemas
from .errors import ClientIdReused, Forbidden, InProgress, Invalid

UPSELL_LOOKBACK_DAYS = 365


@dataclass
class Recorded:
    """The visit stored for a request, and whether this request created it."""

    visit: Visit
    created: bool


def derive_kind(session: Session, customer_id: int, category_id: int | None, on: date) -> str:
    """upsell if the customer bought the category in the 365 days before ``on``, else cross_sell.

    The window is on − 365 … on − 1 (the day itself excluded); no category gives ``other``.
    """
    if category_id is None:
        return "other"
    bought = session.scalar(
        select(SalesLine.id)
        .where(
            SalesLine.customer_id == customer_id,
            SalesLine.category_id == category_id,
            SalesLine.sold_on >= on - timedelta(days=UPSELL_LOOKBACK_DAYS),
            SalesLine.sold_on <= on - timedelta(days=1),
        )
        .limit(1)
    )
    return "upsell" if bought is not None else "cross_sell"


# The statements every visit post runs, built once (each build and cache key costs ~40 µs).
_BY_CLIENT_ID = select(Visit).where(
    Visit.rep_id == bindparam("rep_id"), Visit.client_id == bindparam("client_id")
)
# The customer and the purpose in one Core statement (one round trip; the rows become objects
# by database.as_loaded, ~0.2 ms less than the ORM's loading of two entities).
_CUSTOMER_AND_PURPOSE_ROWS = database.Rows(Customer, Purpose)
_CUSTOMER_AND_PURPOSE = (
    _CUSTOMER_AND_PURPOSE_ROWS.select()
    .select_from(Customer.__table__)
    .outerjoin(Purpose.__table__, Purpose.__table__.c.code == bindparam("purpose"))
    .where(Customer.__table__.c.code == bindparam("code"))
)


def derive_kinds(session: Session, wanted: Sequence[tuple[int, int | None, date]]) -> list[str]:
    """derive_kind for many (customer_id, category_id, on) at once, in one query (imports).

    The same rule and window as derive_kind: a sale of the category to the customer in
    on − 365 … on − 1 makes an upsell.
    """
    asked = [(c, k, on) for c, k, on in wanted if k is not None]
    bought: dict[tuple[int, int], list[date]] = {}
    if asked:
        lookback = timedelta(days=UPSELL_LOOKBACK_DAYS)
        rows = session.execute(
            select(SalesLine.customer_id, SalesLine.category_id, SalesLine.sold_on)
            .where(
                SalesLine.customer_id.in_({c for c, _k, _on in asked}),
                SalesLine.category_id.in_({k for _c, k, _on in asked}),
                SalesLine.sold_on >= min(on for _c, _k, on in asked) - lookback,
                SalesLine.sold_on <= max(on for _c, _k, on in asked) - timedelta(days=1),
            )
            .distinct()
        )
        for customer_id, category_id, sold_on in rows:
            bought.setdefault((customer_id, category_id), []).append(sold_on)
        for days in bought.values():
            days.sort()

    def kind(customer_id: int, category_id: int | None, on: date) -> str:
        if category_id is None:
            return "other"
        days = bought.get((customer_id, category_id), [])
        first = bisect_left(days, on - timedelta(days=UPSELL_LOOKBACK_DAYS))
        return "upsell" if first < len(days) and days[first] < on else "cross_sell"

    return [kind(*item) for item in wanted]


def _find(session: Session, user: User, client_id: str) -> Visit | None:
    """This user's visit with this client_id (a replay is rare: its answer loads the rest)."""
    return session.scalars(_BY_CLIENT_ID, {"rep_id": user.id, "client_id": client_id}).first()


def _replay(existing: Visit, digest: str) -> Recorded:
    if existing.payload_hash != digest:
        raise ClientIdReused(_l("This visit's sending ID was already used for a different visit."))
    return Recorded(existing, created=False)


@dataclass
class Checked:
    """A visit request that passed every rule, with what it refers to: ready to be written."""

    client_id: str
    digest: str
    data: schemas.VisitIn
    visit_day: date
    customer: Customer
    purpose: Purpose
    category: Category | None
    kind: str | None
    to_complete: list[FollowUp]


def record_visit(
    session: Session,
    user: User,
    payload: Mapping[str, Any],
    *,
    tz: ZoneInfo,
    now: datetime | None = None,
) -> Recorded:
    """Store a visit with its optional proposal, next action and completed follow-ups, once.

    Checks in the contract's order: client_id replay, then the customer, then the fields.
    A known client_id of this user returns the stored visit (same payload) or raises
    ClientIdReused; nothing is written twice even under concurrent duplicates. The same as
    ``check_visit`` then ``store_visit`` in one transaction.
    """
    now = now or utcnow()
    checked = check_visit(session, user, payload, tz=tz, now=now)
    if isinstance(checked, Recorded):
        return checked
    return store_visit(session, user, checked, now=now)


def check_visit(
    session: Session, user: User, payload: Mapping[str, Any], *, tz: ZoneInfo, now: datetime
) -> Recorded | Checked:
    """The reads of ``record_visit``: the checked visit, or the replay of a known client_id
    whose request no longer passes the checks.

    Writes nothing, so a caller may run it in a read transaction and ``store_visit`` in a
    short write transaction of its own (the sync API: SQLite has one writer at a time). The
    client_id is looked up only when a check fails: a valid request's replay is found by
    ``store_visit``'s insert, which writes nothing for a known client_id, so a new visit costs
    no lookup and the idempotency check sits in the write transaction (docs/architecture.md).
    """
    if not isinstance(payload, Mapping):
        raise Invalid(errors={"_": [_l("The request body must be a JSON object.")]})
    client_id = schemas.parse_client_id(payload)
    digest = schemas.payload_digest(payload)
    try:
        return _checked(session, user, payload, client_id, digest, tz=tz, now=now)
    except (Invalid, Forbidden):
        # The contract answers a known client_id with its stored visit before any check.
        existing = _find(session, user, client_id)
        if existing is not None:
            return _replay(existing, digest)
        raise


def _checked(
    session: Session,
    user: User,
    payload: Mapping[str, Any],
    client_id: str,
    digest: str,
    *,
    tz: ZoneInfo,
    now: datetime,
) -> Checked:
    if not access.can_log_visits(user):
        raise Forbidden(_l("Only reps and managers with a branch log visits."))
    code = payload.get("purpose")
    customer, purpose = _customer_for(
        session, user, payload.get("customer_code"), code.strip() if isinstance(code, str) else ""
    )
    data = schemas.parse_visit(payload, now=now, client_id=client_id)
    visit_day = local_date(data.visited_at, tz)

    errors = schemas.Errors()
    if purpose is None:
        errors.add("purpose", _l("Unknown purpose."))
    category = None
    if data.proposal and data.proposal.category:
        category = session.scalars(
            select(Category).where(Category.code == data.proposal.category)
        ).first()
        if category is None:
            errors.add("proposal.category", _l("Unknown category."))
    if data.next_action and data.next_action.due_on < visit_day:
        errors.add("next_action.due_on", _l("The next action cannot be due before the visit."))
    to_complete = _follow_ups_to_complete(
        session, user, customer, data.completes_follow_ups, errors
    )
    if errors:
        raise Invalid(errors=dict(errors))
    assert purpose is not None
    kind = None
    if data.proposal is not None:
        kind = data.proposal.kind or derive_kind(
            session, customer.id, category.id if category else None, visit_day
        )
    return Checked(
        client_id, digest, data, visit_day, customer, purpose, category, kind, list(to_complete)
    )


def store_visit(session: Session, user: User, checked: Checked, *, now: datetime) -> Recorded:
    """The writes of ``record_visit``: the visit, its proposal and next action, the follow-ups
    it completes and the dormancy summary; a client_id stored meanwhile answers as its replay.

    The answer's collections are set from the rows written here, so reading it loads nothing.
    """
    data, customer, visit_day = checked.data, checked.customer, checked.visit_day
    values = {
        "client_id": checked.client_id,
        "payload_hash": checked.digest,
        "rep_id": user.id,
        "branch_id": user.branch_id,
        "customer_id": customer.id,
        "visited_at": data.visited_at,
        "purpose_id": checked.purpose.id,
        "purposeful": checked.purpose.purposeful,
        "purpose_note": data.purpose_note,
        "hearing_done": data.hearing_done,
        "hearing_note": data.hearing_note,
        "note": data.note,
        "created_at": now,
        "updated_at": now,
        "source": "app",
        "saved_at": data.saved_at,
        "late_reason": data.late_reason,
        "ref": None,
    }
    inserted = _insert_visit(session, values)
    if inserted is None:
        # A concurrent request with the same client_id committed first: answer as its replay.
        existing = _find(session, user, checked.client_id)
        if existing is None:
            raise InProgress(_l("This visit is still being saved; try again.")) from None
        return _replay(existing, checked.digest)
    visit = inserted.visit
    for name, value in (
        ("rep", user),
        ("branch", user.branch),
        ("customer", customer),
        ("purpose", checked.purpose),
    ):
        set_committed_value(visit, name, value)
    lead_cache.visits_written(session, [visit.visited_at], stale=inserted.lead_stale)

    proposals: list[Proposal] = []
    follow_ups: list[FollowUp] = []
    if data.proposal is not None:
        proposals.append(
            Proposal(
                visit_id=visit.id,
                rep=user,
                branch_id=user.branch_id,
                customer=customer,
                category=checked.category,
                kind=checked.kind,
                amount=data.proposal.amount,
                note=data.proposal.note,
                proposed_on=visit_day,
            )
        )
    if data.next_action is not None:
        follow_ups.append(
            FollowUp(
                visit_id=visit.id,
                rep=user,
                branch_id=user.branch_id,
                customer=customer,
                action=data.next_action.action,
                due_on=data.next_action.due_on,
            )
        )
    session.add_all([*proposals, *follow_ups])
    completed = [f for f in checked.to_complete if f.done_on is None]
    for follow_up in completed:
        follow_up.done_on = visit_day
        follow_up.done_visit_id = visit.id
    lead_cache.rows_changed(session, [*proposals, *follow_ups, *completed])
    session.flush()  # nothing to write for a visit alone: no statement
    dormancy.visit_added(session, customer.id, visit.visited_at, params=inserted.dormancy)
    # What the answer lists is what was just written: no query reads it back.
    set_committed_value(visit, "proposals", proposals)
    set_committed_value(visit, "follow_ups", follow_ups)
    set_committed_value(visit, "completed_follow_ups", sorted(completed, key=lambda f: f.id))
    return Recorded(visit, created=True)


def _insert_statement(dialect: Any) -> Any:
    """INSERT … ON CONFLICT (rep_id, client_id) DO NOTHING RETURNING id: a client_id that
    another request stored meanwhile returns no row (on PostgreSQL after waiting for it).

    The row also returns what the post's summary steps read first, in the write transaction:
    whether a kept lead analysis reaches past the visit (``lead_cache.stale_after``) and the
    dormancy summary's parameters (``dormancy.BUILT_WITH``): two statements fewer a post.
    """
    table = Visit.__table__
    stmt = dialect.insert(table).on_conflict_do_nothing(index_elements=["rep_id", "client_id"])
    return stmt.returning(
        table.c.id,
        lead_cache.stale_after(table.c.visited_at).label("lead_stale"),
        dormancy.BUILT_WITH.label("dormancy"),
    )


# Built once per dialect: every visit post runs one.
_INSERT = {"sqlite": _insert_statement(sqlite), "postgresql": _insert_statement(postgresql)}


@dataclass(frozen=True)
class _Inserted:
    visit: Visit
    lead_stale: bool
    dormancy: dict[str, Any] | None


def _insert_visit(session: Session, values: dict[str, Any]) -> _Inserted | None:
    """The visit row by one Core statement, as a clean persistent Visit; None on a known
    client_id.

    The ORM unit of work (a savepoint, the flush's bookkeeping and hooks) cost ~1.5 ms of the
    post's ~5 ms of CPU for one row whose every value is in hand; the object returned is what
    a flush then a load would give, without either.
    """
    conn = session.connection()
    row = conn.execute(_INSERT[conn.dialect.name], values).first()
    if row is None:
        return None
    visit = database.as_loaded(session, Visit, {"id": row.id, **values})
    return _Inserted(visit, bool(row.lead_stale), row.dormancy)


def _customer_for(
    session: Session, user: User, code: Any, purpose: str
) -> tuple[Customer, Purpose | None]:
    """The customer the user may visit, with the purpose of this code (None if unknown)."""
    if not isinstance(code, str) or not code.strip():
        raise Invalid(errors={"customer_code": [_l("Choose a customer.")]})
    row = (
        session.connection()
        .execute(_CUSTOMER_AND_PURPOSE, {"code": code.strip(), "purpose": purpose})
        .first()
    )
    if row is None:
        raise Invalid(errors={"customer_code": [_l("Unknown customer.")]})
    customer, purpose_found = _CUSTOMER_AND_PURPOSE_ROWS.load(session, row)
    if not access.can_visit(user, customer):
        raise Forbidden(_l("This customer belongs to another branch."))
    if not customer.active:
        raise Invalid(errors={"customer_code": [_l("This customer is no longer active.")]})
    return customer, purpose_found


def _follow_ups_to_complete(
    session: Session, user: User, customer: Customer, ids: list[int], errors: schemas.Errors
) -> list[FollowUp]:
    """Follow-ups of the visited customer that this visit ticks off.

    Only those the user may complete by hand (the done endpoint's scope: a rep their own, a
    manager their branch's); another rep's follow-up reads as unknown, as in that endpoint.
    """
    if not ids:
        return []
    found = session.scalars(
        access.follow_ups(user).where(FollowUp.id.in_(ids), FollowUp.customer_id == customer.id)
    ).all()
    if len(found) != len(ids):
        errors.add(
            "completes_follow_ups",
            _l("Unknown follow-up for this customer, or one you may not complete."),
        )
    elif any(f.cancelled for f in found):
        errors.add("completes_follow_ups", _l("A cancelled follow-up cannot be completed."))
    return list(found)
