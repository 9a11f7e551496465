"""Closed weeks: once a week's report has gone out, later changes to that week are counted.

A week is closed for a branch at the first moment its branch report or the company report of
that week was mailed (``ReportDelivery.sent_at``), whichever came first: both carry that
branch's numbers. A change is a visit dated in the week that reached the server after that
moment, a correction made after it to a visit dated in the week (before or after the
correction), a proposal closed in the week and updated after it, or a follow-up due in the
week (what follow_up_rate counts) and updated after it (docs/honest-numbers.md). The KPI
values a report showed are kept in ``ReportSnapshot`` when it first goes out, so pages can say
how far each moved since.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, or_, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from ..models import Branch, FollowUp, Proposal, ReportDelivery, ReportSnapshot, Visit
from ..models import VisitRevision as Revision
from ..rules.kpi_catalogue import CATALOGUE
from ..rules.periods import Period, local_date
from .rollup import KpiValue
from .scope import Scope

# "imported": visits of the week brought in by `import visits` after the report (not typed in).
CHANGE_KINDS = ("entered", "imported", "edited", "closed", "follow_up")


@dataclass
class Changes:
    """What changed in closed weeks of a period: per rep, per kind, and when visits came in."""

    # (rep_id, kind) → number of records
    counts: Counter[tuple[int, str]] = field(default_factory=Counter)
    # rep_id → the local dates late visits reached the server, with how many on each
    entered_on: dict[int, Counter[date]] = field(default_factory=lambda: defaultdict(Counter))
    # rep_id → the same for visits imported (`import visits`) after the report
    imported_on: dict[int, Counter[date]] = field(default_factory=lambda: defaultdict(Counter))
    # week label → when it closed (the earliest closing among the scope's branches)
    closed_at: dict[str, datetime] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def of_rep(self, rep_id: int) -> dict[str, int]:
        return {kind: self.counts[(rep_id, kind)] for kind in CHANGE_KINDS}

    def reps(self) -> list[int]:
        return sorted({rep for rep, _kind in self.counts})


def weeks_of(period: Period) -> list[Period]:
    """The ISO weeks overlapping a period (one for a week, four to six for a month)."""
    weeks, week = [], Period.week_of(period.start)
    while week.start <= period.end:
        weeks.append(week)
        week = week.next()
    return weeks


def closings(session: Session, weeks: list[str]) -> dict[str, dict[str, datetime]]:
    """week → {report ("branch:CODE" | "company") → when it first went out}."""
    if not weeks:
        return {}
    stmt = (
        select(ReportDelivery.week, ReportDelivery.report, func.min(ReportDelivery.sent_at))
        .where(
            ReportDelivery.week.in_(weeks),
            ReportDelivery.status == "sent",
            ReportDelivery.sent_at.is_not(None),
        )
        .group_by(ReportDelivery.week, ReportDelivery.report)
    )
    found: dict[str, dict[str, datetime]] = defaultdict(dict)
    for week, report, sent_at in session.execute(stmt):
        found[week][report] = _aware(sent_at)
    return dict(found)


def _aware(instant: datetime) -> datetime:
    return instant if instant.tzinfo else instant.replace(tzinfo=UTC)


class _Closing:
    """When (week, branch) closed, from the closings of the period's weeks."""

    def __init__(self, session: Session, weeks: list[Period]) -> None:
        self.by_week = closings(session, [w.label for w in weeks])
        self.codes = dict(session.execute(select(Branch.id, Branch.code)).all())

    def __bool__(self) -> bool:
        return bool(self.by_week)

    def earliest(self) -> datetime | None:
        times = [t for reports in self.by_week.values() for t in reports.values()]
        return min(times) if times else None

    def at(self, week: str, branch_id: int) -> datetime | None:
        reports = self.by_week.get(week, {})
        times = [
            t
            for t in (reports.get("company"), reports.get(f"branch:{self.codes.get(branch_id)}"))
            if t is not None
        ]
        return min(times) if times else None


