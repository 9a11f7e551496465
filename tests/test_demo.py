"""flask demo-data: the demo company, its patterns, and the --if-empty / --reset switches."""

from __future__ import annotations

import re
from collections import defaultdict
from datetime import date, timedelta

from sqlalchemy import func, select

from fieldlog import demo
from fieldlog.app.extensions import db
from fieldlog.demo import budgets as demo_budgets
from fieldlog.models import (
    Branch,
    Category,
    Customer,
    FollowUp,
    Hypothesis,
    KpiTarget,
    Proposal,
    Purpose,
    Review,
    SalesBudget,
    SalesLine,
    User,
    Visit,
)
from fieldlog.rules.periods import Period
from fieldlog.services.defaults import company_settings

from .conftest import TZ

TODAY = date(2026, 11, 23)  # the conftest clock's local date (a Monday)
KATAKANA = re.compile(r"^[ァ-ヶー]+$")


def _count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def _run(runner, *args: str):
    result = runner.invoke(args=["demo-data", "--today", TODAY.isoformat(), *args])
    assert result.exit_code == 0, result.output
    return result


def _rate(visits: list[Visit]) -> float:
    return sum(v.purposeful for v in visits) / len(visits)


def test_demo_data_builds_a_believable_company_with_visible_patterns(runner, client, auth):
    result = _run(runner)
    db.session.expire_all()

    # Structure.
    assert _count(Branch) == 3 and _count(Category) == 8 and _count(Customer) == 600
    users = db.session.scalars(select(User)).all()
    roles = defaultdict(list)
    for user in users:
        roles[user.role].append(user)
    assert len(roles["owner"]) == 1 and roles["owner"][0].branch_id is None
    assert 13 <= len(roles["rep"]) <= 17
    per_branch = defaultdict(int)
    for manager in roles["manager"]:
        per_branch[manager.branch_id] += 1
    assert sorted(per_branch) == sorted(b.id for b in db.session.scalars(select(Branch)))
    assert all(1 <= n <= 2 for n in per_branch.values())
    customers = db.session.scalars(select(Customer)).all()
    reps = {u.id: u for u in users}
    assert all(reps[c.rep_id].branch_id == c.branch_id for c in customers)
    assert all(KATAKANA.match(c.name_kana) for c in customers), "readings are katakana"
    assert any("株式会社" in c.name or "㈱" in c.name for c in customers)
    assert any("有限会社" in c.name or "㈲" in c.name for c in customers)
    assert all(c.search_text for c in customers)
    # Addresses in the branch's prefecture: the customer page shows its map link in the demo.
    prefectures = {"TKY": "東京都", "OSK": "大阪府", "NGY": "愛知県"}
    prefecture = {b.id: prefectures[b.code] for b in db.session.scalars(select(Branch))}
    assert all(c.address.startswith(prefecture[c.branch_id]) for c in customers)
    ranks = defaultdict(int)
    for c in customers:
        ranks[c.rank] += 1
    assert (ranks["A"], ranks["B"], ranks["C"]) == (120, 300, 180)
    assert company_settings(db.session).company_name

    # Visits: local working hours Monday–Saturday, before today, one client_id each.
    visits = db.session.scalars(select(Visit)).all()
    assert len(visits) > 3000
    assert len({v.client_id for v in visits}) == len(visits)
    purposes = {p.id: p for p in db.session.scalars(select(Purpose))}
    for visit in visits:
        local = visit.visited_at.astimezone(TZ)
        assert 9 <= local.hour < 18 and local.weekday() < 6 and local.date() < TODAY
        assert visit.purposeful == purposes[visit.purpose_id].purposeful
        assert reps[visit.rep_id].branch_id == visit.branch_id

    # The order-taking rep: the most visits, and a purposeful rate far below every other rep.
    by_rep = defaultdict(list)
    for visit in visits:
        if reps[visit.rep_id].role == "rep":
            by_rep[visit.rep_id].append(visit)
    order_taker = db.session.scalar(select(User).where(User.email == result_login(result, 2)))
    others = [_rate(v) for rep_id, v in by_rep.items() if rep_id != order_taker.id]
    assert _rate(by_rep[order_taker.id]) < min(others) - 0.2
    assert len(by_rep[order_taker.id]) > 1.8 * max(
        len(v) for r, v in by_rep.items() if r != order_taker.id
    )

    # The rising branch: more proposals in the last 8 weeks than in the first 8.
    start = TODAY - timedelta(days=TODAY.weekday(), weeks=51)  # the demo's 52 weeks
    proposals = db.session.scalars(select(Proposal)).all()
    nagoya = db.session.scalar(select(Branch).where(Branch.code == "NGY"))
    first = [
        p
        for p in proposals
        if p.branch_id == nagoya.id and p.proposed_on < start + timedelta(weeks=8)
    ]
    last = [
        p
        for p in proposals
        if p.branch_id == nagoya.id and p.proposed_on >= start + timedelta(weeks=44)
    ]
    assert len(last) > 1.4 * len(first)

    # Proposal kinds obey the derivation of docs/domain.md from the sales lines before them.
    bought = defaultdict(list)
    for customer_id, category_id, sold_on in db.session.execute(
        select(SalesLine.customer_id, SalesLine.category_id, SalesLine.sold_on)
    ):
        bought[customer_id, category_id].append(sold_on)
    kinds = defaultdict(int)
    for p in proposals:
        window = [
            d
            for d in bought[p.customer_id, p.category_id]
            if p.proposed_on - timedelta(days=365) <= d < p.proposed_on
        ]
        assert p.kind == ("upsell" if window else "cross_sell"), p
        kinds[p.kind] += 1
        assert p.closed_on is None or p.proposed_on <= p.closed_on <= TODAY
        assert (p.status == "open") == (p.closed_on is None)
    assert kinds["upsell"] > 50 and kinds["cross_sell"] > 50
    assert {p.status for p in proposals} == {"open", "won", "lost"}

    # Follow-ups: on time, late, still open past their date, cancelled.
    follow_ups = db.session.scalars(select(FollowUp)).all()
    states = defaultdict(int)
    for f in follow_ups:
        if f.cancelled:
            states["cancelled"] += 1
        elif f.done_on is None:
            states["overdue" if f.due_on < TODAY else "open"] += 1
        else:
            states["on_time" if f.done_on <= f.due_on else "late"] += 1
    assert all(states[s] > 5 for s in ("cancelled", "overdue", "open", "on_time", "late")), states

    # Dormant customers (no visit in 60 days) and customers overdue for their cycle today.
    settings = company_settings(db.session)
    last_visit: dict[int, date] = {}
    for visit in visits:
        day = visit.visited_at.astimezone(TZ).date()
        last_visit[visit.customer_id] = max(day, last_visit.get(visit.customer_id, day))
    booked = {
        f.customer_id
        for f in follow_ups
        if not f.cancelled and f.done_on is None and f.due_on >= TODAY
    }
    active = [c for c in customers if c.active]
    dormant = [c for c in active if c.id not in last_visit or (TODAY - last_visit[c.id]).days > 60]
    overdue = [
        c
        for c in active
        if c.id not in booked
        and (
            c.id not in last_visit
            or (TODAY - last_visit[c.id]).days > (c.visit_cycle_days or settings.cycle_days(c.rank))
        )
    ]
    assert 3 <= len(dormant) <= 60
    assert 10 <= len(overdue) <= 250

    # Sales go back far enough for upsell and deepening; management rows exist.
    oldest = db.session.scalar(select(func.min(SalesLine.sold_on)))
    assert oldest <= TODAY - timedelta(days=365 + 26 * 7)
    assert _count(KpiTarget) >= 3 and _count(Review) >= 3
    hypothesis = db.session.scalars(
        select(Hypothesis).where(Hypothesis.statement.contains("追加提案"))
    ).one()
    assert hypothesis.status == "testing" and hypothesis.started_on == TODAY - timedelta(weeks=8)

    # The printed logins work with the shared password.
    assert demo.DEMO_PASSWORD in result.output
    response = auth.login(result_login(result, 0), demo.DEMO_PASSWORD)
    assert response.status_code == 302


