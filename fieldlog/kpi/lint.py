"""Warnings for a bad KPI set: too many or too few, only volume or only results, no "why"."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from flask_babel import LazyString, get_locale, gettext
from flask_babel import lazy_gettext as _l

from ..rules.kpi_catalogue import CATALOGUE

MIN_ACTIVE = 3
MAX_ACTIVE = 5


@dataclass(frozen=True)
class Warning:  # the name the interface contract uses; shadows the builtin here only
    """One lint finding: a stable code for tools and a translated message for people."""

    code: str
    message: Any
    kpi: str | None = None

    def __str__(self) -> str:
        return str(self.message)


def lint(active_keys: Iterable[str], why_texts: Mapping[str, str | None]) -> list[Warning]:
    """Check a KPI set against the rules of docs/kpi.md (KPI set); an empty list means fine."""
    keys = list(dict.fromkeys(active_keys))
    found: list[Warning] = []
    if len(keys) > MAX_ACTIVE:
        found.append(
            Warning(
                "too_many",
                _l(
                    "%(n)d KPIs are active. More than 5 are not remembered: keep 3 to 5.",
                    n=len(keys),
                ),
            )
        )
    elif len(keys) < MIN_ACTIVE:
        found.append(
            Warning(
                "too_few",
                _l(
                    "Only %(n)d KPIs are active. Choose 3 to 5 so the team sees what leads to "
                    "results.",
                    n=len(keys),
                ),
            )
        )
    kinds = {CATALOGUE[k].kind for k in keys if k in CATALOGUE}
    if kinds == {"volume"}:
        found.append(
            Warning(
                "volume_only",
                _l(
                    "The set only counts visits. Visit count alone breeds purposeless visits: "
                    "add process KPIs such as the purposeful-visit rate."
                ),
            )
        )
    elif kinds == {"result"}:
        found.append(
            Warning(
                "result_only",
                _l(
                    "The set only holds results such as sales. Results are not a handle the "
                    "field can move: add process KPIs that lead to them."
                ),
            )
        )
    elif kinds == {"volume", "result"}:
        # Visit count and sales together are still no handle: the defensive set docs/kpi.md
        # moves away from ("count visits, watch sales").
        found.append(
            Warning(
                "no_process",
                _l(
                    "The set holds only the visit count and results. Neither is a handle the "
                    "field can move: add process KPIs such as the purposeful-visit rate or "
                    "the additional-proposal rate."
                ),
            )
        )
    for key in keys:
        if key not in CATALOGUE:
            found.append(Warning("unknown_kpi", _l("Unknown KPI: %(key)s.", key=key), key))
        elif not (why_texts.get(key) or "").strip():
            found.append(
                Warning(
                    "missing_why",
                    LazyString(_missing_why, key),
                    key,
                )
            )
    return found


def _missing_why(key: str) -> str:
    locale = str(get_locale() or "ja")
    return gettext(
        '%(name)s has no "why" text. A KPI nobody understands is not followed.',
        name=CATALOGUE[key].name(locale),
    )
