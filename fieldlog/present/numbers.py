"""How a figure reads, in one place: pages, the PDF and its mail, the CLI, charts and gap notes.

Pure (no Flask, no database), so every surface prints the same value the same way: one dash for
a figure that is undefined, rates as percentages with one decimal, whole yen, counts with
thousands separators (one decimal only when the count is an average).
"""

from __future__ import annotations

from collections.abc import Callable

DASH = "—"
"""An undefined figure (a rate whose denominator is 0, a missing previous week)."""

RATE_DECIMALS = 1


def count(value: float | None) -> str:
    """1,234, or 1,234.5 for an average; the dash for None."""
    if value is None:
        return DASH
    if isinstance(value, int):
        return f"{value:,}"
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.1f}"


def percent(value: float | None, decimals: int = RATE_DECIMALS) -> str:
    """A 0–1 fraction as a percentage (62.5%); the dash for None."""
    if value is None:
        return DASH
    return f"{value * 100:.{decimals}f}%"


def yen(value: float | None) -> str:
    """Whole yen with separators (¥1,234,000); the dash for None."""
    if value is None:
        return DASH
    return f"¥{round(value):,}"


LEAD_YEN_STEP = 100_000
"""A yen KPI's lead effect is shown per ¥100,000 of it: per ¥1 it rounds to ¥0–¥2."""


def lead_scale(kpi_unit: str) -> float:
    """The factor a lead effect (and its interval) is shown multiplied by, for a KPI's unit.

    The analysis gives the KGI's change per 10 points of a rate and per 1 of anything else
    (docs/verification.md); per ¥1 of a yen KPI that is under a yen, so a yen KPI's is shown per
    ``LEAD_YEN_STEP`` (the same linear estimate, scaled). Rates and counts keep theirs.
    """
    return float(LEAD_YEN_STEP) if kpi_unit == "yen" else 1.0


def value(figure: float | None, unit: str) -> str:
    """A KPI value in its unit ("rate", "yen", anything else a count)."""
    if unit == "rate":
        return percent(figure)
    if unit == "yen":
        return yen(figure)
    return count(figure)


def fraction(numerator: float | None, denominator: float | None) -> str:
    """Numerator/denominator (26/42) so a rate can be checked by hand; empty without a base."""
    if denominator is None:
        return ""
    return f"{count(numerator or 0)}/{count(denominator)}"


def is_flat(change: float | None, unit: str) -> bool:
    """No change worth an arrow: under 0.05 points for a rate, under 0.5 for counts and yen."""
    return abs(change or 0) < (0.0005 if unit == "rate" else 0.5)


def change(delta: float | None, unit: str) -> str:
    """A period-on-period change: points for rates (+7pt, -0.6pt), signed amounts otherwise."""
    if delta is None:
        return DASH
    if is_flat(delta, unit):
        return "±0pt" if unit == "rate" else "±0"
    if unit == "rate":
        points = delta * 100
        return f"{points:+.1f}pt" if abs(points) < 1 else f"{points:+.0f}pt"
    if unit == "yen":
        return f"{'+' if delta >= 0 else '−'}¥{abs(delta):,.0f}"
    return f"{delta:+,.0f}"


def difference(delta: float | None, unit: str) -> str:
    """An estimated difference, signed: points for rates (+9.7pt), yen, counts to one decimal
    (a difference of weekly means is rarely whole)."""
    if delta is None:
        return DASH
    if unit == "rate":
        return f"{delta * 100:+.1f}pt"
    if unit == "yen":
        return f"{'+' if delta >= 0 else '−'}¥{abs(delta):,.0f}"
    return f"{delta:+,.1f}"


def relative_change(ratio: float | None) -> str:
    """A relative change (0.123 → +12.3%); the dash for None."""
    return DASH if ratio is None else f"{ratio * 100:+.1f}%"


def compact_yen(amount: float, locale: str) -> str:
    """A yen axis label short enough for a phone: 6,844万 (ja) or ¥68.4M (en)."""
    if abs(amount) < 10_000:
        return f"¥{amount:,.0f}"
    if locale == "ja":
        return f"{amount / 10_000:,.0f}万"
    if abs(amount) < 1_000_000:
        return f"¥{amount / 1_000:,.0f}k"
    return f"¥{amount / 1_000_000:,.1f}M"


def axis_percent(fraction_value: float) -> str:
    """A chart axis tick for a 0–1 rate: whole percents (20%), ticks need no decimals."""
    return percent(fraction_value, 0)


def axis(unit: str, locale: str) -> Callable[[float], str]:
    """A chart axis's tick labels for a unit, pages and PDF alike: whole percents for a rate,
    yen in 万 (ja) or k/M (en), else a count."""
    if unit == "rate":
        return axis_percent
    if unit == "yen":
        return lambda amount: compact_yen(amount, locale)
    return count
