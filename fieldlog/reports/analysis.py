"""What the analyses say about a report's week: the gap analysis's suggested cause per KPI
(kpi.gap) and the lead analysis of each hypothesis under test (services.hypotheses).

Facts (Suggestion objects, lead rows); present/ words them.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..models import Branch
from ..rules.kpi_catalogue import KGI_KEYS
from ..rules.periods import Period
from .figures import TREND_WEEKS


def lead_until(period: Period, today: date) -> Period:
    """The last complete ISO week of a report's period (a week or a month) as seen on
    ``today``: the week the lead analyses of its design question end with (they run over
    ISO weeks: a month as ``until`` was refused, and a month's dashboard answered 500)."""
    end = min(period.end, today - timedelta(days=1))
    week = Period.week_of(end)
    return week if week.end == end else week.previous()


def gaps(
    session: Session,
    scope: Any,
    period: Period,
    keys: list[str],
    series: list[dict[str, Any]],
    *,
    today: date,
    tz: ZoneInfo,
    leads: bool = True,
) -> dict[str, Any]:
    """The gap analysis's suggested cause (a ``Suggestion``) per active KPI that missed, and
    the design question for a KPI met 4 periods running that the lead analysis finds no link
    for (``leads`` False: not asked, the analyses are not ready).
    """
    from ..kpi import CATALOGUE
    from ..kpi.gap import suggest
    from ..kpi.lead import LEAD_WEEKS
    from ..kpi.lead_cache import cached_lead
    from ..kpi.targets import targets_for

    until = lead_until(period, today)

    def lead(key: str) -> Any:
        def run() -> tuple[str, int]:
            found = cached_lead(session, key, "sales_amount", scope, LEAD_WEEKS, until, tz=tz)
            return found.verdict, LEAD_WEEKS

        return run

    periods = period.trailing(TREND_WEEKS)
    per_period = [targets_for(session, keys, scope, p) for p in periods]
    found_by_key = {}
    for key in keys:
        found = suggest(
            key,
            [week[key] for week in series],
            [t[key] for t in per_period],
            [week["sales_amount"] for week in series],
            base=[week["visit_count"].value for week in series]
            if CATALOGUE[key].unit != "rate"
            else None,
            lead=lead(key) if leads and key not in KGI_KEYS else None,
        )
        if found is not None:
            found_by_key[key] = found
    return found_by_key


def hypothesis_leads(
    session: Session, branch: Branch, *, today: date, tz: ZoneInfo
) -> list[tuple[str, Any]]:
    """Each hypothesis under test for the branch with its linked KPIs' lead analysis there."""
    from ..models import Hypothesis
    from ..services.hypotheses import branch_leads

    stmt = select(Hypothesis).where(
        Hypothesis.status == "testing",
        (Hypothesis.branch_id.is_(None)) | (Hypothesis.branch_id == branch.id),
    )
    return [
        (h.statement, row)
        for h in session.scalars(stmt.order_by(Hypothesis.started_on, Hypothesis.id))
        for row in branch_leads(session, h, today=today, tz=tz, only_branch=branch.id)
    ]
