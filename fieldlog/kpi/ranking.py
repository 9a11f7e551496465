"""The ranking of candidate KPIs (docs/verification.md): does each KPI lead the KGI?

The ranking asks, for every KPI that can lead (``lead.KPI_CHOICES``), whether it led the KGI
over the last ``RANKING_WEEKS`` complete weeks, for the company (its branches as the panel) and
for every branch (its reps as the panel). It reads the data twice (``series.weekly_series``:
every rep, every branch, every KPI and the KGI at once) and keeps each analysis in
``LeadCache`` (``kpi.lead_cache``); its job's row (``LeadRanking``) says how far it has come.
The thread that runs it is ``jobs.lead_ranking``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, delete, select, update
from sqlalchemy.orm import Session

from ..models import Branch, LeadCache, LeadRanking, User, utcnow
from ..rules.kpi_catalogue import CATALOGUE
from ..rules.periods import Period
from .lead import KPI_CHOICES, LeadResult, analyse, check_arguments, unknown_before_start
from .lead_cache import readable, to_json
from .series import weekly_series

# The window every consumer asks about (hypothesis page, weekly PDF, design question): one cache.
RANKING_WEEKS = 52
RANKING_KGI = "sales_amount"
# A job still "running" after this long died with its process: the next reader starts again.
STALE_AFTER = timedelta(minutes=15)
VERDICT_ORDER = {"leads": 0, "no_link": 1, "too_little_data": 2}


def last_complete_week(today: date) -> Period:
    """The last ISO week that is over on ``today`` (the ranking's ``until``)."""
    return Period.week_of(today).previous()


# ---- the ranking --------------------------------------------------------------------------


def strength(result: LeadResult) -> float:
    """How far the interval lies from zero on the KPI's better side, in half-widths.

    Unitless, so KPIs in yen per visit and yen per 10 points compare: > 0 when the interval
    excludes zero on the better side (a lead), ≤ 0 when it touches or crosses zero.
    """
    if result.interval is None:
        return -math.inf
    low, high = result.interval
    half = (high - low) / 2
    if not half > 0:
        return -math.inf
    better_up = (CATALOGUE[result.kpi].direction or "up") == "up"
    return (low if better_up else -high) / half


def ranked(results: Iterable[LeadResult]) -> list[LeadResult]:
    """Verdict first (leads, no link, too little data), then the interval's distance from 0."""
    return sorted(results, key=lambda r: (VERDICT_ORDER[r.verdict], -strength(r), r.kpi))


def compute_ranking(
    session: Session,
    kgi: str,
    weeks: int,
    until: Period,
    *,
    tz: ZoneInfo,
    progress: Callable[[int, int], None] | None = None,
    branches: bool = True,
) -> dict[str, list[LeadResult]]:
    """Every candidate KPI's lead analysis for the company and each branch, by scope key.

    Two reads of the data (every branch, every rep: all KPIs and the KGI at once), then one
    estimate per KPI and scope; each equals ``lead_analysis`` for that KPI and scope.
    """
    check_arguments(KPI_CHOICES[0], kgi, weeks)
    periods = until.trailing_in_range(weeks)
    today = periods[-1].end
    keys = (*KPI_CHOICES, kgi)
    codes = session.execute(select(Branch.id, Branch.code).order_by(Branch.code)).all()
    if not branches:
        codes = []
    total = len(KPI_CHOICES) * (1 + len(codes))
    done = 0

    def step() -> None:
        nonlocal done
        done += 1
        if progress is not None:
            progress(done, total)

    out: dict[str, list[LeadResult]] = {}
    by_branch = weekly_series(session, "branch", periods, keys=keys, today=today, tz=tz)
    if progress is not None:
        progress(0, total)
    y = by_branch.panel(kgi)
    out["company"] = []
    for kpi in KPI_CHOICES:
        x = unknown_before_start(by_branch.panel(kpi))
        out["company"].append(analyse(kpi, kgi, x, y, scope="company", periods=periods))
        step()
    if not codes:
        return out
    by_rep = weekly_series(session, "rep", periods, keys=keys, today=today, tz=tz)
    homes = dict(
        session.execute(select(User.id, User.branch_id).where(User.id.in_(by_rep.units))).all()
    )
    for branch_id, code in codes:
        members = [unit for unit in by_rep.units if homes.get(unit) == branch_id]
        y = by_rep.panel(kgi, members)
        key = f"branch:{branch_id}"
        out[key] = []
        for kpi in KPI_CHOICES:
            x = unknown_before_start(by_rep.panel(kpi, members))
            found = analyse(kpi, kgi, x, y, scope=f"branch:{code}", periods=periods)
            out[key].append(found)
            step()
    return out


@dataclass(frozen=True)
class RankingView:
    """What the settings panel shows: the state, the progress, and the ranked rows by scope."""

    state: str  # missing, running, done, failed
    done: int
    total: int
    until: Period
    weeks: int
    kgi: str
    rows: dict[str, list[LeadResult]]
    computed_at: datetime | None = None

    @property
    def fraction(self) -> float:
        return self.done / self.total if self.total else 0.0


def ranking_view(
    session: Session, until: Period, *, weeks: int = RANKING_WEEKS, kgi: str = RANKING_KGI
) -> RankingView:
    """The kept ranking for ``until``, or how far its job has come (read only)."""
    job = _job(session, until, weeks, kgi)
    if job is None or (job.state != "done" and _stale(job)):
        return RankingView("missing", 0, 0, until, weeks, kgi, {})
    if job.state != "done":
        return RankingView(job.state, job.done, job.total, until, weeks, kgi, {})
    rows = _kept(session, until, weeks, kgi)
    if rows is None:
        return RankingView("missing", 0, 0, until, weeks, kgi, {})
    ranked_rows = {scope: ranked(results) for scope, results in rows.items()}
    return RankingView("done", job.done, job.total, until, weeks, kgi, ranked_rows, job.finished_at)


def _kept(
    session: Session, until: Period, weeks: int, kgi: str
) -> dict[str, list[LeadResult]] | None:
    """The kept results by scope; None when one cannot be read back (``lead_cache.readable``):
    the ranking then counts as missing, and ``claim`` lets it be computed again."""
    rows: dict[str, list[LeadResult]] = {}
    kept = session.execute(
        select(LeadCache.scope, LeadCache.result).where(
            LeadCache.until == until.label, LeadCache.weeks == weeks, LeadCache.kgi == kgi
        )
    )
    for scope, data in kept:
        result = readable(data)
        if result is None:
            return None
        rows.setdefault(scope, []).append(result)
    return rows


def _job(session: Session, until: Period, weeks: int, kgi: str) -> LeadRanking | None:
    return session.scalar(
        select(LeadRanking).where(
            LeadRanking.until == until.label, LeadRanking.weeks == weeks, LeadRanking.kgi == kgi
        )
    )


def _stale(job: LeadRanking) -> bool:
    started = job.started_at
    return started is None or utcnow() - started > STALE_AFTER


def ranking_branches(session: Session) -> list[tuple[str, str, str]]:
    """The branch scopes of the ranking: (key, code, name), by code."""
    rows = session.execute(select(Branch.id, Branch.code, Branch.name).order_by(Branch.code))
    return [(f"branch:{branch_id}", code, name) for branch_id, code, name in rows]


@dataclass(frozen=True)
class Placed:
    """One row of the settings panel: a KPI's analysis, its place, where else it leads."""

    result: LeadResult
    # 1, 2, … for a KPI with a detected lead in this scope; None for one without: it is
    # listed after the ranked ones, with no place.
    place: int | None
    branches: int  # for the company: in how many branches (their reps) it leads; else 0


def placed(view: RankingView, scope: str) -> list[Placed]:
    """The panel's rows for one scope (docs/verification.md, "The ranking and its cache").

    Only a KPI with a detected lead in this scope gets a place, the 90 % interval farthest
    from zero first; for the company, the number of branches where each leads is shown
    beside it as context, never as a rank: with B branches a KPI that leads nowhere still
    shows a chance lead in one of them about 1 − 0.97^B of the time (a third at 12, half at
    20). The others follow, unplaced, in the catalogue's order: no lead detected is no
    evidence either way, so nothing orders them.
    """
    results = view.rows.get(scope, [])
    counts = branches_leading(view) if scope == "company" else {}
    order = {kpi: i for i, kpi in enumerate(KPI_CHOICES)}
    leading = sorted(
        (r for r in results if r.verdict == "leads"),
        key=lambda r: (-strength(r), order.get(r.kpi, len(order))),
    )
    rest = sorted(
        (r for r in results if r.verdict != "leads"),
        key=lambda r: (order.get(r.kpi, len(order)), r.kpi),
    )
    return [Placed(r, i, counts.get(r.kpi, 0)) for i, r in enumerate(leading, 1)] + [
        Placed(r, None, counts.get(r.kpi, 0)) for r in rest
    ]


def branches_leading(view: RankingView) -> dict[str, int]:
    """Per KPI, in how many branches (their reps as the panel) it led the KGI."""
    counts: dict[str, int] = {}
    for scope, results in view.rows.items():
        if scope.startswith("branch:"):
            for result in results:
                if result.verdict == "leads":
                    counts[result.kpi] = counts.get(result.kpi, 0) + 1
    return counts


def claim(session: Session, until: Period, *, weeks: int, kgi: str, tz: ZoneInfo) -> int | None:
    """Write the job's row (state running) if none stands; its id, or None when one does. A
    done job whose results cannot be read back, or a running one that stopped, does not stand.

    The caller commits at once, so other processes see the claim and the data read after it
    is at least as new as the claim (a write in between deletes the row, see ``finish``).
    """
    job = _job(session, until, weeks, kgi)
    if job is not None:
        if job.state == "done" and _kept(session, until, weeks, kgi) is not None:
            return None
        if job.state != "done" and not _stale(job):
            return None
        session.delete(job)
        session.flush()
    job = LeadRanking(
        until=until.label,
        weeks=weeks,
        kgi=kgi,
        window_end=until.end,
        window_until=until.utc_bounds(tz)[1],
        state="running",
        done=0,
        total=0,
    )
    session.add(job)
    session.flush()
    return job.id


def set_progress(conn: Session | Connection, job_id: int, done: int, total: int) -> None:
    """Record how far the job has come (the caller commits at once: pages poll it)."""
    conn.execute(update(LeadRanking).where(LeadRanking.id == job_id).values(done=done, total=total))


def finish(session: Session, job_id: int, results: dict[str, list[LeadResult]]) -> bool:
    """Keep the results and mark the job done; False (nothing kept) when new data arrived.

    New data in the window deleted the job's row while it ran; its results may be stale, so
    they are dropped and the next reader starts again.
    """
    # Locked, so a write forgetting it waits for this transaction, or this one sees it gone.
    job = session.scalar(
        select(LeadRanking)
        .where(LeadRanking.id == job_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if job is None:
        return False
    until = Period.parse(job.until)
    session.execute(
        delete(LeadCache).where(
            LeadCache.until == job.until, LeadCache.weeks == job.weeks, LeadCache.kgi == job.kgi
        )
    )
    for scope, found in results.items():
        for result in found:
            session.add(
                LeadCache(
                    until=job.until,
                    weeks=job.weeks,
                    kgi=job.kgi,
                    scope=scope,
                    kpi=result.kpi,
                    window_end=until.end,
                    window_until=job.window_until,
                    result=to_json(result),
                    units=result.units,
                )
            )
    job.state = "done"
    job.finished_at = utcnow()
    session.flush()
    return True


def fail(session: Session, job_id: int) -> None:
    session.execute(update(LeadRanking).where(LeadRanking.id == job_id).values(state="failed"))
