"""Sales forecast: the pipeline arithmetic by hand, synthetic futures it must foresee, no leaks."""

from __future__ import annotations

import json
from datetime import date, timedelta

import numpy as np
import pytest

from fieldlog.app.extensions import db
from fieldlog.kpi.forecast import History, TooLittleHistory, forecast, pipeline_expectation
from fieldlog.models import Proposal
from tests.forecast_synth import Plan, backtest, history, until, without_proposals

S = date(2026, 6, 1).toordinal()


def _history(proposals: list[tuple[int, int | None, bool, int, float]]) -> History:
    """(proposed, closed or None, won, kind, amount) rows; sales do not matter here."""
    never = History.never()
    return History(
        sale_days=np.array([S], dtype=np.int64),
        sale_amounts=np.array([1.0]),
        proposed=np.array([p for p, *_ in proposals], dtype=np.int64),
        closed=np.array([never if c is None else c for _p, c, *_ in proposals], dtype=np.int64),
        won=np.array([w for _p, _c, w, *_ in proposals], dtype=bool),
        kinds=np.array([k for *_x, k, _a in proposals], dtype=np.int64),
        amounts=np.array([a for *_x, a in proposals]),
    )


def test_open_proposal_takes_the_observed_win_share_of_its_age_and_span():
    old = S - 60
    rows = [(old, old + 14, True, 0, 1.0)] * 6 + [(old, old + 30, True, 0, 1.0)] * 4
    rows += [(old, old + 2, False, 0, 1.0)] * 5  # lost before the open one's age: not at risk
    rows.append((S - 3, None, False, 0, 100_000.0))  # age 3 days
    # The week 8–14 days after the snapshot is days 11–17 of its life: 6 of the 10 still open
    # at day 3 were won then. Proposals still to come win on day 14 or 30: not in that week.
    assert pipeline_expectation(_history(rows), S, S + 8) == (60_000.0, 0.0)


def test_proposals_still_to_come_at_the_recent_pace():
    old = S - 60
    rows = [(old, old + 2, True, 0, 1.0)] * 10
    rows.append((S - 1, None, False, 0, 28_000.0))  # 28,000 in 28 days: 1,000 a day
    # Next week's Monday is a day away; a proposal of day d is won on day d + 2, inside the
    # week for d = 1 … 5 (five days at 1,000); the open one is too young for its own share.
    pending, upcoming = pipeline_expectation(_history(rows), S, S + 1)
    assert (pending, upcoming) == (0.0, 5_000.0)


def _end(plan: Plan) -> date:
    return date(2023, 11, 27) + timedelta(weeks=plan.weeks) - timedelta(days=1)


@pytest.mark.parametrize(
    ("plan", "margin"),
    [
        (Plan(), 0.95),  # season, trend and a steady pipeline
        (Plan(campaign=0.8, proposals=30), 0.85),  # campaigns: the pipeline sees them coming
    ],
)
def test_beats_both_naive_forecasts_on_a_known_future(plan, margin):
    full = history(plan, seed=7)
    origins = [_end(plan) - timedelta(weeks=k) for k in range(30, 4, -2)]
    score = backtest(full, origins, 4)
    assert len(score.covered) >= 40
    assert score.mape("model") < margin * min(score.mape("last_year"), score.mape("mean_4"))
    assert 0.6 <= score.coverage <= 0.97


@pytest.mark.parametrize(
    ("plan", "low", "high"),
    [
        # Planted effect: campaigns swing the proposals, and their wins arrive 3–6 weeks later.
        (Plan(campaign=0.8, proposals=30, season=0.0, trend=0.0), 0.0, 0.9),
        # Planted null: as many proposals "won", none of them ever sold.
        (Plan(campaign=0.8, proposals=30, season=0.0, trend=0.0, converts=False), 0.95, 1.05),
    ],
)
def test_the_pipeline_helps_only_when_it_converts(plan, low, high):
    full = history(plan, seed=5)
    origins = [_end(plan) - timedelta(weeks=k, days=3) for k in range(30, 4, -2)]
    with_pipeline = backtest(full, origins, 4).mape("model")
    without = backtest(without_proposals(full), origins, 4).mape("model")
    assert low <= with_pipeline / without <= high


def test_uses_nothing_after_as_of():
    full = history(Plan(weeks=80), seed=3)
    as_of = date(2023, 11, 27) + timedelta(weeks=70, days=3)
    assert forecast(full, as_of, 5) == forecast(until(full, as_of), as_of, 5)


def test_eight_weeks_are_needed():
    full = history(Plan(weeks=20), seed=2)
    start = date(2023, 11, 27)
    with pytest.raises(TooLittleHistory):
        forecast(full, start + timedelta(weeks=7, days=-1), 2)  # 7 complete weeks
    result = forecast(full, start + timedelta(weeks=8, days=-1), 2)
    assert [w.week for w in result.weeks] == ["2024-W04", "2024-W05"]
    assert "mean of the last 4 weeks" in result.method


# ---- the command -------------------------------------------------------------------------


