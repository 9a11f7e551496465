"""予実 in the weekly PDFs reads right in each state of its month, as the pages' card does:
the month so far, a month over, a month not begun (docs/kgi.md, present/yojitsu.py).

Each PDF is rendered for real (WeasyPrint) and read back with pdftotext."""

from __future__ import annotations

import re
from datetime import date, timedelta
from zoneinfo import ZoneInfo

import pytest

from fieldlog.app.extensions import db
from fieldlog.kpi.budgets import set_budget
from fieldlog.rules.periods import Period
from tests.test_reports_pdf import pdftotext

TZ = ZoneInfo("Asia/Tokyo")


@pytest.fixture
def shop(make):
    """Tokyo sells every Monday from January (history for a forecast); May 2026 and its year
    before are sums to check by hand; Osaka has sales and no budget."""
    tokyo = make.branch("TKY", "東京")
    osaka = make.branch("OSK", "大阪")
    rep = make.user("rep", tokyo, email="rep@example.jp", name="佐藤 健太")
    customer = make.customer(tokyo, rep)
    for k in range(17):  # Mondays 5 January – 27 April 2026
        make.sale(customer, date(2026, 1, 5) + timedelta(weeks=k), 100_000 + 7_000 * (k % 3))
    # May 2026: 300,000 to Sunday the 24th, 450,000 by the 31st (its last day, a Sunday).
    for day, amount in ((4, 100_000), (11, 100_000), (18, 100_000), (25, 100_000), (31, 50_000)):
        make.sale(customer, date(2026, 5, day), amount)
    # May 2025: 200,000 to the 24th, 360,000 in all; July 2025: 70,000.
    make.sale(customer, date(2025, 5, 10), 200_000)
    make.sale(customer, date(2025, 5, 28), 160_000)
    make.sale(customer, date(2025, 7, 15), 70_000)
    make.sale(make.customer(osaka), date(2026, 5, 12), 80_000)
    set_budget(db.session, None, date(2026, 5, 1), tokyo.id, None, 1_000_000)
    set_budget(db.session, None, date(2026, 7, 1), tokyo.id, None, 1_200_000)
    db.session.commit()
    return tokyo


def _pdfs(branch, week: str, today: date, tmp_path) -> tuple[str, str]:
    """The 予実 part of the branch's weekly PDF and of the company's."""
    from fieldlog.present import pdf
    from fieldlog.reports import data

    period = Period.parse(week)
    branch_pdf = pdf.render_pdf(data.branch_report(db.session, branch, period, today=today, tz=TZ))
    company_pdf = pdf.render_pdf(data.company_report(db.session, period, today=today, tz=TZ))
    return _section(pdftotext(branch_pdf, tmp_path)), _section(pdftotext(company_pdf, tmp_path))


def _section(text: str) -> str:
    """From the 予実 heading to the next section of the report."""
    start = text.index("予実（")
    ends = re.compile(r"重点KPIと目標|期限切れのフォロー|^\s*支店別\s*$|データの信頼性", re.M)
    found = ends.search(text, start)
    return text[start : found.start() if found else len(text)]


def _row(section: str, first: str) -> list[str]:
    """The cells of the line that starts with ``first`` (a figure or a branch's name)."""
    line = next(x for x in section.splitlines() if x.split() and x.split()[0] == first)
    return line.split()


def test_a_month_over_reads_as_its_actual_against_budget_and_last_years_month(shop, tmp_path):
    """2026-W22 ends on Sunday 31 May; read on Monday 1 June, May is whole."""
    branch, company = _pdfs(shop, "2026-W22", date(2026, 6, 1), tmp_path)
    # Tokyo: 450,000 of 1,000,000 (45.0 %, missed); May 2025 in all 360,000 (125.0 %). The
    # company adds Osaka's 80,000 (no budget, nothing a year ago).
    assert _row(branch, "¥450,000") == ["¥450,000", "¥1,000,000", "45.0%", "¥360,000", "125.0%"]
    assert _row(company, "¥530,000") == ["¥530,000", "¥1,000,000", "53.0%", "¥360,000", "147.2%"]
    for part in (branch, company):
        assert "予実（2026年5月・月間実績）" in part
        assert "月間実績" in part and "予算達成率" in part and "▼ 予算未達" in part
        assert "前年同月" in part and "月末まで集計済み" in part
        for word in ("月初来", "前年同期", "経過率", "着地見込み", "80% の範囲", "実績と予測"):
            assert word not in part, word
    # The salesperson's row says the whole month too.
    assert "月間実績" in branch[branch.index("担当者別の売上") :]
    assert _row(branch, "佐藤")[4] == "¥450,000"
    # Each branch as a whole month: achievement against its own budget, 前年同月.
    assert "支店別の予実（月間実績）" in company and "▲＝予算達成、▼＝予算未達。" in company
    tokyo = ["東京", "¥450,000", "¥1,000,000", "45.0%", "▼", "¥360,000", "125.0%"]
    assert _row(company, "東京") == tokyo
    assert _row(company, "大阪")[:3] == ["大阪", "¥80,000", "予算未設定"]


