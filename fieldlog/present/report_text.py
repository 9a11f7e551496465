"""The weekly report's words: the facts reports/ and kpi/ return (keys, codes, numbers) said in
Japanese, and the data-health flags said in the reader's language.

The report (its PDF and its mail) is Japanese throughout, whatever the reader's language:
``pdf.render_html`` renders under ``force_locale("ja")``, so what has a msgid (the causes, the
gap analysis's explanations, the KPI-set lint) comes from the translation catalogue through
Flask-Babel; the KPI names and "why" texts come from the KPI catalogue in Japanese.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date
from typing import Any

from flask_babel import gettext, ngettext
from flask_babel import lazy_gettext as _l

from ..rules.kpi_catalogue import CATALOGUE, name_of
from .gap_text import explain

LOCALE = "ja"

# A review's cause (models.REVIEW_CAUSES), worded as the review form words it.
CAUSES = {"quantity": _l("Quantity"), "quality": _l("Quality"), "design": _l("Design")}
# What a review that names no KPI of the catalogue is about.
WHOLE = "全体"
# How the PDF names each data-health flag (kpi.health.FLAG_KINDS); pages translate their own
# labels (templates/manage/_health.html).
FLAG_LABELS = {
    "late_bulk_entry": "遅れた一括入力",
    "changed_after_report": "レポート後の変更",
    "all_purposeful": "全訪問が目的あり",
    "hearing_without_note": "メモのないヒアリング",
    "implausible_day": "ルート上ありえない日",
}


def kpi_name(key: str | None) -> str:
    """A KPI's name in the report's language (a key the catalogue does not know, as it is)."""
    return name_of(key, LOCALE)


def review_subject(key: str | None) -> str:
    """What a review line is about: its KPI, or the whole when it names none."""
    return kpi_name(key) if key in CATALOGUE else WHOLE


def cause(code: str | None) -> str:
    """A review cause in words ("" for none)."""
    return str(CAUSES[code]) if code in CAUSES else ""


def why(figure: Any) -> str:
    """Why a KPI matters: the company's own text, else the catalogue's."""
    if figure.why:
        return figure.why
    return CATALOGUE[figure.key].why(LOCALE) if figure.key in CATALOGUE else ""


def suggestions(gaps: Mapping[str, Any]) -> list[str]:
    """The gap analysis's suggestion per KPI (kpi.gap.Suggestion) in one line each."""
    return [
        f"{kpi_name(key)}（{cause(found.cause)}）：{explain(found)}" for key, found in gaps.items()
    ]


def lint_lines(warnings: Iterable[Any]) -> list[str]:
    """The KPI-set lint (kpi.lint.Warning) as its sentences."""
    return [str(w) for w in warnings]


def _day(value: date) -> str:
    return f"{value.month}/{value.day}"


def _days(counted: Iterable[tuple[date, int]]) -> str:
    return ", ".join(_day(d) for d, _n in counted)


def describe_flag(flag: Any) -> str:
    """A data-health flag (``kpi.health.Flag``) in one neutral sentence, in the current locale
    (facts only, no judgement): pages in the reader's language, the PDF in Japanese."""
    f = flag.facts
    if flag.kind == "late_bulk_entry":
        span = (
            _day(f["first"]) if f["first"] == f["last"] else f"{_day(f['first'])}–{_day(f['last'])}"
        )
        return ngettext(
            "%(num)d visit of %(span)s entered on %(on)s",
            "%(num)d visits of %(span)s entered on %(on)s",
            flag.count,
            span=span,
            on=_day(f["on"]),
        )
    if flag.kind == "changed_after_report":
        parts = []
        # Visits typed in (入力) and visits imported (取り込み) are said apart: an import is
        # not the rep entering late (docs/honest-numbers.md).
        entered, imported = _days(f.get("entered_on", [])), _days(f.get("imported_on", []))
        if f.get("entered"):
            parts.append(
                ngettext(
                    "%(num)d visit entered on %(days)s",
                    "%(num)d visits entered on %(days)s",
                    f["entered"],
                    days=entered,
                )
            )
        if f.get("imported"):
            parts.append(
                ngettext(
                    "%(num)d visit imported on %(days)s",
                    "%(num)d visits imported on %(days)s",
                    f["imported"],
                    days=imported,
                )
            )
        if f.get("edited"):
            parts.append(
                ngettext("%(num)d visit corrected", "%(num)d visits corrected", f["edited"])
            )
        if f.get("closed"):
            parts.append(
                ngettext("%(num)d proposal closed", "%(num)d proposals closed", f["closed"])
            )
        if f.get("follow_up"):
            parts.append(
                ngettext("%(num)d follow-up updated", "%(num)d follow-ups updated", f["follow_up"])
            )
        weeks = ", ".join(w.split("-", 1)[1] for w in f.get("weeks", []))
        return gettext(
            "after the %(weeks)s report went out: %(what)s", weeks=weeks, what=", ".join(parts)
        )
    if flag.kind == "all_purposeful":
        return gettext("all %(n)d visits of the period purposeful", n=f["visits"])
    if flag.kind == "hearing_without_note":
        return gettext(
            "%(n)d of %(heard)d visits with problems heard have no note of what was heard",
            n=flag.count,
            heard=f["heard"],
        )
    if flag.kind == "implausible_day":
        lines = []
        for d in f["days"]:
            bits = []
            if d["visits"] > f["max"]:
                bits.append(ngettext("%(num)d visit", "%(num)d visits", d["visits"]))
            if d["close"]:
                bits.append(
                    ngettext(
                        "%(num)d visit within %(gap)d minutes of the one before",
                        "%(num)d visits within %(gap)d minutes of the one before",
                        d["close"],
                        gap=f["gap"],
                    )
                )
            lines.append(f"{_day(d['day'])}: {', '.join(bits)}")
        return "; ".join(lines)
    return ""
