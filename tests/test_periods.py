"""Periods (fieldlog/rules/periods.py): the one reading of ?week= and ?month= for every view."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest

from fieldlog.rules.periods import DayRange, Period, RangeError, from_query, week_or_none

TODAY = date(2026, 11, 25)  # a Wednesday of 2026-W48


@pytest.mark.parametrize(
    ("week", "month", "options", "label"),
    [
        (None, None, {}, "2026-W47"),  # the last complete week
        ("", "  ", {}, "2026-W47"),  # empty means absent
        (None, None, {"current": True}, "2026-W48"),  # the week in progress
        ("2026-W40", None, {}, "2026-W40"),
        (" 2026-W40 ", None, {}, "2026-W40"),
        (None, "2026-11", {}, "2026-11"),
        ("2026-W40", "2026-11", {}, "2026-W40"),  # a week wins over a month
        (None, "2026-11", {"months": "ignored"}, "2026-W47"),  # a weekly page's picker
        ("2026-W40", "2026-11", {"months": "refused"}, "2026-W40"),
        ("2026-11", None, {}, "2026-11"),  # ?week= may name a month where months are taken
    ],
)
def test_from_query(week, month, options, label):
    assert from_query(week, month, today=TODAY, **options).label == label


@pytest.mark.parametrize(
    ("week", "month", "options"),
    [
        ("2026-W99", None, {}),
        ("nonsense", None, {}),
        (None, "2026-13", {}),
        ("9999-W52", None, {}),
        (None, "0001-01", {}),
        ("2026-11", None, {"months": "ignored"}),  # a weekly view: a month is not a week
        ("2026-11", None, {"months": "refused"}),
        (None, "2026-11", {"months": "refused"}),  # a download would silently be last week's
    ],
)
def test_from_query_refuses(week, month, options):
    with pytest.raises(ValueError):
        from_query(week, month, today=TODAY, **options)


@pytest.mark.parametrize(
    ("text", "expected"),
    [(None, None), ("", None), ("2026-W46", Period.parse("2026-W46"))],
)
def test_week_or_none(text, expected):
    assert week_or_none(text) == expected


@pytest.mark.parametrize("text", ["soon", "2026-11", "2026-W60"])
def test_week_or_none_refuses(text):
    with pytest.raises(ValueError):
        week_or_none(text)


# ---- DayRange: the exports' optional ?from=&to= -------------------------------------------


@pytest.mark.parametrize(
    ("start", "end", "expected", "label"),
    [
        (None, None, (None, None), ""),
        ("", "  ", (None, None), ""),  # blank means open, as an empty form field sends it
        (
            "2026-11-01",
            "2026-11-30",
            (date(2026, 11, 1), date(2026, 11, 30)),
            "2026-11-01_2026-11-30",
        ),
        (" 2026-11-01 ", None, (date(2026, 11, 1), None), "from-2026-11-01"),
        (None, "2026-11-30", (None, date(2026, 11, 30)), "until-2026-11-30"),
        (
            "2026-11-30",
            "2026-11-30",
            (date(2026, 11, 30), date(2026, 11, 30)),
            "2026-11-30_2026-11-30",
        ),
        (
            "1900-01-01",
            "2999-12-31",
            (date(1900, 1, 1), date(2999, 12, 31)),
            "1900-01-01_2999-12-31",
        ),
    ],
)
def test_day_range_parse(start, end, expected, label):
    days = DayRange.parse(start, end)
    assert (days.start, days.end) == expected
    assert days.label == label and bool(days) is (label != "")


@pytest.mark.parametrize(
    ("start", "end", "field", "problem"),
    [
        ("soon", None, "from", "not_a_date"),
        ("2026/11/01", None, "from", "not_a_date"),
        ("20261101", None, "from", "not_a_date"),  # fromisoformat would read it
        ("2026-W48", None, "from", "not_a_date"),
        (None, "2026-02-30", "to", "not_a_date"),
        ("1899-12-31", None, "from", "year"),
        (None, "3000-01-01", "to", "year"),
        ("0000-01-01", None, "from", "not_a_date"),
        ("2026-12-01", "2026-11-30", "to", "reversed"),
    ],
)
def test_day_range_refuses_naming_the_field(start, end, field, problem):
    with pytest.raises(RangeError) as caught:
        DayRange.parse(start, end)
    assert (caught.value.field, caught.value.problem) == (field, problem)


def test_day_range_bounds_are_local_midnights():
    tokyo = ZoneInfo("Asia/Tokyo")
    after, before = DayRange(date(2026, 11, 21), date(2026, 11, 21)).utc_bounds(tokyo)
    assert after == datetime(2026, 11, 20, 15, 0, tzinfo=UTC)
    assert before == datetime(2026, 11, 21, 15, 0, tzinfo=UTC)
    assert DayRange().utc_bounds(tokyo) == (None, None)
