"""The deepening summary: equal to docs/kpi.md's definition, and in step with every sales write."""

from __future__ import annotations

import random
from datetime import date, timedelta
from itertools import pairwise

import pytest
from sqlalchemy import delete, select

from fieldlog import demo
from fieldlog.app.extensions import db
from fieldlog.io import import_file
from fieldlog.kpi import Scope, dormancy, lead_cache, trend, trend_by
from fieldlog.kpi import deepening as summary
from fieldlog.kpi.untold import UntoldWriteWarning
from fieldlog.models import DeepeningRun, SalesLine
from fieldlog.rules.periods import Period
from tests.io_files import csv_file

from .conftest import TZ

TODAY = date(2026, 11, 23)
DAY = timedelta(days=1)


def by_definition(lines: list[tuple[int, date, int | None]], end: date) -> dict[int, tuple]:
    """docs/kpi.md read literally: per customer (in denominator, in numerator) as of ``end``."""
    w_start, p_start, p_end = end - timedelta(days=364), end - timedelta(days=729), end - 365 * DAY
    out = {}
    for customer in {c for c, _, _ in lines}:
        mine = [(d, k) for c, d, k in lines if c == customer]
        had = any(p_start <= d <= p_end for d, _ in mine)
        in_w = {k for d, k in mine if w_start <= d <= end and k is not None}
        in_p = {k for d, k in mine if p_start <= d <= p_end and k is not None}
        out[customer] = (had, had and len(in_w) > len(in_p))
    return out


def expected_rate(lines, customers, end) -> tuple[int, int]:
    flags = by_definition([line for line in lines if line[0] in customers], end)
    return sum(num for _, num in flags.values()), sum(den for den, _ in flags.values())


def random_lines(rng: random.Random, customers: list[int], categories: list[int | None], n: int):
    first = date(2023, 1, 1)
    return [
        (
            rng.choice(customers),
            first + timedelta(days=rng.randint(0, 1500)),
            rng.choice(categories),
        )
        for _ in range(n)
    ]


def figure(figures: dict) -> tuple[int, int]:
    value = figures["deepening_rate"]
    return value.numerator, value.denominator


def stored_runs() -> set[tuple]:
    rows = db.session.execute(
        select(
            DeepeningRun.customer_id,
            DeepeningRun.starts_on,
            DeepeningRun.ends_on,
            DeepeningRun.grew,
        )
    )
    return {tuple(row) for row in rows}


# ---- the pure function against the definition, every day ---------------------------------


@pytest.mark.parametrize("seed", range(6))
def test_runs_equal_the_definition_on_every_day(seed):
    rng = random.Random(seed)
    lines = random_lines(rng, [1], [10, 11, 12, None], rng.randint(1, 25))
    runs = summary.deepening_runs((d, k) for _, d, k in lines)
    assert all(a <= b for a, b, _ in runs)
    assert all(r1[1] < r2[0] for r1, r2 in pairwise(runs))  # disjoint, sorted
    day = date(2022, 12, 1)
    while day <= date(2029, 1, 1):  # before the first line to after the windows of the last
        den, num = by_definition(lines, day)[1]
        found = [grew for a, b, grew in runs if a <= day <= b]
        assert (bool(found), bool(found) and found[0]) == (den, num), day
        day += DAY


@pytest.mark.parametrize(
    "lines, runs",
    [
        ([], []),
        # One purchase: in the denominator for the 365 days after the year that follows it.
        ([(date(2024, 1, 1), 1)], [(date(2024, 12, 31), date(2025, 12, 30), False)]),
        # A line without a category puts the customer in the denominator, never the numerator.
        ([(date(2024, 1, 1), None)], [(date(2024, 12, 31), date(2025, 12, 30), False)]),
        # Bought 1 then 2 categories: grew while W holds both and the previous window one.
        # 2024 is a leap year: on 2025-12-31 the previous window starts on 2024-01-02, so the
        # customer is in no denominator that day.
        (
            [(date(2024, 1, 1), 1), (date(2025, 1, 1), 1), (date(2025, 1, 2), 2)],
            [
                (date(2024, 12, 31), date(2025, 1, 1), False),
                (date(2025, 1, 2), date(2025, 12, 30), True),
                (date(2026, 1, 1), date(2027, 1, 1), False),
            ],
        ),
    ],
)
def test_runs_table(lines, runs):
    assert summary.deepening_runs(lines) == runs


