"""Command-line checks of the interface contract (docs/contract.md) that an audit found the code
to disagree with: exit codes, JSON shapes, the options' ranges."""

from __future__ import annotations

import json

from .test_forecast import branch_sales as _branch_sales

branch_sales = _branch_sales  # the same fixture: 56 weeks of one branch's sales up to W47


def test_forecast_takes_up_to_a_year_of_weeks(runner, branch_sales):
    args = ["kpi", "forecast", "--scope", "branch:TKY", "--as-of", "2026-11-18", "--json"]
    year = runner.invoke(args=[*args, "--weeks", "52"])
    assert year.exit_code == 0, year.output
    weeks = json.loads(year.output)["weeks"]
    assert len(weeks) == 52 and (weeks[0]["week"], weeks[-1]["week"]) == ("2026-W48", "2027-W46")
    for n in ("0", "53", "x"):
        refused = runner.invoke(args=[*args, "--weeks", n])
        assert refused.exit_code == 2 and "--weeks" in refused.output
