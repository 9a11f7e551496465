"""The gap analysis's words: a kpi.gap.Suggestion (a cause code and its numbers) said as one
sentence in the reader's language, for the branch dashboard, the review form and the weekly PDF.

kpi/gap.py decides the cause from numbers and returns facts only; this is where they are worded
(docs/architecture.md: kpi returns facts, present words them).
"""

from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext as _l

from ..rules.kpi_catalogue import unit_of
from .numbers import relative_change
from .numbers import value as format_value

_TEXTS = {
    "quantity": _l(
        "The base fell: %(base_now)s this period against an average of %(base_before)s before "
        "(%(base_change)s). With fewer cases the KPI had less to work with; check the volume of "
        "visits and due follow-ups first."
    ),
    "design": _l(
        "The KPI met its target in each of the last %(periods_met)s periods, yet the KGI moved "
        "from %(kgi_first)s to %(kgi_last)s (%(kgi_change)s). The KPI may not lead to the KGI: "
        "review the hypothesis."
    ),
    "design_no_link": _l(
        "The KPI met its target in each of the last %(periods_met)s periods, but over the last "
        "%(lead_weeks)s weeks its movements were not followed by the KGI's at any lag from 0 to "
        "12 weeks (lead analysis: no link). The KPI may not lead to the KGI: review the "
        "hypothesis."
    ),
    "quality": _l(
        "The base held (%(base_now)s against %(base_before)s) but the value was %(value)s "
        "against a target of %(target)s. Look at how the visits were done, not how many."
    ),
}


def _fmt_value(kpi: str, value: Any) -> str:
    return format_value(value, unit_of(kpi))


def _formatted(kpi: str, numbers: dict[str, Any]) -> dict[str, str]:
    kgi = numbers.get("kgi", "sales_amount")
    out: dict[str, str] = {}
    for key, value in numbers.items():
        if key.endswith("_change"):
            out[key] = relative_change(value)
        elif key.startswith("base_"):
            out[key] = _fmt_value("visit_count", value)
        elif key.startswith("kgi_"):
            out[key] = _fmt_value(kgi, value)
        elif key in ("value", "target", "value_before"):
            out[key] = _fmt_value(kpi, value)
        else:
            out[key] = str(value)
    return out


def explain(found: Any) -> str:
    """A suggestion (kpi.gap.Suggestion) as its sentence, with its numbers formatted."""
    text = "design_no_link" if found.numbers.get("lead") == "no_link" else found.cause
    return str(_TEXTS[text]) % _formatted(found.kpi, found.numbers)
