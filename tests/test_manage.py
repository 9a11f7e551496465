"""Manager and owner pages: who may open what, what the pages show, both locales."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from datetime import date

import pytest

from fieldlog.app.extensions import db
from fieldlog.kpi import Scope
from fieldlog.kpi.targets import set_target
from fieldlog.services.defaults import company_settings

from .conftest import csrf_from


def at(day: int, hour: int = 10) -> str:
    return f"2026-11-{day:02d}T{hour:02d}:00:00+09:00"


@pytest.fixture
def world(make):
    """Two branches; Tokyo has two reps with W47 visits, a target and an overdue follow-up."""
    tokyo = make.branch("TKY", "東京支店")
    osaka = make.branch("OSK", "大阪支店")
    sato = make.user("rep", tokyo, name="佐藤 一郎")
    make.user("rep", tokyo, name="鈴木 花子")
    people = {
        "rep": sato,
        "manager": make.user("manager", tokyo),
        "other_manager": make.user("manager", osaka),
        "osaka_rep": make.user("rep", osaka),
        "owner": make.user("owner"),
    }
    c1 = make.customer(tokyo, sato, code="C1", name="山田商店")
    make.visit(sato, c1, visited_at=at(16), purpose="hearing")
    make.visit(sato, c1, visited_at=at(18), purpose="routine", hearing_done=False)
    make.visit(
        sato,
        c1,
        visited_at=at(19),
        purpose="proposal",
        next_action={"action": "見積を送る", "due_on": "2026-11-20"},
    )
    set_target(
        db.session,
        "purposeful_visit_rate",
        Scope.company(),
        "week",
        0.9,
        date(2026, 1, 5),
        people["owner"],
    )
    db.session.commit()
    return people


@pytest.mark.parametrize(
    ("who", "path", "status"),
    [
        ("rep", "/branches/TKY", 403),
        ("osaka_rep", "/branches/TKY", 403),
        ("other_manager", "/branches/TKY", 404),
        ("manager", "/branches/OSK", 404),
        ("manager", "/branches/TKY", 200),
        ("owner", "/branches/TKY", 200),
        ("owner", "/branches/OSK", 200),
        ("owner", "/branches/NOPE", 404),
        ("rep", "/summary", 403),
        ("manager", "/summary", 403),
        ("owner", "/summary", 200),
        ("rep", "/me", 200),
        ("manager", "/me", 200),
        ("owner", "/me", 403),
        ("owner", "/branch", 200),
        ("rep", "/branch", 403),
    ],
)
def test_who_may_open_what(client, auth, world, who, path, status):
    auth.login(world[who])
    assert client.get(path).status_code == status


def test_manager_branch_home_redirects_to_own_branch(client, auth, world):
    auth.login(world["manager"])
    response = client.get("/branch")
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/branches/TKY")


def _svgs(html: str) -> list[ET.Element]:
    found = re.findall(r"<svg.*?</svg>", html, flags=re.S)
    return [ET.fromstring(m) for m in found]  # noqa: S314 — our own output


def test_dashboard_shows_kpis_cues_fractions_and_lists(client, auth, world):
    auth.login(world["manager"])
    html = client.get("/branches/TKY?week=2026-W47").get_data(as_text=True)
    assert "目的あり訪問率" in html
    assert "2/3" in html  # numerator/denominator of the purposeful-visit rate
    assert "未達" in html or "Behind" in html  # 2/3 < 0.9: behind, said in words
    assert "佐藤 一郎" in html
    assert "見積を送る" in html  # the overdue follow-up
    assert "/branches/TKY/report.pdf?week=2026-W47" in html
    assert "参考" in html
    charts = _svgs(html)
    assert charts and all(c.find("{http://www.w3.org/2000/svg}title").text for c in charts)


def test_dashboard_empty_week_says_so(client, auth, world):
    auth.login(world["manager"])
    html = client.get("/branches/TKY?week=2026-W30").get_data(as_text=True)
    assert "この期間の訪問記録はありません" in html
    # The gap analysis does not claim every KPI met its target in a week with no visits.
    assert "この期間は訪問記録がないため、分析できる内容がありません" in html
    assert "目標未達のKPIはありません" not in html


@pytest.mark.parametrize(
    "query",
    ["week=2026-W99", "week=nonsense", "month=2026-13", "week=9999-W52", "month=0001-01"],
)
def test_bad_period_is_400(client, auth, world, query):
    auth.login(world["owner"])
    assert client.get(f"/branches/TKY?{query}").status_code == 400


def test_month_view(client, auth, world):
    auth.login(world["owner"])
    html = client.get("/summary?month=2026-11").get_data(as_text=True)
    assert "2026-11" in html and "東京支店" in html


@pytest.mark.parametrize(
    ("who", "path", "label"),
    [
        ("manager", "/branches/TKY?week=2026-W47", "2026-W47"),
        ("manager", "/branches/TKY?month=2026-11", "2026-11"),
        ("owner", "/summary?week=2026-W47", "2026-W47"),
        ("owner", "/summary?month=2026-10", "2026-10"),
    ],
)
def test_dashboard_and_summary_take_week_or_month(client, auth, world, who, path, label):
    auth.login(world[who])
    response = client.get(path)
    assert response.status_code == 200
    assert f" · {label} · FieldLog</title>" in response.get_data(as_text=True)


def test_summary_in_both_locales(client, auth, world):
    auth.login(world["owner"])
    html = client.get("/summary?week=2026-W47").get_data(as_text=True)
    assert "東京支店" in html and "大阪支店" in html and "売上" in html
    for svg in _svgs(html):
        assert svg.get("aria-label")
    token = csrf_from(html)
    client.post("/locale", data={"csrf_token": token, "lang": "en", "next": "/summary"})
    html = client.get("/summary?week=2026-W47").get_data(as_text=True)
    assert "Purposeful-visit rate" in html and "Branch by branch" in html


def test_my_week_shows_own_kpis_with_why(client, auth, world):
    auth.login(world["rep"])
    html = client.get("/me?week=2026-W47").get_data(as_text=True)
    assert "目的あり訪問率" in html and "<details" in html
    assert "2/3" in html


def _review_form(client, url):
    response = client.get(url)
    assert response.status_code == 200
    return response.get_data(as_text=True)


def test_review_round_trip_closes_the_loop(client, auth, world):
    from fieldlog.models import Review

    auth.login(world["manager"])
    html = _review_form(client, "/branches/TKY/review?week=2026-W46")
    response = client.post(
        "/branches/TKY/review?week=2026-W46",
        data={
            "csrf_token": csrf_from(html),
            "why-purposeful_visit_rate": "定期巡回が多かった",
            "cause-purposeful_visit_rate": "quality",
            "next-purposeful_visit_rate": "訪問前に目的を一行書く",
        },
    )
    assert response.status_code == 302
    row = db.session.query(Review).one()
    assert (row.week, row.kpi, row.cause) == ("2026-W46", "purposeful_visit_rate", "quality")
    # Re-open: the answers are there; saving again updates the same row.
    html = _review_form(client, "/branches/TKY/review?week=2026-W46")
    assert "定期巡回が多かった" in html and 'value="quality" checked' in html
    client.post(
        "/branches/TKY/review?week=2026-W46",
        data={
            "csrf_token": csrf_from(html),
            "why-purposeful_visit_rate": "書き直し",
            "cause-purposeful_visit_rate": "design",
            "next-purposeful_visit_rate": "訪問前に目的を一行書く",
        },
    )
    db.session.expire_all()
    assert db.session.query(Review).one().why == "書き直し"
    # Next week shows what we said we would change, beside this week's result.
    html = _review_form(client, "/branches/TKY/review?week=2026-W47")
    assert "訪問前に目的を一行書く" in html
    assert 'href="/branches/TKY/review?week=2026-W46"' in html  # history


def test_review_cause_is_prefilled_from_the_gap_analysis(client, auth, world):
    auth.login(world["manager"])
    html = _review_form(client, "/branches/TKY/review?week=2026-W47")
    # 2/3 against 0.9 with no earlier base: the analysis suggests a cause, which is checked.
    assert re.search(r'name="cause-purposeful_visit_rate" value="\w+" checked', html)


@pytest.mark.parametrize(
    ("field", "value"),
    [("cause-purposeful_visit_rate", "luck"), ("why-purposeful_visit_rate", "x" * 2001)],
)
def test_review_rejects_bad_answers_next_to_the_field(client, auth, world, field, value):
    auth.login(world["manager"])
    html = _review_form(client, "/branches/TKY/review?week=2026-W47")
    response = client.post(
        "/branches/TKY/review?week=2026-W47", data={"csrf_token": csrf_from(html), field: value}
    )
    assert response.status_code == 422
    assert 'class="field-error"' in response.get_data(as_text=True)


def test_review_is_for_a_week_only(client, auth, world):
    auth.login(world["manager"])
    assert client.get("/branches/TKY/review?month=2026-11").status_code == 200  # month ignored
    assert client.get("/branches/TKY/review?week=2026-11").status_code == 400


def _new_hypothesis(client, **overrides):
    html = client.get("/hypotheses/new").get_data(as_text=True)
    data = {
        "csrf_token": csrf_from(html),
        "statement": "目的あり訪問を増やせば売上が上がる",
        "kpis": ["purposeful_visit_rate"],
        "kgi": "sales_amount",
        "started_on": "2026-11-09",
        "status": "testing",
        **overrides,
    }
    return client.post("/hypotheses/new", data=data)


def test_hypothesis_crud_and_page_series(client, auth, world, make):
    from fieldlog.models import Hypothesis, Review

    auth.login(world["manager"])
    response = _new_hypothesis(client)
    assert response.status_code == 302
    made = db.session.query(Hypothesis).one()
    assert made.branch_id == world["manager"].branch_id  # a manager's belongs to the branch
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "目的あり訪問を増やせば売上が上がる" in page
    assert page.count("<svg") == 3  # the KPI and the KGI side by side, and the lag chart
    assert page.count("chart-lag") == 1  # one branch, one linked KPI
    # A review that mentions it appears on the page.
    db.session.add(
        Review(
            branch_id=made.branch_id,
            week="2026-W47",
            kpi="purposeful_visit_rate",
            why="目的メモを徹底",
            hypothesis_id=made.id,
        )
    )
    db.session.commit()
    assert "目的メモを徹底" in client.get(f"/hypotheses/{made.id}").get_data(as_text=True)
    # Edit the status.
    html = client.get(f"/hypotheses/{made.id}").get_data(as_text=True)
    client.post(
        f"/hypotheses/{made.id}",
        data={
            "csrf_token": csrf_from(html),
            "statement": made.statement,
            "kpis": ["purposeful_visit_rate"],
            "kgi": "sales_amount",
            "started_on": "2026-11-09",
            "status": "supported",
        },
    )
    db.session.expire_all()
    assert db.session.get(Hypothesis, made.id).status == "supported"
    # Another branch's manager does not see it; the owner's own is company-wide.
    auth.logout()
    auth.login(world["other_manager"])
    assert client.get(f"/hypotheses/{made.id}").status_code == 404
    auth.logout()
    auth.login(world["owner"])
    assert _new_hypothesis(client, statement="全社仮説").status_code == 302
    assert db.session.query(Hypothesis).filter_by(statement="全社仮説").one().branch_id is None
    assert "全社仮説" in client.get("/summary").get_data(as_text=True)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("statement", ""),
        ("kpis", []),
        ("kgi", "profit"),
        ("target", "sales"),
        ("started_on", "11/9"),
        ("status", "x"),
    ],
)
def test_hypothesis_errors_next_to_the_field(client, auth, world, field, value):
    auth.login(world["manager"])
    response = _new_hypothesis(client, **{field: value})
    assert response.status_code == 422
    assert 'class="field-error"' in response.get_data(as_text=True)


def test_a_hypothesis_about_its_kpis_is_kept_and_said_so(client, auth, world):
    """ "Purposeful visits raise hearing": its target is its KPIs, kept through an edit, and the
    page says the suggestion comes from their comparison, not from a lead on sales."""
    from fieldlog.models import Hypothesis

    auth.login(world["manager"])
    form = client.get("/hypotheses/new").get_data(as_text=True)
    assert 'name="target" value="kgi" checked' in form  # the default: the KGI
    kpis = ["purposeful_visit_rate", "hearing_rate"]
    response = _new_hypothesis(
        client, statement="目的を決めればヒアリングが増える", kpis=kpis, target="kpis"
    )
    assert response.status_code == 302
    made = db.session.query(Hypothesis).one()
    assert made.target == "kpis"
    page = client.get(f"/hypotheses/{made.id}").get_data(as_text=True)
    assert 'name="target" value="kpis" checked' in page
    assert "提案は売上への先行ではなく、下のKPIの開始前後の比較から出しています" in page
    assert "まだ判断できません" in page and "支持されない" not in page


def test_manager_cannot_edit_a_company_wide_hypothesis(client, auth, world):
    from fieldlog.models import Hypothesis

    made = Hypothesis(statement="全社", kpis=["hearing_rate"], started_on=date(2026, 11, 2))
    db.session.add(made)
    db.session.commit()
    auth.login(world["manager"])
    html = client.get(f"/hypotheses/{made.id}").get_data(as_text=True)
    assert "hypothesis-form" not in html
    token = csrf_from(html)
    response = client.post(f"/hypotheses/{made.id}", data={"csrf_token": token, "status": "x"})
    assert response.status_code == 403


def test_hypothesis_evidence_compares_equal_spans(app, world):
    from fieldlog.models import Hypothesis
    from fieldlog.services import hypotheses

    from .conftest import TZ

    made = Hypothesis(statement="s", kpis=["purposeful_visit_rate"], started_on=date(2026, 11, 18))
    db.session.add(made)
    db.session.flush()
    found = hypotheses.evidence(db.session, made, today=date(2026, 11, 23), tz=TZ)
    # Started in W47, the last complete week: one week since, one week before (W46).
    assert found.labels == ["W46", "W47"] and found.weeks == 1 and found.start_index == 1
    assert found.after["purposeful_visit_rate"] == pytest.approx(2 / 3)
    assert found.before["purposeful_visit_rate"] is None  # no visits in W46
    assert set(found.series) == {"purposeful_visit_rate", "sales_amount"}


@pytest.mark.parametrize(
    ("who", "path"),
    [
        ("owner", "/summary?week=2026-W47"),
        ("manager", "/branches/TKY?week=2026-W47"),
        ("manager", "/branches/TKY?month=2026-11"),
        ("manager", "/branches/TKY/review?week=2026-W47"),
        ("manager", "/me?week=2026-W47"),
        ("rep", "/me?week=2026-W47"),
    ],
)
def test_every_page_showing_the_kpi_set_shows_its_lint(client, auth, world, who, path):
    auth.login(world[who])
    assert "KPI設定の確認" not in client.get(path).get_data(as_text=True)  # the default set
    settings = company_settings(db.session)
    settings.active_kpis = ["purposeful_visit_rate", "hearing_rate"]
    db.session.commit()
    html = client.get(path).get_data(as_text=True)
    assert 'class="card card-warn"' in html
    assert "有効なKPIが2個しかありません" in html  # too few
    assert ("/settings/kpis" in html) is (who == "owner")  # the fix is the owner's to make


@pytest.mark.parametrize(
    ("who", "path", "span", "label"),
    [
        ("manager", "/branches/TKY?month=2026-11", "8か月", None),
        ("manager", "/branches/TKY?week=2026-W47", "8週", None),
        ("rep", "/me?month=2026-11", "8か月", "26-11"),
        ("rep", "/me?week=2026-W47", "8週", "W47"),
        ("owner", "/summary?month=2026-11", "13か月", "26-11"),
        ("owner", "/summary?week=2026-W47", "13週", "W47"),
    ],
)
def test_trends_say_weeks_or_months(client, auth, world, who, path, span, label):
    auth.login(world[who])
    html = client.get(path).get_data(as_text=True)
    assert f"· {span}" in html
    other = {"8か月": "8週", "8週": "8か月", "13か月": "13週", "13週": "13か月"}[span]
    assert f"· {other}" not in html
    if label:
        assert f">{label}</text>" in html  # the chart's last axis label
    if path.startswith("/me"):  # the rep's page is named for the period it shows
        heading = "月次の自分" if "month=" in path else "今週の自分"
        assert f"<title>{heading}" in html and f"<h1>{heading} " in html


# A line chart sits in a tile at least this wide (CSS px) on a phone or a tablet.
NARROWEST_TILE = 270


@pytest.mark.parametrize(("who", "path"), [("owner", "/summary?week=2026-W47"), ("rep", "/me")])
def test_line_chart_text_stays_readable_in_its_tile(client, auth, world, who, path):
    """Drawn 480 wide and shrunk into a ~280 px tile, the axis labels came out 4–5 px tall."""
    auth.login(world[who])
    charts = [
        c for c in _svgs(client.get(path).get_data(as_text=True)) if "chart-line" in c.get("class")
    ]
    assert charts
    for chart in charts:
        shrink = min(1.0, NARROWEST_TILE / float(chart.get("viewBox").split()[2]))
        sizes = [float(t.get("font-size")) for t in chart.iter("{http://www.w3.org/2000/svg}text")]
        assert sizes and min(sizes) * shrink >= 9, chart.get("aria-label")


def test_hypothesis_charts_mark_the_start_week(client, auth, world):
    auth.login(world["manager"])
    response = _new_hypothesis(client, started_on="2026-11-09")
    html = client.get(response.headers["Location"]).get_data(as_text=True)
    charts = [c for c in _svgs(html) if "chart-line" in c.get("class")]
    assert len(charts) == 2
    for chart in charts:
        labels = [t.text for t in chart.iter("{http://www.w3.org/2000/svg}text")]
        assert "開始" in labels  # the week the hypothesis started, on the KPI and the KGI


def test_dashboard_of_a_branch_without_customers_says_so(client, auth, world):
    auth.login(world["owner"])
    html = client.get("/branches/OSK?week=2026-W47").get_data(as_text=True)
    assert "この支店にはまだ有効な顧客がいません" in html
    assert "すべての顧客を訪問周期内に訪問しています" not in html
    html = client.get("/branches/TKY?week=2026-W47").get_data(as_text=True)
    assert "この支店にはまだ有効な顧客がいません" not in html


def test_review_week_picker_offers_no_month(client, auth, world):
    """The review is weekly: a "show the month" link there only reloaded the same week."""
    auth.login(world["manager"])
    html = client.get("/branches/TKY/review?week=2026-W47").get_data(as_text=True)
    picker = re.search(r'<nav class="period-picker".*?</nav>', html, flags=re.S).group(0)
    assert "month=" not in picker and "/branches/TKY/review?week=2026-W46" in picker
    html = client.get("/branches/TKY?week=2026-W47").get_data(as_text=True)
    assert "/branches/TKY?month=2026-11" in html  # the dashboard keeps it


def test_dashboard_list_cells_are_labelled_for_phones(client, auth, world, make):
    """On a phone the tables stack: a bare "3" must still say it is the days late."""
    make.customer(world["rep"].branch, world["rep"], code="C9", name="未訪問商店")
    db.session.commit()
    auth.login(world["manager"])
    html = client.get("/branches/TKY?week=2026-W47").get_data(as_text=True)
    for heading in ("fu-h", "cust-h"):
        section = re.search(rf'aria-labelledby="{heading}".*?</section>', html, flags=re.S)
        cells = re.findall(r"<td[^>]*>", section.group(0))
        assert cells and all("data-label=" in cell for cell in cells), heading


def test_review_keeps_no_untouched_suggestion_as_an_answer(client, auth, world, make):
    """Saving an answer for one KPI wrote the pre-filled causes of the others as answers."""
    from fieldlog.kpi.choices import set_active_kpis
    from fieldlog.models import Review

    set_active_kpis(db.session, ["purposeful_visit_rate", "hearing_rate", "next_action_rate"])
    db.session.commit()
    auth.login(world["manager"])
    url = "/branches/TKY/review?week=2026-W47"
    html = _review_form(client, url)
    prefilled = re.search(r'name="cause-purposeful_visit_rate" value="(\w+)" checked', html)
    assert prefilled  # the analysis suggests a cause for the missed KPI
    client.post(
        url,
        data={
            "csrf_token": csrf_from(html),
            "cause-purposeful_visit_rate": prefilled.group(1),  # left as suggested, no text
            "why-hearing_rate": "ヒアリング項目を絞った",
        },
    )
    assert [r.kpi for r in db.session.query(Review)] == ["hearing_rate"]
    # A cause the manager picks, or confirms with text, is an answer.
    client.post(
        url,
        data={
            "csrf_token": csrf_from(_review_form(client, url)),
            "cause-purposeful_visit_rate": prefilled.group(1),
            "next-purposeful_visit_rate": "訪問前に目的を一行書く",
            "cause-next_action_rate": "design",
        },
    )
    db.session.expire_all()
    assert sorted(r.kpi for r in db.session.query(Review)) == [
        "hearing_rate",
        "next_action_rate",
        "purposeful_visit_rate",
    ]


@pytest.mark.parametrize(
    "path", ["/branches/TKY", "/branches/TKY/review", "/me", "/summary"], ids=str
)
def test_period_picker_stops_at_the_current_week(client, auth, world, path):
    """Today is Monday of 2026-W48: W48 may be opened, W49 (not begun) is not offered."""
    who = {"/summary": "owner", "/me": "rep"}.get(path, "manager")
    auth.login(world[who])
    html = client.get(f"{path}?week=2026-W47").get_data(as_text=True)
    assert "week=2026-W48" in html
    html = client.get(f"{path}?week=2026-W48").get_data(as_text=True)
    assert 'rel="next"' not in html and "week=2026-W49" not in html


def test_my_week_opens_on_the_week_in_progress(client, auth, world):
    """'This week' for a rep: the week still being played (NOW is Monday of W48), so marked."""
    auth.login(world["rep"])
    html = client.get("/me").get_data(as_text=True)
    assert "2026-W48" in html and "進行中" in html
    last = client.get("/me?week=2026-W47").get_data(as_text=True)
    assert "2026-W47" in last and "進行中" not in last
