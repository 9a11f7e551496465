"""The visit form as the API payload: the form has no rules of its own, record_visit has them."""

from __future__ import annotations

import calendar
import re
from collections.abc import Mapping
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from flask_babel import lazy_gettext as _l
from werkzeug.datastructures import MultiDict

from ..rules import limits
from ..rules.entry import days_later, is_late
from ..rules.periods import in_range, local_date
from ..rules.text import numeric

# Quick date chips: (value, label); the date is counted from the visit's local date.
DUE_PRESETS = (
    ("1d", _l("Tomorrow")),
    ("1w", _l("+1 week")),
    ("2w", _l("+2 weeks")),
    ("1m", _l("+1 month")),
)
# Next-action chips that fill the action text without typing.
ACTION_PRESETS = (
    ("call", _l("Follow-up call")),
    ("quote", _l("Send a quote")),
    ("revisit", _l("Visit again")),
)
# API error keys → form field names.
FIELD_NAMES = {
    "proposal.category": "proposal_category",
    "proposal.kind": "proposal_kind",
    "proposal.amount": "proposal_amount",
    "proposal.note": "proposal_note",
    "next_action.action": "next_action",
    "next_action.due_on": "next_action_due_on",
    "_": "form",
    "client_id": "form",
}
_YEN_NOISE = re.compile(r"[,\s¥円]")


def add_months(day: date, months: int) -> date:
    """The same day ``months`` later, clamped to the month's last day."""
    month = day.month - 1 + months
    year, month = day.year + month // 12, month % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def preset_due(preset: str, visit_day: date) -> date | None:
    """The date a quick chip stands for, or None for an unknown chip."""
    if preset == "1m":
        return add_months(visit_day, 1)
    days = {"1d": 1, "1w": 7, "2w": 14}.get(preset)
    return visit_day + timedelta(days=days) if days else None


def parse_amount(raw: str) -> Any:
    """'1,000', '¥1000', full-width digits → int; anything else (other text, more digits than
    any amount has) passes through for the service to refuse."""
    text = _YEN_NOISE.sub("", numeric(raw))
    if not text:
        return None
    number = limits.whole_number(text)
    return raw if number is None else number


def local_input_value(instant: datetime, tz: ZoneInfo) -> str:
    """An instant as a datetime-local input value in the company timezone."""
    return instant.astimezone(tz).strftime("%Y-%m-%dT%H:%M")


def parse_local(raw: str, tz: ZoneInfo) -> Any:
    """A datetime-local value as an ISO instant with offset; unparseable text passes through."""
    raw = (raw or "").strip()
    try:
        parsed = datetime.fromisoformat(raw)
    except ValueError:
        return raw
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=tz)
    return parsed.isoformat()


_HEARING = {
    "yes": True,
    "true": True,
    "1": True,
    "on": True,
    "no": False,
    "false": False,
    "0": False,
}


def _hearing(raw: str | None) -> Any:
    """The chips send yes/no; the API's true/false (and 1/0, a checkbox's on) mean the same."""
    return _HEARING.get((raw or "").strip().lower())


def _ids(values: list[str]) -> list[Any]:
    """Row ids as ints; anything that cannot be one passes through for the service to refuse."""
    ids = [limits.row_id(v) for v in values]
    return [v if i is None else i for v, i in zip(values, ids, strict=True)]


def to_payload(form: MultiDict[str, str], *, tz: ZoneInfo, now: datetime) -> dict[str, Any]:
    """The API payload (docs/contract.md) for a submitted visit form."""
    visited_at = parse_local(form.get("visited_at", ""), tz)
    try:
        visited = datetime.fromisoformat(visited_at)
    except (TypeError, ValueError):
        visited = now
    # A time outside the years a period may name is refused by record_visit; the chips count
    # from today meanwhile, as no date near datetime's ends can be counted from.
    visit_day = local_date(visited if in_range(visited) else now, tz)
    payload: dict[str, Any] = {
        "client_id": form.get("client_id", ""),
        "customer_code": form.get("customer_code", "").strip(),
        "visited_at": visited_at,
        "purpose": form.get("purpose", ""),
        "purpose_note": form.get("purpose_note", ""),
        "hearing_done": _hearing(form.get("hearing_done")),
        "hearing_note": form.get("hearing_note", ""),
        "note": form.get("note", ""),
        "late_reason": form.get("late_reason", ""),
    }
    if form.get("proposal_made"):
        payload["proposal"] = {
            "category": form.get("proposal_category") or None,
            "kind": form.get("proposal_kind") or None,
            "amount": parse_amount(form.get("proposal_amount", "")),
            "note": form.get("proposal_note", ""),
        }
    action = form.get("next_action", "").strip()
    if not action:
        labels = dict(ACTION_PRESETS)
        preset = form.get("next_action_preset", "")
        action = str(labels[preset]) if preset in labels else ""
    due_on: Any = form.get("next_action_due_on", "").strip()
    if not due_on and form.get("due_preset"):
        preset_day = preset_due(form.get("due_preset", ""), visit_day)
        due_on = preset_day.isoformat() if preset_day else ""
    if action or due_on:
        payload["next_action"] = {"action": action, "due_on": due_on or None}
    completes = form.getlist("completes_follow_ups")
    if completes:
        payload["completes_follow_ups"] = _ids(completes)
    return payload


def entered_late(raw: str, tz: ZoneInfo, now: datetime, late_entry_days: int) -> bool:
    """Whether the form's visit time lies more than the late-entry days before today.

    Only decides whether the optional reason is shown at first paint; the script re-decides as
    the time changes, and without the script the field is always shown.
    """
    try:
        visited = datetime.fromisoformat(parse_local(raw, tz))
    except (TypeError, ValueError):
        return False
    if not in_range(visited):
        return False
    return is_late(days_later(visited, now, tz), late_entry_days)


def form_errors(errors: Mapping[str, list[Any]]) -> dict[str, list[str]]:
    """Service error keys as form field names, messages as text."""
    out: dict[str, list[str]] = {}
    for key, messages in errors.items():
        out.setdefault(FIELD_NAMES.get(key, key), []).extend(str(m) for m in messages)
    return out