# ---- the engine through the summary against the definition -------------------------------


@pytest.fixture
def shop(make):
    """Two branches of four customers each, three categories."""
    a, b = make.branch("A"), make.branch("B")
    ra, rb = make.user("rep", a), make.user("rep", b)
    customers = [make.customer(a, ra) for _ in range(4)] + [make.customer(b, rb) for _ in range(4)]
    categories = [make.category() for _ in range(3)]
    return type("Shop", (), dict(a=a, b=b, customers=customers, categories=categories))


def sell(make, shop, lines):
    by_id = {c.id: c for c in shop.customers}
    cats = {c.id: c for c in shop.categories}
    for customer_id, day, category_id in lines:
        make.sale(by_id[customer_id], day, category=cats.get(category_id))


@pytest.mark.parametrize(
    "period",
    [
        Period.parse("2026-W47"),
        Period.parse("2026-11"),  # ends on a Monday
        Period.parse("2024-02"),  # ends on the 29th
        Period.parse("2025-03"),
        Period.parse("2025-W01"),  # starts in 2024
    ],
)
def test_deepening_edges_of_the_windows_for_weeks_and_months(shop, make, period):
    """A line on each edge of W and of the previous window, for a week or a month end."""
    e = period.end
    x, y, z = (c.id for c in shop.categories)
    c = [cu.id for cu in shop.customers]
    lines = [
        (c[0], e - timedelta(days=729), x),  # first day of the previous window
        (c[0], e - timedelta(days=364), x),  # first day of W
        (c[0], e, y),  # last day of W: 2 > 1
        (c[1], e - timedelta(days=730), x),  # the day before the previous window: not counted
        (c[1], e - timedelta(days=364), y),
        (c[2], e - timedelta(days=365), x),  # last day of the previous window
        (c[2], e - timedelta(days=365), y),
        (c[2], e - timedelta(days=364), z),  # 1 < 2
        (c[3], e - timedelta(days=400), None),  # no category: denominator only
        (c[3], e + DAY, x),  # after P.end
        (c[4], e - timedelta(days=500), x),
        (c[4], e - timedelta(days=10), y),
        (c[4], e - timedelta(days=9), z),  # other branch: 2 > 1
    ]
    sell(make, shop, lines)
    figures = trend(db.session, Scope.company(), [period], today=TODAY, tz=TZ)[0]
    assert figure(figures) == expected_rate(lines, set(c), e) == (2, 4)
    branch_a = trend(db.session, Scope.branch(shop.a.id), [period], today=TODAY, tz=TZ)[0]
    assert figure(branch_a) == expected_rate(lines, set(c[:4]), e) == (1, 3)


@pytest.mark.parametrize("kind", ["week", "month"])
def test_deepening_trends_equal_the_definition_on_random_sales(shop, make, kind):
    rng = random.Random(47)
    ids = [c.id for c in shop.customers]
    lines = random_lines(rng, ids, [c.id for c in shop.categories] + [None], 120)
    sell(make, shop, lines)
    periods = Period.of(kind, date(2026, 6, 30)).trailing(13 if kind == "week" else 30)
    series = trend_by(db.session, "branch", periods, keys=["deepening_rate"], today=TODAY, tz=TZ)
    for branch, members in ((shop.a.id, set(ids[:4])), (shop.b.id, set(ids[4:]))):
        for p, figures in zip(periods, series[branch], strict=True):
            assert figure(figures) == expected_rate(lines, members, p.end), (branch, p)


# ---- kept in step by every writer -------------------------------------------------------


SALES_HEADER = "売上日,顧客コード,カテゴリ,金額,粗利,伝票番号"


