"""Value, target and last year: `kpi show --json` on a hand-computed fixture, the last-year rule."""

from __future__ import annotations

import json
from datetime import date

import pytest

from fieldlog.extensions import db
from fieldlog.kpi import KPI_KEYS, Scope
from fieldlog.kpi.budgets import set_budget
from fieldlog.kpi.targets import set_target
from fieldlog.periods import Period


@pytest.mark.parametrize(
    ("period", "expected"),
    [
        ("2026-11", "2025-11"),
        ("2024-02", "2023-02"),
        ("2026-01", "2025-01"),
        ("2026-W47", "2025-W47"),
        ("2027-W01", "2026-W01"),
        # 2026 has an ISO week 53; 2025 has not: its last week stands in.
        ("2026-W53", "2025-W52"),
        # 2020 had one too, so 2021's week 53 does not exist and 2021-W52 maps to 2020-W52.
        ("2021-W52", "2020-W52"),
        ("2020-W53", "2019-W52"),
    ],
)
def test_last_year_period(period, expected):
    assert Period.parse(period).last_year().label == expected


@pytest.fixture
def shop(make):
    tokyo = make.branch("TKY", "東京")
    osaka = make.branch("OSK", "大阪")
    rep = make.user("rep", tokyo, email="rep@example.jp")
    customer = make.customer(tokyo, rep)
    elsewhere = make.customer(osaka)
    # 2026-W47 is Mon 16 – Sun 22 November 2026; 2025-W47 is Mon 17 – Sun 23 November 2025.
    make.sale(customer, date(2026, 11, 16), 100_000, gross_profit=30_000)
    make.sale(customer, date(2026, 11, 22), 50_000, gross_profit=10_000)
    make.sale(customer, date(2026, 11, 23), 999_000)  # W48
    make.sale(customer, date(2025, 11, 17), 80_000, gross_profit=20_000)
    make.sale(customer, date(2025, 11, 16), 7_000)  # 2025-W46, still November 2025
    make.sale(customer, date(2025, 12, 1), 1_000)  # neither
    make.sale(elsewhere, date(2026, 11, 18), 5_000_000)  # another branch
    make.visit(rep, customer, visited_at="2026-11-18T10:00:00+09:00", hearing_done=False)
    make.visit(rep, customer, visited_at="2026-11-19T10:00:00+09:00")
    make.visit(rep, customer, visited_at="2025-11-18T10:00:00+09:00")
    set_budget(db.session, None, date(2026, 11, 1), tokyo.id, None, 30_000_000)
    set_target(db.session, "visit_count", Scope.company(), "week", 10, date(2026, 1, 5), None)
    set_target(
        db.session, "hearing_rate", Scope.branch(tokyo.id), "week", 0.8, date(2026, 1, 5), None
    )
    db.session.commit()
    return rep


def _show(runner, period: str, scope: str) -> dict:
    args = ["kpi", "show", "--period", period, "--scope", scope, "--json"]
    result = runner.invoke(args=args)
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def test_week_value_target_and_last_year(runner, shop):
    body = _show(runner, "2026-W47", "branch:TKY")
    assert set(body) == {"period", "start", "end", "scope", "kpis"}
    assert list(body["kpis"]) == list(KPI_KEYS)
    kpis = body["kpis"]
    # The budget of 30,000,000 for November, 7 days of its 30.
    assert kpis["sales_amount"] == {
        "value": 150_000,
        "numerator": 150_000,
        "denominator": None,
        "target": 7_000_000,
        "last_year": 80_000,
    }
    assert kpis["gross_margin_rate"] == {
        "value": 40_000 / 150_000,
        "numerator": 40_000,
        "denominator": 150_000,
        "last_year": 0.25,
    }
    assert kpis["visit_count"] == {
        "value": 2,
        "numerator": 2,
        "denominator": None,
        "target": 10,
        "last_year": 1,
    }
    assert kpis["hearing_rate"]["target"] == 0.8
    assert kpis["hearing_rate"]["last_year"] == 1.0
    # Nothing to compare: the keys are left out, the figure's own keys stay.
    assert kpis["cross_sell_rate"] == {"value": None, "numerator": 0, "denominator": 0}


def test_month_value_target_and_last_year(runner, shop):
    kpis = _show(runner, "2026-11", "branch:TKY")["kpis"]
    assert kpis["sales_amount"]["value"] == 150_000 + 999_000
    assert kpis["sales_amount"]["target"] == 30_000_000
    assert kpis["sales_amount"]["last_year"] == 80_000 + 7_000
    # A weekly count target does not carry over to a month.
    assert "target" not in kpis["visit_count"]


def test_company_and_rep_scopes(runner, shop):
    company = _show(runner, "2026-W47", "company")["kpis"]["sales_amount"]
    assert (company["value"], company["target"], company["last_year"]) == (
        5_150_000,
        7_000_000,
        80_000,
    )
    rep = _show(runner, "2026-W47", "rep:rep@example.jp")["kpis"]["sales_amount"]
    assert "target" not in rep  # no budget for the rep, no sales_amount KPI target
    assert rep["last_year"] == 80_000


def test_a_sales_amount_target_stands_in_where_no_budget_is_set(runner, shop):
    set_target(db.session, "sales_amount", Scope.company(), "week", 123_000, date(2026, 1, 5), None)
    db.session.commit()
    rep = _show(runner, "2026-W47", "rep:rep@example.jp")["kpis"]["sales_amount"]
    assert rep["target"] == 123_000
    branch = _show(runner, "2026-W47", "branch:TKY")["kpis"]["sales_amount"]
    assert branch["target"] == 7_000_000  # the budget wins


def test_a_moved_customer_counts_where_it_is_now(runner, shop, make):
    """Sales follow the customer's current branch, this year and last (docs/kgi.md)."""
    moved = make.customer(shop.branch)
    make.sale(moved, date(2025, 11, 20), 3_000)
    db.session.commit()
    before = _show(runner, "2026-W47", "branch:TKY")["kpis"]["sales_amount"]["last_year"]
    moved.branch = make.branch("NGY")
    db.session.commit()
    after = _show(runner, "2026-W47", "branch:TKY")["kpis"]["sales_amount"]["last_year"]
    assert (before, after) == (83_000, 80_000)