@pytest.fixture
def branch_sales(make):
    branch = make.branch("TKY")
    rep = make.user("rep", branch, email="rep@example.jp")
    customer = make.customer(branch, rep)
    rng = np.random.default_rng(5)
    day = date(2025, 11, 3)  # a Monday: 56 weeks up to 2026-11-22
    while day <= date(2026, 11, 22):
        if day.weekday() < 5:
            make.sale(customer, day, int(rng.integers(90_000, 110_000)))
        day += timedelta(days=1)
    for week in range(40):
        born = date(2025, 12, 1) + timedelta(weeks=week)
        db.session.add(
            Proposal(
                rep_id=rep.id,
                branch_id=branch.id,
                customer_id=customer.id,
                kind="upsell",
                amount=200_000,
                proposed_on=born,
                status="won" if week % 2 else "lost",
                closed_on=born + timedelta(days=20),
            )
        )
    db.session.commit()
    return customer


def _forecast(runner, *args: str):
    return runner.invoke(args=["kpi", "forecast", *args])


def test_command_json(runner, branch_sales):
    result = _forecast(
        runner, "--scope", "branch:TKY", "--weeks", "3", "--as-of", "2026-11-18", "--json"
    )
    assert result.exit_code == 0, result.output
    body = json.loads(result.output)
    assert set(body) == {"scope", "as_of", "weeks", "method"}
    assert (body["scope"], body["as_of"]) == ("branch:TKY", "2026-11-18")
    assert [w["week"] for w in body["weeks"]] == ["2026-W48", "2026-W49", "2026-W50"]
    for week in body["weeks"]:
        assert set(week) == {"week", "value", "interval"}
        lo, hi = week["interval"]
        assert lo <= week["value"] <= hi
        assert 300_000 < week["value"] < 700_000  # five days of about 100,000
    assert body["method"]


def test_command_reads_nothing_after_as_of(runner, branch_sales, make):
    args = ("--scope", "company", "--weeks", "2", "--as-of", "2026-10-14", "--json")
    before = _forecast(runner, *args).output
    make.sale(branch_sales, date(2026, 10, 15), 50_000_000)
    db.session.commit()
    assert _forecast(runner, *args).output == before


def test_command_refuses_too_little_history_and_reps(runner, branch_sales):
    short = _forecast(runner, "--scope", "company", "--as-of", "2025-12-20", "--json")
    assert short.exit_code == 2
    assert "Too little history" in short.output and "at least 8" in short.output
    rep = _forecast(runner, "--scope", "rep:rep@example.jp", "--json")
    assert rep.exit_code == 2 and "company or branch" in rep.output
    assert "a rep scope is not accepted here; use company or branch:CODE" in rep.output


@pytest.mark.parametrize("scope", ["foo", "rep:", "branch:", "rep"])
def test_a_bad_scope_names_only_what_the_forecast_accepts(runner, branch_sales, scope):
    bad = _forecast(runner, "--scope", scope, "--json")
    assert bad.exit_code == 2 and "--scope" in bad.output
    assert "use company or branch:CODE" in bad.output
    assert "rep:EMAIL" not in bad.output
    # The commands that do take a rep still say so.
    show = runner.invoke(args=["kpi", "show", "--period", "2026-W47", "--scope", scope])
    assert show.exit_code == 2 and "use company, branch:CODE or rep:EMAIL" in show.output


def _led_history(with_lead: bool, seed: int = 4, effect: float = 3e6) -> History:
    """Weekly sales = 10M + ``effect`` × a KPI three weeks earlier + noise; the KPI is white
    noise (``effect`` 0: a planted null, a KPI handed in as leading that leads nothing)."""
    rng = np.random.default_rng(seed)
    start = date(2024, 1, 1)  # a Monday
    weeks = 120
    kpi = rng.normal(0, 1, weeks)
    days, amounts, leading = [], [], {}
    for w in range(weeks):
        monday = start + timedelta(weeks=w)
        leading[monday.toordinal()] = float(kpi[w])
        value = 10e6 + (effect * kpi[w - 3] if w >= 3 else 0) + rng.normal(0, 3e5)
        days.append(monday.toordinal() + 2)
        amounts.append(value)
    empty = np.array([], dtype=np.int64)
    return History(
        sale_days=np.array(days, dtype=np.int64),
        sale_amounts=np.array(amounts),
        proposed=empty,
        closed=empty,
        won=np.array([], dtype=bool),
        kinds=empty,
        amounts=np.array([]),
        leading={"proposal_count": (leading, 3)} if with_lead else {},
    )


def test_a_leading_kpi_found_by_the_lead_analysis_is_used():
    origins = [date(2024, 1, 1) + timedelta(weeks=k, days=6) for k in range(90, 114, 2)]
    plain = backtest(_led_history(False), origins, 2)
    led = backtest(_led_history(True), origins, 2)
    assert led.mape("model") < 0.5 * plain.mape("model")
    method = forecast(_led_history(True), origins[-1], 2).method
    assert "lead:proposal_count" in method


def test_a_kpi_that_leads_nothing_does_not_hurt():
    origins = [date(2024, 1, 1) + timedelta(weeks=k, days=6) for k in range(90, 114, 2)]
    plain = backtest(_led_history(False, effect=0), origins, 2).mape("model")
    led = backtest(_led_history(True, effect=0), origins, 2).mape("model")
    assert led <= 1.05 * plain
