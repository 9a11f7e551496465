"""The dormancy summary: dormant_rate as docs/kpi.md defines it, in step with every write."""

from __future__ import annotations

import random
import threading
import time as clock
from datetime import UTC, date, datetime, time, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import delete, select

from fieldlog import demo
from fieldlog.app.database import write_intent
from fieldlog.app.extensions import db
from fieldlog.io import import_file
from fieldlog.kpi import Scope, choices, dormancy, trend
from fieldlog.kpi.dormancy import kept_runs
from fieldlog.models import CompanySettings, Customer, DormancyRun, SalesLine, Visit
from fieldlog.rules.periods import Period
from fieldlog.services.visit_edits import update_visit
from tests.io_files import csv_file

from .conftest import NOW, TZ

TODAY = date(2026, 11, 23)
DAY = timedelta(days=1)
W47 = Period.parse("2026-W47")


def dormant_by_definition(
    visits: list[date], sales: list[date], end: date, visit_days: int = 60, sales_days: int = 90
) -> bool:
    """docs/kpi.md read literally, for one customer as of ``end``."""
    visited = any(end - (visit_days - 1) * DAY <= d <= end for d in visits)
    sold_before = any(d <= end for d in sales)
    sold_lately = any(end - (sales_days - 1) * DAY <= d <= end for d in sales)
    return not visited or (sold_before and not sold_lately)


def kept_on(runs: list[tuple[date, date]], day: date) -> bool:
    return any(a <= day <= b for a, b in runs)


# ---- the pure function -------------------------------------------------------------------

D = date(2026, 6, 1)


@pytest.mark.parametrize(
    ("visits", "sales", "runs"),
    [
        ([], [], []),  # never visited: dormant every day
        ([], [D], []),
        ([D], [], [(D, D + 59 * DAY)]),  # 60 days ending at E hold the visit
        ([D, D + 60 * DAY], [], [(D, D + 119 * DAY)]),  # the next day starts a new window
        ([D, D + 61 * DAY], [], [(D, D + 59 * DAY), (D + 61 * DAY, D + 120 * DAY)]),
        ([D], [D + 30 * DAY], [(D, D + 59 * DAY)]),  # first sale later: never lapsed here
        ([D], [D - 100 * DAY], []),  # sold, then nothing for 90 days: dormant despite the visit
        ([D], [D - 80 * DAY], [(D, D + 9 * DAY)]),  # the sale's 90 days run out 10 days in
        # Lapsed between the two sales' spells, kept again from the second sale on.
        (
            [D, D + 30 * DAY],
            [D - 80 * DAY, D + 20 * DAY],
            [(D, D + 9 * DAY), (D + 20 * DAY, D + 89 * DAY)],
        ),
    ],
)
def test_kept_runs_by_example(visits, sales, runs):
    assert kept_runs(visits, sales, 60, 90) == runs


@pytest.mark.parametrize("seed", range(8))
def test_kept_runs_equal_the_definition_on_every_day(seed):
    rng = random.Random(seed)
    first = date(2025, 1, 1)
    visits = [first + rng.randint(0, 500) * DAY for _ in range(rng.randint(0, 12))]
    sales = [first + rng.randint(0, 500) * DAY for _ in range(rng.randint(0, 8))]
    visit_days, sales_days = rng.choice([(60, 90), (1, 1), (30, 45), (90, 30)])
    runs = kept_runs(visits, sales, visit_days, sales_days)
    for a, b in pairwise(runs):
        assert a[1] + DAY < b[0]  # disjoint, not even adjacent: one run per spell
    for k in range(-100, 700):
        day = first + k * DAY
        expected = dormant_by_definition(visits, sales, day, visit_days, sales_days)
        assert kept_on(runs, day) is not expected, (day, visits, sales)
        # The one-day form the customer lists use, from the last visit and sale up to the day.
        last_visit = max((d for d in visits if d <= day), default=None)
        last_sale = max((d for d in sales if d <= day), default=None)
        one_day = dormancy.dormant_on(day, last_visit, last_sale, visit_days, sales_days)
        assert one_day is expected, (day, visits, sales)


# ---- the roll-up from the summary, against the definition ---------------------------------


