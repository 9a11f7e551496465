"""kpi lead: planted leads are found at the right lag, planted nulls are not, thin data says so."""

from __future__ import annotations

import json

import numpy as np
import pytest

from fieldlog.app.extensions import db
from fieldlog.kpi.leadlag import estimate
from fieldlog.rules.periods import Period

from .panels import ar1, rep_with_weekly_proposals


def panel(
    seed: int, units: int, weeks: int, effect: float = 0.0, lag: int = 0, shared: bool = True
) -> tuple[np.ndarray, np.ndarray]:
    """A KPI and a KGI per unit: autocorrelated, trending, seasonal; the KGI follows if effect."""
    rng = np.random.default_rng(seed)
    span = weeks + 12
    t = np.arange(span)
    season = np.sin(2 * np.pi * t / 52)
    kpi = 10 + rng.normal(0, 2, (units, 1)) + ar1(rng, (units, span), 0.6) + 0.02 * t
    kgi = 100 + rng.normal(0, 10, (units, 1)) + ar1(rng, (units, span), 0.5) + 0.05 * t
    if shared:
        # A company-wide swing in the KPI followed 3 weeks later by one in the KGI: shared by
        # every unit, so it is the season or a campaign, not evidence that the KPI leads.
        common = ar1(rng, (1, span), 0.7)
        kpi = kpi + season + common
        kgi = kgi + 3 * season + 2 * np.roll(common, 3, axis=1)
    if effect:
        kgi[:, lag:] += effect * kpi[:, : span - lag]
    return kpi[:, 12:], kgi[:, 12:]


@pytest.mark.parametrize(
    "units, weeks, effect, lag",
    [
        (5, 104, 0.3, 0),
        (5, 104, 0.3, 6),
        (5, 52, 0.6, 3),
        (8, 78, 0.3, 12),
        (3, 104, 0.5, 9),
        (4, 52, 1.0, 1),
        (1, 104, 0.8, 4),  # one rep: no panel, no week effects, still found
        (12, 40, 0.5, 5),
    ],
)
def test_planted_lead_is_found_at_its_lag(units, weeks, effect, lag):
    for seed in range(3):
        kpi, kgi = panel(seed, units, weeks, effect, lag)
        found = estimate(kpi, kgi)
        assert found.verdict == "leads", (seed, found.by_lag)
        assert abs(found.lag - lag) <= 1
        lo, hi = found.interval
        assert lo <= found.effect <= hi and lo > 0


@pytest.mark.parametrize("units, weeks", [(5, 104), (3, 52), (8, 78), (4, 26)])
def test_planted_null_is_no_link(units, weeks):
    """The KPI varies, trends and swings with the KGI's season; the KGI never follows it."""
    for seed in range(5):
        kpi, kgi = panel(100 + seed, units, weeks)
        found = estimate(kpi, kgi)
        assert found.verdict == "no_link", (seed, [e.as_dict() for e in found.by_lag])
        assert found.lag is None and found.effect is None and found.interval is None
        assert len(found.by_lag) == 13 and found.n > 0


def test_a_lead_against_the_better_direction_is_not_a_lead():
    """Proposals that lower sales later do not 'lead' sales: the link must go the same way."""
    kpi, kgi = panel(7, 5, 104, effect=-0.5, lag=2)
    found = estimate(kpi, kgi)
    assert found.verdict == "no_link"
    assert found.by_lag[2].interval[1] < 0  # the negative link is there, and shown per lag
    # For a KPI whose better direction is down (dormant_rate) the same data is a lead.
    down = estimate(kpi, kgi, better="down")
    assert (down.verdict, down.lag) == ("leads", 2)


def test_effect_is_per_step_of_the_kpi():
    """A rate's effect is per 10 points: the same data as a fraction gives 10× the effect."""
    kpi, kgi = panel(3, 5, 104, effect=2.0, lag=4)
    per_unit = estimate(kpi, kgi)
    as_rate = estimate(kpi / 100, kgi, per=0.1)
    assert as_rate.lag == per_unit.lag == 4
    assert as_rate.effect == pytest.approx(per_unit.effect * 10)
    assert per_unit.effect == pytest.approx(2.0, rel=0.25)


