"""How figures read: one formatter for pages, PDF, mail, CLI, charts and gap notes."""

from __future__ import annotations

import pytest

from fieldlog.present import numbers

DASH = "—"


@pytest.mark.parametrize(
    ("value", "unit", "text"),
    [
        (None, "rate", DASH),
        (None, "yen", DASH),
        (None, "count", DASH),
        (0.625, "rate", "62.5%"),
        (0.62, "rate", "62.0%"),
        (0.0, "rate", "0.0%"),
        (1.0, "rate", "100.0%"),
        (1.5, "rate", "150.0%"),  # follow_up_rate may exceed 1 (docs/kpi.md)
        (0.12345, "rate", "12.3%"),
        (1234567, "yen", "¥1,234,567"),
        (0, "yen", "¥0"),
        (-5000, "yen", "¥-5,000"),  # returns: a negative week of sales
        (1234.6, "yen", "¥1,235"),  # whole yen
        (10**16 + 1, "yen", "¥10,000,000,000,000,001"),  # ints never pass through float
        (12, "count", "12"),
        (1234, "count", "1,234"),
        (12.0, "count", "12"),
        (12.25, "count", "12.2"),  # an average: one decimal
        (7, "unknown", "7"),
    ],
)
def test_value(value, unit, text):
    assert numbers.value(value, unit) == text


@pytest.mark.parametrize(
    ("numerator", "denominator", "text"),
    [
        (26, 42, "26/42"),
        (0, 0, "0/0"),
        (None, 3, "0/3"),
        (1234, 5678, "1,234/5,678"),
        (3, None, ""),
    ],
)
def test_fraction(numerator, denominator, text):
    assert numbers.fraction(numerator, denominator) == text


@pytest.mark.parametrize(
    ("delta", "unit", "text"),
    [
        (None, "rate", DASH),
        (0.07, "rate", "+7pt"),
        (-0.006, "rate", "-0.6pt"),
        (0.0002, "rate", "±0pt"),
        (500, "yen", "+¥500"),
        (-1500, "yen", "−¥1,500"),
        (0.2, "yen", "±0"),
        (3, "count", "+3"),
        (-1200, "count", "-1,200"),
    ],
)
def test_change(delta, unit, text):
    assert numbers.change(delta, unit) == text


@pytest.mark.parametrize(
    ("delta", "unit", "text"),
    [
        (None, "count", DASH),
        (0.097, "rate", "+9.7pt"),
        (-0.008, "rate", "-0.8pt"),
        (4747023.4, "yen", "+¥4,747,023"),
        (-2537693, "yen", "−¥2,537,693"),
        (0.4, "count", "+0.4"),
        (-5.94, "count", "-5.9"),
    ],
)
def test_difference(delta, unit, text):
    assert numbers.difference(delta, unit) == text


@pytest.mark.parametrize(
    ("ratio", "text"), [(None, DASH), (0.123, "+12.3%"), (-0.5, "-50.0%"), (0, "+0.0%")]
)
def test_relative_change(ratio, text):
    assert numbers.relative_change(ratio) == text


@pytest.mark.parametrize(
    ("amount", "locale", "text"),
    [
        (9_999, "ja", "¥9,999"),
        (68_440_000, "ja", "6,844万"),
        (68_440_000, "en", "¥68.4M"),
        (250_000, "en", "¥250k"),
    ],
)
def test_compact_yen(amount, locale, text):
    assert numbers.compact_yen(amount, locale) == text


@pytest.mark.parametrize(("value", "text"), [(0.2, "20%"), (0.345, "34%"), (1.0, "100%")])
def test_axis_percent(value, text):
    assert numbers.axis_percent(value) == text


@pytest.mark.parametrize(
    ("value", "unit"),
    [(None, "rate"), (0.625, "rate"), (1234567, "yen"), (None, "yen"), (12, "count")],
)
def test_every_surface_prints_a_value_alike(app, value, unit):
    """The page helper, the Jinja filters of pages and PDF, the CLI and gap notes agree."""
    from fieldlog.cli.kpi import _format
    from fieldlog.kpi.rollup import KpiValue
    from fieldlog.present import pdf
    from fieldlog.present.gap_text import _fmt_value
    from fieldlog.web.kpi_view import fmt

    expected = numbers.value(value, unit)
    key = {"rate": "hearing_rate", "yen": "sales_amount", "count": "proposal_count"}[unit]
    assert fmt(unit, value) == expected
    assert pdf.environment().filters["value"](value, unit) == expected
    assert _fmt_value(key, value) == expected
    assert _format(key, KpiValue(value, value or 0, None)) == expected
    if unit == "rate":
        assert app.jinja_env.filters["rate"](value) == expected
    if unit == "yen":
        assert app.jinja_env.filters["yen"](value) == expected


@pytest.mark.parametrize(
    ("unit", "locale", "value", "text"),
    [
        ("rate", "ja", 0.345, "34%"),
        ("yen", "ja", 68_440_000, "6,844万"),
        ("yen", "en", 68_440_000, "¥68.4M"),
        ("count", "ja", 1234, "1,234"),
    ],
)
def test_one_axis_format_for_pages_and_pdf(unit, locale, value, text):
    assert numbers.axis(unit, locale)(value) == text
