"""Visits a rep plans ahead: on a day, for a customer, with a purpose decided in advance.

The plan (``plan.build_plan``) shows them as its ``planned`` reason; the visit form pre-fills
the planned purpose; the customer page and My week say what is already planned.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ..models import Customer, PlannedVisit, Purpose, User
from ..present import limit_messages
from . import access, schemas
from .errors import Invalid, NotFound
from .plan import parse_day


def plan_visit(
    session: Session,
    user: User,
    payload: dict[str, Any],
    *,
    today: date,
) -> tuple[PlannedVisit, bool]:
    """Plan a visit to a customer on a date; the same customer and date again is the same plan.

    Returns the planned visit and whether it was created. A purpose or note given again
    replaces the earlier one (the rep changed their mind); one left out keeps it.
    """
    day, code = _required(payload, today)
    customer = session.scalars(access.customers(user).where(Customer.code == code)).first()
    if customer is None or not access.can_visit(user, customer):
        raise NotFound(_l("No such customer."))
    if customer.rep_id != user.id:
        # The plan holds only the user's own customers (docs/contract.md): one planned for a
        # colleague's would never show in it. Out of scope, as a colleague's follow-up is.
        raise NotFound(
            _l(
                "%(code)s is not one of your customers: you can plan visits only to your own.",
                code=customer.code,
            )
        )
    errors = schemas.Errors()
    if not customer.active:
        errors.add("customer_code", _l("This customer is no longer active."))
    purpose = None
    raw_purpose = payload.get("purpose")
    if raw_purpose not in (None, "") and not isinstance(raw_purpose, str):
        errors.add("purpose", _l("Unknown purpose."))
    elif raw_purpose not in (None, ""):
        purpose = session.scalars(
            select(Purpose).where(Purpose.code == raw_purpose, Purpose.active.is_(True))
        ).first()
        if purpose is None:
            errors.add("purpose", _l("Unknown purpose."))
    note = payload.get("note")
    if note is not None and not isinstance(note, str):
        errors.add("note", _l("Must be text."))
    elif note is not None and (message := limit_messages.text_error(note)):
        errors.add("note", message)
    if errors:
        raise Invalid(errors=dict(errors))

    existing = _planned(session, user, customer, day)
    created = existing is None
    if existing is None:
        existing = PlannedVisit(rep=user, customer=customer, planned_on=day, note="")
        try:
            with session.begin_nested():
                session.add(existing)
                session.flush()
        except IntegrityError:
            # The same plan arrived twice at once (a replayed outbox): answer with the first.
            existing = _planned(session, user, customer, day)
            if existing is None:
                raise
            created = False
    if purpose is not None:
        existing.purpose = purpose
    if isinstance(note, str):
        existing.note = note.strip()
    session.flush()
    return existing, created


def _required(payload: dict[str, Any], today: date) -> tuple[date, str]:
    """The plan's day and customer code, both required (422 naming each missing or bad one,
    before the customer is looked up: an absent code is invalid, not an unknown customer)."""
    errors = schemas.Errors()
    day = None
    if payload.get("date") in (None, ""):
        errors.add("date", _l("This field is required."))
    else:
        try:
            day = parse_day(payload.get("date"), today=today)
        except Invalid as exc:
            errors.update(exc.errors)
    code = payload.get("customer_code")
    if not isinstance(code, str) or not code.strip():
        errors.add("customer_code", _l("Choose a customer."))
    if errors or day is None:
        raise Invalid(errors=dict(errors))
    return day, code.strip()


def _planned(session: Session, user: User, customer: Customer, day: date) -> PlannedVisit | None:
    return session.scalars(
        select(PlannedVisit).where(
            PlannedVisit.rep_id == user.id,
            PlannedVisit.customer_id == customer.id,
            PlannedVisit.planned_on == day,
        )
    ).first()


def planned_customer_ids(session: Session, user: User, day: date) -> set[int]:
    """The customers the user already planned for the day: My week shows them as planned."""
    return set(
        session.scalars(
            select(PlannedVisit.customer_id).where(
                PlannedVisit.rep_id == user.id, PlannedVisit.planned_on == day
            )
        )
    )


def upcoming_plans(
    session: Session, user: User, customer_id: int, today: date
) -> list[PlannedVisit]:
    """The user's visits planned for this customer from today on: the customer page lists them."""
    return list(
        session.scalars(
            select(PlannedVisit)
            .where(
                PlannedVisit.rep_id == user.id,
                PlannedVisit.customer_id == customer_id,
                PlannedVisit.planned_on >= today,
            )
            .order_by(PlannedVisit.planned_on)
        )
    )


def planned_purpose(session: Session, user: User, customer_code: str, day: date) -> str | None:
    """The purpose the user planned for this customer on this day, to pre-fill the visit form."""
    return session.scalar(
        select(Purpose.code)
        .join(PlannedVisit, PlannedVisit.purpose_id == Purpose.id)
        .join(Customer, PlannedVisit.customer_id == Customer.id)
        .where(
            PlannedVisit.rep_id == user.id,
            Customer.code == customer_code,
            PlannedVisit.planned_on == day,
            Purpose.active.is_(True),
        )
    )