@pytest.mark.parametrize(
    "kpi, kgi",
    [
        panel(1, 5, 20, effect=0.0),  # too few weeks for the 13 lags
        panel(2, 5, 24),  # enough for the lags, not for a no_link (26 weeks)
        (np.full((4, 60), 3.0), panel(3, 4, 60)[1]),  # the KPI never moved
        (np.full((3, 60), np.nan), panel(4, 3, 60)[1]),  # a rate never had a denominator
        (np.empty((0, 52)), np.empty((0, 52))),  # a scope with nobody in it
    ],
)
def test_too_little_data(kpi, kgi):
    found = estimate(kpi, kgi)
    assert found.verdict == "too_little_data"
    assert (found.lag, found.effect, found.interval) == (None, None, None)


def test_a_kpi_that_moves_rarely_is_too_little_data():
    """A KPI that changed in fewer than half its weeks cannot show there is no link."""
    _, kgi = panel(5, 4, 60)
    kpi = np.repeat(np.arange(6, dtype=float), 10)[None, :].repeat(4, axis=0)
    assert estimate(kpi, kgi).verdict == "too_little_data"


# ---- end to end: the CLI on visits and sales written through the real write path -----------

UNTIL = Period.parse("2026-W47")  # the last complete week at the tests' clock
WEEKS = 40
LAG = 3


@pytest.fixture
def pilot(make):
    """Four reps whose proposals vary week to week; their customers buy 3 weeks later."""
    branch = make.branch("NGY")
    make.branch("EMPTY")
    rng = np.random.default_rng(42)
    periods = UNTIL.trailing(WEEKS)
    for r in range(4):
        rep_with_weekly_proposals(make, branch, f"rep{r}@example.jp", periods, rng, lag=LAG)
    db.session.commit()
    return branch


def _lead(runner, *args: str):
    return runner.invoke(args=["kpi", "lead", *args])


def test_cli_finds_the_pilots_lead(runner, pilot):
    result = _lead(
        runner, "--kpi", "proposal_count", "--scope", "branch:NGY", "--weeks", "40", "--json"
    )
    assert result.exit_code == 0, result.output
    body = json.loads(result.output)
    assert list(body) == [
        "kpi",
        "kgi",
        "scope",
        "from",
        "until",
        "weeks",
        "verdict",
        "lag_weeks",
        "effect",
        "interval",
        "n",
        "by_lag",
        "method",
    ]
    assert (body["kpi"], body["kgi"], body["scope"]) == (
        "proposal_count",
        "sales_amount",
        "branch:NGY",
    )
    assert (body["from"], body["until"], body["weeks"]) == ("2026-W08", "2026-W47", 40)
    assert body["verdict"] == "leads"
    assert abs(body["lag_weeks"] - LAG) <= 1
    lo, hi = body["interval"]
    assert 0 < lo <= body["effect"] <= hi
    assert 30_000 < body["effect"] < 90_000  # yen of sales per proposal, planted at 60,000
    assert [e["lag"] for e in body["by_lag"]] == list(range(13))
    assert body["n"] > 0 and "HAC" in body["method"]


def test_cli_company_and_rep_scopes_and_empty_branch(runner, pilot):
    company = _lead(runner, "--kpi", "proposal_count", "--weeks", "40", "--json")
    assert company.exit_code == 0, company.output
    # Two branches, one of them empty: no panel to speak of, and no crash.
    assert json.loads(company.output)["verdict"] in ("leads", "too_little_data")
    empty = _lead(runner, "--kpi", "hearing_rate", "--scope", "branch:EMPTY", "--json")
    assert empty.exit_code == 0, empty.output
    body = json.loads(empty.output)
    assert (body["verdict"], body["n"], body["lag_weeks"]) == ("too_little_data", 0, None)
    assert (body["until"], body["weeks"]) == ("2026-W47", 104)
    rep = _lead(runner, "--kpi", "proposal_count", "--scope", "rep:rep0@example.jp", "--json")
    assert rep.exit_code == 0, rep.output
    assert json.loads(rep.output)["scope"] == "rep:rep0@example.jp"
    text = _lead(runner, "--kpi", "proposal_count", "--scope", "branch:NGY", "--weeks", "40")
    assert text.exit_code == 0 and "verdict: leads" in text.output