def _achievement(actual: dict, budget: dict, kind: str, ident: int, month: date) -> float:
    return actual[kind, ident, month] / budget[kind, ident, month]


def test_demo_budgets_follow_the_trend_so_recent_months_land_near_them(runner):
    """Budgets planned per rep and month from the sales known then (docs/kgi.md): the sales climb
    all year, yet the latest months land near the budget, some reps short and some ahead."""
    _run(runner)
    this_month = Period.month_of(TODAY)
    months = [this_month.shift(k).start for k in range(-12, 3)]
    reps = {u.id: u.branch_id for u in db.session.scalars(select(User).where(User.role == "rep"))}
    budget: dict[tuple, int] = {}
    for row in db.session.scalars(select(SalesBudget)):
        assert row.amount > 0 and row.amount % 100_000 == 0, row
        if row.rep_id is None:
            budget["branch", row.branch_id, row.month] = row.amount
        else:
            budget["rep", row.rep_id, row.month] = row.amount
    assert sorted({k[2] for k in budget}) == months  # a year back, then two months ahead
    branches = set(reps.values())
    for month in months:
        assert all(("rep", r, month) in budget for r in reps)
        for b in branches:  # the branch's budget is never below the sum of its reps'
            reps_sum = sum(budget["rep", r, month] for r, rb in reps.items() if rb == b)
            assert budget["branch", b, month] >= reps_sum

    actual: dict[tuple, float] = defaultdict(float)
    for branch_id, rep_id, sold_on, amount in db.session.execute(
        select(Customer.branch_id, Customer.rep_id, SalesLine.sold_on, SalesLine.amount).join(
            Customer, Customer.id == SalesLine.customer_id
        )
    ):
        month = sold_on.replace(day=1)
        actual["branch", branch_id, month] += amount
        actual["rep", rep_id, month] += amount
    # The latest closed month: every branch within 15 % of its budget.
    last_closed = this_month.shift(-1).start
    for b in branches:
        assert 0.85 <= _achievement(actual, budget, "branch", b, last_closed) <= 1.15
    # The month so far against the budget's share of the days elapsed, company-wide.
    elapsed = (TODAY - this_month.start).days / ((this_month.end - this_month.start).days + 1)
    company = sum(actual["branch", b, this_month.start] for b in branches) / sum(
        budget["branch", b, this_month.start] * elapsed for b in branches
    )
    assert 0.85 <= company <= 1.15
    # A believable spread: over the last 3 closed months some reps fell short, some beat it.
    recent = [
        _achievement(actual, budget, "rep", r, this_month.shift(k).start)
        for r in reps
        for k in (-3, -2, -1)
    ]
    assert sum(a < 1 for a in recent) >= len(recent) // 5
    assert sum(a > 1 for a in recent) >= len(recent) // 5


