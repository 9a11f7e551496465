"""The visit form's conversion to the API payload (no rules of its own)."""

from __future__ import annotations

from datetime import date

import pytest
from werkzeug.datastructures import MultiDict

from fieldlog.web.visit_form import add_months, form_errors, parse_amount, preset_due, to_payload

from .conftest import NOW, TZ


@pytest.mark.parametrize(
    "raw,expected",
    [
        ("1000", 1000),
        ("1,000", 1000),
        ("¥1,000", 1000),
        ("￥１，０００", 1000),
        ("１２００円", 1200),
        (" 50 000 ", 50000),
        ("", None),
        ("-5", -5),
        ("abc", "abc"),
        ("1.5", "1.5"),
        ("1²", "1²"),  # not 12: NFKC's fold of ² is not a width form
        ("①", "①"),
    ],
)
def test_amounts_become_whole_yen_or_pass_through_for_the_service(raw, expected):
    assert parse_amount(raw) == expected


@pytest.mark.parametrize(
    "preset,day,expected",
    [
        ("1d", date(2026, 12, 31), date(2027, 1, 1)),
        ("1w", date(2026, 11, 23), date(2026, 11, 30)),
        ("2w", date(2026, 11, 23), date(2026, 12, 7)),
        ("1m", date(2026, 1, 31), date(2026, 2, 28)),
        ("1m", date(2026, 12, 15), date(2027, 1, 15)),
        ("bogus", date(2026, 11, 23), None),
    ],
)
def test_date_chips(preset, day, expected):
    assert preset_due(preset, day) == expected


def test_add_months_clamps_to_the_last_day():
    assert add_months(date(2028, 1, 31), 1) == date(2028, 2, 29)


@pytest.mark.parametrize(
    "raw,expected",
    [
        ("yes", True),
        ("true", True),
        ("1", True),
        ("on", True),
        ("no", False),
        ("false", False),
        ("0", False),
        ("", None),
        ("maybe", None),
    ],
)
def test_hearing_done_takes_the_chips_and_the_apis_values(raw, expected):
    assert to_payload(MultiDict({"hearing_done": raw}), tz=TZ, now=NOW)["hearing_done"] is expected


def test_a_form_without_proposal_or_next_action_sends_neither():
    payload = to_payload(
        MultiDict(
            {
                "client_id": "x",
                "customer_code": " C1 ",
                "visited_at": "2026-11-23T09:00",
                "purpose": "hearing",
                "hearing_done": "no",
                "proposal_category": "SAFE",
            }
        ),
        tz=TZ,
        now=NOW,
    )
    assert payload["customer_code"] == "C1" and payload["hearing_done"] is False
    assert payload["visited_at"] == "2026-11-23T09:00:00+09:00"
    assert "proposal" not in payload and "next_action" not in payload


def test_a_chip_counts_from_the_visit_day_and_a_half_filled_next_action_is_sent():
    form = MultiDict(
        [
            ("visited_at", "2026-11-20T18:00"),
            ("due_preset", "1w"),
            ("completes_follow_ups", "7"),
            ("completes_follow_ups", "x"),
        ]
    )
    payload = to_payload(form, tz=TZ, now=NOW)
    assert payload["next_action"] == {"action": "", "due_on": "2026-11-27"}
    assert payload["completes_follow_ups"] == [7, "x"]
    assert payload["hearing_done"] is None


def test_error_keys_map_to_form_fields():
    errors = {"proposal.amount": ["bad"], "next_action.due_on": ["early"], "note": ["long"]}
    assert form_errors(errors) == {
        "proposal_amount": ["bad"],
        "next_action_due_on": ["early"],
        "note": ["long"],
    }