@pytest.mark.parametrize(
    "args, message",
    [
        (["--kpi", "sales_volume"], "unknown KPI 'sales_volume'"),
        (["--kpi", "sales_amount"], "unknown KPI 'sales_amount'"),  # a KGI cannot lead itself
        (["--kpi", "hearing_rate", "--kgi", "profit"], "unknown KGI 'profit'"),
        (["--kpi", "hearing_rate", "--scope", "branch:XXX"], "no branch with code 'XXX'"),
        (["--kpi", "hearing_rate", "--scope", "team"], "not a scope"),
        (["--kpi", "hearing_rate", "--weeks", "7"], "7 weeks: choose from 8 to 260"),
        (["--kpi", "hearing_rate", "--weeks", "261"], "261 weeks: choose from 8 to 260"),
        (["--kpi", "hearing_rate", "--weeks", "many"], "'many' is not a valid integer"),
        (["--kpi", "hearing_rate", "--until", "2026-W48"], "2026-W48 is not over yet"),
        (["--kpi", "hearing_rate", "--until", "2027-W01"], "not over yet"),
        (["--kpi", "hearing_rate", "--until", "2026-11"], "not an ISO week like 2026-W47"),
        (["--kpi", "hearing_rate", "--until", "2026-W60"], "is not an ISO week"),
    ],
)
def test_cli_bad_input_is_one_line_and_exit_2(runner, make, args, message):
    make.branch("NGY")
    db.session.commit()
    result = _lead(runner, *args)
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert "Traceback" not in result.output


def test_until_defaults_to_the_last_complete_week(runner, make):
    make.branch("NGY")
    db.session.commit()
    explicit = _lead(runner, "--kpi", "proposal_count", "--until", "2026-W47", "--json")
    default = _lead(runner, "--kpi", "proposal_count", "--json")
    assert explicit.exit_code == 0, explicit.output
    assert json.loads(explicit.output) == json.loads(default.output)


def test_demo_pilot_leads_and_a_kpi_without_link(runner, app):
    """The demo's Nagoya pilot: proposals lead sales by a few weeks; elsewhere no link."""
    assert runner.invoke(args=["demo-data"]).exit_code == 0
    args = ["--weeks", "52", "--json"]
    nagoya = json.loads(
        _lead(runner, "--kpi", "proposal_count", "--scope", "branch:NGY", *args).output
    )
    assert nagoya["verdict"] == "leads" and 3 <= nagoya["lag_weeks"] <= 5
    tokyo = json.loads(
        _lead(runner, "--kpi", "purposeful_visit_rate", "--scope", "branch:TKY", *args).output
    )
    assert tokyo["verdict"] == "no_link"


def test_hypothesis_page_shows_each_branchs_lead(runner, app, client, auth):
    assert runner.invoke(args=["demo-data"]).exit_code == 0
    auth.login("owner@minato.example", "fieldlog-demo")
    page = client.get("/hypotheses/1").get_data(as_text=True)
    assert "KPIはKGIに先行したか" in page
    assert page.count('class="chart chart-lag"') == 6  # 3 branches × 2 linked KPIs
    assert "先行あり" in page and "4週" in page
    # No lead detected elsewhere is absence of evidence: said so, never "not supported".
    assert "先行は確認できていません" in page and "関連なし" not in page
    assert "支持されない" not in page