def test_a_demo_budget_is_last_years_month_grown_as_the_recent_months_grew():
    """前年同月 × 直近3か月の前年比 × the uplift, rounded to ¥100,000; the trailing mean without
    the history for it; nothing without any known month."""
    m = [date(2025, n, 1) for n in range(1, 13)] + [date(2026, n, 1) for n in range(1, 13)]
    sales = {month: 10_000_000.0 for month in m[:12]}  # a flat year,
    sales[date(2025, 12, 1)] = 15_000_000.0  # with a December peak,
    sales.update({month: 12_000_000.0 for month in m[12:15]})  # then 20 % up
    uplift = demo_budgets.UPLIFT
    december = demo_budgets.plan(sales, date(2026, 12, 1), date(2026, 4, 1))
    assert december == round(15_000_000 * 1.2 * uplift, -5)
    # Without last year's months: the mean of the last 3 known months.
    assert demo_budgets.plan(sales, date(2025, 4, 1), date(2025, 4, 1)) == round(
        10_000_000 * uplift, -5
    )
    assert demo_budgets.plan(sales, date(2024, 12, 1), date(2024, 12, 1)) is None


def result_login(result, index: int) -> str:
    """The email on the index-th login row of the command's table."""
    emails = re.findall(r"[\w.]+@[\w.]+", result.output)
    return emails[index]


def _fingerprint() -> tuple:
    visits = db.session.execute(
        select(Visit.client_id, Visit.visited_at, Visit.purposeful).order_by(Visit.id)
    ).all()
    customers = db.session.execute(
        select(Customer.code, Customer.name, Customer.rank).order_by(Customer.id)
    ).all()
    return visits, customers, _count(SalesLine), _count(Proposal)


def test_if_empty_does_nothing_the_second_time_and_reset_rebuilds_the_same_company(runner):
    _run(runner, "--weeks", "2", "--seed", "7")
    first = _fingerprint()
    again = _run(runner, "--weeks", "2", "--if-empty")
    assert "nothing to do" in again.output
    assert _fingerprint() == first

    refused = runner.invoke(args=["demo-data", "--weeks", "2"])
    assert refused.exit_code != 0 and "--reset" in refused.output

    _run(runner, "--weeks", "2", "--seed", "7", "--reset")
    db.session.expire_all()
    assert _fingerprint() == first, "the same seed and day give the same company"
    assert _count(Branch) == 3 and _count(Purpose) == 6

    _run(runner, "--weeks", "2", "--seed", "8", "--reset")
    assert _fingerprint()[0] != first[0]


def test_history_ends_yesterday_in_the_company_timezone_by_default(runner):
    result = runner.invoke(args=["demo-data", "--weeks", "2"])
    assert result.exit_code == 0, result.output
    days = {v.astimezone(TZ).date() for v in db.session.scalars(select(Visit.visited_at))}
    # NOW is a Monday: the last working day before it is Saturday (no visits on Sundays).
    assert min(days) >= TODAY - timedelta(weeks=1) and max(days) == TODAY - timedelta(days=2)


def test_a_command_run_before_the_migrations_says_to_run_them(tmp_path):
    from fieldlog import create_app

    from .conftest import _config

    app = create_app(_config(f"sqlite:///{tmp_path / 'empty.db'}"))
    with app.app_context():
        result = app.test_cli_runner().invoke(args=["demo-data", "--if-empty"])
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    assert "db upgrade" in result.output and "no such table" in result.output
