"""Lint, targets, achievement, gap analysis and the KPI settings services."""

from __future__ import annotations

from datetime import date

import pytest

from fieldlog.app.extensions import db
from fieldlog.kpi import CATALOGUE, KPI_KEYS, KpiValue, Scope
from fieldlog.kpi.choices import (
    lint_settings,
    set_active_kpis,
    set_dormancy,
    set_kpi_why,
    set_rank_cycles,
    why_texts,
)
from fieldlog.kpi.gap import suggest
from fieldlog.kpi.lint import lint
from fieldlog.kpi.targets import achievement, set_target, target_for, target_history, targets_for
from fieldlog.present.gap_text import explain
from fieldlog.rules.periods import Period
from fieldlog.services.defaults import company_settings
from fieldlog.services.errors import Invalid

GOOD = ["purposeful_visit_rate", "hearing_rate", "next_action_rate", "follow_up_rate"]
WHY = {key: "because" for key in KPI_KEYS}


def test_catalogue_matches_design_table():
    assert KPI_KEYS[0] == "visit_count" and KPI_KEYS[-1] == "gross_margin_rate"
    assert len(KPI_KEYS) == 14
    assert not CATALOGUE["visit_count"].recommended
    assert CATALOGUE["visit_count"].kind == "volume"
    assert CATALOGUE["dormant_rate"].direction == "down"
    assert {CATALOGUE[k].kind for k in ("sales_amount", "gross_margin_rate")} == {"result"}
    for d in CATALOGUE.values():
        assert d.name("ja") and d.name("en") and d.why("ja") and d.why("en") and d.definition
    assert CATALOGUE["hearing_rate"].name("en") == "Problem-hearing rate"
    assert CATALOGUE["hearing_rate"].name("ja") == "課題ヒアリング実施率"


@pytest.mark.parametrize(
    "active, why, codes",
    [
        (GOOD, WHY, []),
        (GOOD[:3], WHY, []),
        ([*GOOD, "proposal_count"], WHY, []),
        ([*GOOD, "proposal_count", "dormant_rate"], WHY, ["too_many"]),
        (GOOD[:2], WHY, ["too_few"]),
        ([], WHY, ["too_few"]),
        (["visit_count"], WHY, ["too_few", "volume_only"]),
        (["sales_amount", "gross_margin_rate"], WHY, ["too_few", "result_only"]),
        (["sales_amount", "gross_margin_rate", "visit_count"], WHY, ["no_process"]),
        (["sales_amount", "visit_count"], WHY, ["too_few", "no_process"]),
        (["sales_amount", "visit_count", "hearing_rate"], WHY, []),  # one handle is enough
        (["visit_count", "hearing_rate", "next_action_rate"], WHY, []),
        (GOOD, {**WHY, "hearing_rate": "  "}, ["missing_why"]),
        (GOOD, {}, ["missing_why"] * 4),
        ([*GOOD[:2], "nope"], WHY, ["unknown_kpi"]),
    ],
)
def test_lint(app, active, why, codes):
    found = lint(active, why)
    assert [w.code for w in found] == codes
    assert all(str(w.message) for w in found)


def test_lint_names_the_kpi_without_why(app):
    (warning,) = lint(GOOD, {**WHY, "hearing_rate": ""})
    assert warning.kpi == "hearing_rate"
    assert "課題ヒアリング実施率" in str(warning)


@pytest.mark.parametrize(
    "value, target, direction, expected",
    [
        (0.6, 0.5, "up", "ahead"),
        (0.4, 0.5, "up", "behind"),
        (0.5, 0.5, "up", "on"),
        (0.1, 0.2, "down", "ahead"),
        (0.3, 0.2, "down", "behind"),
        (None, 0.5, "up", None),
        (0.5, None, "up", None),
        (5, 3, None, None),
    ],
)
def test_achievement_respects_direction(value, target, direction, expected):
    assert achievement(value, target, direction) == expected