def _scoped(stmt: Any, model: Any, scope: Scope) -> Any:
    if scope.kind == "branch":
        return stmt.where(model.branch_id == scope.id)
    if scope.kind == "rep":
        return stmt.where(model.rep_id == scope.id)
    return stmt


def changes(session: Session, scope: Scope, period: Period, *, tz: ZoneInfo) -> Changes:
    """Changes to the closed weeks of ``period`` in ``scope`` after their reports went out."""
    out = Changes()
    closing = _Closing(session, weeks_of(period))
    earliest = closing.earliest()
    if earliest is None:
        return out
    for week, reports in closing.by_week.items():
        out.closed_at[week] = min(reports.values())
    u_start, u_end = period.utc_bounds(tz)

    def closed(day: date, branch_id: int) -> datetime | None:
        if not period.contains(day):
            return None
        return closing.at(Period.week_of(day).label, branch_id)

    entered: set[int] = set()
    late = _scoped(
        select(
            Visit.id,
            Visit.rep_id,
            Visit.branch_id,
            Visit.visited_at,
            Visit.created_at,
            Visit.source,
        ).where(Visit.visited_at >= u_start, Visit.visited_at < u_end, Visit.created_at > earliest),
        Visit,
        scope,
    )
    for vid, rep_id, branch_id, visited_at, created_at, source in session.execute(late):
        at = closed(local_date(visited_at, tz), branch_id)
        if at is not None and created_at > at:
            entered.add(vid)
            imported = source == "import"
            out.counts[(rep_id, "imported" if imported else "entered")] += 1
            days = out.imported_on if imported else out.entered_on
            days[rep_id][local_date(created_at, tz)] += 1

    edits = _scoped(
        select(
            Revision.visit_id,
            Visit.rep_id,
            Visit.branch_id,
            Visit.visited_at,
            Revision.changes,
            Revision.changed_at,
        )
        .join(Visit, Visit.id == Revision.visit_id)
        .where(Revision.changed_at > earliest),
        Visit,
        scope,
    )
    edited: dict[int, int] = {}
    for vid, rep_id, branch_id, visited_at, diff, changed_at in session.execute(edits):
        if vid in entered or vid in edited:
            continue
        days = {local_date(visited_at, tz)}
        old = (diff or {}).get("visited_at")
        if isinstance(old, list) and old and isinstance(old[0], str):
            with suppress(ValueError):
                days.add(local_date(datetime.fromisoformat(old[0]), tz))
        if any((at := closed(day, branch_id)) is not None and changed_at > at for day in days):
            edited[vid] = rep_id
    for rep_id in edited.values():
        out.counts[(rep_id, "edited")] += 1

    # A proposal counts by the day it closed; a follow-up by the day it was due (only those due
    # in the period count in follow_up_rate, whenever they were done).
    not_entered = sorted(entered) or [-1]
    for model, day_column, kind in (
        (Proposal, Proposal.closed_on, "closed"),
        (FollowUp, FollowUp.due_on, "follow_up"),
    ):
        rows = _scoped(
            select(model.rep_id, model.branch_id, day_column, model.updated_at).where(
                day_column >= period.start,
                day_column <= period.end,
                model.updated_at > earliest,
                or_(model.visit_id.is_(None), model.visit_id.not_in(not_entered)),
            ),
            model,
            scope,
        )
        for rep_id, branch_id, day, updated_at in session.execute(rows):
            at = closed(day, branch_id)
            if at is not None and updated_at > at:
                out.counts[(rep_id, kind)] += 1
    return out


# ---- the KPI values as reported ------------------------------------------------------------


def snapshot_values(report: Any) -> dict[str, dict[str, Any]]:
    """The KPI figures a built report shows (its KPIs, KGI and visit count), as plain numbers."""
    figures = [*report.kpis, *report.kgi, report.visit_count]
    return {
        f.key: {"value": f.value, "numerator": f.numerator, "denominator": f.denominator}
        for f in figures
    }


