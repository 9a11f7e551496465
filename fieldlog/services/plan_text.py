"""The plan's reasons and suggestions in the reader's language (the API and Today say the same).

``plan`` and ``plan_reasons`` return numbers and keys; this module alone turns them into words.
"""

from __future__ import annotations

from datetime import date
from functools import lru_cache
from typing import Any

from flask_babel import format_date, get_locale
from flask_babel import lazy_gettext as _l

from ..present.words import gettext
from .plan import PlanItem
from .plan_reasons import Reason

REASON_LABELS = {
    "planned": _l("Planned"),
    "follow_up_due": _l("Follow-up due"),
    "overdue_cycle": _l("Overdue for its cycle"),
    "dormant_risk": _l("Dormant risk"),
    "open_proposal": _l("Open proposal"),
    "cross_sell": _l("Cross-sell"),
}


def label(code: str) -> str:
    """The short name of a reason code, as a badge shows it."""
    return str(REASON_LABELS[code])


def _day(value: date | None) -> str:
    return _short_date(value, str(get_locale())) if value is not None else ""


@lru_cache(maxsize=2048)
def _short_date(value: date, locale: str) -> str:
    """Babel's short date, once per date and locale: a plan of 300 repeats few dates."""
    return format_date(value, "short")


def _pct(share: float) -> int:
    return round(share * 100)


def _listed(names: list[str]) -> str:
    if len(names) >= 2:
        return gettext("%(a)s and %(b)s", a=names[0], b=names[1])
    return names[0] if names else ""


def detail(reason: Reason, purposes: dict[str, str]) -> str:
    """One line with the facts behind a reason."""
    p: dict[str, Any] = reason.params
    code = reason.code
    if code == "planned":
        purpose = purposes.get(p.get("purpose") or "")
        text = gettext("Planned: %(purpose)s", purpose=purpose) if purpose else gettext("Planned")
        return f"{text} — {p['note']}" if p.get("note") else text
    if code == "follow_up_due":
        if p["days_late"] > 0:
            text = gettext(
                "%(action)s — due %(date)s, %(days)s days late",
                action=p["action"],
                date=_day(p["due_on"]),
                days=p["days_late"],
            )
        else:
            text = gettext("%(action)s — due today", action=p["action"])
        if p["count"] > 1:
            text += " " + gettext("(+%(n)s more)", n=p["count"] - 1)
        return text
    if code == "overdue_cycle":
        if p["days_since"] is None:
            return gettext("Never visited (cycle %(cycle)s days)", cycle=p["cycle"])
        return gettext(
            "%(days)s days since the last visit (cycle %(cycle)s days)",
            days=p["days_since"],
            cycle=p["cycle"],
        )
    if code == "dormant_risk":
        if p["on"] is None:
            return gettext("Dormant: never visited")
        if p["by"] == "sales":
            if p["dormant"]:
                return gettext(
                    "Dormant since %(date)s: no purchase in %(days)s days",
                    date=_day(p["on"]),
                    days=p["sales_days"],
                )
            return gettext("Turns dormant on %(date)s without a purchase", date=_day(p["on"]))
        if p["dormant"]:
            return gettext(
                "Dormant since %(date)s: no visit in %(days)s days",
                date=_day(p["on"]),
                days=p["visit_days"],
            )
        return gettext("Turns dormant on %(date)s without a visit", date=_day(p["on"]))
    if code == "open_proposal":
        text = gettext(
            "%(count)s open, the oldest %(days)s days old", count=p["count"], days=p["age_days"]
        )
        return f"{p['category']}: {text}" if p.get("category") else text
    if code == "cross_sell":
        return gettext(
            "%(pct)s%% of %(peers)s similar customers buy %(category)s",
            pct=_pct(p["share"]),
            peers=p["peers"],
            category=p["category"],
        )
    raise ValueError(code)


def suggestion(reason: Reason | None, purposes: dict[str, str]) -> str:
    """One line saying what to go for and why."""
    if reason is None:
        return ""
    p: dict[str, Any] = reason.params
    code = reason.code
    if code == "planned":
        return detail(reason, purposes)
    if code == "follow_up_due":
        return gettext("Follow up: %(action)s", action=p["action"])
    if code == "open_proposal":
        if p.get("category"):
            return gettext(
                "Move the open proposal for %(category)s on (%(days)s days old)",
                category=p["category"],
                days=p["age_days"],
            )
        return gettext("Move the open proposal on (%(days)s days old)", days=p["age_days"])
    if code == "cross_sell":
        if p["bought"]:
            return gettext(
                "Bought %(bought)s but not %(category)s in a year, which %(pct)s%% of similar "
                "customers buy",
                bought=_listed(p["bought"]),
                category=p["category"],
                pct=_pct(p["share"]),
            )
        return gettext(
            "Nothing bought in a year; %(pct)s%% of similar customers buy %(category)s",
            category=p["category"],
            pct=_pct(p["share"]),
        )
    if code == "dormant_risk":
        if p["dormant"]:
            return gettext("Dormant: hear what has changed and win it back")
        return gettext("Hear what has changed before it turns dormant")
    if code == "overdue_cycle":
        if p["days_since"] is None:
            return gettext("Never visited: go and hear its problems")
        return gettext("Overdue for its %(cycle)s-day cycle: hear what is new", cycle=p["cycle"])
    raise ValueError(code)


def item_to_dict(item: PlanItem, purposes: dict[str, str]) -> dict[str, Any]:
    """A plan item as ``/api/v1/plan`` answers it (docs/contract.md)."""
    return {
        "customer_code": item.customer.code,
        "customer_name": item.customer.name,
        "reasons": [{"code": r.code, "detail": detail(r, purposes)} for r in item.reasons],
        "suggested_purpose": item.suggested_purpose,
        "suggestion": suggestion(item.suggestion, purposes),
        "visited": item.visited,
    }