@pytest.fixture
def history(make):
    """Two branches, three reps, twelve customers (two inactive), visits around midnight JST."""
    rng = random.Random(11)
    a, b = make.branch("A"), make.branch("B")
    ra1, ra2, rb = make.user("rep", a), make.user("rep", a), make.user("rep", b)
    reps = [ra1, ra2, rb]
    customers = [make.customer(rep=reps[i % 3]) for i in range(12)]
    visits: dict[int, list[date]] = {c.id: [] for c in customers}
    sales: dict[int, list[date]] = {c.id: [] for c in customers}
    start = TODAY - 330 * DAY
    for _ in range(90):
        customer = rng.choice(customers[:11])  # the last one is never visited
        day = start + rng.randint(0, 330) * DAY
        # 23:30 and 00:30 local: the local date decides, not the UTC one.
        at = datetime.combine(day, rng.choice([time(0, 30), time(10), time(23, 30)]), TZ)
        rep = customer.rep if rng.random() < 0.8 else rng.choice(reps)
        if rep.branch_id != customer.branch_id:
            rep = customer.rep
        make.visit(rep, customer, visited_at=at.isoformat(), next_action=None)
        visits[customer.id].append(day)
    for _ in range(40):
        customer = rng.choice(customers)
        day = start - 120 * DAY + rng.randint(0, 450) * DAY
        make.sale(customer, day)
        sales[customer.id].append(day)
    # A customer handed to another branch's rep: its history goes with it (customer-based).
    moved = customers[0]
    moved.rep, moved.branch = rb, b
    customers[4].active = customers[9].active = False  # "active" is the current flag
    db.session.commit()
    return type(
        "History", (), dict(a=a, b=b, reps=reps, customers=customers, visits=visits, sales=sales)
    )


def expected(history, scope: Scope, end: date, visit_days: int = 60, sales_days: int = 90):
    def in_scope(c: Customer) -> bool:
        if scope.kind == "branch":
            return c.branch_id == scope.id
        if scope.kind == "rep":
            return c.rep_id == scope.id
        return True

    mine = [c for c in history.customers if c.active and in_scope(c)]
    dormant = [
        c
        for c in mine
        if dormant_by_definition(
            history.visits[c.id], history.sales[c.id], end, visit_days, sales_days
        )
    ]
    return len(dormant), len(mine)


def figures(scope: Scope, periods: list[Period], tz: ZoneInfo = TZ) -> list[tuple]:
    series = trend(db.session, scope, periods, keys=["dormant_rate"], today=TODAY, tz=tz)
    return [(f["dormant_rate"].numerator, f["dormant_rate"].denominator) for f in series]


def scopes(history) -> list[Scope]:
    return [Scope.company(), Scope.branch(history.a.id), Scope.branch(history.b.id)] + [
        Scope.rep(r.id) for r in history.reps
    ]


def test_summary_is_in_step_after_the_real_write_paths(history):
    assert dormancy.usable(db.session, db.session.get(CompanySettings, 1), TZ)
    assert db.session.scalar(select(DormancyRun.customer_id).limit(1)) is not None
    assert dormancy.differences(db.session) == 0


def test_weekly_and_monthly_figures_equal_the_definition(history):
    weeks = W47.trailing(40)
    months = [Period.parse(f"2026-{m:02d}") for m in range(1, 12)]
    for scope in scopes(history):
        for periods in (weeks, months):
            assert figures(scope, periods) == [expected(history, scope, p.end) for p in periods]


def test_summary_and_events_agree(history, app):
    weeks = W47.trailing(20)
    from_summary = {scope: figures(scope, weeks) for scope in scopes(history)}
    db.session.execute(delete(dormancy.SummaryState))  # no summary: read the events
    assert not dormancy.usable(db.session, db.session.get(CompanySettings, 1), TZ)
    for scope, series in from_summary.items():
        assert figures(scope, weeks) == series