def test_targets_latest_effective_with_scope_fallback(make):
    branch = make.branch()
    rep, other = make.user("rep", branch), make.user("rep", branch)
    owner = make.user("owner")
    w47, w48, nov = (Period.parse(t) for t in ("2026-W47", "2026-W48", "2026-11"))
    key = "hearing_rate"
    set_target(db.session, key, Scope.company(), "week", 0.5, date(2026, 1, 1), owner)
    assert target_for(db.session, key, Scope.rep(rep.id), w47) == 0.5
    set_target(db.session, key, Scope.branch(branch.id), "week", 0.6, date(2026, 11, 1), owner)
    set_target(db.session, key, Scope.rep(rep.id), "week", 0.7, date(2026, 11, 23), owner)
    assert target_for(db.session, key, Scope.rep(rep.id), w47) == 0.6  # rep's starts in W48
    assert target_for(db.session, key, Scope.rep(rep.id), w48) == 0.7
    assert target_for(db.session, key, Scope.rep(other.id), w48) == 0.6
    assert target_for(db.session, key, Scope.company(), w48) == 0.5
    assert target_for(db.session, key, Scope.company(), nov) == 0.5  # a rate: the weekly one
    assert target_for(db.session, "proposal_count", Scope.company(), nov) is None
    assert target_for(db.session, "dormant_rate", Scope.company(), w47) is None
    set_target(db.session, key, Scope.company(), "week", 0.55, date(2026, 1, 1), owner)
    assert target_for(db.session, key, Scope.company(), w47) == 0.55  # the later entry wins
    assert len(target_history(db.session, key)) == 4  # history kept
    assert targets_for(db.session, [key, "proposal_count"], Scope.rep(rep.id), w48) == {
        key: 0.7,
        "proposal_count": None,
    }


@pytest.mark.parametrize(
    "kpi, period_kind, value, field",
    [
        ("nope", "week", 1, "kpi"),
        ("hearing_rate", "day", 0.5, "period_kind"),
        ("hearing_rate", "week", 1.5, "value"),
        ("proposal_count", "week", -1, "value"),
        ("proposal_count", "week", "abc", "value"),
        ("proposal_count", "week", 12.5, "value"),  # a count is whole
        ("pipeline_amount", "month", 0.5, "value"),  # whole yen
    ],
)
def test_set_target_validates(app, kpi, period_kind, value, field):
    with pytest.raises(Invalid) as caught:
        set_target(db.session, kpi, Scope.company(), period_kind, value, date(2026, 1, 1), None)
    assert field in caught.value.errors


def _series(*pairs):
    return [KpiValue(n / d if d else None, n, d) for n, d in pairs]


def _sales(*values):
    return [KpiValue(v, v, None) for v in values]


@pytest.mark.parametrize(
    "series, targets, kgi, cause",
    [
        # met the target: no suggestion
        (_series((6, 10), (6, 10)), [0.5, 0.5], _sales(1, 1), None),
        # base fell from 10 to 5 visits: quantity
        (_series((6, 10), (6, 10), (2, 5)), [0.5] * 3, _sales(1, 1, 1), "quantity"),
        # base held, rate fell: quality
        (_series((6, 10), (6, 10), (3, 10)), [0.5] * 3, _sales(1, 2, 3), "quality"),
        # met for 4 periods while sales stayed flat, then missed: design
        (_series(*[(6, 10)] * 4, (4, 10)), [0.5] * 5, _sales(100, 100, 101, 100, 90), "design"),
        # met for 4 periods and sales rose: quality, not design
        (_series(*[(6, 10)] * 4, (4, 10)), [0.5] * 5, _sales(100, 110, 120, 130, 140), "quality"),
        # no target: nothing to say
        (_series((1, 10)), [None], _sales(1), None),
    ],
)
def test_gap_suggestions(app, series, targets, kgi, cause):
    found = suggest("hearing_rate", series, targets, kgi)
    assert (found.cause if found else None) == cause
    if found:
        assert found.numbers["value"] == series[-1].value
        assert explain(found)  # translated text with the numbers in it
        assert "%" in explain(found)


def test_gap_for_a_lower_is_better_kpi_and_an_explicit_base(app):
    behind = suggest("dormant_rate", _series((1, 10), (3, 10)), [0.2, 0.2])
    assert behind is not None and behind.cause == "quality"
    assert suggest("dormant_rate", _series((1, 10), (1, 10)), [0.2, 0.2]) is None
    counts = [KpiValue(v, v, None) for v in (10, 10, 4)]
    found = suggest("proposal_count", counts, [8, 8, 8], base=[50, 50, 20])
    assert found is not None and found.cause == "quantity"
    assert found.numbers["base_now"] == 20 and found.numbers["base_before"] == 50
    assert "20" in explain(found) and "50" in explain(found)


