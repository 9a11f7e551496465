"""Value, target and last year: `kpi show --json` on a hand-computed fixture, the last-year rule."""

from __future__ import annotations

import json
import re
from datetime import date, timedelta

import pytest

from fieldlog.app.extensions import db
from fieldlog.kpi import KPI_KEYS, Scope
from fieldlog.kpi.budgets import set_budget
from fieldlog.kpi.targets import set_target
from fieldlog.rules.periods import Period
from tests.conftest import csrf_from


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


def test_last_year_is_read_as_defined_before_the_visit_record_began(runner, make):
    branch = make.branch("NGY", "名古屋")
    rep = make.user("rep", branch, email="new@example.jp")
    customer = make.customer(branch, rep)
    make.sale(customer, date(2025, 11, 18), 40_000)  # sales history from the old system
    make.sale(customer, date(2026, 11, 18), 50_000)
    make.visit(rep, customer, visited_at="2026-11-18T10:00:00+09:00")  # the first visit stored
    db.session.commit()
    kpis = _show(runner, "2026-W47", "branch:NGY")["kpis"]
    assert kpis["sales_amount"]["last_year"] == 40_000
    # The same KPI a year earlier (docs/contract.md), also before the first stored visit: no
    # visits and no open proposals then, and the one active customer was dormant (sales, none
    # in the 90 days before, no visit in 60). A rate with nothing to count has no last year.
    assert kpis["visit_count"]["last_year"] == 0
    assert kpis["pipeline_count"]["last_year"] == 0
    assert kpis["dormant_rate"]["last_year"] == 1.0
    assert "last_year" not in kpis["hearing_rate"]


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


# ---- 予実: month to date ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("as_of", "actual", "budget", "elapsed", "last_year"),
    [
        # Up to Sunday 22 November: the 16th and the 22nd; last year the 16th and the 17th.
        ("2026-11-22", 150_000, 30_000_000, 22 / 30, 87_000),
        # The month's last day takes in the 23rd too.
        ("2026-11-30", 1_149_000, 30_000_000, 1.0, 87_000),
        # A new month starts from nothing, without a budget; last year's 1 December counts.
        ("2026-12-01", 0, None, 1 / 31, 1_000),
        ("2026-11-15", 0, 30_000_000, 15 / 30, 0),
    ],
)
def test_month_to_date(shop, as_of, actual, budget, elapsed, last_year):
    from zoneinfo import ZoneInfo

    from fieldlog.kpi.kgi import month_to_date

    m = month_to_date(
        db.session,
        Scope.branch(shop.branch_id),
        date.fromisoformat(as_of),
        today=date(2026, 12, 6),
        tz=ZoneInfo("Asia/Tokyo"),
        forecast_weeks=0,
    )
    assert (m.actual, m.budget, m.last_year) == (actual, budget, last_year)
    assert m.elapsed == pytest.approx(elapsed)
    assert m.progress == (actual / budget if budget else None)
    assert m.yoy == (actual / last_year if last_year else None)
    assert m.landing is None and m.forecast is None


def test_a_rep_who_moves_keeps_their_budget_and_the_old_branch_its_row(shop, make):
    nov = date(2026, 11, 1)
    set_budget(db.session, None, nov, shop.branch_id, shop.id, 5_000)
    shop.branch = make.branch("NGY")
    db.session.flush()
    november = Period.parse("2026-11")
    from fieldlog.kpi.budgets import budget_for

    assert budget_for(db.session, Scope.rep(shop.id), november) == 5_000
    # TKY has its own row (30,000,000), which wins over its reps' rows.
    assert budget_for(db.session, Scope.branch(shop.branch_id), november) is None


