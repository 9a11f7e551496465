"""The visit cycle: when a customer is next due for a visit and when it is overdue.

The one statement of the rule of docs/domain.md ("Overdue for its visit cycle"): a customer is
overdue when more days than its cycle have passed since the local date of its last visit (never
visited counts as overdue) and no open follow-up is booked for it. The cycle is the customer's
own, else its rank's default. Today, the plan, the customer page, the weekly report's customers
at risk and the JSON API all ask this module; the callers read the dates and the booking from
the database, this module only compares them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta


def cycle_days(own: int | None, rank_default: int) -> int:
    """The customer's own visit cycle in days, else its rank's default (blank or 0: the rank's)."""
    return own or rank_default


def days_since(last_visit: date | None, as_of: date) -> int | None:
    """Whole days from the local date of the last visit to ``as_of`` (None: never visited)."""
    return None if last_visit is None else (as_of - last_visit).days


def is_overdue(days: int | None, cycle: int, booked: bool = False) -> bool:
    """More days than the cycle since the last visit (never visited counts), none booked."""
    return not booked and (days is None or days > cycle)


@dataclass(frozen=True)
class Cadence:
    """A customer's visit cycle as of a day."""

    cycle: int
    days_since: int | None  # None: never visited
    # The last day within its cycle (last visit + cycle); None: never visited, due now.
    next_due: date | None
    overdue: bool
    # Days past ``next_due`` when overdue (None when never visited or not overdue).
    days_overdue: int | None


def cadence(last_visit: date | None, cycle: int, as_of: date, *, booked: bool = False) -> Cadence:
    """The cycle facts of a customer last visited on ``last_visit`` (a local date), on ``as_of``.

    ``booked``: an open follow-up (not done, not cancelled, due on ``as_of`` or later) is booked,
    which keeps the customer off the overdue list whatever the gap.
    """
    since = days_since(last_visit, as_of)
    overdue = is_overdue(since, cycle, booked)
    return Cadence(
        cycle=cycle,
        days_since=since,
        next_due=None if last_visit is None else last_visit + timedelta(days=cycle),
        overdue=overdue,
        days_overdue=since - cycle if overdue and since is not None else None,
    )