def test_settings_services(app):
    warnings = set_active_kpis(db.session, ["hearing_rate", "visit_count"])
    assert [w.code for w in warnings] == ["too_few"]
    assert company_settings(db.session).active_kpis == ["hearing_rate", "visit_count"]
    with pytest.raises(Invalid):
        set_active_kpis(db.session, ["hearing_rate", "bogus"])
    set_kpi_why(db.session, {"hearing_rate": " 課題を聞くため "})
    settings = company_settings(db.session)
    assert why_texts(settings)["hearing_rate"] == "課題を聞くため"
    assert why_texts(settings, "en")["next_action_rate"] == CATALOGUE["next_action_rate"].why_en
    set_kpi_why(db.session, {"hearing_rate": ""})
    assert why_texts(settings)["hearing_rate"] == CATALOGUE["hearing_rate"].why_ja
    with pytest.raises(Invalid):
        set_kpi_why(db.session, {"hearing_rate": "x" * 501})
    assert lint_settings(settings)[0].code == "too_few"
    set_dormancy(db.session, "45", 120)
    assert (settings.dormant_visit_days, settings.dormant_sales_days) == (45, 120)
    with pytest.raises(Invalid) as caught:
        set_dormancy(db.session, 0, "x")
    assert set(caught.value.errors) == {"dormant_visit_days", "dormant_sales_days"}
    set_rank_cycles(db.session, 7, 21, 90)
    assert [settings.cycle_days(r) for r in "ABC"] == [7, 21, 90]
    with pytest.raises(Invalid):
        set_rank_cycles(db.session, 7, 400, 90)


@pytest.mark.parametrize(
    "targets, kpi, scope, period, expected",
    [
        # (scope, kind, value, effective_from) per target; the figure viewed; the target shown.
        # A rate's weekly target applies to a month without a monthly one, and the other way.
        ([("company", "week", 0.6, "2026-10-26")], "hearing_rate", "company", "2026-11", 0.6),
        ([("company", "month", 0.6, "2026-11-01")], "hearing_rate", "company", "2026-W47", 0.6),
        # ... but a target of the viewed kind wins at the same scope.
        (
            [("company", "week", 0.6, "2026-01-05"), ("company", "month", 0.5, "2026-01-01")],
            "hearing_rate",
            "company",
            "2026-11",
            0.5,
        ),
        # A more specific scope wins even when its target was set for the other kind.
        (
            [("company", "month", 0.5, "2026-01-01"), ("rep", "week", 0.7, "2026-01-05")],
            "hearing_rate",
            "rep",
            "2026-11",
            0.7,
        ),
        # Lower-is-better rates and the pipeline (as of the period's end) carry over too.
        ([("branch", "week", 0.1, "2026-01-05")], "dormant_rate", "rep", "2026-11", 0.1),
        ([("company", "week", 5e6, "2026-01-05")], "pipeline_amount", "branch", "2026-11", 5e6),
        # Counts and sums of the period do not: a weekly count is not a monthly one.
        ([("company", "week", 10, "2026-01-05")], "proposal_count", "company", "2026-11", None),
        ([("company", "month", 4e7, "2026-01-01")], "sales_amount", "company", "2026-W47", None),
        ([("company", "week", 50, "2026-01-05")], "visit_count", "rep", "2026-11", None),
        # In force from the period's first day: a weekly target from 2 Nov misses November.
        ([("company", "week", 0.6, "2026-11-02")], "hearing_rate", "company", "2026-11", None),
        ([("company", "week", 0.6, "2026-11-02")], "hearing_rate", "company", "2026-12", 0.6),
    ],
)
def test_targets_between_weeks_and_months(make, targets, kpi, scope, period, expected):
    branch = make.branch()
    rep = make.user("rep", branch)
    scopes = {
        "company": Scope.company(),
        "branch": Scope.branch(branch.id),
        "rep": Scope.rep(rep.id),
    }
    for where, kind, value, effective in targets:
        set_target(db.session, kpi, scopes[where], kind, value, date.fromisoformat(effective), None)
    assert target_for(db.session, kpi, scopes[scope], Period.parse(period)) == expected


