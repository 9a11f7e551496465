"""KPI targets: per KPI, scope and period kind, in force from a date; history is kept.

Rule: the target for a period is the one with the latest ``effective_from`` on or before the
period's first day (ties: the one entered last), looked up at the scope itself first, then —
for a rep — at the rep's current branch, then at the company. A new target never rewrites
earlier periods; setting one again from the same date supersedes it and keeps the old row.

Week and month: a target is set for one kind of period. At each scope a target of the viewed
kind wins; when there is none, a KPI whose value does not grow with the length of the period
(a rate, or the pipeline as of the period's end) takes the other kind's target — 60 % a week
is 60 % a month. Counts and sums of the period (visits, proposals, sales) never carry over: a
weekly count is not a monthly one, so a month without a monthly target shows no target.
"""

from __future__ import annotations

import math
from datetime import date
from typing import Any, Literal

from flask_babel import lazy_gettext as _l
from sqlalchemy import or_, select, true
from sqlalchemy.orm import Session

from ..models import Branch, KpiTarget, User
from ..present import limit_messages
from ..rules import limits
from ..rules.kpi_catalogue import CATALOGUE
from ..rules.periods import Period
from ..rules.text import numeric
from ..services import access, audit
from ..services.errors import Invalid
from .scope import Scope

Achievement = Literal["ahead", "behind", "on"]
_EPSILON = 1e-9
# KPIs whose target means the same for a week and a month (see the module's rule).
PERIOD_FREE: frozenset[str] = frozenset(
    d.key for d in CATALOGUE.values() if d.unit == "rate" or d.key.startswith("pipeline_")
)


