"""The visit cycle (fieldlog/rules/cadence.py): overdue, days overdue and the next due date.

docs/domain.md, "Overdue for its visit cycle": more days than the cycle since the local date
of the last visit (never visited counts) and no open follow-up booked.
"""

from __future__ import annotations

from datetime import date

import pytest

from fieldlog.rules.cadence import Cadence, cadence, cycle_days, days_since, is_overdue

AS_OF = date(2026, 11, 25)


@pytest.mark.parametrize(
    ("last_visit", "cycle", "booked", "expected"),
    [
        # never visited: overdue now, no next due date, no count of days over
        (None, 30, False, Cadence(30, None, None, True, None)),
        (None, 30, True, Cadence(30, None, None, False, None)),  # a booked follow-up waits
        # visited today: due again in a full cycle
        (date(2026, 11, 25), 30, False, Cadence(30, 0, date(2026, 12, 25), False, None)),
        # the cycle's last day: not yet overdue
        (date(2026, 10, 26), 30, False, Cadence(30, 30, date(2026, 11, 25), False, None)),
        # one day past it: overdue by one
        (date(2026, 10, 25), 30, False, Cadence(30, 31, date(2026, 11, 24), True, 1)),
        (date(2026, 10, 25), 30, True, Cadence(30, 31, date(2026, 11, 24), False, None)),
        # long past, across a year end and a one-day cycle
        (date(2025, 11, 25), 14, False, Cadence(14, 365, date(2025, 12, 9), True, 351)),
        (date(2026, 11, 24), 1, False, Cadence(1, 1, date(2026, 11, 25), False, None)),
        (date(2026, 11, 23), 1, False, Cadence(1, 2, date(2026, 11, 24), True, 1)),
        # a visit entered for a later day than as_of (a past report): not overdue
        (date(2026, 11, 30), 7, False, Cadence(7, -5, date(2026, 12, 7), False, None)),
    ],
)
def test_cadence(last_visit, cycle, booked, expected):
    assert cadence(last_visit, cycle, AS_OF, booked=booked) == expected


@pytest.mark.parametrize(
    ("days", "cycle", "booked", "overdue"),
    [
        (None, 14, False, True),
        (None, 14, True, False),
        (14, 14, False, False),
        (15, 14, False, True),
        (15, 14, True, False),
        (0, 14, False, False),
    ],
)
def test_is_overdue(days, cycle, booked, overdue):
    assert is_overdue(days, cycle, booked) is overdue


@pytest.mark.parametrize(
    ("own", "rank_default", "cycle"),
    [(None, 30, 30), (7, 30, 7), (0, 60, 60), (90, 14, 90)],
)
def test_cycle_days_is_the_customers_own_else_its_ranks(own, rank_default, cycle):
    assert cycle_days(own, rank_default) == cycle


def test_days_since():
    assert days_since(None, AS_OF) is None
    assert days_since(date(2026, 11, 1), AS_OF) == 24