@pytest.mark.parametrize(
    "series, targets, kgi, cause, numbers",
    [
        (  # quantity: 5 visits against an average of 10 before (-50 %)
            _series((6, 10), (5, 10), (2, 5)),
            [0.5] * 3,
            _sales(1, 1, 1),
            "quantity",
            {"value": 0.4, "target": 0.5, "value_before": 0.55, "base_now": 5,
             "base_before": 10.0, "base_change": -0.5},
        ),
        (  # only the 4 periods before count for the base: the 5th oldest is ignored
            _series((6, 100), (6, 10), (6, 10), (6, 10), (6, 10), (3, 10)),
            [0.5] * 6,
            _sales(1, 2, 3, 4, 5, 6),
            "quality",
            {"value": 0.3, "target": 0.5, "value_before": 0.6, "base_now": 10,
             "base_before": 10.0, "base_change": 0.0},
        ),
        (  # design: met 4 periods while sales went from 100 to 100
            _series(*[(6, 10)] * 4, (4, 10)),
            [0.5] * 5,
            _sales(100, 100, 101, 100, 90),
            "design",
            {"value": 0.4, "target": 0.5, "value_before": 0.6, "base_now": 10,
             "base_before": 10.0, "base_change": 0.0, "kgi": "sales_amount",
             "periods_met": 4, "kgi_first": 100, "kgi_last": 100, "kgi_change": 0.0},
        ),
        (  # a base drop of exactly 20 % is not yet quantity
            _series((5, 10), (3, 8)),
            [0.5] * 2,
            _sales(1, 1),
            "quality",
            {"value": 0.375, "target": 0.5, "value_before": 0.5, "base_now": 8,
             "base_before": 10.0, "base_change": -0.2},
        ),
    ],
)  # fmt: skip
def test_gap_numbers_behind_each_suggestion(app, series, targets, kgi, cause, numbers):
    found = suggest("hearing_rate", series, targets, kgi)
    assert found.cause == cause
    assert found.numbers == pytest.approx(numbers)
    assert found.as_dict() == {"kpi": "hearing_rate", "cause": cause, "numbers": found.numbers}


@pytest.mark.parametrize(
    "key, name_ja, kind, direction, unit",
    [  # docs/kpi.md's table, row by row
        ("visit_count", "訪問件数 (参考)", "volume", None, "count"),
        ("purposeful_visit_rate", "目的あり訪問率", "process", "up", "rate"),
        ("hearing_rate", "課題ヒアリング実施率", "process", "up", "rate"),
        ("next_action_rate", "次回アクション設定率", "process", "up", "rate"),
        ("proposal_count", "提案回数", "process", "up", "count"),
        ("additional_proposal_rate", "追加提案率", "process", "up", "rate"),
        ("cross_sell_rate", "クロスセル率", "process", "up", "rate"),
        ("follow_up_rate", "フォロー実施率", "process", "up", "rate"),
        ("deepening_rate", "取引深耕率", "process", "up", "rate"),
        ("dormant_rate", "休眠顧客率 (休眠防止)", "process", "down", "rate"),
        ("pipeline_count", "見込み案件数", "process", "up", "count"),
        ("pipeline_amount", "パイプライン金額", "process", "up", "yen"),
        ("sales_amount", "売上", "result", "up", "yen"),
        ("gross_margin_rate", "粗利率", "result", "up", "rate"),
    ],
)
def test_catalogue_row(key, name_ja, kind, direction, unit):
    d = CATALOGUE[key]
    assert (d.name_ja, d.kind, d.direction, d.unit) == (name_ja, kind, direction, unit)
    assert d.recommended is (kind == "process")  # visit count and the KGI: never recommended
    assert d.why_ja.strip() and d.why_en.strip() and d.name_en.strip()
    assert (" / " in d.definition) is (unit == "rate")  # a rate is defined as a fraction


@pytest.mark.parametrize(
    "met_weeks, verdict, cause, asked",
    [
        (4, "no_link", "design", True),  # met 4 weeks running, sales do not follow: design
        (5, "no_link", "design", True),
        (4, "leads", None, True),  # met and it leads: nothing to question
        (4, "too_little_data", None, True),  # not enough history: no claim either way
        (3, "no_link", None, True),  # met only 3 weeks: not yet a design question
    ],
)
def test_design_question_when_a_met_kpi_does_not_lead(app, met_weeks, verdict, cause, asked):
    series = _series((3, 10), *[(6, 10)] * met_weeks)
    calls = []

    def lead():
        calls.append(1)
        return verdict, 52

    found = suggest(
        "hearing_rate", series, [0.5] * len(series), _sales(*[100] * len(series)), lead=lead
    )
    assert (found.cause if found else None) == cause
    assert bool(calls) == (asked and met_weeks >= 4)
    if found:
        assert found.numbers["lead"] == "no_link" and found.numbers["lead_weeks"] == 52
        assert "52" in explain(found) and "関連なし" in explain(found)  # Japanese first
