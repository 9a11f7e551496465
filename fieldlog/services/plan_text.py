"""The plan's reasons and suggestions in the reader's language (the API and Today say the same).

``plan`` and ``plan_reasons`` return numbers and keys; this module alone turns them into words.
"""

from __future__ import annotations

from datetime import date
from functools import lru_cache
from typing import Any

from flask_babel import format_date, get_locale
from flask_babel import lazy_gettext as _l

from ..present.words import translations
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


@lru_cache(maxsize=2048)
def _short_date(value: date, locale: str) -> str:
    """Babel's short date, once per date and locale: a plan of 300 repeats few dates."""
    return format_date(value, "short")


class Words:
    """The reader's language, looked up once for a whole plan: 300 items say ~1,000 strings,
    and asking the request context for the translations and the locale each time cost ~5 ms."""

    def __init__(self) -> None:
        self._ugettext = translations().ugettext
        self._locale = str(get_locale())

    def gettext(self, string: str, **variables: Any) -> str:
        text = self._ugettext(string)
        return text % variables if variables else text

    def day(self, value: date | None) -> str:
        return _short_date(value, self._locale) if value is not None else ""


def _pct(share: float) -> int:
    return round(share * 100)


def _listed(names: list[str], w: Words) -> str:
    if len(names) >= 2:
        return w.gettext("%(a)s and %(b)s", a=names[0], b=names[1])
    return names[0] if names else ""


def detail(reason: Reason, purposes: dict[str, str], words: Words | None = None) -> str:
    """One line with the facts behind a reason."""
    w = words or Words()
    p: dict[str, Any] = reason.params
    code = reason.code
    if code == "planned":
        purpose = purposes.get(p.get("purpose") or "")
        text = (
            w.gettext("Planned: %(purpose)s", purpose=purpose) if purpose else w.gettext("Planned")
        )
        return f"{text} — {p['note']}" if p.get("note") else text
    if code == "follow_up_due":
        if p["days_late"] > 0:
            text = w.gettext(
                "%(action)s — due %(date)s, %(days)s days late",
                action=p["action"],
                date=w.day(p["due_on"]),
                days=p["days_late"],
            )
        else:
            text = w.gettext("%(action)s — due today", action=p["action"])
        if p["count"] > 1:
            text += " " + w.gettext("(+%(n)s more)", n=p["count"] - 1)
        return text
    if code == "overdue_cycle":
        if p["days_since"] is None:
            return w.gettext("Never visited (cycle %(cycle)s days)", cycle=p["cycle"])
        return w.gettext(
            "%(days)s days since the last visit (cycle %(cycle)s days)",
            days=p["days_since"],
            cycle=p["cycle"],
        )
    if code == "dormant_risk":
        if p["on"] is None:
            return w.gettext("Dormant: never visited")
        if p["by"] == "sales":
            if p["dormant"]:
                return w.gettext(
                    "Dormant since %(date)s: no purchase in %(days)s days",
                    date=w.day(p["on"]),
                    days=p["sales_days"],
                )
            return w.gettext("Turns dormant on %(date)s without a purchase", date=w.day(p["on"]))
        if p["dormant"]:
            return w.gettext(
                "Dormant since %(date)s: no visit in %(days)s days",
                date=w.day(p["on"]),
                days=p["visit_days"],
            )
        return w.gettext("Turns dormant on %(date)s without a visit", date=w.day(p["on"]))
    if code == "open_proposal":
        text = w.gettext(
            "%(count)s open, the oldest %(days)s days old", count=p["count"], days=p["age_days"]
        )
        return f"{p['category']}: {text}" if p.get("category") else text
    if code == "cross_sell":
        return w.gettext(
            "%(pct)s%% of %(peers)s similar customers buy %(category)s",
            pct=_pct(p["share"]),
            peers=p["peers"],
            category=p["category"],
        )
    raise ValueError(code)


def suggestion(reason: Reason | None, purposes: dict[str, str], words: Words | None = None) -> str:
    """One line saying what to go for and why."""
    if reason is None:
        return ""
    w = words or Words()
    p: dict[str, Any] = reason.params
    code = reason.code
    if code == "planned":
        return detail(reason, purposes, w)
    if code == "follow_up_due":
        return w.gettext("Follow up: %(action)s", action=p["action"])
    if code == "open_proposal":
        if p.get("category"):
            return w.gettext(
                "Move the open proposal for %(category)s on (%(days)s days old)",
                category=p["category"],
                days=p["age_days"],
            )
        return w.gettext("Move the open proposal on (%(days)s days old)", days=p["age_days"])
    if code == "cross_sell":
        if p["bought"]:
            return w.gettext(
                "Bought %(bought)s but not %(category)s in a year, which %(pct)s%% of similar "
                "customers buy",
                bought=_listed(p["bought"], w),
                category=p["category"],
                pct=_pct(p["share"]),
            )
        return w.gettext(
            "Nothing bought in a year; %(pct)s%% of similar customers buy %(category)s",
            category=p["category"],
            pct=_pct(p["share"]),
        )
    if code == "dormant_risk":
        if p["dormant"]:
            return w.gettext("Dormant: hear what has changed and win it back")
        return w.gettext("Hear what has changed before it turns dormant")
    if code == "overdue_cycle":
        if p["days_since"] is None:
            return w.gettext("Never visited: go and hear its problems")
        return w.gettext("Overdue for its %(cycle)s-day cycle: hear what is new", cycle=p["cycle"])
    raise ValueError(code)


def item_to_dict(
    item: PlanItem, purposes: dict[str, str], words: Words | None = None
) -> dict[str, Any]:
    """A plan item as ``/api/v1/plan`` answers it (docs/contract.md)."""
    w = words or Words()
    return {
        "customer_code": item.customer.code,
        "customer_name": item.customer.name,
        "reasons": [{"code": r.code, "detail": detail(r, purposes, w)} for r in item.reasons],
        "suggested_purpose": item.suggested_purpose,
        "suggestion": suggestion(item.suggestion, purposes, w),
        "visited": item.visited,
    }


def items_to_dicts(items: list[PlanItem], purposes: dict[str, str]) -> list[dict[str, Any]]:
    """A whole plan as ``/api/v1/plan`` answers it, worded in one language lookup."""
    words = Words()
    return [item_to_dict(item, purposes, words) for item in items]
