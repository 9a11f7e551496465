"""The sales forecasts kept in the database, shared by every process (docs/kgi.md).

A forecast is kept per scope (company or one branch), ``as_of``, horizon and version of the
data (``kgi.data_version``): a write that changes the data changes the version, so a kept
forecast is never stale for its key and no writer has a step to call. The background job
(``jobs.warm``) claims a key before it fits (a ``running`` row: another process that wants the
same forecast waits for it instead of fitting it too), then keeps the result in the claim's
row. These functions write in the caller's unit of work and never commit.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from ..models import ForecastCache, utcnow
from .forecast import Forecast, TooLittleHistory, WeekForecast
from .lead_cache import scope_key
from .scope import Scope

# A claim older than this is taken for a process that died while fitting, and taken over
# (a fit takes seconds; 300,000 proposals ~5 s of CPU).
STALE_AFTER = timedelta(minutes=5)
# Keeping a forecast deletes the kept ones of as_of more than this before its as_of.
KEEP_WEEKS = 8


# ---- the kept value -----------------------------------------------------------------------


def to_json(found: Forecast | TooLittleHistory) -> dict[str, Any]:
    """A forecast, or the too-little-history answer with its number of weeks, as JSON."""
    if isinstance(found, TooLittleHistory):
        return {"too_little_history": list(found.args)}
    return {
        "as_of": found.as_of.isoformat(),
        "weeks": [[w.week, int(w.value), [int(v) for v in w.interval]] for w in found.weeks],
        "method": found.method,
        "history_weeks": int(found.history_weeks),
    }


def from_json(data: dict[str, Any]) -> Forecast | TooLittleHistory:
    """What ``to_json`` kept, equal to the fresh one."""
    if "too_little_history" in data:
        return TooLittleHistory(*data["too_little_history"])
    return Forecast(
        as_of=date.fromisoformat(data["as_of"]),
        weeks=[WeekForecast(week, value, (lo, hi)) for week, value, (lo, hi) in data["weeks"]],
        method=data["method"],
        history_weeks=data["history_weeks"],
    )


# ---- reading, claiming, keeping -----------------------------------------------------------


def keepable(found: Any) -> bool:
    """Whether a fit's outcome is kept: a forecast or too little history (not another error)."""
    return isinstance(found, Forecast | TooLittleHistory)


def _key(scope: Scope, as_of: date, weeks: int, version: str) -> list[Any]:
    name = scope_key(scope)
    if name is None:
        raise ValueError("forecasts are kept for the company and branches only")
    return [
        ForecastCache.scope == name,
        ForecastCache.as_of == as_of,
        ForecastCache.weeks == weeks,
        ForecastCache.data_version == version,
    ]


def kept(
    session: Session, scope: Scope, as_of: date, weeks: int, version: str
) -> Forecast | TooLittleHistory | None:
    """The kept forecast of this key, or None (none kept, or only claimed so far; a rep's
    forecast is never kept)."""
    if scope_key(scope) is None:
        return None
    data = session.scalar(
        select(ForecastCache.result).where(
            *_key(scope, as_of, weeks, version), ForecastCache.state == "done"
        )
    )
    return None if data is None else from_json(data)


def claim(session: Session, scope: Scope, as_of: date, weeks: int, version: str) -> int | None:
    """Claim the key for this process to fit: the claim's id, or None when it is kept already
    or another process's claim stands (not stale). The caller commits at once, so the other
    processes see it."""
    now = utcnow()
    found = session.execute(
        select(ForecastCache.id, ForecastCache.state, ForecastCache.started_at).where(
            *_key(scope, as_of, weeks, version)
        )
    ).first()
    if found is not None:
        if found.state == "done" or not _stale(found.started_at, now):
            return None
        # A dead process's claim: taken over by whoever updates it first.
        taken = session.execute(
            update(ForecastCache)
            .where(
                ForecastCache.id == found.id,
                ForecastCache.state == "running",
                ForecastCache.started_at == found.started_at,
            )
            .values(started_at=now)
        )
        return found.id if taken.rowcount == 1 else None
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    stmt = (
        dialect.insert(ForecastCache.__table__)
        .values(
            scope=scope_key(scope),
            branch_id=scope.id if scope.kind == "branch" else None,
            as_of=as_of,
            weeks=weeks,
            data_version=version,
            state="running",
            started_at=now,
        )
        .on_conflict_do_nothing(index_elements=["scope", "as_of", "weeks", "data_version"])
        .returning(ForecastCache.__table__.c.id)
    )
    return session.execute(stmt).scalar()


def _stale(started_at: datetime | None, now: datetime) -> bool:
    return started_at is None or now - started_at > STALE_AFTER


def keep(session: Session, claim_id: int, found: Forecast | TooLittleHistory) -> bool:
    """Keep the fitted forecast in its claim's row; delete the other versions of its scope,
    day and horizon claimed before it, and the forecasts of more than ``KEEP_WEEKS`` before
    its day. False (nothing kept) when the claim is gone: a newer version was kept meanwhile,
    or the branch was deleted."""
    row = session.execute(
        select(
            ForecastCache.scope,
            ForecastCache.as_of,
            ForecastCache.weeks,
            ForecastCache.started_at,
        )
        .where(ForecastCache.id == claim_id)
        .with_for_update()
    ).first()
    if row is None:
        return False
    session.execute(
        update(ForecastCache)
        .where(ForecastCache.id == claim_id)
        .values(state="done", result=to_json(found), finished_at=utcnow())
    )
    session.execute(
        delete(ForecastCache).where(
            ForecastCache.scope == row.scope,
            ForecastCache.as_of == row.as_of,
            ForecastCache.weeks == row.weeks,
            ForecastCache.id != claim_id,
            ForecastCache.started_at <= row.started_at,
        )
    )
    session.execute(
        delete(ForecastCache).where(ForecastCache.as_of < row.as_of - timedelta(weeks=KEEP_WEEKS))
    )
    return True


def release(session: Session, claim_id: int) -> None:
    """Give a claim up (the fit failed, or the data moved on while it ran): the next process
    that wants the forecast fits it."""
    session.execute(
        delete(ForecastCache).where(ForecastCache.id == claim_id, ForecastCache.state == "running")
    )
