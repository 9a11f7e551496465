"""flask kpi show: the JSON contract of docs/contract.md and the readable table."""

from __future__ import annotations

import json

import pytest

from fieldlog.app.extensions import db
from fieldlog.kpi import KPI_KEYS


@pytest.fixture
def data(make):
    branch = make.branch("TKY")
    rep = make.user("rep", branch, email="rep@example.jp")
    customer = make.customer(branch, rep)
    make.visit(rep, customer, visited_at="2026-11-18T10:00:00+09:00", hearing_done=False)
    make.visit(rep, customer, visited_at="2026-11-19T10:00:00+09:00")
    db.session.commit()
    return rep


@pytest.mark.parametrize("scope", ["company", "branch:TKY", "rep:REP@example.jp"])
def test_show_json_shape(runner, data, scope):
    result = runner.invoke(args=["kpi", "show", "--period", "2026-W47", "--scope", scope, "--json"])
    assert result.exit_code == 0, result.output
    body = json.loads(result.output)
    assert set(body) == {"period", "start", "end", "scope", "kpis"}
    assert (body["period"], body["start"], body["end"]) == ("2026-W47", "2026-11-16", "2026-11-22")
    assert body["scope"] == scope.replace("REP@", "rep@")
    assert list(body["kpis"]) == list(KPI_KEYS)
    for figure in body["kpis"].values():
        # target and last_year where they exist (tests/test_kgi.py)
        assert {"value", "numerator", "denominator"} <= set(figure)
        assert set(figure) <= {"value", "numerator", "denominator", "target", "last_year"}
    assert body["kpis"]["hearing_rate"] == {"value": 0.5, "numerator": 1, "denominator": 2}
    # No visit a year earlier: last year's visit_count is 0 (the same KPI a year earlier).
    assert body["kpis"]["visit_count"] == {
        "value": 2,
        "numerator": 2,
        "denominator": None,
        "last_year": 0,
    }
    assert body["kpis"]["cross_sell_rate"] == {"value": None, "numerator": 0, "denominator": 0}


def test_show_month_and_table(runner, data):
    result = runner.invoke(args=["kpi", "show", "--period", "2026-11", "--scope", "branch:TKY"])
    assert result.exit_code == 0, result.output
    assert "課題ヒアリング実施率" in result.output
    assert "50.0%  (1/2)" in result.output
    assert "2026-11-01" in result.output


@pytest.mark.parametrize(
    "args, message",
    [
        (["--period", "2026-W60"], "ISO week"),
        (["--period", "last"], "neither a week"),
        (["--period", "9999-12"], "year must be from 1900 to 2999"),  # no date overflow
        (["--period", "0001-W01"], "year must be from 1900 to 2999"),
        (
            ["--period", "2026-W47", "--scope", "branch:tky"],
            "no branch with code 'tky' (codes: TKY)",
        ),
        (["--period", "2026-W47", "--scope", "rep:nobody@example.jp"], "no user"),
        (["--period", "2026-W47", "--scope", "team"], "not a scope"),
    ],
)
def test_show_refuses_bad_period_or_scope(runner, data, args, message):
    result = runner.invoke(args=["kpi", "show", *args, "--json"])
    assert result.exit_code == 2
    assert isinstance(result.exception, SystemExit)  # a usage error, not a traceback
    assert message in result.output
