"""Hypotheses: "more additional proposals will raise sales", tested against the numbers.

A manager's hypothesis belongs to their branch; a company-wide one (no branch) is the owner's.
Services flush, never commit.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any
from zoneinfo import ZoneInfo

from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import Session

from ..kpi import CATALOGUE, KGI_KEYS, Scope, trend
from ..kpi.comparison import HypothesisComparison, UnitComparison, hypothesis_comparison
from ..kpi.did import Comparison
from ..kpi.lead import KPI_CHOICES, LEAD_WEEKS, LeadResult
from ..kpi.lead_cache import cached_lead
from ..models import (
    HYPOTHESIS_STATUSES,
    HYPOTHESIS_TARGETS,
    Branch,
    Hypothesis,
    HypothesisStatusChange,
    Review,
    User,
)
from ..present import limit_messages
from ..rules import limits
from ..rules.periods import Period
from . import access
from .errors import Forbidden, Invalid

MAX_WEEKS = 26  # weeks shown on each side of the start


def can_edit(user: User, hypothesis: Hypothesis) -> bool:
    """Owners edit any hypothesis; a manager edits their own branch's."""
    return access.is_manager_of(user, hypothesis.branch_id)


def _clean(form: Mapping[str, Any], today: date | None) -> dict[str, Any]:
    errors: dict[str, list[Any]] = {}
    statement = limits.clean_text(str(form.get("statement") or "")).strip()
    if not statement:
        errors["statement"] = [_l("Write the hypothesis.")]
    elif message := limit_messages.text_error(statement):
        errors["statement"] = [message]
    kpis = list(dict.fromkeys(form.get("kpis") or []))
    if not kpis:
        errors["kpis"] = [_l("Link at least one KPI.")]
    elif any(k not in CATALOGUE or k in KGI_KEYS for k in kpis):
        errors["kpis"] = [_l("Choose KPIs from the list.")]
    kgi = str(form.get("kgi") or "sales_amount")
    if kgi not in KGI_KEYS:
        errors["kgi"] = [_l("Choose sales or gross margin.")]
    target = str(form.get("target") or "kgi")
    if target not in HYPOTHESIS_TARGETS:
        errors["target"] = [_l("Choose what the hypothesis says will rise.")]
    started_on = form.get("started_on")
    if isinstance(started_on, str):
        try:
            started_on = date.fromisoformat(started_on.strip())
        except ValueError:
            started_on = None
    if not isinstance(started_on, date):
        errors["started_on"] = [_l("Enter a date like 2026-11-02.")]
    elif message := limit_messages.plan_day_error(started_on, around=today or started_on):
        errors["started_on"] = [message]
    status = str(form.get("status") or "testing")
    if status not in HYPOTHESIS_STATUSES:
        errors["status"] = [_l("Choose a status from the list.")]
    note = limits.clean_text(str(form.get("note") or "")).strip()
    if message := limit_messages.text_error(note):
        errors["note"] = [message]
    if errors:
        raise Invalid(errors=errors)
    return {
        "statement": statement,
        "kpis": kpis,
        "kgi": kgi,
        "target": target,
        "started_on": started_on,
        "status": status,
        "note": note,
    }


def create(
    session: Session, author: User, form: Mapping[str, Any], *, today: date | None = None
) -> Hypothesis:
    """A new hypothesis: the owner's are company-wide, a manager's belong to their branch.

    ``today`` bounds the start date (limits.PLAN_DAYS either side).
    """
    if not access.runs_a_branch(author):
        raise Forbidden()
    fields = _clean(form, today)
    hypothesis = Hypothesis(
        **fields,
        author_id=author.id,
        branch_id=None if access.is_owner(author) else author.branch_id,
    )
    session.add(hypothesis)
    session.flush()
    return hypothesis


def update(
    session: Session,
    user: User,
    hypothesis: Hypothesis,
    form: Mapping[str, Any],
    *,
    today: date | None = None,
    tz: ZoneInfo | None = None,
) -> None:
    """Change a hypothesis (statement, links, start, status). Flushes.

    A change of status is recorded with the lead analysis as it stands (``branch_leads``), so
    the record shows what was known when a person decided; that needs ``today`` and ``tz``.
    """
    if not can_edit(user, hypothesis):
        raise Forbidden()
    before = hypothesis.status
    for name, value in _clean(form, today).items():
        setattr(hypothesis, name, value)
    if hypothesis.status != before:
        evidence = []
        if today is not None and tz is not None:
            evidence = [
                row.as_dict() for row in branch_leads(session, hypothesis, today=today, tz=tz)
            ]
        session.add(
            HypothesisStatusChange(
                hypothesis_id=hypothesis.id,
                old_status=before,
                new_status=hypothesis.status,
                evidence=evidence,
                user_id=user.id,
            )
        )
    session.flush()