def test_the_month_so_far_keeps_month_to_date_last_year_and_the_landing(shop, tmp_path):
    """2026-W21 read on Monday 25 May: May to the 24th, with its landing and 80 % range."""
    branch, company = _pdfs(shop, "2026-W21", date(2026, 5, 25), tmp_path)
    # Tokyo: 300,000 of 1,000,000 after 24 of 31 days (77.4 %); 200,000 to 24 May 2025.
    cells = _row(branch, "¥300,000")
    assert cells[:6] == ["¥300,000", "¥1,000,000", "30.0%", "77.4%", "¥200,000", "150.0%"]
    company_row = ["¥380,000", "¥1,000,000", "38.0%", "77.4%", "¥200,000", "190.0%"]
    assert _row(company, "¥380,000")[:6] == company_row
    for part in (branch, company):
        assert "予実（2026年5月・5月24日まで）" in part
        assert "月初来実績" in part and "▼ 経過率を下回る" in part and "前年同期" in part
        assert "着地見込み" in part and "80% の範囲はおよそ ¥" in part and "（予算比 " in part
        assert "月間実績" not in part and "予算達成" not in part and "前年同月" not in part
    # The landing: the month so far and more, inside a range that is not one figure.
    landing = int(cells[6].lstrip("¥").replace(",", ""))
    lo, hi = (
        int(x.replace(",", "")) for x in re.search(r"およそ ¥([\d,]+)〜¥([\d,]+)", branch).groups()
    )
    assert 300_000 < lo < landing < hi
    assert "支店別の予実（月初来）" in company and "経過率（77.4%）以上" in company
    assert _row(company, "東京")[1:5] == ["¥300,000", "¥1,000,000", "30.0%", "▼"]
    assert _row(branch, "佐藤")[4] == "¥300,000"


def test_a_months_last_day_is_still_the_month_so_far_in_the_pdf(shop, tmp_path):
    """Read on Sunday 31 May itself, May is still running: no verdict, and no landing with
    no day left to forecast."""
    branch, company = _pdfs(shop, "2026-W22", date(2026, 5, 31), tmp_path)
    # 450,000 to the 31st against the whole of May 2025; the landing's column stays, empty.
    cells = ["¥450,000", "¥1,000,000", "45.0%", "100.0%", "¥360,000", "125.0%", "—"]
    assert _row(branch, "¥450,000") == cells
    for part in (branch, company):
        assert "予実（2026年5月・5月31日まで）" in part
        assert "月初来実績" in part and "前年同期" in part and "経過率を下回る" in part
        assert "月間実績" not in part and "予算未達" not in part and "80% の範囲" not in part
    assert "支店別の予実（月初来）" in company


def test_a_month_not_begun_shows_its_own_budget_only(shop, tmp_path):
    """2026-W28 (6–12 July) read on 1 June: July's budget and July 2025, nothing of June."""
    branch, company = _pdfs(shop, "2026-W28", date(2026, 6, 1), tmp_path)
    for part in (branch, company):
        assert "予実（2026年7月・未開始）" in part and "まだ始まっていない" in part
        assert _row(part, "¥1,200,000") == ["¥1,200,000", "¥70,000"]  # 月間予算, 前年同月
        for word in ("6月", "月初来", "進捗率", "経過率", "前年同期", "着地見込み", "0.0%", "▲"):
            assert word not in part, word
    assert "¥0" not in branch  # nothing counted (Osaka's ¥0 below is its July 2025)
    assert "担当者別の売上" not in branch
    assert "支店別の予実（未開始）" in company
    assert _row(company, "東京") == ["東京", "¥1,200,000", "¥70,000"]
    assert _row(company, "大阪") == ["大阪", "予算未設定", "¥0"]