def test_import_and_a_corrected_reimport_keep_the_summary_in_step(shop, tmp_path):
    c0, c1 = shop.customers[0], shop.customers[1]
    x, y, z = (c.code for c in shop.categories)
    week = Period.parse("2026-W47")  # W = 2025-11-23 … 2026-11-22, previous from 2024-11-23

    def deepening() -> tuple[int, int]:
        return figure(trend(db.session, Scope.company(), [week], today=TODAY, tz=TZ)[0])

    first = [
        SALES_HEADER,
        f"2025/1/10,{c0.code},{x},1000,300,S-1",
        f"2025/12/1,{c0.code},{y},1000,300,S-2",
        f"2026/1/1,{c0.code},{x},1000,300,S-4",
        f"2025/1/10,{c1.code},{x},1000,,S-3",
    ]
    assert import_file(db.session, "sales", csv_file(tmp_path, "s1.csv", first)).written
    assert summary.differences(db.session) == 0
    assert deepening() == (1, 2)  # c0 grew (x, y > x); c1 bought nothing in W
    # The ERP corrects S-2 (another customer, another day) and S-3 (years earlier).
    second = [
        SALES_HEADER,
        f"2025/12/2,{c1.code},{y},1000,300,S-2",
        f"2023/1/10,{c1.code},{z},1000,,S-3",
    ]
    result = import_file(db.session, "sales", csv_file(tmp_path, "s2.csv", second))
    assert result.written and result.updated == 2
    assert summary.differences(db.session) == 0
    assert deepening() == (0, 1)  # c0: x then x; c1: nothing in the previous window
    lines = db.session.execute(
        select(SalesLine.customer_id, SalesLine.sold_on, SalesLine.category_id)
    ).all()
    assert deepening() == expected_rate(lines, {c0.id, c1.id}, week.end)


def test_edits_and_deletes_that_say_what_they_wrote_keep_the_summary_in_step(shop, make):
    """Each correction tells sales_lines_changed the customers and days it touched."""
    c0, c1 = shop.customers[0], shop.customers[1]
    x, y = shop.categories[0], shop.categories[1]
    week = Period.parse("2026-W47")
    make.sale(c0, date(2025, 1, 5), category=x)
    make.sale(c0, date(2026, 1, 5), category=x)
    moved = make.sale(c0, date(2026, 2, 1), category=y)
    make.sale(c1, date(2025, 1, 5), category=x)
    make.sale(c1, date(2026, 1, 5), category=x)

    def deepening() -> tuple[int, int]:
        return figure(trend(db.session, Scope.company(), [week], today=TODAY, tz=TZ)[0])

    def wrote(days_by_customer) -> None:
        db.session.flush()
        summary.sales_lines_changed(db.session, days_by_customer)

    assert deepening() == (1, 2)  # c0 grew
    moved.category = x  # a correction: c0 no longer grew
    wrote({c0.id: [date(2026, 2, 1)]})
    assert deepening() == (0, 2)
    moved.customer = c1  # moved to c1, as category y: c1 grew
    moved.category = y
    wrote({c0.id: [date(2026, 2, 1)], c1.id: [date(2026, 2, 1)]})
    assert deepening() == (1, 2)
    moved.sold_on = date(2024, 1, 1)  # too old to count anywhere
    wrote({c1.id: [date(2026, 2, 1), date(2024, 1, 1)]})
    assert deepening() == (0, 2)
    moved.sold_on = date(2026, 2, 1)
    wrote({c1.id: [date(2026, 2, 1), date(2024, 1, 1)]})
    assert deepening() == (1, 2)
    db.session.delete(moved)
    wrote({c1.id: [date(2026, 2, 1)]})
    assert deepening() == (0, 2)
    assert summary.differences(db.session) == 0
    assert dormancy.differences(db.session) == 0
    db.session.execute(delete(SalesLine).where(SalesLine.customer_id == c1.id))
    summary.sales_changed(db.session, [c1.id])  # a bulk delete says what it touched
    assert deepening() == (0, 1)
    assert summary.differences(db.session) == 0