def test_week_53_compares_with_week_52(runner, shop, make):
    customer = make.customer(shop.branch, shop)
    make.sale(customer, date(2025, 12, 24), 4_000)  # 2025-W52
    make.sale(customer, date(2026, 12, 29), 6_000)  # 2026-W53
    db.session.commit()
    sales = _show(runner, "2026-W53", "branch:TKY")["kpis"]["sales_amount"]
    assert (sales["value"], sales["last_year"]) == (6_000, 4_000)


def test_pages_show_budget_last_year_and_landing(shop, make, client, auth):
    owner = make.user("owner", email="boss@example.jp")
    auth.login(owner)
    html = client.get("/summary?week=2026-W47").get_data(as_text=True)
    assert "予実" in html and "月間予算" in html and "¥30,000,000" in html
    assert "前年同期" in html and "¥87,000" in html
    assert "2026年11月の着地見込み" in html and 'class="forecast-chart"' in html
    # The method is told in the reader's language (the CLI's JSON keeps the exact string).
    assert "いくつかの単純な予測" in html and "blend of simple forecasts" not in html
    branch = client.get("/branches/TKY?week=2026-W47").get_data(as_text=True)
    assert "担当者別の売上" in branch and "¥150,000" in branch
    # On a phone the table's rows become cards labelled by their cells: the week stays said.
    assert '<td data-label="売上(2026-W47)">¥150,000</td>' in branch
    token = csrf_from(html)
    client.post("/locale", data={"csrf_token": token, "lang": "en", "next": "/summary"})
    english = client.get("/summary?week=2026-W47").get_data(as_text=True)
    assert "Budget vs actual" in english and "Monthly budget" in english
    assert "Same period last year" in english and "Landing estimate" in english


def test_each_branch_row_of_the_summary_has_its_own_budget_as_sales_target(shop):
    from zoneinfo import ZoneInfo

    from fieldlog.reports import data

    report = data.company_report(
        db.session, Period.parse("2026-W47"), today=date(2026, 11, 30), tz=ZoneInfo("Asia/Tokyo")
    )
    sales = {b.code: b.figures["sales_amount"] for b in report.branches}
    # Tokyo's November budget, 7 days of 30; Osaka has no budget and no sales target.
    assert (sales["TKY"].target, sales["TKY"].achievement) == (7_000_000, "behind")
    assert sales["OSK"].target is None


def test_a_short_history_gets_a_message_not_a_chart(make, client, auth):
    branch = make.branch("NEW")
    customer = make.customer(branch)
    make.sale(customer, date(2026, 11, 10), 10_000)
    auth.login(make.user("owner", email="boss@example.jp"))
    html = client.get("/branches/NEW?week=2026-W47").get_data(as_text=True)
    assert "8週間分以上が必要です" in html
    assert 'class="forecast-chart"' not in html


def test_weekly_pdf_reads_like_a_yojitsu_report(app, tmp_path):
    from dataclasses import replace

    from fieldlog.kpi.kgi import ForecastWeek, MonthToDate, RepKgi
    from fieldlog.present import pdf
    from tests.report_samples import branch_report
    from tests.test_reports_pdf import pdftotext

    month = MonthToDate(
        month=Period.parse("2026-11"),
        as_of=date(2026, 11, 22),
        actual=68_191_500,
        budget=67_900_000,
        progress=68_191_500 / 67_900_000,
        elapsed=22 / 30,
        last_year=43_395_800,
        yoy=68_191_500 / 43_395_800,
        gross_margin=0.247,
        landing=93_968_792,
        landing_interval=(90_596_637, 95_426_392),
        forecast=[
            ForecastWeek(f"2026-W{48 + k}", 22_000_000, (20_000_000, 24_000_000)) for k in range(8)
        ],
        history=[(f"2026-W{35 + k}", 20_000_000 + 100_000 * k) for k in range(13)],
        forecast_note="WLS",
    )
    rep = RepKgi(1, 8_177_400, 0.249, 22_168_500, 19_600_000, 1.131, 12_148_500, 1.825)
    report = replace(branch_report(), month=month, rep_kgi=[("加藤 俊介", rep)])
    text = pdftotext(pdf.render_pdf(report), tmp_path)
    for snippet in (
        "予実（2026年11月・11月22日まで）",
        "月初来実績",
        "¥68,191,500",
        "¥67,900,000",
        "100.4%",  # 進捗率
        "73.3%",  # 経過率
        "¥43,395,800",
        "157.1%",  # 前年比
        "着地見込み",
        "¥93,968,792",
        "80% 区間",
        "加藤 俊介",
        "¥8,177,400",
        "113.1%",
    ):
        assert snippet in text, snippet


