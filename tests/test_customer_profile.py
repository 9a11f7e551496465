"""The customer page: what it buys, what to propose next, dormancy date, next visit, address."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

import pytest

from fieldlog.app.extensions import db
from fieldlog.io import import_file
from fieldlog.models import Customer, Proposal
from fieldlog.services import customer_profile
from fieldlog.services.defaults import company_settings

from .conftest import TZ
from .io_files import csv_file

TODAY = date(2026, 11, 23)


def _profile(customer):
    return customer_profile.profile(
        db.session, customer, day=TODAY, tz=TZ, settings=company_settings(db.session)
    )


def _at(days_ago: int) -> str:
    return datetime.combine(TODAY - timedelta(days=days_ago), time(15, 0), TZ).isoformat()


def test_sales_by_category_split_into_the_last_year_and_the_year_before(make):
    customer = make.customer()
    oil, tools = make.category("OIL", "潤滑油"), make.category("CUT", "切削工具")
    make.sale(customer, TODAY, 1000, oil)
    make.sale(customer, TODAY - timedelta(days=364), 200, oil)  # last of the recent year
    make.sale(customer, TODAY - timedelta(days=365), 30, oil)  # first of the year before
    make.sale(customer, TODAY - timedelta(days=729), 4, tools)  # first day of the 24 months
    make.sale(customer, TODAY - timedelta(days=730), 50000, tools)  # outside
    make.sale(customer, TODAY + timedelta(days=1), 60000, tools)  # after the day
    rows = [(r.name, r.last_year, r.year_before, r.last_sold) for r in _profile(customer).sales]
    assert rows == [
        ("潤滑油", 1200, 30, TODAY),
        ("切削工具", 0, 4, TODAY - timedelta(days=729)),
    ]


@pytest.mark.parametrize(
    "day,first,last",
    [
        (date(2026, 11, 23), date(2024, 12, 1), date(2026, 11, 1)),
        (date(2026, 1, 1), date(2024, 2, 1), date(2026, 1, 1)),
        (date(2026, 12, 31), date(2025, 1, 1), date(2026, 12, 1)),
    ],
)
def test_the_monthly_series_is_24_calendar_months_ending_with_the_days_month(day, first, last):
    months = customer_profile.months_back(day)
    assert (len(months), months[0], months[-1]) == (24, first, last)
    assert all(m.day == 1 for m in months) and months == sorted(set(months))


def test_sales_per_category_and_month_with_the_small_ones_summed(make):
    customer = make.customer()
    names = ["潤滑油", "切削工具", "保護手袋", "梱包材", "清掃用品", "文具"]
    cats = [make.category(f"K{i}", name) for i, name in enumerate(names)]
    make.sale(customer, TODAY, 1000, cats[0])
    make.sale(customer, TODAY.replace(day=1), 500, cats[0])  # the same month: summed
    make.sale(customer, date(2026, 10, 31), 700, cats[1])
    make.sale(customer, date(2024, 12, 1), 300, cats[2])  # first day of the 24 months
    make.sale(customer, date(2024, 11, 30), 99999, cats[2])  # before them
    make.sale(customer, TODAY + timedelta(days=1), 99999, cats[0])  # after the day
    make.sale(customer, date(2025, 6, 15), 200, cats[3])
    make.sale(customer, date(2025, 6, 16), 20, cats[4])
    make.sale(customer, date(2025, 7, 1), 10, cats[5])
    make.sale(customer, date(2025, 7, 2), 5)  # no category
    monthly = _profile(customer).monthly
    assert len(monthly.months) == 24
    by_month = {
        (line.name, line.others): {monthly.months[i]: a for i, a in enumerate(line.amounts) if a}
        for line in monthly.lines
    }
    assert by_month == {
        ("潤滑油", False): {date(2026, 11, 1): 1500},
        ("切削工具", False): {date(2026, 10, 1): 700},
        ("保護手袋", False): {date(2024, 12, 1): 300},
        ("梱包材", False): {date(2025, 6, 1): 200},
        # The fifth and smaller: one "others" line (no category counts among them).
        ("", True): {date(2025, 6, 1): 20, date(2025, 7, 1): 15},
    }
    assert sum(monthly.totals) == 1500 + 700 + 300 + 200 + 20 + 15


def test_the_customer_page_draws_the_monthly_series_and_its_table(make, client, auth):
    rep = make.user("rep")
    customer = make.customer(rep=rep)
    oil = make.category("OIL", "潤滑油")
    make.sale(customer, TODAY, 120000, oil)
    make.sale(customer, date(2025, 1, 10), 30000, oil)
    db.session.commit()
    auth.login(rep)
    html = client.get(f"/customers/{customer.id}").get_data(as_text=True)
    assert "カテゴリ別の月別売上（直近24か月）" in html and "chart-line" in html
    table = html[html.index('class="months-table"') :]
    table = table[: table.index("</table>")]
    assert table.count("<tr>") == 25  # the header and 24 months, newest first
    assert table.index("2026/11") < table.index("2025/01") and "2024/12" in table
    assert "12万" in table and "3万" in table


@pytest.mark.parametrize(
    "visit_days_ago,sale_days_ago,dormant,dormant_from",
    [
        (None, None, True, None),
        (10, None, False, TODAY + timedelta(days=50)),
        (60, None, True, TODAY),
        (10, 80, False, TODAY + timedelta(days=10)),
        (10, 95, True, TODAY - timedelta(days=5)),
    ],
)
def test_dormancy_and_the_day_it_turns_dormant(
    make, visit_days_ago, sale_days_ago, dormant, dormant_from
):
    rep = make.user("rep")
    customer = make.customer(rep=rep, rank="A")
    if visit_days_ago is not None:
        make.visit(rep, customer, visited_at=_at(visit_days_ago))
    if sale_days_ago is not None:
        make.sale(customer, TODAY - timedelta(days=sale_days_ago))
    found = _profile(customer)
    assert (found.dormant, found.dormant_from) == (dormant, dormant_from)
    expected_next = None if visit_days_ago is None else TODAY - timedelta(days=visit_days_ago - 14)
    assert found.next_visit_by == expected_next


def test_categories_similar_customers_buy(make):
    rep = make.user("rep")
    oil = make.category("OIL", "潤滑油")
    customer = make.customer(rep=rep, rank="B")
    peers = [make.customer(rep=rep, rank="B") for _ in range(4)]
    for peer in peers[:3]:
        make.sale(peer, TODAY - timedelta(days=40), category=oil)
    [candidate] = _profile(customer).candidates
    assert (candidate.category.code, candidate.buyers, candidate.peers) == ("OIL", 3, 4)


@pytest.fixture
def page(make, client, auth):
    rep = make.user("rep")
    oil = make.category("OIL", "潤滑油")
    customer = make.customer(rep=rep, rank="B", code="C-1")
    customer.address = "東京都港区芝公園4-2-8"
    for _ in range(3):
        make.sale(make.customer(rep=rep, rank="B"), TODAY - timedelta(days=40), category=oil)
    make.sale(customer, TODAY - timedelta(days=40), 123400, make.category("CUT", "切削工具"))
    db.session.add(
        Proposal(
            rep=rep,
            branch_id=rep.branch_id,
            customer=customer,
            kind="other",
            proposed_on=TODAY - timedelta(days=45),
        )
    )
    db.session.commit()
    auth.login(rep)
    return client.get(f"/customers/{customer.id}").get_data(as_text=True)


def test_the_page_shows_purchases_and_what_to_propose(page):
    assert "<svg" in page and "切削工具" in page and "¥123,400" in page
    proposals = page[page.index("次に提案するもの") :]
    assert "潤滑油" in proposals and "3社の100%" in proposals
    assert "45日間未決" in page


def test_the_address_links_to_the_phones_map_app(page):
    assert "東京都港区芝公園4-2-8" in page
    assert 'href="geo:0,0?q=%E6%9D%B1%E4%BA%AC' in page
    assert "<script src=" not in page.replace(
        '<script type="module" src="/static/js/app.mjs"></script>', ""
    )


def test_customers_import_takes_an_address(make, tmp_path):
    make.branch("T01", "東京")
    lines = ["顧客コード,顧客名,支店,住所", "1001,山田商店,T01,大阪府大阪市北区梅田1-1"]
    result = import_file(db.session, "customers", csv_file(tmp_path, "c.csv", lines))
    assert result.ok, [str(e) for e in result.errors]
    found = db.session.query(Customer).filter_by(code="1001").one()
    assert found.address == "大阪府大阪市北区梅田1-1"
    too_long = ["code,name,branch,address", "1002,長い住所,T01," + "あ" * 501]
    result = import_file(db.session, "customers", csv_file(tmp_path, "d.csv", too_long))
    assert not result.ok
    assert any("address" in str(e) for e in result.errors)


def test_a_long_history_shows_the_first_rows_open_ones_first_with_a_link_to_all(make, client, auth):
    """A customer visited for years: the page stays bounded and the open proposal stays on it."""
    rep = make.user("rep")
    customer = make.customer(rep=rep)
    make.category("OIL", "潤滑油")
    made = [
        make.visit(
            rep, customer, visited_at=_at(days), proposal={"category": "OIL", "amount": days}
        )
        for days in range(51, 0, -1)
    ]
    for visit in made[1:]:  # all but the oldest are closed
        visit.proposals[0].status, visit.proposals[0].closed_on = "won", TODAY
    db.session.commit()
    auth.login(rep)
    html = client.get(f"/customers/{customer.id}").get_data(as_text=True)
    proposals = html[html.index("<h2>提案</h2>") : html.index("<h2>訪問</h2>")]
    assert proposals.count('class="row"') == 50
    assert "¥51 ·" in proposals.split('class="row"')[1]  # the oldest, still open, comes first
    assert (
        f"/proposals?q={customer.code}" in proposals and "この顧客の提案をすべて見る" in proposals
    )
    visits = html[html.index("<h2>訪問</h2>") :]
    assert visits.count("row row-link") == 50 and "この顧客の訪問をすべて見る" in visits
