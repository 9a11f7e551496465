"""Command-line checks of the interface contract (docs/contract.md) that an audit found the code
to disagree with: exit codes, JSON shapes, the options' ranges."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from fieldlog.app.extensions import db
from fieldlog.models import Branch, Category

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


@pytest.mark.parametrize(
    ("weeks", "as_of"),
    [("52", "9999-12-31"), ("8", "0001-01-01"), ("8", "1899-12-31"), ("8", "2026-02-30")],
)
def test_forecast_as_of_outside_the_supported_years_is_a_usage_error(
    runner, branch_sales, weeks, as_of
):
    """A date past the years a period may name (1900–2999) is exit 2 naming --as-of in one
    line, not a traceback from a week past ``date``'s end."""
    args = ["kpi", "forecast", "--scope", "company", "--weeks", weeks, "--as-of", as_of, "--json"]
    result = runner.invoke(args=args)
    assert result.exit_code == 2, result.output
    assert isinstance(result.exception, SystemExit)
    assert "--as-of" in result.output and "Traceback" not in result.output


# Japanese headers: 支店 and カテゴリ name the code in a list of branches or categories beside
# their 名 column (支店,支店名), and the name beside a コード column (支店コード,支店).
@pytest.mark.parametrize(
    "kind,header",
    [
        ("branches", "支店,支店名"),
        ("branches", "支店コード,支店"),
        ("branches", "コード,名称"),
        ("categories", "カテゴリ,カテゴリ名"),
        ("categories", "カテゴリコード,カテゴリ"),
        ("categories", "分類,分類名"),
    ],
)
def test_japanese_headers_of_branches_and_categories(runner, tmp_path, kind, header):
    model = {"branches": Branch, "categories": Category}[kind]
    path = tmp_path / f"{kind}.csv"
    path.write_bytes(f"{header}\r\nNEW,新しい名前\r\n".encode("cp932"))
    result = runner.invoke(args=["import", kind, str(path)])
    assert result.exit_code == 0, result.output
    stored = db.session.scalars(select(model).where(model.code == "NEW")).one()
    assert stored.name == "新しい名前"


# A sheet kept in Excel often has a title above its header: the header is the first row that
# names every required column; the rows above it are skipped and lines keep their numbers.
def test_a_title_above_the_header_is_skipped(runner, tmp_path):
    path = tmp_path / "branches.csv"
    path.write_text("支店一覧 2026年12月\r\n,\r\ncode,name\r\nSPR,札幌支店\r\nKYT,\r\n", "utf-8")
    refused = runner.invoke(args=["import", "branches", str(path)])
    assert refused.exit_code == 1 and "5行目 [name]" in refused.output
    assert db.session.scalars(select(Branch)).all() == []
    path.write_text("支店一覧 2026年12月\r\n,\r\ncode,name\r\nSPR,札幌支店\r\n", "utf-8")
    result = runner.invoke(args=["import", "branches", str(path)])
    assert result.exit_code == 0, result.output
    assert [b.code for b in db.session.scalars(select(Branch))] == ["SPR"]
    missing = tmp_path / "none.csv"
    missing.write_text("支店一覧\r\ncode,名前なし\r\nSPR,x\r\n", "utf-8")
    no_header = runner.invoke(args=["import", "branches", str(missing)])
    assert no_header.exit_code == 1 and "name" in no_header.output
