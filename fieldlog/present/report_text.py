"""The weekly report's words: the facts reports/ returns (keys, codes, numbers) said in Japanese.

The report (its PDF and its mail) is Japanese throughout, whatever the reader's language:
``pdf.render_html`` renders under ``force_locale("ja")``, so what has a msgid (the causes, the
gap analysis's explanations, the KPI-set lint) comes from the translation catalogue through
Flask-Babel; the KPI names and "why" texts come from the KPI catalogue in Japanese.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from flask_babel import lazy_gettext as _l

from ..rules.kpi_catalogue import CATALOGUE, name_of

LOCALE = "ja"

# A review's cause (models.REVIEW_CAUSES), worded as the review form words it.
CAUSES = {"quantity": _l("Quantity"), "quality": _l("Quality"), "design": _l("Design")}
# What a review that names no KPI of the catalogue is about.
WHOLE = "全体"


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
        f"{kpi_name(key)}（{cause(found.cause)}）：{found.explanation}"
        for key, found in gaps.items()
    ]


def lint_lines(warnings: Iterable[Any]) -> list[str]:
    """The KPI-set lint (kpi.lint.Warning) as its sentences."""
    return [str(w) for w in warnings]
