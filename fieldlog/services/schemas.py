"""Parsing of API payloads and building of API answers, in one place."""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from flask_babel import lazy_gettext as _l

from ..models import PROPOSAL_KINDS, FollowUp, Proposal, Visit
from ..present import limit_messages
from ..rules import limits
from ..rules.entry import entry_time
from ..rules.periods import in_range, parse_day
from .errors import Invalid

_TOP_KEYS = (
    "customer_code",
    "visited_at",
    "purpose",
    "purpose_note",
    "hearing_done",
    "hearing_note",
    "note",
    "proposal",
    "next_action",
    "completes_follow_ups",
)
_NESTED_KEYS = {
    "proposal": ("category", "kind", "amount", "note"),
    "next_action": ("action", "due_on"),
}
_OPTIONAL_TEXT = {"purpose_note", "hearing_note", "note"}


@dataclass
class ProposalIn:
    category: str | None = None
    kind: str | None = None
    amount: int | None = None
    note: str = ""


@dataclass
class NextActionIn:
    action: str
    due_on: date


@dataclass
class VisitIn:
    client_id: str
    customer_code: str
    visited_at: datetime
    purpose: str
    hearing_done: bool
    purpose_note: str = ""
    hearing_note: str = ""
    note: str = ""
    proposal: ProposalIn | None = None
    next_action: NextActionIn | None = None
    completes_follow_ups: list[int] = field(default_factory=list)
    saved_at: datetime | None = None
    late_reason: str = ""


class Errors(dict[str, list[Any]]):
    """Field errors collected while parsing."""

    def add(self, name: str, message: Any) -> None:
        self.setdefault(name, []).append(message)


def parse_client_id(payload: Mapping[str, Any]) -> str:
    """The entry's client_id in canonical form, or Invalid."""
    raw = payload.get("client_id")
    if not isinstance(raw, str) or not raw.strip():
        raise Invalid(errors={"client_id": [_l("The visit's sending ID (a UUID) is missing.")]})
    try:
        return str(uuid.UUID(raw.strip()))
    except ValueError:
        raise Invalid(
            errors={"client_id": [_l("The visit's sending ID must be a UUID.")]}
        ) from None


def _instant_or_raw(value: Any) -> Any:
    """An instant with an offset as UTC; anything else, or a time outside the years an instant
    may have (``periods.in_range``: parse_visit refuses it), as it was sent."""
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.strip())
        except ValueError:
            return value
        if parsed.tzinfo is not None and in_range(parsed):
            return parsed.astimezone(UTC).isoformat()
    return value


def _same_text(value: Any) -> Any:
    """Text as parse_visit keeps it: trimmed, and empty text the same as an absent key."""
    if isinstance(value, str):
        return value.strip() or None
    return value


