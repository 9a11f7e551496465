"""The lead analyses kept per ISO week (docs/verification.md), and when they go stale.

The KPI ranking (``kpi.ranking``) keeps each analysis in ``LeadCache``; the weekly PDF, the
branch report's design question and the hypothesis page read the same rows through
``cached_lead`` and compute only what is missing.

A kept analysis stands until data dated inside its window change: ``guard`` deletes, in the
same transaction as the write, every row whose window ends on or after the day of a visit,
proposal, follow-up or sales line inserted, changed or deleted (an import, a correction, a late
entry), and every row when customers, people, branches or thresholds change (they move whole
histories). A visit logged today leaves last week's ranking standing.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Date, bindparam, delete, event, inspect, or_, select
from sqlalchemy.orm import Session

from ..models import (
    Branch,
    CompanySettings,
    Customer,
    FollowUp,
    LeadCache,
    LeadRanking,
    Proposal,
    SalesLine,
    User,
    UTCDateTime,
    Visit,
)
from ..rules.periods import Period
from . import leadlag
from .lead import LeadResult, check_arguments, lead_analysis
from .scope import Scope


def scope_key(scope: Scope) -> str | None:
    """``company`` or ``branch:<id>``: the scopes the ranking fills; None for a rep."""
    if scope.kind == "company":
        return "company"
    if scope.kind == "branch":
        return f"branch:{scope.id}"
    return None


# ---- kept results -------------------------------------------------------------------------


def to_json(result: LeadResult) -> dict[str, Any]:
    """Everything of a ``LeadResult``, unrounded, so a kept one equals a fresh one."""
    return {
        "kpi": result.kpi,
        "kgi": result.kgi,
        "scope": result.scope,
        "start": result.start.label,
        "until": result.until.label,
        "weeks": result.weeks,
        "verdict": result.verdict,
        "lag_weeks": result.lag_weeks,
        "effect": result.effect,
        "interval": list(result.interval) if result.interval else None,
        "n": result.n,
        "by_lag": [
            {
                "lag": e.lag,
                "effect": e.effect,
                "interval": list(e.interval) if e.interval else None,
                "n": e.n,
                "t": e.t,
            }
            for e in result.by_lag
        ],
        "method": result.method,
        "units": result.units,
    }


def from_json(data: dict[str, Any]) -> LeadResult:
    """The ``LeadResult`` ``to_json`` kept."""
    return LeadResult(
        kpi=data["kpi"],
        kgi=data["kgi"],
        scope=data["scope"],
        start=Period.parse(data["start"]),
        until=Period.parse(data["until"]),
        weeks=data["weeks"],
        verdict=data["verdict"],
        lag_weeks=data["lag_weeks"],
        effect=data["effect"],
        interval=tuple(data["interval"]) if data["interval"] else None,  # type: ignore[arg-type]
        n=data["n"],
        by_lag=[
            leadlag.LagEstimate(
                lag=e["lag"],
                effect=e["effect"],
                interval=tuple(e["interval"]) if e["interval"] else None,  # type: ignore[arg-type]
                n=e["n"],
                t=e["t"],
            )
            for e in data["by_lag"]
        ],
        method=data["method"],
        units=data["units"],
    )


def cached_lead(
    session: Session,
    kpi: str,
    kgi: str,
    scope: Scope,
    weeks: int,
    until: Period,
    *,
    tz: ZoneInfo,
) -> LeadResult:
    """``lead.lead_analysis``, read from the kept analyses when the ranking has them.

    A miss is computed on the spot and not kept (a read never writes); the ranking job keeps.
    """
    key = scope_key(scope)
    if key is not None:
        check_arguments(kpi, kgi, weeks)
        done = select(LeadRanking.id).where(
            LeadRanking.until == LeadCache.until,
            LeadRanking.weeks == LeadCache.weeks,
            LeadRanking.kgi == LeadCache.kgi,
            LeadRanking.state == "done",
        )
        data = session.scalar(
            select(LeadCache.result).where(
                LeadCache.until == until.label,
                LeadCache.weeks == weeks,
                LeadCache.kgi == kgi,
                LeadCache.scope == key,
                LeadCache.kpi == kpi,
                done.exists(),
            )
        )
        if data is not None:
            return from_json(data)
    return lead_analysis(session, kpi, kgi, scope, weeks, until, tz=tz)


# ---- invalidation -------------------------------------------------------------------------

_EVERYTHING = date.min
# The dated columns of each event table: a change on day D touches the windows ending ≥ D.
_DATED: dict[type, tuple[str, ...]] = {
    Visit: ("visited_at",),
    SalesLine: ("sold_on",),
    Proposal: ("proposed_on", "closed_on"),
    FollowUp: ("due_on", "done_on"),
}
# Rows that move whole histories when inserted, deleted or changed in these columns: a
# customer's rep or branch (customer-based KPIs follow the current one), the customers counted
# for dormancy, a person's branch (the panels), the dormancy thresholds.
_WHOLE: dict[type, tuple[str, ...]] = {
    Customer: ("branch_id", "rep_id", "active"),
    User: ("branch_id", "role"),
    Branch: ("code",),  # kept results name the branch by its code
    CompanySettings: ("dormant_visit_days", "dormant_sales_days"),
}


def _values(session: Session, row: Any, name: str) -> tuple[Any, ...]:
    """The column's value before and after this flush (loaded if it had expired)."""
    state = inspect(row)
    if name in state.unloaded and state.has_identity:
        with session.no_autoflush:
            getattr(row, name)
    history = state.attrs[name].history
    return (*history.added, *history.unchanged, *history.deleted)


