"""The weekly review: three questions per active KPI, one row per branch, week and KPI.

Services flush, never commit; the view commits.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import Session

from ..kpi import CATALOGUE
from ..models import REVIEW_CAUSES, Branch, Hypothesis, Review, User
from ..present import limit_messages
from ..rules.periods import Period
from .errors import Invalid


@dataclass
class Answer:
    """One KPI's answers as sent by the form (strings as typed)."""

    why: str = ""
    cause: str | None = None
    next_change: str = ""
    hypothesis_id: int | None = None


def for_week(session: Session, branch_id: int, week: Period) -> dict[str | None, Review]:
    """The saved reviews of one branch-week, by KPI key."""
    stmt = select(Review).where(Review.branch_id == branch_id, Review.week == week.label)
    return {r.kpi: r for r in session.scalars(stmt)}


def weeks(session: Session, branch_id: int) -> list[str]:
    """The weeks with a saved review, newest first (the browsable history)."""
    stmt = select(Review.week).where(Review.branch_id == branch_id).distinct().order_by(Review.week)
    return list(reversed(session.scalars(stmt).all()))


def validate(
    answers: Mapping[str, Answer], *, allowed_hypotheses: set[int]
) -> dict[str, list[Any]]:
    """Field errors keyed ``<field>.<kpi>``; empty when everything may be saved."""
    errors: dict[str, list[Any]] = {}
    for key, answer in answers.items():
        if key not in CATALOGUE:
            errors[f"kpi.{key}"] = [_l("Unknown KPI: %(key)s.", key=key)]
            continue
        if answer.cause not in (None, *REVIEW_CAUSES):
            errors[f"cause.{key}"] = [_l("Choose quantity, quality or design.")]
        for name in ("why", "next_change"):
            if message := limit_messages.text_error(getattr(answer, name)):
                errors[f"{name}.{key}"] = [message]
        if answer.hypothesis_id is not None and answer.hypothesis_id not in allowed_hypotheses:
            errors[f"hypothesis.{key}"] = [_l("Choose a hypothesis from the list.")]
    return errors


def save(
    session: Session,
    author: User,
    branch: Branch,
    week: Period,
    answers: Mapping[str, Answer],
    *,
    allowed_hypotheses: set[int],
    suggested: Mapping[str, str] | None = None,
) -> list[Review]:
    """Insert or update one Review per answered KPI (unique branch/week/kpi). Flushes.

    A KPI left completely blank is not written (an existing row is kept as it was), nor is
    one whose only answer is the cause the form pre-filled from the gap analysis
    (``suggested``): saving the review for one KPI must not record the engine's guesses as
    the manager's answers for the others.
    """
    suggested = suggested or {}
    if week.kind != "week":
        raise Invalid(errors={"week": [_l("A review is written for a week.")]})
    errors = validate(answers, allowed_hypotheses=allowed_hypotheses)
    if errors:
        raise Invalid(errors=errors)
    existing = for_week(session, branch.id, week)
    saved = []
    for key, answer in answers.items():
        review = existing.get(key)
        untouched = answer.cause in (None, suggested.get(key)) and answer.hypothesis_id is None
        blank = not (answer.why.strip() or answer.next_change.strip()) and untouched
        if review is None and blank:
            continue
        if review is None:
            review = Review(branch_id=branch.id, week=week.label, kpi=key)
            session.add(review)
        review.why = answer.why.strip()
        review.cause = answer.cause
        review.next_change = answer.next_change.strip()
        review.hypothesis_id = answer.hypothesis_id
        review.author_id = author.id
        saved.append(review)
    session.flush()
    return saved


def mentioning(session: Session, hypothesis: Hypothesis) -> list[Review]:
    """Reviews that name a hypothesis, newest week first."""
    stmt = (
        select(Review)
        .where(Review.hypothesis_id == hypothesis.id)
        .order_by(Review.week.desc(), Review.id)
    )
    return list(session.scalars(stmt))