def record_snapshot(
    session: Session, week: str, report: str, values: dict[str, Any], *, sent_at: datetime
) -> bool:
    """Keep the figures of a report the first time it goes out (once only: a week and report
    kept already stays as it was). Written in the caller's unit of work; True when kept now."""
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    stmt = (
        dialect.insert(ReportSnapshot.__table__)
        .values(week=week, report=report, sent_at=sent_at, kpis=values)
        .on_conflict_do_nothing(index_elements=["week", "report"])
        .returning(ReportSnapshot.__table__.c.id)
    )
    return session.execute(stmt).scalar() is not None


@dataclass(frozen=True)
class Move:
    """One KPI of a closed week: as the report showed it, and as the events say now."""

    key: str
    reported: KpiValue
    now: KpiValue

    @property
    def moved(self) -> bool:
        return (self.reported.numerator, self.reported.denominator) != (
            self.now.numerator,
            self.now.denominator,
        ) or self.reported.value != self.now.value


@dataclass
class WeekMoves:
    """How far a closed week moved since its report, and how much was entered after it."""

    week: str
    report: str
    sent_at: datetime
    moves: list[Move]
    changes: Changes
    sent_local: datetime | None = None  # sent_at in the company timezone, for the PDF

    @property
    def moved(self) -> list[Move]:
        return [m for m in self.moves if m.moved]

    def entered_on(self) -> list[tuple[date, int]]:
        """The local dates visits of the week were entered after the report, oldest first."""
        return _summed(self.changes.entered_on)

    def imported_on(self) -> list[tuple[date, int]]:
        """The local dates visits of the week were imported after the report, oldest first."""
        return _summed(self.changes.imported_on)


def _summed(by_rep: dict[int, Counter[date]]) -> list[tuple[date, int]]:
    total: Counter[date] = Counter()
    for days in by_rep.values():
        total.update(days)
    return sorted(total.items())


def week_moves(
    session: Session, scope: Scope, report: str, week: Period, *, today: date, tz: ZoneInfo
) -> WeekMoves | None:
    """The moves of one closed week's report (None while the report has not gone out)."""
    found = _moves(session, scope, report, [week], today=today, tz=tz)
    return found[0] if found else None


def recent_moves(
    session: Session,
    scope: Scope,
    report: str,
    period: Period,
    *,
    today: date,
    tz: ZoneInfo,
    back: int = 4,
) -> list[WeekMoves]:
    """Closed weeks that changed after their report: the period's weeks, or for a week the
    ``back`` weeks before it and itself; newest first. A fixed number of roll-up queries."""
    weeks = weeks_of(period) if period.kind == "month" else period.trailing(back + 1)
    found = _moves(session, scope, report, weeks, today=today, tz=tz)
    return [w for w in reversed(found) if w.moved or w.changes.total]


def _moves(
    session: Session,
    scope: Scope,
    report: str,
    weeks: list[Period],
    *,
    today: date,
    tz: ZoneInfo,
) -> list[WeekMoves]:
    from .rollup import trend

    kept = {
        s.week: s
        for s in session.scalars(
            select(ReportSnapshot).where(
                ReportSnapshot.week.in_([w.label for w in weeks]), ReportSnapshot.report == report
            )
        )
    }
    closed = [w for w in weeks if w.label in kept]
    if not closed:
        return []
    keys = sorted({k for s in kept.values() for k in (s.kpis or {}) if k in CATALOGUE})
    fresh = trend(session, scope, closed, keys=keys, today=today, tz=tz)
    out = []
    for week, figures in zip(closed, fresh, strict=True):
        snapshot = kept[week.label]
        moves = [
            Move(
                key,
                KpiValue(v.get("value"), v.get("numerator") or 0, v.get("denominator")),
                figures[key],
            )
            for key, v in (snapshot.kpis or {}).items()
            if key in figures
        ]
        out.append(
            WeekMoves(
                week=week.label,
                report=report,
                sent_at=_aware(snapshot.sent_at),
                moves=moves,
                changes=changes(session, scope, week, tz=tz),
                sent_local=_aware(snapshot.sent_at).astimezone(tz),
            )
        )
    return out