def test_the_sales_tile_reads_value_budget_and_last_year(shop, tmp_path):
    """The KGI tile of the weekly PDF reads as a KPI target does: value, target, last year."""
    from zoneinfo import ZoneInfo

    from fieldlog.models import Branch
    from fieldlog.present import pdf
    from fieldlog.reports import data
    from tests.test_reports_pdf import pdftotext

    tokyo = db.session.get(Branch, shop.branch_id)
    report = data.branch_report(
        db.session,
        tokyo,
        Period.parse("2026-W47"),
        today=date(2026, 11, 30),
        tz=ZoneInfo("Asia/Tokyo"),
    )
    sales = report.kgi[0]
    # 100,000 + 50,000 this week; 7 days of the 30,000,000 budget; 2025-W47 had 80,000.
    assert (sales.value, sales.target, sales.last_year) == (150_000, 7_000_000, 80_000)
    text = pdftotext(pdf.render_pdf(report), tmp_path)
    tiles = text[text.index("KGI") : text.index("予実（")]  # three tiles side by side
    assert "¥150,000" in tiles and "目標" in tiles and "¥7,000,000 × 未達" in tiles
    assert "前年同週 ¥80,000（前年比 187.5%）" in tiles


def test_a_past_weeks_pdf_reads_as_at_that_weeks_end(make, tmp_path):
    """The report of 2026-W47 made on 6 December: follow-up ages to Sunday 22 November, a
    follow-up done later still overdue then, the forecast blind to sales after the week."""
    from zoneinfo import ZoneInfo

    from fieldlog.models import FollowUp
    from fieldlog.present import pdf
    from fieldlog.reports import data
    from tests.test_reports_pdf import pdftotext

    branch = make.branch("TKY", "東京")
    rep = make.user("rep", branch, email="rep@example.jp", name="佐藤 健太")
    customer = make.customer(branch, rep, name="港商店")
    for k in range(30):  # weekly sales from June: enough history for a forecast
        make.sale(customer, date(2026, 5, 4) + timedelta(weeks=k), 100_000 + 1_000 * (k % 3))
    db.session.add(
        FollowUp(
            rep_id=rep.id,
            branch_id=branch.id,
            customer_id=customer.id,
            action="見積を再送",
            due_on=date(2026, 11, 10),
            done_on=date(2026, 11, 25),
        )
    )
    db.session.commit()
    week = Period.parse("2026-W47")
    tz = ZoneInfo("Asia/Tokyo")

    def text() -> str:
        report = data.branch_report(db.session, branch, week, today=date(2026, 12, 6), tz=tz)
        return pdftotext(pdf.render_pdf(report), tmp_path)

    before = text()
    assert "予実（2026年11月・11月22日まで）" in before
    assert "見積を再送" in before and "12日" in before  # 22 − 10 November, not 26 days
    landing = before[before.index("着地見込み＝") :].split("\n")[0]
    assert "80% の範囲はおよそ ¥" in landing
    # A huge sale after the week changes nothing in that week's report.
    make.sale(customer, date(2026, 11, 26), 90_000_000)
    db.session.commit()
    after = text()
    assert after[after.index("着地見込み＝") :].split("\n")[0] == landing