@pytest.mark.parametrize(
    ("week", "today", "present", "absent"),
    [
        (
            "2026-W22",
            date(2026, 6, 1),
            ["Budget vs actual (May 2026, whole month)", "Actual for the month", "Achievement",
             "Budget missed", "Same month last year", "Budget vs actual by branch (whole month)",
             "▲ budget met, ▼ budget missed.", "Sales by salesperson"],
            ["Month to date", "Same period last year", "Elapsed", "Landing", "80% range"],
        ),
        (
            "2026-W21",
            date(2026, 5, 25),
            ["Budget vs actual (May 2026, up to May 24)", "Month to date", "Progress",
             "Behind the calendar", "Elapsed", "Same period last year", "Landing estimate",
             "80% range is about ¥", "Budget vs actual by branch (month to date)",
             "Interval (80%)", "Sales by salesperson", "Gross margin"],
            ["Actual for the month", "Achievement", "Same month last year"],
        ),
        (
            "2026-W28",
            date(2026, 6, 1),
            ["Budget vs actual (Jul 2026, not begun)", "has not begun", "Monthly budget",
             "Same month last year", "Budget vs actual by branch (not begun)"],
            ["Month to date", "Progress", "Elapsed", "Landing", "Jun"],
        ),
    ],
)  # fmt: skip
def test_the_pdfs_yojitsu_reads_in_english_too(shop, tmp_path, week, today, present, absent):
    """The section's words come from the catalogue: an English PDF reads as the Japanese."""
    from flask_babel import force_locale

    from fieldlog.present import pdf
    from fieldlog.reports import data

    period = Period.parse(week)
    branch = data.branch_report(db.session, shop, period, today=today, tz=TZ)
    company = data.company_report(db.session, period, today=today, tz=TZ)
    template = pdf.environment().from_string(
        '{% import "reports/_yojitsu.html" as y %}<html lang="en"><body>'
        "{{ y.month(branch.month, branch.rep_kgi) }}{{ y.branches(company.branch_months) }}"
        "</body></html>"
    )
    with force_locale("en"):
        html = template.render(branch=branch, company=company)
    text = pdftotext(pdf.html_to_pdf(html), tmp_path)
    for words in present:
        assert words in text, words
    for words in absent:
        assert words not in text, words
    # Nothing left in Japanese but the names (the page footer is the stylesheet's, the same
    # for every report).
    body = "\n".join(line for line in text.splitlines() if "ページ" not in line)
    for name in ("東京", "大阪", "佐藤 健太"):
        body = body.replace(name, "")
    assert not re.search(r"[\u3040-\u30ff\u4e00-\u9fff]", body), body


def test_a_week_not_begun_has_no_ratio_to_last_year_in_its_sales_box(shop, make, tmp_path):
    """2026-W28 read on 1 June has counted nothing yet: its sales box says 前年比 —, not
    0.0% of 2025-W28's sales; a week under way keeps its ratio."""
    from fieldlog.present import pdf
    from fieldlog.reports import data

    make.sale(make.customer(shop), date(2025, 7, 8), 40_000)  # 2025-W28 (7–13 July 2025)
    db.session.commit()

    def sales_box(week: str, today: date) -> list[str]:
        period = Period.parse(week)
        reports = (
            data.branch_report(db.session, shop, period, today=today, tz=TZ),
            data.company_report(db.session, period, today=today, tz=TZ),
        )
        texts = [pdftotext(pdf.render_pdf(report), tmp_path) for report in reports]
        return [text[text.index("KGI") : text.index("予実（")] for text in texts]

    for box in sales_box("2026-W28", date(2026, 6, 1)):
        assert "前年同週 ¥40,000（前年比 —）" in box
        assert "0.0%" not in box
    # 2025-W22 (26 May – 1 June 2025) had 160,000, 2026-W22 (under way) 150,000: 93.8 %.
    for box in sales_box("2026-W22", date(2026, 5, 27)):
        assert "前年同週 ¥160,000（前年比 93.8%）" in box
