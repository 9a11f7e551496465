"""Before/after against a comparison group: planted effects found, planted nulls not, thin data
says "too early to say"; the hypothesis page, the status change and the PDF carry it."""

from __future__ import annotations

import numpy as np
import pytest

from fieldlog.app.extensions import db
from fieldlog.kpi.did import Comparison, compare
from fieldlog.services.hypotheses import suggest

from .panels import ar1


def groups(
    seed: int,
    effect: float = 0.0,
    *,
    tested: int = 1,
    others: int = 3,
    before: int = 26,
    after: int = 12,
    phi: float = 0.5,
) -> tuple[np.ndarray, np.ndarray, int]:
    """Tested and comparison units sharing a season and a random walk, AR(1) noise of sd ~1;
    the tested units' level moves by ``effect`` from the start on."""
    rng = np.random.default_rng(seed)
    weeks = before + after
    t = np.arange(weeks)
    shared = 3 * np.sin(2 * np.pi * t / 52) + np.cumsum(rng.normal(0, 0.5, weeks))
    noise = ar1(rng, (tested + others, weeks), phi) * np.sqrt(1 - phi**2)
    levels = rng.normal(20, 5, (tested + others, 1))
    panel = levels + shared + noise
    panel[:tested, before:] += effect
    return panel[:tested], panel[tested:], before


@pytest.mark.parametrize(
    ("effect", "tested", "others", "after", "expected"),
    [
        (3.0, 1, 3, 12, "up"),
        (2.0, 2, 4, 26, "up"),
        (-3.0, 1, 2, 12, "down"),
        (1.5, 3, 8, 26, "up"),
    ],
)
def test_planted_effect_is_found_with_its_size(effect, tested, others, after, expected):
    hits = 0
    for seed in range(20):
        a, b, start = groups(seed, effect, tested=tested, others=others, after=after)
        found = compare(a, b, start)
        if found.verdict == expected:
            hits += 1
            lo, hi = found.interval
            assert lo <= effect + 1.5 and hi >= effect - 1.5  # the size, roughly
    assert hits >= 16, hits


@pytest.mark.parametrize(
    ("phi", "tested", "others", "after"),
    [(0.0, 1, 3, 12), (0.5, 1, 2, 8), (0.7, 2, 5, 26), (0.5, 3, 8, 6)],
)
def test_planted_nulls_are_not_called_beyond_the_nominal_rate(phi, tested, others, after):
    """At 90 % a null may be called up or down 10 % of the time, not more."""
    called = 0
    runs = 200
    for seed in range(runs):
        a, b, start = groups(1000 + seed, 0.0, phi=phi, tested=tested, others=others, after=after)
        called += compare(a, b, start).verdict in ("up", "down")
    assert called / runs <= 0.10, called


@pytest.mark.parametrize(("before", "after"), [(26, 5), (11, 20), (1, 0), (26, 0)])
def test_too_few_weeks_is_too_early_to_say(before, after):
    a, b, start = groups(3, 5.0, before=before, after=after)
    found = compare(a, b, start)
    assert found.verdict == "too_little_data"
    assert (found.effect, found.interval) == (None, None)


def test_no_comparison_unit_is_too_early_to_say():
    a, _b, start = groups(4, 5.0)
    found = compare(a, np.empty((0, a.shape[1])), start)
    assert found.verdict == "too_little_data"


def test_a_gap_already_widening_before_the_start_is_not_evidence():
    a, b, start = groups(5, 0.0, after=12)
    a = a + 0.3 * np.arange(a.shape[1])  # the tested unit pulls away all along
    found = compare(a, b, start)
    assert found.verdict == "pre_trend" and found.pre_trend > 0


def test_the_same_weeks_a_year_earlier_as_the_comparison():
    rng = np.random.default_rng(6)
    season = 5 * np.sin(2 * np.pi * np.arange(38) / 52)
    last_year = 20 + season + rng.normal(0, 1, 38)
    this_year = 22 + season + rng.normal(0, 1, 38)
    this_year[26:] += 4
    found = compare(this_year, last_year, 26, against="year")
    assert found.verdict == "up" and "a year earlier" in found.method
    assert found.interval[0] < 4 < found.interval[1]