def test_a_cold_forecast_shows_a_placeholder_then_the_chart(app, make, client, auth):
    """A page never waits for a fit: the first view says 予測を計算中… with a progress bar
    that polls the job; once it is done the page shows the chart (docs/kgi.md)."""
    import time

    from fieldlog.jobs import warm

    branch = make.branch("TKY", "東京")
    customer = make.customer(branch)
    for k in range(20):
        make.sale(customer, date(2026, 7, 6) + timedelta(weeks=k), 100_000 + 5_000 * (k % 4))
    db.session.commit()
    app.config["FIELDLOG_FORECAST_BACKGROUND"] = True
    auth.login(make.user("owner", email="boss@example.jp"))
    first = client.get("/branches/TKY?week=2026-W47").get_data(as_text=True)
    assert "予測を計算中…" in first and 'class="forecast-chart"' not in first
    assert "js/card-progress.js" in first
    url = first.split('data-status-url="')[1].split('"')[0]
    for _ in range(600):  # the worker thread fits it; wait for it, whatever the machine
        status = client.get(url).get_json()
        assert 0 <= status["progress"] <= 1
        if status["done"]:
            break
        time.sleep(0.1)
    assert status == {"progress": 1.0, "done": True, "failed": False}
    again = client.get("/branches/TKY?week=2026-W47").get_data(as_text=True)
    assert 'class="forecast-chart"' in again and "予測を計算中…" not in again
    assert client.get("/forecast-jobs/unknown").get_json()["done"] is True  # the page asks again
    assert warm.status("unknown") is None


@pytest.mark.parametrize("background", [False, True])
def test_too_little_history_says_so_on_the_page(app, make, client, auth, background):
    """Fewer than 8 complete weeks of sales: the 予実 card says so, with no chart of noise and
    no "could not be computed" (a kept TooLittleHistory is an answer, not a failure)."""
    import time

    branch = make.branch("TKY", "東京")
    customer = make.customer(branch)
    for k in range(5):
        make.sale(customer, date(2026, 10, 19) + timedelta(weeks=k), 100_000)
    db.session.commit()
    app.config["FIELDLOG_FORECAST_BACKGROUND"] = background
    auth.login(make.user("owner", email="boss@example.jp"))
    page = client.get("/branches/TKY?week=2026-W47").get_data(as_text=True)
    if background:
        url = page.split('data-status-url="')[1].split('"')[0]
        for _ in range(600):
            if client.get(url).get_json()["done"]:
                break
            time.sleep(0.05)
        page = client.get("/branches/TKY?week=2026-W47").get_data(as_text=True)
    assert "売上の履歴が短いため予測できません(8週間分以上が必要です)。" in page
    assert 'class="forecast-chart"' not in page and "予測を計算中" not in page
    assert "予測を計算できませんでした" not in page


def test_company_pdf_carries_the_month_and_each_branchs_yojitsu(shop, tmp_path):
    """The owners' weekly PDF reads like a 予実 report too: the company's month and a row per
    branch with its budget, progress against the calendar and last year."""
    from zoneinfo import ZoneInfo

    from fieldlog.present import pdf
    from fieldlog.reports import data
    from tests.test_reports_pdf import pdftotext

    report = data.company_report(
        db.session, Period.parse("2026-W47"), today=date(2026, 11, 30), tz=ZoneInfo("Asia/Tokyo")
    )
    text = pdftotext(pdf.render_pdf(report), tmp_path)
    assert "予実（2026年11月・11月22日まで）" in text
    assert "月間予算" in text and "進捗率" in text and "経過率" in text and "前年比" in text
    section = text[text.index("支店別の予実") :].split("▲＝")[0]
    rows = {line.split()[0]: line.split()[1:] for line in section.splitlines()[2:] if line.strip()}
    # Tokyo: 150,000 against 30,000,000 (0.5 %, behind 73.3 % of the month); last year 87,000.
    assert rows["東京"] == ["¥150,000", "¥30,000,000", "0.5%", "▼", "¥87,000", "172.4%"]
    assert rows["大阪"][:2] == ["¥5,000,000", "予算未設定"]


