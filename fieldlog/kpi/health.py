"""Data health: how far a period's numbers can be trusted (``flask kpi health``, the panels).

Signals, definitions and thresholds are in docs/honest-numbers.md. In short, over the visits of
the scope whose local visit date lies in the period:

- ``same_day_entry_rate``: visits entered (fieldlog.rules.entry: the trusted phone save time, else
  the server's receipt) on the visit's own local date / visits; imported history is exempt
  from every entry-time signal and left out of this denominator.
- ``late_entries``: visits entered more than ``late_entry_days`` local days after the visit.
- ``changed_after_report``: changes to closed weeks after their report went out
  (fieldlog.kpi.closed_weeks).
- flags, per rep (never ranked; ordered by kind, then email): ``late_bulk_entry``,
  ``changed_after_report``, ``all_purposeful``, ``hearing_without_note``, ``implausible_day``.

The facts of each flag are codes, numbers and dates, no words: ``present.report_text``
says them (``describe_flag``, in the reader's language) and names each kind in the PDF.
"""

from __future__ import annotations

from bisect import bisect_right
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from itertools import pairwise
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..models import CompanySettings, User, Visit
from ..rules.entry import entry_time, is_late
from ..rules.periods import Period, local_date, local_midnight_utc
from ..services.defaults import company_settings
from . import closed_weeks
from .rollup import KpiValue, rate
from .scope import Scope

FLAG_KINDS = (
    "late_bulk_entry",
    "changed_after_report",
    "all_purposeful",
    "hearing_without_note",
    "implausible_day",
)


@dataclass(frozen=True)
class Flag:
    """One signal for one rep: what kind, how many visits or days, and the facts behind it."""

    kind: str
    rep_id: int | None
    rep: str | None  # email
    count: int
    facts: dict[str, Any] = field(default_factory=dict)
    rep_name: str | None = None  # for pages; the JSON names the rep by email


@dataclass
class Health:
    """The health of one scope and period."""

    period: Period
    scope: str
    same_day_entry_rate: KpiValue
    late_entries: int
    changed_after_report: int
    flags: list[Flag]
    imported: int = 0
    late_entry_days: int = 3

    def as_dict(self, describe: Callable[[Flag], str]) -> dict[str, Any]:
        """The JSON of ``flask kpi health --json`` (docs/contract.md); ``describe`` words a
        flag's facts (``present.report_text.describe_flag``)."""
        return {
            "period": self.period.label,
            "scope": self.scope,
            "same_day_entry_rate": self.same_day_entry_rate.as_dict(),
            "late_entries": self.late_entries,
            "changed_after_report": self.changed_after_report,
            "flags": [
                {"kind": f.kind, "rep": f.rep, "count": f.count, "detail": describe(f)}
                for f in self.flags
            ],
        }


@dataclass
class _Row:
    rep_id: int
    customer_id: int
    visited_at: datetime
    time_known: bool  # False for an imported bare date (stored at 12:00)
    day: date
    entered: datetime | None  # None for imported history
    purposeful: bool
    heard_without_note: bool
    hearing_done: bool


class _Days:
    """Local dates of instants by bisecting the UTC instants of local midnights.

    The same answer as ``periods.local_date`` (DST included), without a timezone conversion
    per visit: a month of company visits is ~17,000 rows, and ``astimezone`` was half the time.
    """

    MAX_DAYS = 3660

    def __init__(self, tz: ZoneInfo, first: date) -> None:
        self.tz = tz
        self.first = first
        self.bounds = [local_midnight_utc(first, tz)]

    def of(self, instant: datetime) -> date:
        if instant < self.bounds[0]:
            return local_date(instant, self.tz)
        while instant >= self.bounds[-1] and len(self.bounds) < self.MAX_DAYS:
            self.bounds.append(
                local_midnight_utc(self.first + timedelta(days=len(self.bounds)), self.tz)
            )
        if instant >= self.bounds[-1]:
            return local_date(instant, self.tz)
        return self.first + timedelta(days=bisect_right(self.bounds, instant) - 1)


def _rows(session: Session, scope: Scope, period: Period, tz: ZoneInfo, days: _Days) -> list[_Row]:
    u_start, u_end = period.utc_bounds(tz)
    stmt = select(
        Visit.rep_id,
        Visit.customer_id,
        Visit.visited_at,
        Visit.time_known,
        Visit.created_at,
        Visit.saved_at,
        Visit.source,
        Visit.purposeful,
        Visit.hearing_done,
        Visit.hearing_note == "",
    ).where(Visit.visited_at >= u_start, Visit.visited_at < u_end)
    if scope.kind == "branch":
        stmt = stmt.where(Visit.branch_id == scope.id)
    elif scope.kind == "rep":
        stmt = stmt.where(Visit.rep_id == scope.id)
    rows = []
    for (
        rep_id,
        customer_id,
        visited,
        time_known,
        created,
        saved,
        source,
        purposeful,
        heard,
        no_note,
    ) in session.execute(stmt):
        rows.append(
            _Row(
                rep_id=rep_id,
                customer_id=customer_id,
                visited_at=visited,
                time_known=bool(time_known),
                day=days.of(visited),
                entered=None if source == "import" else entry_time(visited, saved, created),
                purposeful=bool(purposeful),
                heard_without_note=bool(heard) and bool(no_note),
                hearing_done=bool(heard),
            )
        )
    return rows