def _c(verdict: str) -> Comparison:
    return Comparison(verdict, 1.0, (0.5, 1.5), 26, 8)


@pytest.mark.parametrize(
    ("lead", "kpi", "kgi", "better", "expected"),
    [
        ("leads", None, None, "up", "supported"),
        ("leads", "up", "up", "up", "supported"),
        ("leads", "up", "down", "up", "too_early"),
        ("leads", "up", "pre_trend", "up", "supported"),
        # the comparison cannot judge yet: too early, whatever the lead analysis says
        ("leads", "too_little_data", "up", "up", "too_early"),
        ("leads", "up", "too_little_data", "up", "too_early"),
        ("no_link", "too_little_data", "too_little_data", "up", "too_early"),
        # no lead detected is absence of evidence, never evidence against
        ("no_link", None, None, "up", "too_early"),
        ("no_link", "up", "up", "up", "supported"),
        ("no_link", "up", "no_change", "up", "not_supported"),
        ("no_link", "no_change", "no_change", "up", "too_early"),
        ("too_little_data", "up", "up", "up", "supported"),
        ("too_little_data", "up", "no_change", "up", "not_supported"),
        ("too_little_data", "no_change", "up", "up", "too_early"),
        ("too_little_data", "down", "up", "down", "supported"),
        ("too_little_data", "up", "pre_trend", "up", "too_early"),
        ("too_little_data", None, None, "up", "too_early"),
    ],
)
def test_suggested_verdict_combines_lead_and_comparison(lead, kpi, kgi, better, expected):
    got = suggest(lead, kpi and _c(kpi), kgi and _c(kgi), better=better)
    assert got == expected


@pytest.mark.parametrize(
    ("kpi", "better", "expected"),
    [
        ("up", "up", "supported"),
        ("down", "up", "not_supported"),
        ("down", "down", "supported"),
        ("no_change", "up", "too_early"),
        ("pre_trend", "up", "too_early"),
        ("too_little_data", "up", "too_early"),
        (None, "up", "too_early"),
    ],
)
def test_a_hypothesis_about_its_kpis_is_judged_on_their_comparison_alone(kpi, better, expected):
    from fieldlog.services.hypotheses import suggest_kpi

    assert suggest_kpi(kpi and _c(kpi), better=better) == expected


