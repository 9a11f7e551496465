"""The KPI engine: catalogue, roll-up, targets, lint and gap analysis (docs/kpi.md)."""

from ..rules.kpi_catalogue import CATALOGUE, KGI_KEYS, KPI_KEYS, RATE_KEYS, KpiDef
from .rollup import KpiValue, rollup, rollup_by, trend, trend_by, trend_with_branches
from .scope import Scope, parse_scope, scope_label

__all__ = [
    "CATALOGUE",
    "KGI_KEYS",
    "KPI_KEYS",
    "RATE_KEYS",
    "KpiDef",
    "KpiValue",
    "Scope",
    "parse_scope",
    "rollup",
    "rollup_by",
    "scope_label",
    "trend",
    "trend_by",
    "trend_with_branches",
]
