"""When a visit was entered: the one rule behind "entered 19 days later" (docs/honest-numbers.md).

A visit's entry time is when the server first stored it (``created_at``). The phone's own save
time (``saved_at``, sent by the outbox) is earlier when the phone was offline, and is used
instead only when it lies between the visit and the server's receipt: a phone clock set back
(or forward) must not make a late entry look timely.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from .periods import local_date


def trusted_saved_at(
    visited_at: datetime, saved_at: datetime | None, created_at: datetime
) -> datetime | None:
    """The phone's save time when it is plausible (visit ≤ saved_at ≤ receipt), else None."""
    if saved_at is None or not visited_at <= saved_at <= created_at:
        return None
    return saved_at


def entry_time(visited_at: datetime, saved_at: datetime | None, created_at: datetime) -> datetime:
    """The entry time the signals use: the trusted phone save time, else the server's receipt."""
    return trusted_saved_at(visited_at, saved_at, created_at) or created_at


def days_later(visited_at: datetime, entered_at: datetime, tz: ZoneInfo) -> int:
    """Whole local days (company timezone) from the visit's date to the entry's date."""
    return (local_date(entered_at, tz) - local_date(visited_at, tz)).days


def is_late(days: int, late_entry_days: int) -> bool:
    """A late entry: entered more than ``late_entry_days`` local days after the visit."""
    return days > late_entry_days


@dataclass(frozen=True)
class Entry:
    """How a visit came in, as pages and exports show it."""

    imported: bool
    entered_at: datetime
    received_at: datetime
    saved_at: datetime | None
    saved_at_trusted: bool
    days_later: int


def describe(visit: Any, tz: ZoneInfo) -> Entry:
    """The entry facts of a visit (any object with the Visit columns)."""
    trusted = trusted_saved_at(visit.visited_at, visit.saved_at, visit.created_at)
    entered = trusted or visit.created_at
    return Entry(
        imported=visit.source == "import",
        entered_at=entered,
        received_at=visit.created_at,
        saved_at=visit.saved_at,
        saved_at_trusted=trusted is not None,
        days_later=days_later(visit.visited_at, entered, tz),
    )
