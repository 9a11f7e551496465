"""The lead analyses kept per ISO week (docs/verification.md), and when they go stale.

The KPI ranking (``kpi.ranking``) keeps each analysis in ``LeadCache``; the weekly PDF, the
branch report's design question and the hypothesis page read the same rows through
``cached_lead`` and compute only what is missing.

A kept analysis stands until data dated inside its window change. Every writer says what it
wrote, as a named step in its own transaction (docs/architecture.md, "Write steps"):
``rows_changed`` for ORM rows it inserted, changed or deleted (before its flush),
``visits_written`` and ``forget_from`` for Core writes (the visit post's insert, the imports).
They delete every row whose window ends on or after the day of a visit, proposal, follow-up or
sales line written (an import, a correction, a late entry), and every row when customers,
people, branches or thresholds change (they move whole histories). A visit logged today leaves
last week's ranking standing. ``check_writes`` (the test suite only) reports an ORM write that
no step was told of.
"""

from __future__ import annotations

import sys
import warnings
from collections.abc import Iterable
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import (
    Date,
    bindparam,
    delete,
    event,
    exists,
    inspect,
    literal_column,
    or_,
    select,
)
from sqlalchemy.orm import Session

from ..app.database import IN_UNIT_OF_WORK
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


def readable(data: dict[str, Any]) -> LeadResult | None:
    """``from_json``, or None for a row that cannot be read back (one kept before its window
    was bounded, e.g. starting in 1899): it counts as absent and is computed again."""
    try:
        return from_json(data)
    except (ValueError, KeyError, TypeError):
        return None


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
        kept = readable(data) if data is not None else None
        if kept is not None:
            return kept
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
    Customer: ("branch_id", "rep_id", "branch", "rep", "active"),
    User: ("branch_id", "branch", "role"),
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


def _earliest(session: Session, rows: Iterable[Any]) -> tuple[date | None, datetime | None]:
    """The earliest day and visit instant these rows, inserted, changed or deleted in this
    session and not flushed yet, touch."""
    days: list[date] = []
    instants: list[datetime] = []
    created = {*session.new, *session.deleted}
    for row in rows:
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


def _forget_statements(by_day: bool, by_instant: bool, *, one: bool) -> list[Any]:
    """The deletes of both tables; ``one``: as one statement (PostgreSQL runs a DELETE in a
    WITH clause: one round trip instead of two on every visit post)."""
    out = []
    for model in (LeadCache, LeadRanking):
        out.append(delete(model).where(_touched(model, by_day, by_instant)))
    if one:
        first = out[0].returning(LeadCache.id).cte("forgotten_analyses")
        return [out[1].add_cte(first)]
    return out


def _touched(model: Any, by_day: bool, by_instant: bool, instant: Any = None) -> Any:
    """The rows of ``model`` whose window reaches the day or the instant (the ``instant`` bind
    parameter, or the expression given)."""
    touched = []
    if by_day:
        touched.append(model.window_end >= bindparam("day", type_=Date))
    if by_instant:
        if instant is None:
            instant = bindparam("instant", type_=UTCDateTime)
        touched.append(model.window_until > instant)
    return or_(*touched)


def _any_touched(by_day: bool, by_instant: bool, instant: Any = None) -> Any:
    """Whether either table has a row ``_touched`` names."""
    return or_(
        *(
            exists().where(_touched(model, by_day, by_instant, instant))
            for model in (LeadCache, LeadRanking)
        )
    )


def _any_statement(by_day: bool, by_instant: bool) -> Any:
    """Whether either table has a row to delete (SQLite: one indexed read, where the two
    deletes were two statements on every visit post, which mostly find nothing: a visit
    logged today reaches no kept window)."""
    return select(_any_touched(by_day, by_instant))


# Built once: every visit post runs the instant's pair (building them cost ~0.2 ms a post).
_FORGET = {
    (one, by_day, by_instant): _forget_statements(by_day, by_instant, one=one)
    for one in (False, True)
    for by_day in (False, True)
    for by_instant in (False, True)
    if by_day or by_instant
}
_ANY = {
    (by_day, by_instant): _any_statement(by_day, by_instant)
    for by_day in (False, True)
    for by_instant in (False, True)
    if by_day or by_instant
}


def forget_from(
    session: Session,
    day: date | None,
    instant: datetime | None = None,
    *,
    stale: bool | None = None,
) -> None:
    """Delete the kept analyses and rankings whose window ends on or after ``day``, or after
    ``instant`` (a visit's time). ``stale``: whether any does, already read by the caller in a
    statement of its own (``stale_after``); None: read it here (SQLite) or just delete."""
    if (day is None and instant is None) or stale is False:
        return
    conn = session.connection()
    one = conn.dialect.name == "postgresql"
    params = {"day": day, "instant": instant}
    if (
        stale is None
        and not one
        and conn.execute(_ANY[(day is not None, instant is not None)], params).first() is None
    ):
        return
    for stmt in _FORGET[(one, day is not None, instant is not None)]:
        conn.execute(stmt, params)