def test_another_timezone_reads_the_events(history):
    """Runs built for Tokyo do not answer for UTC: the local dates of visits differ."""
    utc = ZoneInfo("UTC")
    assert not dormancy.usable(db.session, db.session.get(CompanySettings, 1), utc)
    weeks = W47.trailing(8)
    shifted = {
        cid: [
            v.visited_at.astimezone(utc).date()
            for v in db.session.scalars(select(Visit).where(Visit.customer_id == cid))
        ]
        for cid in history.visits
    }
    as_utc = type("H", (), dict(vars(history)))
    as_utc.visits = shifted
    for scope in scopes(history):
        assert figures(scope, weeks, tz=utc) == [expected(as_utc, scope, p.end) for p in weeks]


def test_new_thresholds_rebuild_the_summary(history):
    choices.set_dormancy(db.session, "30", "45")
    db.session.commit()
    settings = db.session.get(CompanySettings, 1)
    assert dormancy.built_with(db.session) == {"visit_days": 30, "sales_days": 45, "tz": TZ.key}
    assert dormancy.usable(db.session, settings, TZ)
    assert dormancy.differences(db.session) == 0
    weeks = W47.trailing(12)
    for scope in scopes(history):
        assert figures(scope, weeks) == [expected(history, scope, p.end, 30, 45) for p in weeks]


# ---- kept in step by every writer ---------------------------------------------------------


def test_moving_a_visit_in_time_moves_the_runs(app, make):
    rep = make.user("rep")
    customer = make.customer(rep=rep)
    visit = make.visit(rep, customer, visited_at="2026-11-20T10:00:00+09:00", next_action=None)
    db.session.commit()
    before = dormancy.differences(db.session), figures(Scope.company(), [W47])
    assert before == (0, [(0, 1)])
    update_visit(
        db.session, rep, visit, {"visited_at": "2026-09-01T10:00:00+09:00"}, now=NOW, tz=TZ
    )
    db.session.commit()
    assert dormancy.differences(db.session) == 0
    assert figures(Scope.company(), [W47]) == [(1, 1)]  # 83 days ago: dormant now


def test_a_visit_that_extends_its_customers_run_rewrites_that_row_alone(app, make):
    """The usual visit: the customer's run grows by the days since the last visit. The run is
    updated in place (one statement), not deleted and inserted back."""
    from sqlalchemy import event

    rep = make.user("rep")
    customer = make.customer(rep=rep)
    make.visit(rep, customer, visited_at="2026-11-20T10:00:00+09:00", next_action=None)
    db.session.commit()
    writes: list[str] = []

    def seen(_conn, _cursor, statement, *_args) -> None:
        if "dormancy_run" in statement and not statement.lstrip().startswith("SELECT"):
            writes.append(statement.split()[0])

    event.listen(db.engine, "before_cursor_execute", seen)
    try:
        make.visit(rep, customer, visited_at="2026-11-24T10:00:00+09:00", next_action=None)
        db.session.commit()
    finally:
        event.remove(db.engine, "before_cursor_execute", seen)
    assert writes == ["UPDATE"]
    assert dormancy.differences(db.session) == 0
    assert [(r.starts_on, r.ends_on) for r in db.session.scalars(select(DormancyRun))] == [
        (date(2026, 11, 20), date(2026, 11, 24) + timedelta(days=59))
    ]


@pytest.mark.parametrize("seed", range(4))
def test_visits_and_sales_in_any_order_keep_the_runs_exact(app, make, seed):
    """Late visits dated before the latest, moves back and forth, sales before and after.

    After every single write the stored runs equal a fresh computation from all events.
    """
    rng = random.Random(seed)
    rep = make.user("rep")
    customer = make.customer(rep=rep)
    first = TODAY - 400 * DAY
    visits = []
    for _ in range(25):
        day = first + rng.randint(0, 400) * DAY  # in random order: most are late entries
        if rng.random() < 0.3:
            make.sale(customer, first + rng.randint(-120, 400) * DAY)
        else:
            at = datetime.combine(day, rng.choice([time(0, 30), time(23, 30)]), TZ)
            visits.append(make.visit(rep, customer, visited_at=at.isoformat(), next_action=None))
        assert dormancy.differences(db.session) == 0
    rng.shuffle(visits)
    for visit in visits[:8]:  # corrections within the edit window
        at = visit.visited_at + rng.randint(-90, 0) * DAY
        update_visit(db.session, rep, visit, {"visited_at": at.isoformat()}, now=NOW, tz=TZ)
        assert dormancy.differences(db.session) == 0
    gone = visits[-1]  # one without revisions
    db.session.delete(gone)
    db.session.flush()
    dormancy.visits_changed(db.session, customer.id, [gone.visited_at])
    assert dormancy.differences(db.session) == 0