# ---- 前年比: the same dates a year earlier --------------------------------------------------


@pytest.mark.parametrize(
    ("as_of", "start", "end"),
    [
        ("2026-11-22", "2025-11-01", "2025-11-22"),
        ("2026-11-30", "2025-11-01", "2025-11-30"),  # the month's end: the whole month
        ("2026-12-01", "2025-12-01", "2025-12-01"),
        ("2028-02-29", "2027-02-01", "2027-02-28"),  # a leap day: last year's 28th
        ("2029-02-28", "2028-02-01", "2028-02-29"),  # the end of February takes in the 29th
        ("2028-02-28", "2027-02-01", "2027-02-28"),
        ("2027-01-03", "2026-01-01", "2026-01-03"),  # inside ISO week 2026-W53
        ("2026-12-31", "2025-12-01", "2025-12-31"),
    ],
)
def test_same_dates_last_year(as_of, start, end):
    from fieldlog.kpi.kgi import same_dates_last_year

    window = same_dates_last_year(date.fromisoformat(as_of))
    assert (window.start, window.end) == (date.fromisoformat(start), date.fromisoformat(end))


@pytest.mark.parametrize(
    ("sales", "as_of", "actual", "last_year"),
    [
        # A branch that grew as the demo's 名古屋 does (about 2.3 times its sales a year ago).
        (
            [("2026-11-02", 2_330_000), ("2025-11-03", 1_000_000)],
            "2026-11-22",
            2_330_000,
            1_000_000,
        ),
        # The day after the window, either year, does not count.
        ([("2026-11-23", 5_000), ("2025-11-23", 7_000)], "2026-11-22", 0, 0),
        # 29 February 2028 counts when last year's February ends on the 28th … the 28th itself.
        ([("2029-02-28", 3_000), ("2028-02-29", 2_000)], "2029-02-28", 3_000, 2_000),
        # Week 53: 1–3 January 2027 against 1–3 January 2026, not the ISO week's December days.
        (
            [("2027-01-02", 4_000), ("2026-01-02", 1_000), ("2025-12-31", 9_000)],
            "2027-01-03",
            4_000,
            1_000,
        ),
        # A customer moved here from another branch: its sales of both years follow it.
        ([("2026-11-10", 6_000), ("2025-11-10", 3_000, "moved")], "2026-11-22", 6_000, 3_000),
    ],
)
def test_month_to_date_against_last_year(make, sales, as_of, actual, last_year):
    from zoneinfo import ZoneInfo

    from fieldlog.kpi.kgi import month_to_date

    here, there = make.branch("NGY"), make.branch("OSK")
    customer = make.customer(here)
    moved = make.customer(there)
    for day, amount, *who in sales:
        make.sale(moved if who else customer, date.fromisoformat(day), amount)
    moved.branch_id = here.id  # moved after the sales: the sales KPIs follow the customer
    db.session.commit()
    m = month_to_date(
        db.session,
        Scope.branch(here.id),
        date.fromisoformat(as_of),
        today=date(2029, 12, 31),
        tz=ZoneInfo("Asia/Tokyo"),
        forecast_weeks=0,
    )
    assert (m.actual, m.last_year) == (actual, last_year)
    assert m.yoy == (actual / last_year if last_year else None)


def _card(html: str) -> str:
    """The 予実 card of a page."""
    start = html.index('aria-labelledby="yojitsu-h"')
    return html[start : html.index("</section>", start)]


