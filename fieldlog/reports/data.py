"""Weekly report data: a pure function of (session, branch, ISO week, today, tz) → dataclasses.

The KPI figures come from the KPI engine (``fieldlog.kpi``) through ``figures``, the gap and
lead analyses through ``analysis``, the lists (overdue follow-ups, customers overdue for their
cycle, pipeline, hypotheses) through ``lists``; the reviews are read here. Facts only: keys,
codes and numbers, which present/ words (fieldlog.present.report_text).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ..kpi import kgi
from ..models import Branch, Customer, Review, User
from ..rules.kpi_catalogue import KGI_KEYS
from ..rules.periods import Period
from ..services.defaults import company_settings
from . import analysis, lists
from .figures import (
    TREND_WEEKS,
    Figure,
    active_keys,
    add_kgi_last_year,
    figure_of,
    scope_figures,
    targets_in_force,
    trend_labels,
)
from .lists import CustomerLine, FollowUpLine, Pipeline


@dataclass
class RepRow:
    name: str
    figures: dict[str, Figure]
    visits: int


@dataclass
class ReviewLine:
    """Last week's review answer for one KPI (``kpi`` None: the whole) and this week's result."""

    kpi: str | None
    why: str
    cause: str | None  # models.REVIEW_CAUSES
    next_change: str
    result: Figure | None


@dataclass(kw_only=True)
class WeekReport:
    """What the branch and the company reports share: the week, its KPIs and KGI with their
    trend, the analyses, how far the numbers can be trusted, and the month's 予実."""

    week: str
    start: date
    end: date
    today: date
    trend_labels: list[str]
    kpis: list[Figure]
    kgi: list[Figure]
    visit_count: Figure
    hypotheses: list[str]
    # The gap analysis's suggestion (kpi.gap.Suggestion) per KPI key, translated when read.
    gaps: dict[str, Any] = field(default_factory=dict)
    # The KPI-set lint (kpi.lint.Warning, translated when read): wherever the KPI set is shown.
    lint: list[Any] = field(default_factory=list)
    # How far the numbers can be trusted (fieldlog.kpi.health) and the closed weeks that moved
    # after their report went out (fieldlog.kpi.closed_weeks), newest first.
    health: Any = None
    moves: list[Any] = field(default_factory=list)
    # 予実: the month so far against the budget and last year, with the landing estimate.
    month: Any = None

    @property
    def has_activity(self) -> bool:
        """False for a week without a single visit: the report then says so plainly."""
        return bool(self.visit_count.value)

    def biggest_changes(self, n: int = 3) -> list[Figure]:
        """The n KPIs/KGIs that moved most against last week, relative to their scale."""
        moved = [f for f in [*self.kpis, *self.kgi] if f.change]

        def size(f: Figure) -> float:
            base = 1.0 if f.unit == "rate" else max(abs(f.previous or 0), 1.0)
            return abs(f.change or 0) / base

        return sorted(moved, key=size, reverse=True)[:n]


@dataclass(kw_only=True)
class BranchReport(WeekReport):
    """Everything the weekly branch report shows."""

    branch_code: str
    branch_name: str
    reps: list[RepRow]
    reviews: list[ReviewLine]
    follow_ups: list[FollowUpLine]
    follow_ups_total: int
    customers: list[CustomerLine]
    customers_total: int
    pipeline: Pipeline
    # Active customers of the branch: with none, "every customer was visited" would mislead.
    customers_active: int = 0
    # Per hypothesis under test and linked KPI: this branch's lead analysis (hypotheses.BranchLead)
    hypothesis_leads: list[tuple[str, Any]] = field(default_factory=list)
    # Each rep's sales, budget and last year this month (name, kgi.RepKgi).
    rep_kgi: list[tuple[str, Any]] = field(default_factory=list)
    # On a page, while the lead analyses it reads are computed in the background: their job
    # (kpi.ranking.RankingView: state, progress, the week they end with). None once kept.
    lead_job: Any = None


@dataclass
class BranchSummary:
    code: str
    name: str
    figures: dict[str, Figure]
    visits: int


@dataclass(kw_only=True)
class CompanyReport(WeekReport):
    """The owners' report: the company's KPIs and KGI, then every branch side by side."""

    branches: list[BranchSummary]
    # 予実 of each branch (name, MonthToDate); the company's own is ``month``, with the forecast.
    branch_months: list[tuple[str, Any]] = field(default_factory=list)