def test_a_move_keeps_the_last_day_an_earlier_visit_reaches(app, make):
    """The window recomputed after a move starts on the day a visit 59 days before still keeps."""
    rep = make.user("rep")
    customer = make.customer(rep=rep)
    make.visit(rep, customer, visited_at="2026-06-01T10:00:00+09:00", next_action=None)
    later = make.visit(rep, customer, visited_at="2026-07-30T10:00:00+09:00", next_action=None)
    moved = "2026-08-10T10:00:00+09:00"  # 59, then 70 days after the first
    update_visit(db.session, rep, later, {"visited_at": moved}, now=NOW, tz=TZ)
    runs = db.session.execute(
        select(DormancyRun.starts_on, DormancyRun.ends_on).order_by(DormancyRun.starts_on)
    )
    assert [tuple(r) for r in runs] == [
        (date(2026, 6, 1), date(2026, 7, 30)),
        (date(2026, 8, 10), date(2026, 10, 8)),
    ]


def test_a_first_sale_arriving_late_ends_the_kept_days_after_it(app, make):
    """Before its first sale a customer is not lapsed: an older first sale changes months."""
    rep = make.user("rep")
    customer = make.customer(rep=rep)
    for day in ("2026-06-01", "2026-07-20", "2026-09-05", "2026-10-25"):
        make.visit(rep, customer, visited_at=f"{day}T10:00:00+09:00", next_action=None)
    assert figures(Scope.company(), [W47]) == [(0, 1)]
    make.sale(customer, date(2026, 5, 1))  # the first sale, entered last
    assert dormancy.differences(db.session) == 0
    assert figures(Scope.company(), [W47]) == [(1, 1)]  # nothing sold for 90 days since


def test_sales_import_keeps_the_runs_in_step(app, make, tmp_path):
    rep = make.user("rep")
    customer = make.customer(rep=rep, code="C-9")
    make.visit(rep, customer, visited_at="2026-11-20T10:00:00+09:00", next_action=None)
    category = make.category(code="K1")
    db.session.commit()
    assert figures(Scope.company(), [W47]) == [(0, 1)]
    lines = [
        "sold_on,customer,category,amount,gross_profit",
        f"2026-05-01,C-9,{category.code},1000,",
    ]
    assert import_file(db.session, "sales", csv_file(tmp_path, "sales.csv", lines)).written
    db.session.commit()
    assert dormancy.differences(db.session) == 0
    assert figures(Scope.company(), [W47]) == [(1, 1)]  # sold in May, nothing since: dormant


def test_a_bulk_delete_says_what_it_touched(app, make):
    rep = make.user("rep")
    customer = make.customer(rep=rep)
    make.visit(rep, customer, visited_at="2026-11-20T10:00:00+09:00", next_action=None)
    make.sale(customer, date(2026, 5, 1))
    db.session.commit()
    assert figures(Scope.company(), [W47]) == [(1, 1)]
    db.session.execute(delete(SalesLine).where(SalesLine.customer_id == customer.id))
    dormancy.customers_changed(db.session, [customer.id])
    assert dormancy.differences(db.session) == 0
    assert figures(Scope.company(), [W47]) == [(0, 1)]


def test_demo_data_comes_with_its_summary(app):
    demo.build(db.session, today=TODAY, tz=TZ, weeks=2, customers=40)
    assert dormancy.usable(db.session, db.session.get(CompanySettings, 1), TZ)
    assert db.session.scalar(select(DormancyRun.customer_id).limit(1)) is not None
    assert dormancy.differences(db.session) == 0