def status_changes(session: Session, hypothesis: Hypothesis) -> list[HypothesisStatusChange]:
    """The hypothesis's status changes, newest first, each with its evidence."""
    stmt = (
        select(HypothesisStatusChange)
        .where(HypothesisStatusChange.hypothesis_id == hypothesis.id)
        .order_by(HypothesisStatusChange.changed_at.desc(), HypothesisStatusChange.id.desc())
    )
    return list(session.scalars(stmt))


def visible(session: Session, user: User) -> list[Hypothesis]:
    """The hypotheses the user may see (company-wide and their branch's), newest start first."""
    stmt = access.hypotheses(user).order_by(Hypothesis.started_on.desc())
    return list(session.scalars(stmt))


def linkable(session: Session, user: User, branch_id: int) -> list[Hypothesis]:
    """Those a branch's weekly review may link to: company-wide ones and that branch's."""
    stmt = (
        access.hypotheses(user)
        .where(Hypothesis.branch_id.is_(None) | (Hypothesis.branch_id == branch_id))
        .order_by(Hypothesis.started_on.desc())
    )
    return list(session.scalars(stmt))


def mentions(session: Session, user: User, hypothesis: Hypothesis) -> list[Review]:
    """The weekly review answers (that the user may see) linked to a hypothesis, newest first."""
    stmt = (
        access.reviews(user)
        .where(Review.hypothesis_id == hypothesis.id)
        .order_by(Review.week.desc(), Review.id)
    )
    return list(session.scalars(stmt))


@dataclass
class Evidence:
    """The linked KPIs and the KGI week by week around the start, with before/after means."""

    labels: list[str]
    start_index: int  # index of the first week on or after the start
    series: dict[str, list[float | None]]
    before: dict[str, float | None]
    after: dict[str, float | None]
    weeks: int


def _mean(values: list[float | None]) -> float | None:
    known = [v for v in values if v is not None]
    return sum(known) / len(known) if known else None