def _reviews(
    session: Session, branch: Branch, period: Period, figures: dict[str, Figure]
) -> list[ReviewLine]:
    """Last week's answers ("what we said we'd change") beside this week's result."""
    stmt = (
        select(Review)
        .where(Review.branch_id == branch.id, Review.week == period.previous().label)
        .order_by(Review.id)
    )
    return [
        ReviewLine(
            review.kpi,
            review.why,
            review.cause,
            review.next_change,
            figures.get(review.kpi or ""),
        )
        for review in session.scalars(stmt)
    ]


def _common(
    period: Period,
    today: date,
    figures: dict[str, Figure],
    keys: list[str],
    weeks: int = TREND_WEEKS,
):
    """The fields the branch and company reports share."""
    return {
        "week": period.label,
        "start": period.start,
        "end": period.end,
        "today": today,
        "trend_labels": trend_labels(period, weeks),
        "kpis": [figures[k] for k in keys],
        "kgi": [figures[k] for k in KGI_KEYS],
        "visit_count": figures["visit_count"],
    }


def _trust(
    session: Session, scope: Any, report: str, period: Period, *, today: date, tz: ZoneInfo
) -> dict[str, Any]:
    """The report's data health and its closed weeks' moves since their reports went out."""
    from ..kpi import closed_weeks
    from ..kpi.health import health

    return {
        "health": health(session, scope, period, tz=tz, scope_label=report),
        "moves": closed_weeks.recent_moves(session, scope, report, period, today=today, tz=tz),
    }


def kpi_set_lint(session: Session) -> list[Any]:
    """The lint of the company's KPI set (kpi.lint.Warning, each translated when read)."""
    from ..kpi.choices import lint_settings

    return lint_settings(company_settings(session))


def branch_report(
    session: Session,
    branch: Branch,
    period: Period,
    *,
    today: date,
    tz: ZoneInfo,
    cold: Callable[..., tuple[str, str]] | None = None,
    kept_leads: Callable[[Period], Any] | None = None,
) -> BranchReport:
    """The weekly report of one branch (``cold``: see ``kgi.month_to_date``).

    ``kept_leads`` (a page's): ``kept_leads(until)`` says whether the KPI ranking's lead
    analyses for the week ``until`` are kept, starting their job in the background if not
    (``jobs.lead_ranking.for_pages``). Then the report never computes one: until they are
    kept the design question waits (``lead_job`` says how far the job has come), and the
    hypotheses' lead rows, which only the PDF shows, are left out."""
    from ..kpi import Scope, trend_by
    from ..kpi.targets import targets_for

    keys = active_keys(session)
    scope = Scope.branch(branch.id)
    figures, series = scope_figures(
        session, scope, period, [*keys, *KGI_KEYS, "visit_count"], today=today, tz=tz
    )
    add_kgi_last_year(session, scope, period, figures, today=today, tz=tz)
    by_rep = trend_by(
        session,
        "rep",
        period.trailing(TREND_WEEKS),
        branch_id=branch.id,
        keys=[*keys, "visit_count"],
        today=today,
        tz=tz,
    )
    names = dict(
        session.execute(select(User.id, User.name).where(User.branch_id == branch.id)).all()
    )
    reps = []
    for rep_id, rep_series in by_rep.items():
        visits = rep_series[-1]["visit_count"].value or 0
        rep_scope = Scope.rep(rep_id)
        targets = targets_for(session, keys, rep_scope, period)
        rep_figures = {k: figure_of(k, rep_series, targets[k]) for k in keys}
        if visits or any(f.value for f in rep_figures.values() if f.unit != "rate"):
            reps.append(RepRow(names[rep_id], rep_figures, int(visits)))
    # The report of a past week reads as at that week's end (docs/kgi.md).
    as_of = min(today, period.end)
    follow_ups, follow_ups_total = lists.overdue_follow_ups(session, branch, as_of, tz)
    customers, customers_total = lists.customers_at_risk(session, branch, as_of, tz)
    lead_job = kept_leads(analysis.lead_until(period, today)) if kept_leads else None
    if lead_job is not None and lead_job.state == "done":
        lead_job = None
    gaps = analysis.gaps(
        session, scope, period, keys, series, today=today, tz=tz, leads=lead_job is None
    )
    # A period that has not begun has no sales by rep yet (its card shows the budget alone).
    rep_kgi = (
        {}
        if period.start > today
        else kgi.reps_kgi(session, branch.id, period, as_of, today=today, tz=tz)
    )
    return BranchReport(
        branch_code=branch.code,
        branch_name=branch.name,
        **_common(period, today, figures, keys),
        reps=reps,
        gaps=gaps,
        reviews=_reviews(session, branch, period, figures),
        follow_ups=follow_ups,
        follow_ups_total=follow_ups_total,
        customers=customers,
        customers_total=customers_total,
        customers_active=session.scalar(
            select(func.count(Customer.id)).where(
                Customer.branch_id == branch.id, Customer.active.is_(True)
            )
        )
        or 0,
        pipeline=lists.pipeline(session, branch.id, period, today=today, tz=tz),
        hypotheses=lists.hypotheses_under_test(session, branch.id),
        hypothesis_leads=[]
        if kept_leads
        else analysis.hypothesis_leads(session, branch, today=today, tz=tz),
        lead_job=lead_job,
        lint=kpi_set_lint(session),
        **_trust(session, scope, f"branch:{branch.code}", period, today=today, tz=tz),
        month=kgi.month_to_date(
            session,
            scope,
            as_of,
            month=kgi.card_month(period, today),
            today=today,
            tz=tz,
            cold=cold,
        ),
        rep_kgi=[
            (names.get(rep_id) or "", row)
            for rep_id, row in sorted(rep_kgi.items(), key=lambda item: names.get(item[0]) or "")
            if row.sales or row.month_actual or row.budget or row.last_year
        ],
    )