def _same_amount(value: Any) -> Any:
    """An amount as parse_visit keeps it: 1000.0 is 1000."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def payload_digest(payload: Mapping[str, Any]) -> str:
    """Digest of a visit payload as parsed: key order, absent-vs-null and offsets do not matter.

    Values are brought to the form parse_visit gives them (trimmed text, whole-number amounts,
    instants), so two payloads that would store the same visit have the same digest.

    ``saved_at`` is not part of the identity: it says when the entry was made, not what was
    visited, and the first receipt's value is kept (a client that stamps each retry anew still
    replays). ``late_reason`` is, but only when given, so digests stored before it existed
    still match their replays (docs/contract.md).
    """
    canonical: dict[str, Any] = {key: payload.get(key) for key in _TOP_KEYS}
    late_reason = _same_text(payload.get("late_reason"))
    if late_reason is not None:
        canonical["late_reason"] = late_reason
    canonical["visited_at"] = _instant_or_raw(canonical["visited_at"])
    for key in ("customer_code", "purpose"):
        if isinstance(canonical[key], str):
            canonical[key] = canonical[key].strip()
    for key in _OPTIONAL_TEXT:
        canonical[key] = _same_text(canonical[key])
    for key, keys in _NESTED_KEYS.items():
        nested = canonical[key]
        if isinstance(nested, Mapping):
            canonical[key] = {k: _same_text(nested.get(k)) for k in keys}
    if isinstance(canonical["proposal"], dict):
        canonical["proposal"]["amount"] = _same_amount(canonical["proposal"]["amount"])
    completes = canonical["completes_follow_ups"]
    if completes == []:
        canonical["completes_follow_ups"] = None
    elif isinstance(completes, list) and all(
        isinstance(i, int) and not isinstance(i, bool) for i in completes
    ):
        canonical["completes_follow_ups"] = sorted(set(completes))
    text = json.dumps(canonical, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def parse_saved_at(value: Any) -> datetime | None:
    """The phone's save time as given, when it is an ISO 8601 instant with an offset; else None.

    Never an error: a missing, malformed or offset-less value only means the server's receipt
    time is the entry time (fieldlog.rules.entry decides whether a valid one is trusted).
    """
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    if parsed.tzinfo is None or not in_range(parsed):
        return None
    return parsed.astimezone(UTC)


def _text(errors: Errors, name: str, value: Any, *, required: bool = False) -> str:
    if value is None:
        value = ""
    if not isinstance(value, str):
        errors.add(name, _l("Must be text."))
        return ""
    value = limits.clean_text(value).strip()
    if required and not value:
        errors.add(name, _l("This field is required."))
    if message := limit_messages.text_error(value):
        errors.add(name, message)
    return value


def parse_date(value: Any) -> date | None:
    """A YYYY-MM-DD string (or a date) as a date; None when it is not one."""
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    return parse_day(value) if isinstance(value, str) else None


def past_date(name: str, value: Any, *, today: date) -> date:
    """A YYYY-MM-DD date no later than tomorrow (a done or closed day), or Invalid on ``name``."""
    day = parse_date(value)
    if day is None:
        raise Invalid(errors={name: [_l("Give the date as YYYY-MM-DD.")]})
    if day > today + timedelta(days=1):
        raise Invalid(errors={name: [_l("The date cannot be in the future.")]})
    return day


def _whole_number(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return None


def parse_visit(payload: Mapping[str, Any], *, now: datetime, client_id: str) -> VisitIn:
    """Check the shape and ranges of a visit payload; raises Invalid with every field error."""
    errors = Errors()

    visited_at = datetime.now(UTC)
    raw = payload.get("visited_at")
    if not isinstance(raw, str) or not raw.strip():
        errors.add("visited_at", _l("This field is required."))
    else:
        try:
            visited_at = datetime.fromisoformat(raw.strip())
        except ValueError:
            errors.add("visited_at", _l("Use an ISO 8601 date and time with an offset."))
        else:
            if visited_at.tzinfo is None:
                errors.add("visited_at", _l("The time needs a UTC offset, such as +09:00."))
                visited_at = visited_at.replace(tzinfo=UTC)
            elif message := limit_messages.visit_time_error(visited_at, now=now):
                errors.add("visited_at", message)

    purpose = payload.get("purpose")
    if not isinstance(purpose, str) or not purpose.strip():
        errors.add("purpose", _l("Choose the purpose of the visit."))
        purpose = ""

    hearing_done = payload.get("hearing_done")
    if not isinstance(hearing_done, bool):
        errors.add(
            "hearing_done",
            _l("Say whether problems or needs were heard: yes (true) or no (false)."),
        )
        hearing_done = False

    visit = VisitIn(
        client_id=client_id,
        customer_code=str(payload.get("customer_code") or "").strip(),
        visited_at=visited_at,
        purpose=purpose.strip(),
        hearing_done=hearing_done,
        purpose_note=_text(errors, "purpose_note", payload.get("purpose_note")),
        hearing_note=_text(errors, "hearing_note", payload.get("hearing_note")),
        note=_text(errors, "note", payload.get("note")),
        saved_at=parse_saved_at(payload.get("saved_at")),
        late_reason=_text(errors, "late_reason", payload.get("late_reason")),
    )

    proposal = payload.get("proposal")
    if proposal is not None:
        if not isinstance(proposal, Mapping):
            errors.add("proposal", _l("Must be an object."))
        else:
            visit.proposal = _parse_proposal(errors, proposal)

    next_action = payload.get("next_action")
    if next_action is not None:
        if not isinstance(next_action, Mapping):
            errors.add("next_action", _l("Must be an object."))
        else:
            action = _text(errors, "next_action.action", next_action.get("action"), required=True)
            due_on = parse_date(next_action.get("due_on"))
            if due_on is None:
                errors.add("next_action.due_on", _l("Give the date as YYYY-MM-DD."))
            elif message := limit_messages.plan_day_error(due_on, around=visited_at.date()):
                errors.add("next_action.due_on", message)
            else:
                visit.next_action = NextActionIn(action=action, due_on=due_on)

    completes = payload.get("completes_follow_ups")
    if completes is not None:
        ids = completes if isinstance(completes, list) else None
        if ids is None or any(_whole_number(i) is None or isinstance(i, float) for i in ids):
            errors.add("completes_follow_ups", _l("Must be a list of follow-up ids."))
        elif len(ids) > limits.MAX_COMPLETES:
            errors.add(
                "completes_follow_ups",
                _l("At most %(n)s follow-ups per visit.", n=limits.MAX_COMPLETES),
            )
        elif not all(limits.id_in_range(i) for i in ids):
            errors.add(
                "completes_follow_ups",
                _l("Unknown follow-up for this customer, or one you may not complete."),
            )
        else:
            visit.completes_follow_ups = sorted(set(ids))

    if errors:
        raise Invalid(errors=dict(errors))
    return visit


def _parse_proposal(errors: Errors, raw: Mapping[str, Any]) -> ProposalIn:
    proposal = ProposalIn(note=_text(errors, "proposal.note", raw.get("note")))
    category = raw.get("category")
    if category not in (None, ""):
        if isinstance(category, str):
            proposal.category = category.strip()
        else:
            errors.add("proposal.category", _l("Unknown category."))
    kind = raw.get("kind")
    if kind not in (None, ""):
        if kind in PROPOSAL_KINDS:
            proposal.kind = kind
        else:
            errors.add("proposal.kind", _l("Kind must be upsell, cross_sell or other."))
    amount = raw.get("amount")
    if amount is not None:
        whole = _whole_number(amount)
        if whole is None:
            errors.add("proposal.amount", _l("The amount must be a whole number of yen."))
        elif message := limit_messages.amount_error(whole):
            errors.add("proposal.amount", message)
        else:
            proposal.amount = whole
    return proposal


def _iso(value: date | datetime | None, tz: ZoneInfo | None = None) -> str | None:
    if value is None:
        return None
    if isinstance(value, datetime) and tz is not None:
        return value.astimezone(tz).isoformat()
    return value.isoformat()


def proposal_to_dict(proposal: Proposal) -> dict[str, Any]:
    return {
        "id": proposal.id,
        "visit_id": proposal.visit_id,
        "customer_code": proposal.customer.code,
        "category": proposal.category.code if proposal.category else None,
        "kind": proposal.kind,
        "amount": proposal.amount,
        "note": proposal.note,
        "proposed_on": _iso(proposal.proposed_on),
        "status": proposal.status,
        "closed_on": _iso(proposal.closed_on),
    }


def follow_up_to_dict(follow_up: FollowUp) -> dict[str, Any]:
    return {
        "id": follow_up.id,
        "visit_id": follow_up.visit_id,
        "customer_code": follow_up.customer.code,
        "action": follow_up.action,
        "due_on": _iso(follow_up.due_on),
        "done_on": _iso(follow_up.done_on),
        "cancelled": follow_up.cancelled,
    }


def visit_to_dict(visit: Visit, tz: ZoneInfo) -> dict[str, Any]:
    """The stored visit as the API answers it."""
    return {
        "id": visit.id,
        "client_id": visit.client_id,
        "customer_code": visit.customer.code,
        "customer_name": visit.customer.name,
        "rep": visit.rep.email,
        "branch": visit.branch.code,
        "visited_at": _iso(visit.visited_at, tz),
        "purpose": visit.purpose.code,
        "purposeful": visit.purposeful,
        "purpose_note": visit.purpose_note,
        "hearing_done": visit.hearing_done,
        "hearing_note": visit.hearing_note,
        "note": visit.note,
        "proposal": proposal_to_dict(visit.proposals[0]) if visit.proposals else None,
        "follow_up": follow_up_to_dict(visit.follow_ups[0]) if visit.follow_ups else None,
        "completed_follow_ups": [f.id for f in visit.completed_follow_ups],
        "created_at": _iso(visit.created_at, tz),
        "updated_at": _iso(visit.updated_at, tz),
        "source": visit.source,
        "saved_at": _iso(visit.saved_at, tz),
        "entered_at": _iso(entry_time(visit.visited_at, visit.saved_at, visit.created_at), tz),
        "late_reason": visit.late_reason,
    }