def evidence(session: Session, hypothesis: Hypothesis, *, today: date, tz: ZoneInfo) -> Evidence:
    """The same number of complete weeks before the start as since it (at most 26 each)."""
    first = Period.week_of(hypothesis.started_on)
    last = Period.week_of(today).previous()
    since = max(0, min(MAX_WEEKS, (last.start - first.start).days // 7 + 1))
    n = max(since, 1)
    periods = [first.shift(i) for i in range(-n, since)]
    scope = Scope.company() if hypothesis.branch_id is None else Scope.branch(hypothesis.branch_id)
    keys = [k for k in hypothesis.kpis if k in CATALOGUE] + [hypothesis.kgi]
    rows = trend(session, scope, periods, keys=keys, today=today, tz=tz)
    series = {k: [row[k].value for row in rows] for k in keys}
    return Evidence(
        labels=[p.label[-3:] for p in periods],
        start_index=n,
        series=series,
        before={k: _mean(v[:n]) for k, v in series.items()},
        after={k: _mean(v[n:]) for k, v in series.items()} if since else dict.fromkeys(keys),
        weeks=since,
    )


def comparison(
    session: Session, hypothesis: Hypothesis, *, today: date, tz: ZoneInfo
) -> HypothesisComparison:
    """Before vs since the start, the tested branches (or reps) against a comparison group."""
    return hypothesis_comparison(session, hypothesis, today=today, tz=tz)


def _judges(found: Comparison | None) -> bool:
    """Whether a before/after estimate can judge yet (enough weeks on both sides)."""
    return found is not None and found.verdict != "too_little_data" and found.effect is not None


def suggest(
    lead: str, kpi: Comparison | None, kgi: Comparison | None, *, better: str = "up"
) -> str:
    """The suggestion for "this KPI raises the KGI" (docs/verification.md, "Suggested verdict").

    supported / not_supported / too_early. When the branch is tested (a before/after
    comparison exists) and that comparison cannot judge the KPI or the KGI yet, it is too
    early, whatever the lead analysis says. A lead (``leads``) supports unless the KGI clearly
    fell; no lead detected (``no_link``) or too little data is absence of evidence, never
    evidence against: then the comparison alone decides — the KPI moved the better way and the
    KGI rose (supported) or clearly did not move (not supported); anything else is too early.
    """
    tested = kpi is not None or kgi is not None
    if tested and not (_judges(kpi) and _judges(kgi)):
        return "too_early"
    kpi_moved = kpi is not None and kpi.verdict == better
    kgi_up = kgi is not None and kgi.verdict == "up"
    kgi_down = kgi is not None and kgi.verdict == "down"
    kgi_flat = kgi is not None and kgi.verdict == "no_change"
    if lead == "leads":
        return "too_early" if kgi_down else "supported"
    if kpi_moved and kgi_up:
        return "supported"
    if kpi_moved and kgi_flat:
        return "not_supported"
    return "too_early"


def suggest_kpi(kpi: Comparison | None, *, better: str = "up") -> str:
    """The suggestion for "this change raises the linked KPI" (a hypothesis whose target is
    its KPIs): the KPI's own before/after comparison alone, never a lead on the KGI. It moved
    the better way (supported) or clearly the worse way (not supported); no clear change,
    a pre-trend or too few weeks is too early."""
    if not _judges(kpi):
        return "too_early"
    assert kpi is not None
    worse = "down" if better == "up" else "up"
    if kpi.verdict == better:
        return "supported"
    if kpi.verdict == worse:
        return "not_supported"
    return "too_early"


@dataclass
class BranchLead:
    """One branch's lead analysis of one linked KPI, its before/after comparison, the verdict."""

    branch_code: str
    branch_name: str
    kpi: str
    result: LeadResult
    # The branch's (or, for a branch's hypothesis, its reps') comparison, when it is tested.
    comparison: UnitComparison | None = None
    # What the hypothesis says will rise: "kgi" (the KPI raises the KGI) or "kpis" (the KPI
    # itself rises): the latter is judged on the KPI's comparison, never on a lead.
    target: str = "kgi"

    @property
    def kpi_comparison(self) -> Comparison | None:
        return self.comparison.by_key.get(self.kpi) if self.comparison else None

    @property
    def kgi_comparison(self) -> Comparison | None:
        return self.comparison.by_key.get(self.result.kgi) if self.comparison else None

    @property
    def suggested(self) -> str:
        """supported / not_supported / too_early: a suggestion; the status stays a person's."""
        better = CATALOGUE[self.kpi].direction or "up"
        if self.target == "kpis":
            return suggest_kpi(self.kpi_comparison, better=better)
        return suggest(self.result.verdict, self.kpi_comparison, self.kgi_comparison, better=better)

    def as_dict(self) -> dict[str, Any]:
        """The snapshot kept with a status change: the branch, the suggestion, kpi lead's JSON
        and the before/after comparison of the KPI and the KGI (null when not tested)."""
        compared = None
        if self.comparison is not None:
            compared = {
                key: found.as_dict()
                for key, found in (
                    (self.kpi, self.kpi_comparison),
                    (self.result.kgi, self.kgi_comparison),
                )
                if found is not None
            }
        return {
            "branch": self.branch_code,
            "suggested": self.suggested,
            **self.result.as_dict(),
            "comparison": compared,
        }


def comparison_judges(hypothesis: Hypothesis, compared: HypothesisComparison) -> bool:
    """Whether the hypothesis's own before/after comparison (its tested group as a whole) can
    judge yet every key the hypothesis is about: the linked KPIs, and the KGI unless its
    target is the KPIs themselves."""
    group = compared.group()
    if group is None or not group.by_key:
        return False
    keys = [k for k in group.by_key if hypothesis.target != "kpis" or k != hypothesis.kgi]
    return all(_judges(group.by_key[k]) for k in keys)


def overall(
    leads: list[BranchLead],
    *,
    hypothesis: Hypothesis | None = None,
    compared: HypothesisComparison | None = None,
) -> str | None:
    """One suggestion for the hypothesis: that of its tested branches' rows (all of them when
    none is tested), if they agree; too_early when they disagree; None without any row.
    Given the hypothesis and its comparison, too_early while that comparison cannot judge."""
    if (
        leads
        and hypothesis is not None
        and compared is not None
        and not comparison_judges(hypothesis, compared)
    ):
        return "too_early"
    tested = [row for row in leads if row.comparison is not None] or leads
    found = {row.suggested for row in tested}
    if not found:
        return None
    return found.pop() if len(found) == 1 else "too_early"


def branch_leads(
    session: Session,
    hypothesis: Hypothesis,
    *,
    today: date,
    tz: ZoneInfo,
    only_branch: int | None = None,
    comparison: HypothesisComparison | None = None,
) -> list[BranchLead]:
    """Per branch (the hypothesis's own, or every branch for a company-wide one), per KPI,
    whether the KPI led the KGI over the last complete weeks, the branch's reps as the panel,
    with the branch's before/after comparison (``comparison``: computed when not given)."""
    until = Period.week_of(today).previous()
    if comparison is None:
        comparison = hypothesis_comparison(session, hypothesis, today=today, tz=tz)
    stmt = select(Branch).order_by(Branch.code)
    if hypothesis.branch_id is not None:
        stmt = stmt.where(Branch.id == hypothesis.branch_id)
    if only_branch is not None:
        stmt = stmt.where(Branch.id == only_branch)
    rows = []
    for branch in session.scalars(stmt):
        for kpi in hypothesis.kpis:
            if kpi not in KPI_CHOICES:
                continue
            found = cached_lead(
                session, kpi, hypothesis.kgi, Scope.branch(branch.id), LEAD_WEEKS, until, tz=tz
            )
            compared = (
                comparison.group()
                if comparison.level == "rep"
                else comparison.for_unit(branch.code)
            )
            rows.append(
                BranchLead(
                    branch.code,
                    branch.name,
                    kpi,
                    found,
                    compared,
                    target=hypothesis.target or "kgi",
                )
            )
    return rows