def _earliest(session: Session) -> tuple[date | None, datetime | None]:
    """The earliest day and visit instant this flush inserts, changes or deletes."""
    days: list[date] = []
    instants: list[datetime] = []
    created = {*session.new, *session.deleted}
    for row in (*session.new, *session.deleted, *session.dirty):
        kind = type(row)
        if kind in _WHOLE:
            if row in created:
                return _EVERYTHING, None
            if any(inspect(row).attrs[c].history.has_changes() for c in _WHOLE[kind]):
                return _EVERYTHING, None
            continue
        columns = _DATED.get(kind)
        if columns is None:
            continue
        if row not in created and not session.is_modified(row, include_collections=False):
            continue
        for name in columns:
            for value in _values(session, row, name):
                if isinstance(value, datetime):
                    instants.append(_naive(value))
                elif value is not None:
                    days.append(value)
        if kind is FollowUp:
            # A follow-up makes its visit's week count for next_action_rate.
            for visit_id in _values(session, row, "visit_id"):
                with session.no_autoflush:
                    visit = session.get(Visit, visit_id) if visit_id is not None else None
                if visit is not None and visit.visited_at is not None:
                    instants.append(_naive(visit.visited_at))
    return (min(days) if days else None), (min(instants) if instants else None)


def _naive(instant: datetime) -> datetime:
    """Naive UTC, as ``UTCDateTime`` stores and compares instants."""
    if instant.tzinfo is not None:
        instant = instant.astimezone(UTC).replace(tzinfo=None)
    return instant


def _forget_statements(by_day: bool, by_instant: bool) -> list[Any]:
    out = []
    for model in (LeadCache, LeadRanking):
        touched = []
        if by_day:
            touched.append(model.window_end >= bindparam("day", type_=Date))
        if by_instant:
            touched.append(model.window_until > bindparam("instant", type_=UTCDateTime))
        out.append(delete(model).where(or_(*touched)))
    return out


# Built once: every visit post runs the instant's pair (building them cost ~0.2 ms a post).
_FORGET = {
    (by_day, by_instant): _forget_statements(by_day, by_instant)
    for by_day in (False, True)
    for by_instant in (False, True)
    if by_day or by_instant
}


def forget_from(session: Session, day: date | None, instant: datetime | None = None) -> None:
    """Delete the kept analyses and rankings whose window ends on or after ``day``, or after
    ``instant`` (a visit's time)."""
    if day is None and instant is None:
        return
    conn = session.connection()
    for stmt in _FORGET[(day is not None, instant is not None)]:
        conn.execute(stmt, {"day": day, "instant": instant})


def visits_written(session: Session, instants: Iterable[datetime]) -> None:
    """Visits at these instants were written without the ORM's flush (one Core insert): forget
    what the flush hook below would have forgotten for them."""
    moments = [_naive(at) for at in instants]
    if moments:
        forget_from(session, None, min(moments))


_PENDING = "fieldlog.lead_cache.from"


def _before_flush(session: Session, _context: Any, _instances: Any) -> None:
    day, instant = _earliest(session)
    if day is None and instant is None:
        return
    old_day, old_instant = session.info.get(_PENDING, (None, None))
    session.info[_PENDING] = (_min(day, old_day), _min(instant, old_instant))


def _min(a: Any, b: Any) -> Any:
    return b if a is None else a if b is None else min(a, b)


def _after_flush(session: Session, _context: Any) -> None:
    pending = session.info.pop(_PENDING, None)
    if pending is not None:
        forget_from(session, *pending)


def guard() -> None:
    """Forget, in the writing transaction, the kept analyses that new data make stale."""
    for name, fn in (("before_flush", _before_flush), ("after_flush", _after_flush)):
        if not event.contains(Session, name, fn):
            event.listen(Session, name, fn)