def test_units_with_only_short_runs_of_weeks_are_too_little_data():
    """Reps seen a few weeks each (a short history, staff turnover): no HAC interval, no crash."""
    rng = np.random.default_rng(7)
    units, weeks = 40, 40
    kpi = np.full((units, weeks), np.nan)
    for unit in range(units):
        start = unit % (weeks - 5)
        kpi[unit, start : start + 5] = rng.normal(0.5, 0.1, 5)
    kgi = rng.normal(100.0, 10.0, (units, weeks))
    found = estimate(kpi, kgi)
    assert found.verdict == "too_little_data"
    assert (found.lag, found.effect, found.interval) == (None, None, None)


def test_a_status_change_keeps_the_evidence_of_that_moment(runner, app, client, auth):
    from fieldlog.models import Hypothesis, HypothesisStatusChange

    from .conftest import csrf_from

    assert runner.invoke(args=["demo-data"]).exit_code == 0
    auth.login("owner@minato.example", "fieldlog-demo")
    hypothesis = db.session.get(Hypothesis, 1)
    page = client.get("/hypotheses/1").get_data(as_text=True)
    assert "ステータスはまだ変更されていません" in page
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
    assert response.status_code == 302, response.get_data(as_text=True)[:2000]
    db.session.expire_all()
    (change,) = db.session.query(HypothesisStatusChange).all()
    assert (change.old_status, change.new_status) == ("testing", "supported")
    nagoya = [e for e in change.evidence if e["branch"] == "NGY" and e["kpi"] == "proposal_count"]
    assert nagoya[0]["verdict"] == "leads" and nagoya[0]["suggested"] == "supported"
    assert len(change.evidence) == 6 and all(len(e["by_lag"]) == 13 for e in change.evidence)
    page = client.get("/hypotheses/1").get_data(as_text=True)
    assert "ステータスの変更と、その時点の根拠" in page and "NGY · 提案回数: 先行あり" in page


def demo_weekly_pdf_text(runner, tmp_path, branch: str) -> str:
    """The demo company's weekly PDF of a branch for 2026-W47, as pdftotext reads it."""
    from .test_reports_pdf import pdftotext

    assert runner.invoke(args=["demo-data"]).exit_code == 0
    out = tmp_path / f"{branch.lower()}.pdf"
    args = ["report", "weekly", "--branch", branch, "--week", "2026-W47", "-o", str(out)]
    result = runner.invoke(args=args)
    assert result.exit_code == 0, result.output
    return pdftotext(out.read_bytes(), tmp_path)


def test_weekly_pdf_shows_each_hypothesis_evidence(runner, app, tmp_path):
    text = demo_weekly_pdf_text(runner, tmp_path, "NGY")
    assert "提案回数 → 売上（直近52週・担当者別）： 4週遅れで先行あり" in text
    assert "数字からの提案：支持" in text and "何週後（遅れ）" in text


def test_weekly_pdf_says_too_early_and_no_lead_without_a_bold_verdict(runner, app, tmp_path):
    """Tokyo's PDF: its own hypothesis (about its KPIs, 4 weeks old) is too early to judge, no
    KPI is called "not supported" for showing no lead, and the suggestion is printed no
    bolder or larger than its caveats."""
    from fieldlog.models import Branch
    from fieldlog.present.pdf import render_html
    from fieldlog.reports.data import branch_report

    from .conftest import NOW, TZ

    text = " ".join(demo_weekly_pdf_text(runner, tmp_path, "TKY").split())
    assert "数字からの提案：まだ判断できません（KPI自体の開始前後の比較から）" in text
    assert (
        "先行は確認できていません" in text and "先行が確認できないことは反証ではありません" in text
    )
    assert "関連なし" not in text and "支持されない" not in text
    assert "数字が示す判定" not in text

    tokyo = db.session.query(Branch).filter_by(code="TKY").one()
    report = branch_report(
        db.session, tokyo, Period.parse("2026-W47"), today=NOW.astimezone(TZ).date(), tz=TZ
    )
    html = render_html(report)
    part = html.split('class="hypothesis-leads"')[1].split("</table>")[0]
    assert part.count('<small class="suggested">数字からの提案：') == len(report.hypothesis_leads)
    assert "<strong" not in part and "<b>" not in part and "<h" not in part