def test_an_existing_history_is_not_claimed_in_step(app, make):
    """A database with visits but no summary reads the events until it is rebuilt."""
    rep = make.user("rep")
    at = "2026-11-20T10:00:00+09:00"
    make.visit(rep, make.customer(rep=rep), visited_at=at, next_action=None)
    db.session.execute(delete(dormancy.SummaryState))
    db.session.execute(delete(DormancyRun))
    settings = db.session.get(CompanySettings, 1)
    assert dormancy.start_if_empty(db.session, settings, TZ) is False
    assert dormancy.built_with(db.session) is None
    assert figures(Scope.company(), [W47]) == [(0, 1)]  # from the events


def test_cli_rebuild_summary_checks_and_repairs_dormancy(app, runner, make):
    rep = make.user("rep")
    make.visit(rep, make.customer(rep=rep), next_action=None)
    db.session.commit()
    assert runner.invoke(args=["kpi", "rebuild-summary", "--check"]).exit_code == 0
    db.session.execute(delete(DormancyRun))  # gone stale, e.g. a raw SQL edit
    db.session.commit()
    stale = runner.invoke(args=["kpi", "rebuild-summary", "--check"])
    assert stale.exit_code == 1 and "1 dormancy runs differ" in stale.output
    result = runner.invoke(args=["kpi", "rebuild-summary"])
    assert result.exit_code == 0 and "dormancy summary (Asia/Tokyo): 1 runs" in result.output
    assert runner.invoke(args=["kpi", "rebuild-summary", "--check"]).exit_code == 0
    db.session.execute(delete(dormancy.SummaryState))
    db.session.commit()
    unknown = runner.invoke(args=["kpi", "rebuild-summary", "--check"])
    assert unknown.exit_code == 1 and "other settings (or not at all)" in unknown.output


def test_concurrent_visits_to_one_customer_leave_one_set_of_runs(app, make):
    """The second of two transactions with visits to one customer waits, then sees both.

    A writes its visit and its runs but has not committed when B writes; without the lock B
    would compute the runs from its own visit alone and both sets would be stored.
    """
    first = make.user("rep")
    second = make.user("rep", first.branch)
    customer = make.customer(rep=first)
    db.session.commit()
    people = {0: (first.id, "2026-11-01"), 1: (second.id, "2026-11-20")}  # runs that merge
    customer_id = customer.id
    a_flushed = threading.Event()
    errors: list[BaseException] = []

    def record(i: int) -> None:
        from fieldlog.models import User
        from fieldlog.services.visits import record_visit

        from .conftest import visit_payload

        with app.app_context():
            try:
                user_id, day = people[i]
                if i == 1:
                    assert a_flushed.wait(10)
                with write_intent():  # what a request does (BEGIN IMMEDIATE on SQLite)
                    user = db.session.get(User, user_id)
                    target = db.session.get(Customer, customer_id)
                    payload = visit_payload(
                        target, visited_at=f"{day}T10:00:00+09:00", next_action=None
                    )
                    record_visit(db.session, user, payload, tz=TZ, now=NOW)
                    db.session.flush()
                    if i == 0:
                        a_flushed.set()
                        clock.sleep(0.5)  # B writes meanwhile (PostgreSQL) or waits (SQLite)
                    db.session.commit()
            except BaseException as error:  # reported below, in the test's thread
                errors.append(error)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=record, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert not errors, errors
    db.session.rollback()
    assert db.session.query(Visit).filter_by(customer_id=customer_id).count() == 2
    assert dormancy.differences(db.session) == 0
    runs = db.session.execute(select(DormancyRun.starts_on, DormancyRun.ends_on))
    assert [tuple(r) for r in runs] == [(date(2026, 11, 1), date(2027, 1, 18))]


def test_visited_at_stays_utc_in_runs(app, make):
    """A visit at 00:30 JST on Monday starts its run on Monday (the UTC date is Sunday)."""
    rep = make.user("rep")
    customer = make.customer(rep=rep)
    make.visit(rep, customer, visited_at="2026-11-23T00:30:00+09:00", next_action=None)
    db.session.commit()
    at = db.session.scalar(select(Visit.visited_at))
    assert at.astimezone(UTC).date() == date(2026, 11, 22)
    assert db.session.scalar(select(DormancyRun.starts_on)) == date(2026, 11, 23)
    assert dormancy.built_with(db.session)["tz"] == "Asia/Tokyo"
