"""The category buyer summary behind the plan's cross-sell shares: equal to its definition, and
in step with every sales write (docs/kpi.md)."""

from __future__ import annotations

import random
from datetime import date, timedelta
from itertools import pairwise

import pytest
from sqlalchemy import delete

from fieldlog.app.extensions import db
from fieldlog.kpi import buyers, deepening, lead_cache
from fieldlog.kpi.untold import UntoldWriteWarning
from fieldlog.models import CategoryBuyerRun, SalesLine

from .test_kpi_summary import random_lines

DAY = timedelta(days=1)


@pytest.fixture
def shop(make):
    """Two branches, customers of two ranks (one inactive), three categories."""
    a, b = make.branch("A"), make.branch("B")
    ra, rb = make.user("rep", a), make.user("rep", b)
    customers = [make.customer(a, ra, rank=r) for r in "AABB"]
    customers += [make.customer(b, rb, rank=r) for r in "AB"]
    customers[1].active = False  # an inactive customer is nobody's peer
    db.session.flush()
    categories = [make.category() for _ in range(3)]
    return type("Shop", (), dict(customers=customers, categories=categories))


def bought_by_definition(lines, day: date) -> set[tuple[int, int]]:
    """(customer, category) with a line of the category in day − 365 … day − 1, read literally."""
    return {(c, k) for c, d, k in lines if k is not None and day - 365 * DAY <= d <= day - DAY}


@pytest.mark.parametrize("seed", range(6))
def test_runs_equal_the_definition_on_every_day(seed):
    rng = random.Random(seed)
    lines = random_lines(rng, [1], [10], rng.randint(0, 20))
    runs = buyers.buyer_runs(d for _, d, _ in lines)
    assert all(a <= b for a, b in runs)
    assert all(r1[1] + DAY < r2[0] for r1, r2 in pairwise(runs))  # disjoint, not adjacent
    day = date(2022, 12, 1)
    while day <= date(2028, 1, 1):
        found = any(a <= day <= b for a, b in runs)
        assert found == bool(bought_by_definition(lines, day)), day
        day += DAY


def test_one_line_counts_on_the_365_days_after_it():
    assert buyers.buyer_runs([date(2025, 1, 1)]) == [(date(2025, 1, 2), date(2026, 1, 1))]
    # A year and a day apart: the second starts the day after the first ends, one run.
    assert buyers.buyer_runs([date(2025, 1, 1), date(2026, 1, 1)]) == [
        (date(2025, 1, 2), date(2027, 1, 1))
    ]
    # A year and two days apart: on the day between, the window holds neither line.
    assert buyers.buyer_runs([date(2025, 1, 1), date(2026, 1, 2)]) == [
        (date(2025, 1, 2), date(2026, 1, 1)),
        (date(2026, 1, 3), date(2027, 1, 2)),
    ]


def _counts_by_definition(shop, lines, day):
    out: dict[tuple[int, str, int], int] = {}
    customers = {c.id: c for c in shop.customers}
    for customer_id, category_id in bought_by_definition(lines, day):
        c = customers[customer_id]
        if c.active:
            key = (c.branch_id, c.rank, category_id)
            out[key] = out.get(key, 0) + 1
    return out


def _lines():
    return db.session.execute(
        db.select(SalesLine.customer_id, SalesLine.sold_on, SalesLine.category_id)
    ).all()


@pytest.mark.parametrize("seed", range(3))
def test_lines_in_any_order_moves_and_deletes_keep_the_runs_exact(shop, make, seed):
    rng = random.Random(seed)
    ids = [c.id for c in shop.customers[:3]]
    categories = {c.id: c for c in shop.categories}
    lines = random_lines(rng, ids, [*categories, None], 40)
    rng.shuffle(lines)
    by_id = {c.id: c for c in shop.customers}
    made = []
    for customer_id, day, category_id in lines:
        made.append(make.sale(by_id[customer_id], day, category=categories.get(category_id)))
        assert buyers.differences(db.session) == 0
    for line in rng.sample(made, 12):
        old_customer, old_day = line.customer_id, line.sold_on
        roll = rng.random()
        if roll < 0.4:
            line.sold_on = old_day + timedelta(days=rng.randint(-400, 400))
            changed = {old_customer: [old_day, line.sold_on]}
        elif roll < 0.7:
            line.category = rng.choice([*shop.categories, None])
            changed = {old_customer: [old_day]}
        else:
            db.session.delete(line)
            changed = {old_customer: [old_day]}
        db.session.flush()
        deepening.sales_lines_changed(db.session, changed)
        assert buyers.differences(db.session) == 0
    branch_ids = {c.branch_id for c in shop.customers}
    current = _lines()
    for _ in range(25):
        day = date(2023, 1, 1) + timedelta(days=rng.randint(0, 1900))
        assert buyers.buyers_on(db.session, branch_ids, day) == _counts_by_definition(
            shop, current, day
        ), day
        bought = buyers.bought_on(db.session, ids, day)
        assert {(c, k) for c in bought for k in bought[c]} == {
            (c, k) for c, k in bought_by_definition(current, day) if c in ids
        }


def test_bulk_writers_and_rebuild_agree_with_the_incremental_runs(shop, make):
    rng = random.Random(5)
    ids = [c.id for c in shop.customers]
    categories = {c.id: c for c in shop.categories}
    by_id = {c.id: c for c in shop.customers}
    for customer_id, day, category_id in random_lines(rng, ids, [*categories, None], 60):
        make.sale(by_id[customer_id], day, category=categories.get(category_id))
    incremental = set(db.session.execute(db.select(CategoryBuyerRun.__table__)).all())
    assert incremental
    deepening.rebuild(db.session)
    assert set(db.session.execute(db.select(CategoryBuyerRun.__table__)).all()) == incremental
    assert buyers.rebuild(db.session) == len(incremental)
    db.session.execute(delete(SalesLine).where(SalesLine.customer_id == ids[0]))
    deepening.sales_changed(db.session, [ids[0]])  # a bulk delete says what it touched
    assert buyers.differences(db.session) == 0


def test_a_write_that_tells_no_step_is_reported(shop, make):
    line = make.sale(shop.customers[0], date(2025, 6, 1), category=shop.categories[0])
    db.session.commit()
    line.category = shop.categories[1]
    lead_cache.rows_changed(db.session, [line])  # only the summaries' step is left out
    db.session.flush()
    assert buyers.differences(db.session) != 0
    with pytest.warns(UntoldWriteWarning):
        db.session.commit()
    assert buyers.differences(db.session) != 0  # nothing repairs it behind the writer's back


def test_cli_check_reports_stale_buyer_runs(app, runner, shop, make):
    make.sale(shop.customers[0], date(2025, 6, 1), category=shop.categories[0])
    make.sale(shop.customers[1], date(2026, 6, 1), category=shop.categories[1])
    db.session.commit()
    ok = runner.invoke(args=["kpi", "rebuild-summary", "--check"])
    assert ok.exit_code == 0 and "0 category buyer runs differ" in ok.output
    db.session.execute(delete(CategoryBuyerRun))
    db.session.commit()
    stale = runner.invoke(args=["kpi", "rebuild-summary", "--check"])
    assert stale.exit_code == 1 and "2 category buyer runs differ" in stale.output
    assert runner.invoke(args=["kpi", "rebuild-summary"]).exit_code == 0
    assert runner.invoke(args=["kpi", "rebuild-summary", "--check"]).exit_code == 0
