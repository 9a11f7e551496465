"""Company KPI settings: the active set, the "why" texts, dormancy thresholds, rank cycles."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session

from ..models import CompanySettings, User
from ..rules import limits
from ..rules.kpi_catalogue import CATALOGUE, KPI_KEYS
from ..services import audit
from ..services.defaults import ensure_settings
from ..services.errors import Invalid
from . import dormancy, lead_cache
from .lint import Warning, lint


@dataclass(frozen=True)
class Threshold:
    """One honest-number threshold: its settings column, allowed range and one-line meaning."""

    name: str
    low: int
    high: int
    label: Any
    help: Any


# The thresholds of the data-health signals (docs/honest-numbers.md), as data with help text.
HEALTH_THRESHOLDS: tuple[Threshold, ...] = (
    Threshold(
        "late_entry_days",
        1,
        365,
        _l("Late entry after (days)"),
        _l(
            "A visit entered more than this many days after it happened is a late entry: "
            "accepted, marked, and the rep is asked (not required) to say why."
        ),
    ),
    Threshold(
        "bulk_entry_visits",
        2,
        1000,
        _l("Late bulk entry (visits in one day)"),
        _l("This many late entries by one rep on one day are flagged as a late bulk entry."),
    ),
    Threshold(
        "max_visits_per_day",
        2,
        200,
        _l("Most visits a route allows in a day"),
        _l("A rep's day with more visits than this is flagged as implausible."),
    ),
    Threshold(
        "min_visit_gap_minutes",
        0,
        240,
        _l("Shortest gap between two customers (minutes)"),
        _l(
            "Two visits to different customers closer together than this flag the day as "
            "implausible (0 turns this check off)."
        ),
    ),
    Threshold(
        "all_purposeful_visits",
        2,
        1000,
        _l("Every visit purposeful, from (visits)"),
        _l("A rep with at least this many visits in the period, every one purposeful, is flagged."),
    ),
    Threshold(
        "hearing_no_note_visits",
        1,
        1000,
        _l("Hearings without a note, from (visits)"),
        _l(
            "A rep with at least this many visits marked 'problems heard' but no note of what "
            "was heard is flagged."
        ),
    ),
)


def why_texts(settings: CompanySettings, locale: str | None = None) -> dict[str, str]:
    """The "why" the field sees per KPI: the company's own text, else the catalogue's."""
    own = settings.kpi_why or {}
    return {key: (own.get(key) or "").strip() or CATALOGUE[key].why(locale) for key in KPI_KEYS}


def active_kpis(settings: CompanySettings) -> list[str]:
    """The active KPI keys in their chosen order (unknown keys dropped)."""
    return [k for k in settings.active_kpis or [] if k in CATALOGUE]


def lint_settings(settings: CompanySettings, locale: str | None = None) -> list[Warning]:
    """The lint for the company's current KPI set."""
    return lint(settings.active_kpis or [], why_texts(settings, locale))


def set_active_kpis(
    session: Session, keys: Iterable[str], *, user: User | None = None
) -> list[Warning]:
    """Choose the active KPIs (order kept); returns the lint for the new set. Flushes.

    A change is kept in the settings history (fieldlog.services.audit) with the acting user.
    """
    chosen = list(dict.fromkeys(k.strip() for k in keys if k and k.strip()))
    unknown = [k for k in chosen if k not in CATALOGUE]
    if unknown:
        raise Invalid(errors={"active_kpis": [_l("Unknown KPI: %(key)s.", key=", ".join(unknown))]})
    settings = ensure_settings(session)
    audit.record_change(session, user, "active_kpis", "active_kpis", active_kpis(settings), chosen)
    settings.active_kpis = chosen
    session.flush()
    return lint_settings(settings)


def set_kpi_why(session: Session, texts: Mapping[str, str | None]) -> CompanySettings:
    """Set the company's own "why" per KPI; an empty text falls back to the catalogue's."""
    errors: dict[str, list[Any]] = {}
    for key, text in texts.items():
        if key not in CATALOGUE:
            errors[f"why.{key}"] = [_l("Unknown KPI: %(key)s.", key=key)]
        elif len((text or "").strip()) > limits.MAX_WHY:
            errors[f"why.{key}"] = [_l("At most %(n)d characters.", n=limits.MAX_WHY)]
    if errors:
        raise Invalid(errors=errors)
    settings = ensure_settings(session)
    merged = dict(settings.kpi_why or {})
    for key, text in texts.items():
        if (text or "").strip():
            merged[key] = text.strip()
        else:
            merged.pop(key, None)
    settings.kpi_why = merged
    session.flush()
    return settings


def _whole(errors: dict[str, list[Any]], field: str, value: Any, low: int, high: int) -> int:
    try:
        number = int(str(value).strip())
    except (TypeError, ValueError):
        number = None
    if number is None or not low <= number <= high:
        errors[field] = [_l("Enter a whole number from %(low)d to %(high)d.", low=low, high=high)]
        return 0
    return number


def _keep_threshold_changes(
    session: Session, user: User | None, settings: CompanySettings, new: Mapping[str, int]
) -> None:
    """One settings-history entry per threshold whose value changes."""
    for name, value in new.items():
        audit.record_change(session, user, "threshold", name, getattr(settings, name), value)


def set_dormancy(
    session: Session, visit_days: Any, sales_days: Any, *, user: User | None = None
) -> CompanySettings:
    """Set the dormant_rate thresholds (days without a visit / without sales)."""
    errors: dict[str, list[Any]] = {}
    visit = _whole(errors, "dormant_visit_days", visit_days, 1, 3650)
    sales = _whole(errors, "dormant_sales_days", sales_days, 1, 3650)
    if errors:
        raise Invalid(errors=errors)
    settings = ensure_settings(session)
    new = {"dormant_visit_days": visit, "dormant_sales_days": sales}
    _keep_threshold_changes(session, user, settings, new)
    settings.dormant_visit_days, settings.dormant_sales_days = visit, sales
    lead_cache.rows_changed(session, [settings])
    session.flush()
    dormancy.settings_changed(session, settings)  # the summary follows the new thresholds
    return settings


def set_rank_cycles(
    session: Session, a: Any, b: Any, c: Any, *, user: User | None = None
) -> CompanySettings:
    """Set the default visit cycle (days) of ranks A, B and C."""
    errors: dict[str, list[Any]] = {}
    days = [
        _whole(errors, f"cycle_days_{rank}", value, 1, 365)
        for rank, value in (("a", a), ("b", b), ("c", c))
    ]
    if errors:
        raise Invalid(errors=errors)
    settings = ensure_settings(session)
    new = dict(zip(("cycle_days_a", "cycle_days_b", "cycle_days_c"), days, strict=True))
    _keep_threshold_changes(session, user, settings, new)
    settings.cycle_days_a, settings.cycle_days_b, settings.cycle_days_c = days
    session.flush()
    return settings


def set_health_thresholds(
    session: Session, values: Mapping[str, Any], *, user: User | None = None
) -> CompanySettings:
    """Set the data-health thresholds given in ``values`` (others keep theirs), each in range."""
    errors: dict[str, list[Any]] = {}
    chosen = {
        t.name: _whole(errors, t.name, values[t.name], t.low, t.high)
        for t in HEALTH_THRESHOLDS
        if values.get(t.name) is not None
    }
    if errors:
        raise Invalid(errors=errors)
    settings = ensure_settings(session)
    _keep_threshold_changes(session, user, settings, chosen)
    for name, value in chosen.items():
        setattr(settings, name, value)
    session.flush()
    return settings