def health(
    session: Session,
    scope: Scope,
    period: Period,
    *,
    tz: ZoneInfo,
    scope_label: str,
    settings: CompanySettings | None = None,
) -> Health:
    """Every data-health figure and flag of one scope and period (docs/honest-numbers.md)."""
    settings = settings or company_settings(session)
    days = _Days(tz, period.start)
    rows = _rows(session, scope, period, tz, days)
    by_rep: dict[int, list[_Row]] = defaultdict(list)
    for row in rows:
        by_rep[row.rep_id].append(row)

    same_day = entered = late = 0
    flags: list[Flag] = []
    for rep_id, mine in by_rep.items():
        late_rows = []
        for row in mine:
            if row.entered is None:
                continue
            entered += 1
            later = (days.of(row.entered) - row.day).days
            same_day += later == 0
            if is_late(later, settings.late_entry_days):
                late_rows.append(row)
        late += len(late_rows)
        flags += _late_bulk(rep_id, late_rows, settings, days)
        flags += _content(rep_id, mine, settings)
        flags += _implausible(rep_id, mine, settings)

    changes = closed_weeks.changes(session, scope, period, tz=tz)
    for rep_id in changes.reps():
        kinds = changes.of_rep(rep_id)
        facts: dict[str, Any] = {
            **kinds,
            "weeks": sorted(changes.closed_at),
            "entered_on": sorted(changes.entered_on.get(rep_id, {}).items()),
            "imported_on": sorted(changes.imported_on.get(rep_id, {}).items()),
        }
        flags.append(Flag("changed_after_report", rep_id, None, sum(kinds.values()), facts))

    people = _people(session, {f.rep_id for f in flags if f.rep_id is not None})
    named = []
    for f in flags:
        email, name = people.get(f.rep_id or 0, (None, None))
        named.append(Flag(f.kind, f.rep_id, email, f.count, f.facts, name))
    flags = named
    flags.sort(key=lambda f: (FLAG_KINDS.index(f.kind), f.rep or "", str(f.facts.get("on", ""))))
    return Health(
        period=period,
        scope=scope_label,
        same_day_entry_rate=rate(same_day, entered),
        late_entries=late,
        changed_after_report=changes.total,
        flags=flags,
        imported=len(rows) - entered,
        late_entry_days=settings.late_entry_days,
    )


def _people(session: Session, ids: set[int]) -> dict[int, tuple[str | None, str | None]]:
    """id → (email, name) of the reps the flags name."""
    if not ids:
        return {}
    stmt = select(User.id, User.email, User.name).where(User.id.in_(ids))
    return {uid: (email, name) for uid, email, name in session.execute(stmt)}


def _late_bulk(
    rep_id: int, late_rows: list[_Row], settings: CompanySettings, days: _Days
) -> list[Flag]:
    """Late entries of one rep grouped by the local date they were entered (one sitting)."""
    sittings: dict[date, list[_Row]] = defaultdict(list)
    for row in late_rows:
        assert row.entered is not None
        sittings[days.of(row.entered)].append(row)
    return [
        Flag(
            "late_bulk_entry",
            rep_id,
            None,
            len(group),
            {"on": day, "first": min(r.day for r in group), "last": max(r.day for r in group)},
        )
        for day, group in sorted(sittings.items())
        if len(group) >= settings.bulk_entry_visits
    ]


def _content(rep_id: int, mine: list[_Row], settings: CompanySettings) -> list[Flag]:
    """Every visit purposeful; problems heard without a note (imported visits count too)."""
    flags = []
    if len(mine) >= settings.all_purposeful_visits and all(r.purposeful for r in mine):
        flags.append(Flag("all_purposeful", rep_id, None, len(mine), {"visits": len(mine)}))
    silent = sum(r.heard_without_note for r in mine)
    if silent and silent >= settings.hearing_no_note_visits:
        heard = sum(r.hearing_done for r in mine)
        flags.append(Flag("hearing_without_note", rep_id, None, silent, {"heard": heard}))
    return flags


def _implausible(rep_id: int, mine: list[_Row], settings: CompanySettings) -> list[Flag]:
    """Days with more visits than a route allows, or two customers closer than the gap.

    Every visit counts towards the day's number; only visits whose time is known are paired (an
    imported bare date is stored at 12:00 and says nothing of the hour).
    """
    gap = timedelta(minutes=settings.min_visit_gap_minutes)
    days: dict[date, list[_Row]] = defaultdict(list)
    for row in mine:
        days[row.day].append(row)
    found = []
    for day, visits in sorted(days.items()):
        timed = sorted((r for r in visits if r.time_known), key=lambda r: r.visited_at)
        close = sum(
            1
            for a, b in pairwise(timed)
            if a.customer_id != b.customer_id and b.visited_at - a.visited_at < gap
        )
        if len(visits) > settings.max_visits_per_day or close:
            found.append({"day": day, "visits": len(visits), "close": close})
    if not found:
        return []
    facts = {
        "days": found,
        "max": settings.max_visits_per_day,
        "gap": settings.min_visit_gap_minutes,
    }
    return [Flag("implausible_day", rep_id, None, len(found), facts)]