def target_number(value: Any, *, rate: bool) -> float:
    """A target as typed: 0.8, "80%" (a rate), "¥100,000" or "100,000円"; NaN when not a number."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    text = numeric(str(value or ""))
    text = text.replace(",", "").replace("¥", "").replace("\\", "").removesuffix("円").strip()
    percent = text.endswith("%")
    try:
        number = float(text.removesuffix("%").strip()) if len(text) <= 40 else float("nan")
    except ValueError:
        return float("nan")
    if percent:
        return number / 100 if rate else float("nan")
    return number


def set_target(
    session: Session,
    kpi: str,
    scope: Scope,
    period_kind: str,
    value: float | str,
    effective_from: date,
    user: User | None,
    *,
    today: date | None = None,
) -> KpiTarget:
    """Record a target (a new row; earlier ones stay as history). Flushes, never commits.

    Only an owner may set a target in force from before the current week (``today``'s ISO
    week), so a past week cannot be turned into 達成 by a target lowered after the fact; the
    change is kept in the settings history (fieldlog.services.audit) either way.
    """
    errors: dict[str, list[object]] = {}
    definition = CATALOGUE.get(kpi)
    if definition is None:
        errors["kpi"] = [_l("Unknown KPI.")]
    if period_kind not in ("week", "month"):
        errors["period_kind"] = [_l("Choose week or month.")]
    number = target_number(value, rate=definition is not None and definition.unit == "rate")
    if not math.isfinite(number) or number < 0:
        errors["value"] = [_l("Enter a number of zero or more.")]
    elif number > limits.MAX_AMOUNT:
        errors["value"] = [limit_messages.amount_error(int(limits.MAX_AMOUNT) + 1)]
    elif definition is not None and definition.unit == "rate" and number > 1:
        errors["value"] = [_l("A rate target is a fraction between 0 and 1.")]
    elif definition is not None and definition.unit != "rate" and not number.is_integer():
        errors["value"] = [_l("A count or yen target is a whole number.")]
    if not isinstance(effective_from, date):
        errors["effective_from"] = [_l("Enter a date.")]
    elif user is not None and not access.is_owner(user):
        if today is None:
            raise ValueError("set_target needs today to check a non-owner's effective_from")
        week_start = Period.week_of(today).start
        if effective_from < week_start:
            errors["effective_from"] = [
                _l(
                    "Only an owner can set a target in force before the current week "
                    "(from %(day)s on).",
                    day=week_start.isoformat(),
                )
            ]
    if scope.kind == "branch" and session.get(Branch, scope.id) is None:
        errors["scope"] = [_l("Unknown branch.")]
    if scope.kind == "rep":
        target_user = session.get(User, scope.id)
        if target_user is None or access.is_owner(target_user):
            errors["scope"] = [_l("Unknown rep.")]
    if errors:
        raise Invalid(errors=errors)
    previous = _in_force(session, kpi, scope, period_kind, effective_from)
    if (
        previous is not None
        and previous.effective_from == effective_from
        and previous.value == number
    ):
        return previous  # the same target saved again (a second tap): nothing new to keep
    _keep_change(session, user, previous, kpi, scope, period_kind, number, effective_from)
    target = KpiTarget(
        kpi=kpi,
        scope_kind=scope.kind,
        branch_id=scope.id if scope.kind == "branch" else None,
        user_id=scope.id if scope.kind == "rep" else None,
        period_kind=period_kind,
        value=number,
        effective_from=effective_from,
        created_by_id=user.id if user is not None else None,
    )
    session.add(target)
    session.flush()
    return target


def _scope_text(session: Session, scope: Scope) -> tuple[str, int | None]:
    """The scope as the contract writes it (branch:CODE, rep:EMAIL), and the branch it is in."""
    if scope.kind == "branch":
        return f"branch:{session.get(Branch, scope.id).code}", scope.id  # type: ignore[union-attr]
    if scope.kind == "rep":
        person = session.get(User, scope.id)
        return f"rep:{person.email}", person.branch_id  # type: ignore[union-attr]
    return "company", None


def _in_force(
    session: Session, kpi: str, scope: Scope, period_kind: str, effective_from: date
) -> KpiTarget | None:
    """The target of exactly this scope in force on ``effective_from`` (the newest such row)."""
    return session.scalars(
        select(KpiTarget)
        .where(
            KpiTarget.kpi == kpi,
            KpiTarget.scope_kind == scope.kind,
            KpiTarget.period_kind == period_kind,
            KpiTarget.effective_from <= effective_from,
            KpiTarget.branch_id == scope.id if scope.kind == "branch" else true(),
            KpiTarget.user_id == scope.id if scope.kind == "rep" else true(),
        )
        .order_by(KpiTarget.effective_from.desc(), KpiTarget.id.desc())
        .limit(1)
    ).first()


def _keep_change(
    session: Session,
    user: User | None,
    previous: KpiTarget | None,
    kpi: str,
    scope: Scope,
    period_kind: str,
    value: float,
    effective_from: date,
) -> None:
    """The settings-history entry: the target this one supersedes at that scope (``previous``,
    ``_in_force``), → the new one."""
    where, branch_id = _scope_text(session, scope)
    common = {"scope": where, "period_kind": period_kind}
    old = (
        None
        if previous is None
        else {
            **common,
            "value": previous.value,
            "effective_from": previous.effective_from.isoformat(),
        }
    )
    new = {**common, "value": value, "effective_from": effective_from.isoformat()}
    audit.record_change(session, user, "target", kpi, old, new, branch=branch_id)


def _fallback_scopes(session: Session, scope: Scope) -> list[Scope]:
    chain = [scope]
    if scope.kind == "rep":
        branch_id = session.scalar(select(User.branch_id).where(User.id == scope.id))
        if branch_id is not None:
            chain.append(Scope.branch(branch_id))
    if scope.kind != "company":
        chain.append(Scope.company())
    return chain


def _matches(target: KpiTarget, scope: Scope) -> bool:
    if scope.kind == "company":
        return target.scope_kind == "company"
    if scope.kind == "branch":
        return target.scope_kind == "branch" and target.branch_id == scope.id
    return target.scope_kind == "rep" and target.user_id == scope.id


def targets_for(
    session: Session, keys: list[str] | tuple[str, ...], scope: Scope, period: Period
) -> dict[str, float | None]:
    """The target in force for each KPI key (one query for all keys and fallback scopes)."""
    chain = _fallback_scopes(session, scope)
    scope_filter = []
    for s in chain:
        if s.kind == "company":
            scope_filter.append(KpiTarget.scope_kind == "company")
        elif s.kind == "branch":
            scope_filter.append((KpiTarget.scope_kind == "branch") & (KpiTarget.branch_id == s.id))
        else:
            scope_filter.append((KpiTarget.scope_kind == "rep") & (KpiTarget.user_id == s.id))
    rows = session.scalars(
        select(KpiTarget)
        .where(
            KpiTarget.kpi.in_(list(keys)),
            KpiTarget.period_kind.in_(("week", "month")),
            KpiTarget.effective_from <= period.start,
            or_(*scope_filter),
        )
        .order_by(KpiTarget.effective_from.desc(), KpiTarget.id.desc())
    ).all()
    other = "month" if period.kind == "week" else "week"
    found: dict[str, float | None] = {}
    for key in keys:
        kinds = (period.kind, other) if key in PERIOD_FREE else (period.kind,)
        found[key] = next(
            (
                t.value
                for s in chain
                for kind in kinds
                for t in rows
                if t.kpi == key and t.period_kind == kind and _matches(t, s)
            ),
            None,
        )
    return found


def target_for(session: Session, kpi: str, scope: Scope, period: Period) -> float | None:
    """The target in force for one KPI, scope and period (see the module's rule), or None."""
    return targets_for(session, [kpi], scope, period)[kpi]


def target_history(session: Session, kpi: str | None = None) -> list[KpiTarget]:
    """Every target ever set, newest first (optionally for one KPI)."""
    stmt = select(KpiTarget).order_by(KpiTarget.effective_from.desc(), KpiTarget.id.desc())
    if kpi is not None:
        stmt = stmt.where(KpiTarget.kpi == kpi)
    return list(session.scalars(stmt))


def achievement(
    value: float | None, target: float | None, direction: str | None
) -> Achievement | None:
    """Value against target with the KPI's direction respected (lower is better for "down")."""
    if value is None or target is None or direction not in ("up", "down"):
        return None
    if abs(value - target) <= _EPSILON * max(1.0, abs(target)):
        return "on"
    better = value > target if direction == "up" else value < target
    return "ahead" if better else "behind"
