"""Template helpers for KPI pages: names in the reader's language, values, inline SVG charts."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from flask_babel import get_locale
from flask_babel import gettext as _
from markupsafe import Markup

from ..kpi import CATALOGUE
from ..present import charts, numbers, yojitsu
from ..rules.kpi_catalogue import name_of, unit_of


def _locale() -> str:
    return str(get_locale() or "ja")


def kpi_name(key: str | None) -> str:
    return name_of(key, _locale())


def kpi_why(key: str) -> str:
    return CATALOGUE[key].why(_locale()) if key in CATALOGUE else ""


def fmt(unit: str, value: Any) -> str:
    """A KPI value as the reader sees it (``present.numbers.value``; the argument order of old)."""
    return numbers.value(value, unit)


def spark(values: Sequence[Any], title: str, target: Any = None) -> Markup:
    # Chart markup is built with ElementTree, which escapes every label (hence the noqa).
    return Markup(charts.sparkline(list(values), title=title, target=target))  # noqa: S704


# Line charts on the pages sit in tiles about 270–310 px wide (phone or tablet), so they are
# drawn at that size: their text then shows at about its own size, never shrunk to a blur.
LINE_WIDTH = 300
LINE_HEIGHT = 180
LINE_TEXT = 11


def line(
    labels: Sequence[str],
    series: Sequence[tuple[str, Sequence[Any]]],
    *,
    title: str,
    unit: str,
    target: Any = None,
    target_label: str = "",
    mark: tuple[int, str] | None = None,
) -> Markup:
    return Markup(  # noqa: S704 — built with ElementTree, every label escaped
        charts.line_chart(
            list(labels),
            [charts.Series(name, list(values)) for name, values in series],
            title=title,
            target=target,
            target_label=target_label,
            fmt=numbers.axis(unit, _locale()),
            width=LINE_WIDTH,
            height=LINE_HEIGHT,
            text_size=LINE_TEXT,
            mark=mark,
            ceiling=1.0 if unit == "rate" else None,
        )
    )


def forecast(mtd: Any) -> Markup:
    """The weekly sales forecast of a MonthToDate with its 80 % interval, after 13 weeks."""
    return yojitsu.forecast_chart(mtd, width=LINE_WIDTH, height=LINE_HEIGHT, text_size=LINE_TEXT)


def effect_unit(kpi: str, kgi: str) -> str:
    """The lead effect's unit: the KGI's unit per unit of the KPI (per 10 points for a rate,
    per ¥100,000 for a yen KPI: ``numbers.lead_scale``)."""
    unit = _("percentage points") if unit_of(kgi) == "rate" else _("yen")
    if CATALOGUE[kpi].is_rate:
        step = "+10 pt"
    elif unit_of(kpi) == "yen":
        step = "+" + numbers.yen(numbers.LEAD_YEN_STEP)
    else:
        step = "+1"
    return _("Effect: %(unit)s per %(step)s %(kpi)s", unit=unit, step=step, kpi=kpi_name(kpi))


def lead_step(kpi: str) -> str:
    """What a lead effect is given per: "per 10 points", "per ¥100,000", "per 1"."""
    if CATALOGUE[kpi].is_rate:
        return _("per 10 points")
    if unit_of(kpi) == "yen":
        return _("per %(amount)s", amount=numbers.yen(numbers.LEAD_YEN_STEP))
    return _("per 1")


def lead_effect(result: Any) -> str:
    """A lead analysis's effect on the KGI per the KPI's step, or the dash without one."""
    if result.effect is None:
        return numbers.DASH
    scale = numbers.lead_scale(unit_of(result.kpi))
    return f"{numbers.value(result.effect * scale, unit_of(result.kgi))} {lead_step(result.kpi)}"


def lead_interval(result: Any) -> str:
    """Its 90 % interval in the same step ("¥5,000 – ¥19,000"), or the dash without one."""
    if not result.interval:
        return numbers.DASH
    scale = numbers.lead_scale(unit_of(result.kpi))
    unit = unit_of(result.kgi)
    low, high = result.interval
    return f"{numbers.value(low * scale, unit)} – {numbers.value(high * scale, unit)}"


def lag(result: Any, title: str) -> Markup:
    """The lead analysis's effect per lag (0–12 weeks) with its interval; the chosen lag filled."""
    unit = unit_of(result.kgi)
    scale = numbers.lead_scale(unit_of(result.kpi))
    return Markup(  # noqa: S704 — built with ElementTree, every label escaped
        charts.lag_chart(
            [e.lag for e in result.by_lag],
            [e.effect for e in result.by_lag],
            [e.interval for e in result.by_lag],
            title=title,
            chosen=result.lag_weeks,
            axis_label=_("weeks later (lag)"),
            unit_label=effect_unit(result.kpi, result.kgi),
            fmt=numbers.axis(unit, _locale()),
            width=LINE_WIDTH,
            height=LINE_HEIGHT,
            text_size=LINE_TEXT,
            scale=scale,
        )
    )


def compared_groups(found: Any) -> tuple[str, str]:
    """How the tested group and the comparison are named in charts and tables."""
    tested = "・".join(u.name for u in found.tested[:3]) + ("…" if len(found.tested) > 3 else "")
    if found.level == "rep":
        tested = _("Its reps (average)")
    if found.against == "year":
        return _("This year: %(who)s", who=tested), _("The same weeks a year earlier")
    if found.level == "rep":
        return tested, _("Reps of the other branches (average)")
    return tested, _("Other branches (average)")


def did_text(comparison: Any, unit: str) -> str:
    """A difference in differences in words: the estimate and its 90 % interval, or why not."""
    if comparison is None or comparison.effect is None:
        return _("too early to say")
    lo, hi = comparison.interval
    text = _(
        "%(effect)s against the comparison (90%% interval %(lo)s to %(hi)s)",
        effect=numbers.difference(comparison.effect, unit),
        lo=numbers.difference(lo, unit),
        hi=numbers.difference(hi, unit),
    )
    if comparison.verdict == "pre_trend":
        text += " " + _("— already pulling apart before the start: not evidence")
    return text


def before_after(found: Any, series: Any) -> Markup:
    """Tested group vs comparison, week by week around the start, for one KPI or the KGI."""
    unit = unit_of(series.key)
    tested, against = compared_groups(found)
    group = found.group()
    estimate = group.by_key.get(series.key) if group else None
    return Markup(  # noqa: S704 — built with ElementTree, every label escaped
        charts.before_after_chart(
            found.labels,
            series.tested,
            series.comparison,
            start=found.start_index,
            title=_(
                "%(kpi)s before and after the start: tested vs comparison", kpi=kpi_name(series.key)
            ),
            desc=did_text(estimate, unit),
            tested_label=tested,
            comparison_label=against,
            start_label=_("Start"),
            fmt=numbers.axis(unit, _locale()),
            width=LINE_WIDTH,
            height=LINE_HEIGHT + 20,
            text_size=LINE_TEXT,
            ceiling=1.0 if unit == "rate" else None,
        )
    )


HELPERS = {
    "chart_before_after": before_after,
    "did_text": did_text,
    "did_value": lambda unit, delta: numbers.difference(delta, unit),
    "compared_groups": compared_groups,
    "chart_lag": lag,
    "catalogue_unit": unit_of,
    "kpi_name": kpi_name,
    "kpi_why": kpi_why,
    "kpi_fmt": fmt,
    "lead_effect": lead_effect,
    "lead_interval": lead_interval,
    "chart_spark": spark,
    "chart_line": line,
    "chart_forecast": forecast,
}