def company_report(
    session: Session,
    period: Period,
    *,
    today: date,
    tz: ZoneInfo,
    weeks: int = TREND_WEEKS,
    cold: Callable[..., tuple[str, str]] | None = None,
) -> CompanyReport:
    """The owners' weekly report: company figures and every branch side by side.

    Each branch figure carries its ``weeks``-long trend and its target and achievement.
    """
    from ..kpi import Scope, trend_with_branches
    from ..kpi.targets import achievement

    keys = active_keys(session)
    all_keys = [*keys, *KGI_KEYS, "visit_count"]
    # The company and its branches in one roll-up (the company's counts are the branches' sums).
    company, by_branch = trend_with_branches(
        session, period.trailing(weeks), keys=all_keys, today=today, tz=tz
    )
    figures, _ = scope_figures(
        session, Scope.company(), period, all_keys, today=today, tz=tz, series=company
    )
    add_kgi_last_year(session, Scope.company(), period, figures, today=today, tz=tz)
    branches = []
    for branch in session.scalars(select(Branch).order_by(Branch.code)):
        series = by_branch.get(branch.id, [])
        values = series[-1] if series else {}
        # Each branch's sales against its own budget, as on its dashboard.
        targets = targets_in_force(session, all_keys, Scope.branch(branch.id), period)
        row = {}
        for k in all_keys:
            value = values[k].value if k in values else None
            row[k] = Figure(
                k,
                figures[k].unit,
                figures[k].direction,
                value,
                numerator=values[k].numerator if k in values else None,
                denominator=values[k].denominator if k in values else None,
                target=targets[k],
                achievement=achievement(value, targets[k], figures[k].direction),
                trend=[week[k].value for week in series],
            )
        branches.append(
            BranchSummary(branch.code, branch.name, row, int(row["visit_count"].value or 0))
        )
    as_of = min(today, period.end)
    month = kgi.card_month(period, today)
    return CompanyReport(
        **_common(period, today, figures, keys, weeks),
        branches=branches,
        hypotheses=lists.hypotheses_under_test(session, None),
        lint=kpi_set_lint(session),
        **_trust(session, Scope.company(), "company", period, today=today, tz=tz),
        month=kgi.month_to_date(
            session, Scope.company(), as_of, month=month, today=today, tz=tz, cold=cold
        ),
        branch_months=[
            (
                b.name,
                kgi.month_to_date(
                    session,
                    Scope.branch(b.id),
                    as_of,
                    month=month,
                    today=today,
                    tz=tz,
                    forecast_weeks=0,
                ),
            )
            for b in session.scalars(select(Branch).order_by(Branch.code))
        ],
    )


def rep_figures(
    session: Session, rep_id: int, period: Period, *, today: date, tz: ZoneInfo
) -> list[Figure]:
    """One person's active KPIs with targets and the trend (the "My week" page)."""
    from ..kpi import Scope

    keys = active_keys(session)
    figures, _ = scope_figures(session, Scope.rep(rep_id), period, keys, today=today, tz=tz)
    return [figures[k] for k in keys]
