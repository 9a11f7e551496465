"""Periods (fieldlog/rules/periods.py): the one reading of ?week= and ?month= for every view."""

from __future__ import annotations

from datetime import date

import pytest

from fieldlog.rules.periods import Period, from_query, week_or_none

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