def test_hypothesis_page_compares_the_pilot_with_the_other_branches(runner, app, client, auth):
    from fieldlog.models import Hypothesis, HypothesisStatusChange

    from .conftest import csrf_from

    assert runner.invoke(args=["demo-data"]).exit_code == 0
    auth.login("owner@minato.example", "fieldlog-demo")
    page = client.get("/hypotheses/1").get_data(as_text=True)
    assert "開始前後の比較（比較グループとの差の差）" in page
    assert "検証：名古屋支店" in page and "他の支店（平均）" in page
    # One before/after chart per linked KPI and the KGI, each with a title and a description.
    assert page.count('class="chart chart-line"') == 3 and page.count("<desc>") >= 3
    assert "比較グループ比 +" in page and "90%区間" in page
    assert "手法： 差の差分析：週ごとの差（検証側 − 比較グループ）" in page
    assert "difference in differences" not in page  # the method line is translated too
    assert "数字からの提案：" in page
    assert "効果の単位：提案回数 +1 あたりの円" in page  # the lag chart's effect unit
    # The Tokyo hypothesis started 4 weeks ago: too early for a before/after estimate.
    tokyo = client.get("/hypotheses/2").get_data(as_text=True)
    assert "他支店の担当者（平均）" in tokyo and "まだ判断できない" in tokyo
    assert "（開始前12週・開始後6週が必要）" in tokyo
    header = tokyo.split('class="suggested-verdict">')[1].split("</span>")[0]
    assert "数字からの提案： まだ判断できません" in header and "支持されない" not in header
    assert "開始前12週と開始後6週が必要です" in header  # why it is too early
    assert "関連なし" not in tokyo and "支持されない" not in tokyo
    # About its KPIs themselves: no suggestion from a lead on sales, and it says so.
    assert "売上への先行ではなく、下のKPIの開始前後の比較から" in tokyo
    leads = tokyo.split("KPIはKGIに先行したか")[1].split("</table>")[0]
    assert "数字からの提案" not in leads and "数字が示す判定" not in leads
    # The tested group: Tokyo's reps, not its manager (no customers, so no sales of their own).
    from fieldlog.models import User

    managers = db.session.query(User).filter_by(role="manager").all()
    table = tokyo.split('class="kpi-table did-table"')[1].split("</table>")[0]
    assert managers and not any(m.name in table for m in managers)
    assert "— → —" not in table  # every tested rep has sales of their own

    hypothesis = db.session.get(Hypothesis, 1)
    response = client.post(
        "/hypotheses/1",
        data={
            "csrf_token": csrf_from(page),
            "statement": hypothesis.statement,
            "kpis": hypothesis.kpis,
            "kgi": hypothesis.kgi,
            "started_on": hypothesis.started_on.isoformat(),
            "status": "supported",
            "note": hypothesis.note,
        },
    )
    assert response.status_code == 302
    db.session.expire_all()
    (change,) = db.session.query(HypothesisStatusChange).all()
    nagoya = [e for e in change.evidence if e["branch"] == "NGY"]
    assert nagoya and all(set(e["comparison"]) == {e["kpi"], "sales_amount"} for e in nagoya)
    sales = nagoya[0]["comparison"]["sales_amount"]
    assert sales["verdict"] in ("up", "down", "no_change", "pre_trend")
    assert sales["before_weeks"] == 26 and sales["after_weeks"] == 8
    others = [e for e in change.evidence if e["branch"] != "NGY"]
    assert others and all(e["comparison"] is None for e in others)  # not tested there
    page = client.get("/hypotheses/1").get_data(as_text=True)
    assert "差の差" in page.split("ステータスの変更と、その時点の根拠")[1]


def test_company_hypothesis_without_a_pilot_is_compared_with_a_year_earlier(runner, app):
    """Every branch tests it: the comparison is the same weeks a year earlier."""
    from fieldlog.kpi.comparison import hypothesis_comparison
    from fieldlog.models import Hypothesis, Review

    from .conftest import NOW, TZ

    assert runner.invoke(args=["demo-data"]).exit_code == 0
    db.session.query(Review).update({"hypothesis_id": None})
    hypothesis = db.session.get(Hypothesis, 1)
    found = hypothesis_comparison(db.session, hypothesis, today=NOW.astimezone(TZ).date(), tz=TZ)
    assert found.against == "year" and found.comparison == [] and len(found.tested) == 3
    assert "a year earlier" in found.method
    group = found.group()
    # Visits begin with the demo's 52 weeks: no KPI a year earlier, so too early to say ...
    assert all(group.by_key[k].verdict == "too_little_data" for k in hypothesis.kpis)
    # ... while its sales go back two years, so the KGI has an estimate, per branch as well.
    assert group.by_key["sales_amount"].effect is not None
    assert {u.code for u in found.units if not u.group} == {"NGY", "OSK", "TKY"}


def test_weekly_pdf_shows_the_comparison(runner, app, tmp_path):
    from .test_kpi_lead import demo_weekly_pdf_text

    text = " ".join(demo_weekly_pdf_text(runner, tmp_path, "NGY").split())
    assert "開始前後の差の差（比較グループ比）：" in text
    assert "数字からの提案：" in text and "効果の単位" in text
    # The small before/after chart: its legend names the comparison group (not only the line).
    assert text.count("比較グループ") > text.count("比較グループ比")
