"""A cheap stamp of the data behind a rep's plan and Today: equal stamps, equal pages.

The plan reads customers, visits, sales lines, follow-ups, proposals, planned visits, the
categories, the purposes and the company settings. Every insert moves a table's largest id and
every change its newest ``updated_at`` (each indexed: one index seek per table); the rows
that are deleted are deleted by imports, which add an ``ImportBatch``; a purpose's purposeful
flag is kept in the settings history. One statement reads them all, with the name of the
user's branch (Today's header shows it), so the web layer can keep a rendered page and serve
it again while the stamp is unchanged, without touching the write path.

What a stamp cannot see: a change whose ``updated_at`` is older than the newest one already
stored. Two writers that stamp at t1 < t2 and commit in the other order leave the stamp at t2
when t1 lands; ``settled`` says when the newest stamp is old enough that no write stamped
before it can still be in flight, and only then may a page be kept.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, func, select
from sqlalchemy.orm import Session

from ..models import (
    Branch,
    Category,
    CompanySettings,
    Customer,
    FollowUp,
    ImportBatch,
    PlannedVisit,
    Proposal,
    Purpose,
    SalesLine,
    SettingChange,
    Visit,
)

_CHANGED = (Visit, FollowUp, Proposal, PlannedVisit, Customer, Category, Purpose)
_APPENDED = (SalesLine, ImportBatch, SettingChange)


def _statement():
    columns: list[Any] = []
    for model in _CHANGED:
        columns.append(select(func.max(model.id)).scalar_subquery())
        columns.append(select(func.max(model.updated_at)).scalar_subquery())
    for model in _APPENDED:
        columns.append(select(func.max(model.id)).scalar_subquery())
    columns.append(select(func.max(CompanySettings.updated_at)).scalar_subquery())
    columns.append(select(Branch.name).where(Branch.id == bindparam("branch_id")).scalar_subquery())
    return select(*columns)


# Built once: it is read on every view of Today.
_STAMP = _statement()
# The positions of the instants among the stamp's values.
_INSTANTS = [2 * k + 1 for k in range(len(_CHANGED))] + [2 * len(_CHANGED) + len(_APPENDED)]


def stamp(session: Session, branch_id: int | None) -> tuple[Any, ...]:
    """The data's stamp now, for a user of ``branch_id``: one statement, one index seek a table."""
    return tuple(session.execute(_STAMP, {"branch_id": branch_id}).one())


def newest(values: tuple[Any, ...]) -> datetime | None:
    """The newest change the stamp records (naive UTC, as stored), or None for empty tables."""
    instants = [_naive(values[k]) for k in _INSTANTS if values[k] is not None]
    return max(instants) if instants else None


def settled(values: tuple[Any, ...], now: datetime, margin: timedelta) -> bool:
    """Whether a page built under this stamp may be kept: its newest change is at least
    ``margin`` old, so a write stamped before it has committed (or failed) by now."""
    last = newest(values)
    return last is None or _naive(now) - last >= margin


def _naive(value: Any) -> datetime:
    """An instant as stored (naive UTC): SQLite may hand an aggregate back as text."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.astimezone(UTC).replace(tzinfo=None) if value.tzinfo else value