def stale_after(instant: Any) -> Any:
    """Whether a kept analysis or ranking reaches past ``instant``, a column of naive UTC (as
    stored) of the row a writer writes: for it to read beside its write, in the same statement
    (the visit post's insert returns it), and hand to ``visits_written`` as ``stale``.

    The column is named as the written row's own (``visit.visited_at``), never as a table of
    the subquery: SQLAlchemy correlates only into an enclosing SELECT, and a RETURNING is none,
    so the column object would have joined every row of its table in."""
    return _any_touched(False, True, literal_column(f"{instant.table.name}.{instant.name}"))


def visits_written(
    session: Session, instants: Iterable[datetime], *, stale: bool | None = None
) -> None:
    """The write step for visits at these instants written by a Core insert (no ORM rows);
    ``stale`` as in ``forget_from``, read with ``stale_after`` of the earliest instant."""
    moments = [_naive(at) for at in instants]
    if moments:
        forget_from(session, None, min(moments), stale=stale)


def histories_moved(session: Session) -> None:
    """The write step for a Core write of customers, people or branches (an import): they move
    whole histories, so every kept analysis goes."""
    if _CHECKING:
        session.info[_TOLD_ALL] = True
    forget_from(session, _EVERYTHING)


def rows_changed(session: Session, rows: Iterable[Any]) -> None:
    """The write step for ORM rows a writer inserted, changed or deleted: forget the kept
    analyses they make stale. Call it after the changes and before they are flushed (it reads
    each row's pending change); rows of other tables are ignored."""
    rows = list(rows)
    if _CHECKING:
        told = session.info.setdefault(_TOLD, {})
        told.update((id(row), row) for row in rows)
    forget_from(session, *_earliest(session, rows))


# ---- the test suite's check: every ORM write told -----------------------------------------

_CHECKING = False
_TOLD = "fieldlog.lead_cache.told"
_TOLD_ALL = "fieldlog.lead_cache.told_all"  # histories_moved: every row of the transaction


class UntoldLeadWriteWarning(RuntimeWarning):
    """An ORM write that could make kept lead analyses stale was flushed untold."""


def _untold(session: Session, _context: Any, _instances: Any) -> None:
    if session.info.get(_TOLD_ALL) or not session.info.get(IN_UNIT_OF_WORK):
        return  # told everything, or a test's own set-up rows (not a writer's unit of work)
    told = session.info.get(_TOLD, {})
    rows = (*session.new, *session.deleted, *session.dirty)
    missed = [r for r in rows if type(r) in (*_DATED, *_WHOLE) and id(r) not in told]
    day, instant = _earliest(session, missed) if missed else (None, None)
    if day is not None or instant is not None:
        names = sorted({type(r).__name__ for r in missed})
        warnings.warn(
            f"{', '.join(names)} rows were flushed without lead_cache.rows_changed (flushed "
            f"from {_writer()}): kept lead analyses dated after them would stay stale",
            UntoldLeadWriteWarning,
            stacklevel=2,
        )


def _writer() -> str:
    """The first frame outside SQLAlchemy and the transaction plumbing: who flushed."""
    frame = sys._getframe(2)
    while frame is not None:
        name = frame.f_code.co_filename
        if not any(
            part in name for part in ("sqlalchemy", "lead_cache", "app/database", "contextlib")
        ):
            return f"{name.rsplit('/', 2)[-2]}/{name.rsplit('/', 1)[-1]}:{frame.f_lineno}"
        frame = frame.f_back
    return "?"


def _flushed(session: Session, _context: Any) -> None:
    session.info.pop(_TOLD, None)  # a row changed again after its flush is told again


def _end(session: Session, *_args: Any) -> None:
    session.info.pop(_TOLD, None)
    session.info.pop(_TOLD_ALL, None)


def check_writes() -> None:
    """Warn at each flush, inside a unit of work (a view, command or job), of ORM rows that no
    ``rows_changed`` step was told of (the test suite turns the warning into an error): a
    writer added later that forgot its step."""
    global _CHECKING
    _CHECKING = True
    hooks = (("before_flush", _untold), ("after_flush_postexec", _flushed))
    hooks += (("after_commit", _end), ("after_rollback", _end))
    for name, fn in hooks:
        if not event.contains(Session, name, fn):
            event.listen(Session, name, fn)
