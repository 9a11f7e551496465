"""Gap analysis (step 3 of the hypothesis loop): why a KPI missed its target — a suggestion.

Pure: plain numbers in, a Suggestion out; no database, no request. The rules, in order:

1. quantity (母数) — the KPI's base fell: this period's base (the rate's denominator, or an
   explicit base series such as visits for a count) is more than ``base_drop`` below the
   average of up to 4 earlier periods;
2. design (設計) — the KPI met its target in each of the ``design_periods`` periods before this
   one while the KGI did not rise by more than ``kgi_flat`` (relative) over those periods: the
   KPI may not lead to the KGI;
3. quality (質) — otherwise: the base held and the rate itself fell short.

And, whether or not the period missed: design (設計) when the KPI met its target in each of the
last ``design_periods`` periods and the lead analysis (``kpi lead``, docs/verification.md) says
``no_link`` — a KPI that is met while the KGI does not follow is the clearest design question.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from ..rules.kpi_catalogue import CATALOGUE
from .rollup import KpiValue
from .targets import achievement

Cause = Literal["quantity", "quality", "design"]


@dataclass(frozen=True)
class Suggestion:
    """A suggested cause with the numbers behind it (present.gap_text.explain words it)."""

    kpi: str
    cause: Cause
    numbers: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {"kpi": self.kpi, "cause": self.cause, "numbers": dict(self.numbers)}


def _mean(values: Sequence[float]) -> float | None:
    return sum(values) / len(values) if values else None


def suggest(
    kpi: str,
    series: Sequence[KpiValue | None],
    targets: Sequence[float | None],
    kgi_series: Sequence[KpiValue | None] = (),
    *,
    base: Sequence[float | int | None] | None = None,
    kgi: str = "sales_amount",
    design_periods: int = 4,
    base_drop: float = 0.2,
    kgi_flat: float = 0.02,
    lead: Callable[[], tuple[str, int]] | None = None,
) -> Suggestion | None:
    """Suggest quantity, quality or design for the last period of ``series``.

    ``series``, ``targets``, ``kgi_series`` and ``base`` are aligned, oldest first; the last
    entry is the period under review. ``lead`` returns the lead analysis's verdict and its
    number of weeks; it is called only when the KPI met its target in each of the last
    ``design_periods`` periods. Returns None when the period did not miss its target and no
    design question arises.
    """
    if not series or len(targets) != len(series):
        raise ValueError("series and targets must be non-empty and of the same length")
    direction = CATALOGUE[kpi].direction if kpi in CATALOGUE else "up"
    current = series[-1]
    value = current.value if current is not None else None
    recent = range(max(0, len(series) - design_periods), len(series))
    if (
        lead is not None
        and design_periods > 0
        and len(recent) == design_periods
        and all(_met(series[i], targets[i], direction) for i in recent)
    ):
        verdict, weeks = lead()
        if verdict == "no_link":
            numbers = {"value": value, "target": targets[-1], "periods_met": design_periods}
            return Suggestion(kpi, "design", numbers | {"lead": verdict, "lead_weeks": weeks})
    if achievement(value, targets[-1], direction) != "behind":
        return None
    bases = list(base) if base is not None else [v.denominator if v else None for v in series]
    base_now = bases[-1]
    earlier = [b for b in bases[:-1] if b is not None][-4:]
    base_before = _mean([float(b) for b in earlier])
    values_before = [v.value for v in series[:-1] if v is not None and v.value is not None][-4:]
    numbers: dict[str, Any] = {
        "value": value,
        "target": targets[-1],
        "value_before": _mean([float(v) for v in values_before]),
        "base_now": base_now,
        "base_before": base_before,
        "base_change": (
            (base_now - base_before) / base_before if base_now is not None and base_before else None
        ),
    }
    if numbers["base_change"] is not None and numbers["base_change"] < -base_drop:
        return Suggestion(kpi, "quantity", numbers)

    window = range(len(series) - 1 - design_periods, len(series) - 1)
    if design_periods > 0 and window.start >= 0 and len(kgi_series) == len(series):
        met = all(_met(series[i], targets[i], direction) for i in window)
        first, last = kgi_series[window.start], kgi_series[window.stop - 1]
        if (
            met
            and first is not None
            and last is not None
            and first.value
            and last.value is not None
        ):
            change = (last.value - first.value) / abs(first.value)
            if change <= kgi_flat:
                return Suggestion(
                    kpi,
                    "design",
                    numbers
                    | {
                        "kgi": kgi,
                        "periods_met": design_periods,
                        "kgi_first": first.value,
                        "kgi_last": last.value,
                        "kgi_change": change,
                    },
                )
    return Suggestion(kpi, "quality", numbers)


def _met(figure: KpiValue | None, target: float | None, direction: Any) -> bool:
    return figure is not None and achievement(figure.value, target, direction) in ("ahead", "on")