def test_a_month_that_is_over_shows_its_actual_and_no_forecast(shop, make, client, auth, app):
    from datetime import UTC, datetime

    app.config["FIELDLOG_NOW"] = datetime(2026, 12, 7, 1, 0, tzinfo=UTC)
    auth.login(make.user("owner", email="boss@example.jp"))
    card = _card(client.get("/branches/TKY?month=2026-11").get_data(as_text=True))
    # November whole: the 16th, 22nd and 23rd against the budget; last year's whole November.
    assert "売上(月間実績)" in card and "¥1,149,000" in card and "¥30,000,000" in card
    assert "予算達成率" in card and "3.8%" in card and "予算未達" in card
    assert "前年同月" in card and "¥87,000" in card
    assert "月初来" not in card and "着地見込み" not in card and "80% の範囲" not in card
    assert "forecast-chart" not in card and "予測を計算中" not in card
    summary = client.get("/summary?month=2026-11").get_data(as_text=True)
    assert "着地見込み" not in _card(summary) and "forecast-chart" not in summary
    months = summary[summary.index('id="branch-months-h"') :]
    assert "月間実績" in months[: months.index("</table>")]
    # The month in progress keeps its landing estimate and its forecast.
    december = _card(client.get("/summary?month=2026-12").get_data(as_text=True))
    assert "売上(月初来)" in december and "2026年12月の着地見込み" in december
    assert "forecast-chart" in december


def test_a_months_last_day_is_still_the_month_so_far(shop, make, client, auth, app):
    """On 30 November the day's sales are still coming in: no 'whole month' and no 予算未達
    verdict in the morning, and no landing with nothing left to forecast."""
    from datetime import UTC, datetime

    app.config["FIELDLOG_NOW"] = datetime(2026, 11, 30, 1, 0, tzinfo=UTC)  # 10:00 in Tokyo
    auth.login(make.user("owner", email="boss@example.jp"))
    card = _card(client.get("/branches/TKY?month=2026-11").get_data(as_text=True))
    assert "売上(月初来)" in card and "¥1,149,000" in card
    assert "月間実績" not in card and "予算未達" not in card and "予算達成" not in card
    assert "80% の範囲" not in card  # no zero-width range: nothing is left to forecast
    # The next day the month is over: its actual, as a whole month.
    app.config["FIELDLOG_NOW"] = datetime(2026, 12, 1, 1, 0, tzinfo=UTC)
    card = _card(client.get("/branches/TKY?month=2026-11").get_data(as_text=True))
    assert "売上(月間実績)" in card and "予算未達" in card


def test_a_month_not_begun_shows_its_budget_not_this_months_figures(shop, make, client, auth, app):
    from datetime import UTC, datetime

    set_budget(db.session, None, date(2027, 3, 1), shop.branch_id, None, 12_000_000)
    db.session.commit()
    app.config["FIELDLOG_NOW"] = datetime(2026, 12, 7, 1, 0, tzinfo=UTC)
    auth.login(make.user("owner", email="boss@example.jp"))
    for path in ("/branches/TKY?month=2027-03", "/summary?month=2027-03"):
        response = client.get(path)
        assert response.status_code == 200, path
        card = _card(response.get_data(as_text=True))
        assert "2027-03" in card and "未開始" in card and "まだ始まっていない" in card, path
        assert "2026-12" not in card and "着地見込み" not in card and "forecast" not in card
    page = client.get("/branches/TKY?month=2027-03").get_data(as_text=True)
    assert "¥12,000,000" in _card(page)
    # No per-rep sales for a month not begun (they were December's, under March's heading).
    assert 'id="rep-kgi-h"' not in page
    assert 'id="rep-kgi-h"' in client.get("/branches/TKY?month=2026-12").get_data(as_text=True)


def _branch_months(html: str) -> str:
    """The owner summary's table of each branch's 予実."""
    start = html.index('id="branch-months-h"')
    return html[start : html.index("</table>", start)]