@pytest.mark.parametrize("seed", range(4))
def test_lines_in_any_order_one_at_a_time_equal_a_rebuild(shop, make, seed):
    """Late lines dated before the latest, the first sale arriving last, moves and deletes."""
    rng = random.Random(seed)
    rep = shop.customers[0].rep
    customer = shop.customers[0]
    for k in range(8):  # visits, so the dormancy runs have something to keep
        at = f"2025-{1 + k:02d}-{10 + k}T10:00:00+09:00"
        make.visit(rep, customer, visited_at=at, next_action=None)
    lines = random_lines(rng, [customer.id], [c.id for c in shop.categories] + [None], 30)
    rng.shuffle(lines)  # out of order: most arrive after a later one
    made = []
    for _, day, category_id in lines:
        category = next((c for c in shop.categories if c.id == category_id), None)
        made.append(make.sale(customer, day, category=category))
        assert summary.differences(db.session) == 0
        assert dormancy.differences(db.session) == 0
    for line in rng.sample(made, 10):
        old = line.sold_on
        if rng.random() < 0.5:
            line.sold_on = old + timedelta(days=rng.randint(-400, 400))
            days = [old, line.sold_on]
        else:
            db.session.delete(line)
            days = [old]
        db.session.flush()
        summary.sales_lines_changed(db.session, {customer.id: days})
        assert summary.differences(db.session) == 0
        assert dormancy.differences(db.session) == 0


def test_a_write_that_tells_no_step_is_reported(shop, make):
    """The test suite's check: an ORM write without its step fails the test that made it
    (nothing repairs it behind the writer's back; rebuild-summary --check would find it)."""
    line = make.sale(shop.customers[0], date(2025, 6, 1), category=shop.categories[0])
    db.session.commit()
    line.sold_on = date(2024, 6, 1)
    lead_cache.rows_changed(db.session, [line])  # only the summaries' step is left out
    db.session.flush()
    assert summary.differences(db.session) != 0
    with pytest.warns(UntoldWriteWarning, match="sales lines of"):
        db.session.commit()
    assert summary.differences(db.session) != 0  # still stale: the writer's step was missing


def test_rebuild_equals_the_incremental_summary_and_is_idempotent(shop, make):
    rng = random.Random(3)
    ids = [c.id for c in shop.customers]
    sell(make, shop, random_lines(rng, ids, [c.id for c in shop.categories] + [None], 80))
    incremental = stored_runs()
    assert incremental
    assert summary.rebuild(db.session) == len(incremental)
    assert stored_runs() == incremental
    summary.rebuild(db.session)
    assert stored_runs() == incremental


def test_cli_rebuild_summary_checks_and_repairs(app, runner, shop, make):
    make.sale(shop.customers[0], date(2025, 6, 1), category=shop.categories[0])
    make.sale(shop.customers[0], date(2026, 6, 1), category=shop.categories[1])
    make.sale(shop.customers[1], date(2026, 6, 1), category=shop.categories[1])
    make.sale(shop.customers[1], date(2025, 7, 1), category=shop.categories[1])
    db.session.commit()
    runs = summary.count(db.session)
    assert runs >= 2
    assert runner.invoke(args=["kpi", "rebuild-summary", "--check"]).exit_code == 0
    db.session.execute(delete(DeepeningRun))  # a summary gone stale (e.g. a raw SQL edit)
    db.session.commit()
    stale = runner.invoke(args=["kpi", "rebuild-summary", "--check"])
    assert stale.exit_code == 1 and f"{runs} deepening runs differ" in stale.output
    result = runner.invoke(args=["kpi", "rebuild-summary"])
    assert result.exit_code == 0 and f"{runs} runs" in result.output
    assert runner.invoke(args=["kpi", "rebuild-summary", "--check"]).exit_code == 0
    assert runner.invoke(args=["kpi", "rebuild-summary"]).output == result.output


def test_demo_data_comes_with_its_summary(app):
    demo.build(db.session, today=TODAY, tz=TZ, weeks=2, customers=40)
    assert summary.count(db.session) > 0
    assert summary.differences(db.session) == 0