def test_a_month_not_begun_leaves_the_counted_columns_out_of_the_branch_table(
    shop, make, client, auth, app
):
    """As the PDF's branch table: each branch's budget and last year's month, no 月初来,
    進捗率 or 前年比 columns of dashes (nor their labels on a phone's cards)."""
    from datetime import UTC, datetime

    set_budget(db.session, None, date(2027, 3, 1), shop.branch_id, None, 12_000_000)
    db.session.commit()
    app.config["FIELDLOG_NOW"] = datetime(2026, 12, 7, 1, 0, tzinfo=UTC)
    auth.login(make.user("owner", email="boss@example.jp"))
    html = client.get("/summary?month=2027-03").get_data(as_text=True)
    table = _branch_months(html)
    heads = re.findall(r'<th scope="col">([^<]*)</th>', table)
    assert heads == ["支店", "月間予算", "前年同月"]
    assert re.findall(r'<td data-label="([^"]*)">', table) == ["月間予算", "前年同月"] * 2
    for word in ("月初来", "進捗率", "前年比", "0.0%"):
        assert word not in table, word
    tokyo = '<th scope="row">東京</th><td data-label="月間予算">¥12,000,000</td>'
    assert tokyo + '<td data-label="前年同月">¥0</td></tr>' in table
    # The month in progress keeps them all.
    december = _branch_months(client.get("/summary?month=2026-12").get_data(as_text=True))
    heads = re.findall(r'<th scope="col">([^<]*)</th>', december)
    assert heads == ["支店", "月初来実績", "月間予算", "進捗率", "前年同期", "前年比"]
    token = csrf_from(html)
    client.post("/locale", data={"csrf_token": token, "lang": "en", "next": "/summary"})
    english = _branch_months(client.get("/summary?month=2027-03").get_data(as_text=True))
    heads = re.findall(r'<th scope="col">([^<]*)</th>', english)
    assert heads == ["Branch", "Monthly budget", "Same month last year"]


def test_the_landing_is_named_by_its_month_not_this_month(shop, make, client, auth, app):
    """A past week's month is still the month so far (to the week's end), but it is not this
    month: its landing is November's, read in December."""
    from datetime import UTC, datetime

    app.config["FIELDLOG_NOW"] = datetime(2026, 12, 7, 1, 0, tzinfo=UTC)
    auth.login(make.user("owner", email="boss@example.jp"))
    html = client.get("/summary?week=2026-W47").get_data(as_text=True)
    card = _card(html)
    assert "売上(月初来)" in card and "2026年11月の着地見込み" in card
    assert "今月" not in card
    december = _card(client.get("/branches/TKY?month=2026-12").get_data(as_text=True))
    assert "2026年12月の着地見込み" in december
    token = csrf_from(html)
    client.post("/locale", data={"csrf_token": token, "lang": "en", "next": "/summary"})
    english = _card(client.get("/summary?week=2026-W47").get_data(as_text=True))
    assert "Landing estimate for Nov 2026" in english and "for the month" not in english


def test_the_pdf_sales_card_never_breaks_its_target_apart(shop, make, tmp_path):
    """先週 ¥23,391,700（+¥3,541,700） then 目標 …: the line broke between 目 and 標."""
    from zoneinfo import ZoneInfo

    from fieldlog.present import pdf
    from fieldlog.reports import data
    from tests.test_reports_pdf import pdftotext

    customer = make.customer(shop.branch, shop)
    make.sale(customer, date(2026, 11, 10), 23_391_700)
    make.sale(customer, date(2026, 11, 17), 26_783_400)
    db.session.commit()
    report = data.branch_report(
        db.session, shop.branch, Period.parse("2026-W47"), today=date(2026, 11, 30),
        tz=ZoneInfo("Asia/Tokyo"),
    )  # fmt: skip
    text = pdftotext(pdf.render_pdf(report), tmp_path)
    card = text[text.index("先週 ¥23,391,700") :].splitlines()
    assert "目標 ¥7,000,000 ○ 達成" in "\n".join(card[:2])
    assert not any(line.rstrip().endswith("目") for line in card[:2])
