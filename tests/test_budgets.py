"""Sales budgets: import (all or nothing, line and column named), the form, the scope rules."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import func, select

from fieldlog.app.extensions import db
from fieldlog.io import import_file
from fieldlog.kpi import Scope
from fieldlog.kpi.budgets import budget_for, budgets_for, set_budget
from fieldlog.models import SalesBudget, SettingChange
from fieldlog.present.limit_messages import amount_error
from fieldlog.rules.periods import Period
from fieldlog.services.errors import Invalid
from tests.conftest import csrf_from
from tests.io_files import csv_file, excel_csv, xlsx_file


def count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


@pytest.fixture
def team(make):
    tokyo = make.branch("T01", "東京")
    osaka = make.branch("O01", "大阪")
    rep = make.user("rep", tokyo, email="yamada@example.jp")
    rep2 = make.user("rep", tokyo, email="kato@example.jp")
    other = make.user("rep", osaka, email="suzuki@example.jp")
    owner = make.user("owner", email="boss@example.jp")
    return {
        "tokyo": tokyo,
        "osaka": osaka,
        "rep": rep,
        "rep2": rep2,
        "other": other,
        "owner": owner,
    }


def amounts() -> dict[tuple[str, int, int | None], int]:
    return {
        (f"{b.month:%Y-%m}", b.branch_id, b.rep_id): b.amount
        for b in db.session.scalars(select(SalesBudget))
    }


JAPANESE = [
    "月,支店,担当者,予算",
    "2026-11,T01,,10000000",
    '2026年12月,T01,yamada@example.jp,"3,000,000"',
    "2026/11,O01,suzuki@example.jp,２００００００円",
]


@pytest.mark.parametrize("how", ["utf8", "cp932", "xlsx"])
def test_import_in_each_format(team, tmp_path, how):
    if how == "utf8":
        path = csv_file(tmp_path, "b.csv", JAPANESE)
    elif how == "cp932":
        path = excel_csv(tmp_path, "b.csv", JAPANESE)
    else:
        rows = [
            ["月", "支店", "担当者", "予算"],
            [date(2026, 11, 1), "T01", None, 10_000_000],
            ["2026年12月", "T01", "yamada@example.jp", 3_000_000],
            ["2026-11", "O01", "suzuki@example.jp", 2_000_000.0],
        ]
        path = xlsx_file(tmp_path, "b.xlsx", rows)
    result = import_file(db.session, "budgets", path)
    assert result.ok, [str(e) for e in result.errors]
    assert (result.rows, result.created, result.updated) == (3, 3, 0)
    t, o = team["tokyo"].id, team["osaka"].id
    assert amounts() == {
        ("2026-11", t, None): 10_000_000,
        ("2026-12", t, team["rep"].id): 3_000_000,
        ("2026-11", o, team["other"].id): 2_000_000,
    }
    assert count(SettingChange) == 3


def test_reimport_updates_and_keeps_the_change(team, tmp_path):
    first = csv_file(tmp_path, "a.csv", ["month,branch,rep,amount", "2026-11,T01,,100"])
    assert import_file(db.session, "budgets", first).ok
    again = csv_file(
        tmp_path, "b.csv", ["month,branch,rep,amount", "2026-11,T01,,250", "2026-11,T01,,"][:2]
    )
    result = import_file(db.session, "budgets", again, user=team["owner"])
    assert (result.created, result.updated) == (0, 1)
    assert amounts() == {("2026-11", team["tokyo"].id, None): 250}
    changes = db.session.scalars(select(SettingChange).order_by(SettingChange.id)).all()
    assert [(c.kind, c.key, c.branch_id, c.old, c.new) for c in changes] == [
        ("budget", "2026-11", team["tokyo"].id, None, 100),
        ("budget", "2026-11", team["tokyo"].id, 100, 250),
    ]
    assert changes[1].user_id == team["owner"].id


# The bad input of issue #21: (row, the column named, words of the message; an int: the amount
# rule's own message for that amount, fieldlog.rules.limits).
BAD_ROWS = [
    ("2026-11,X99,,100", "支店", "X99"),
    ("2026-11,T01,nobody@example.jp,100", "担当者", "nobody@example.jp"),
    ("2026-11,T01,suzuki@example.jp,100", "担当者", "所属ではありません"),
    ("2026-11,T01,boss@example.jp,100", "担当者", "経営者"),
    ("2026-13,T01,,100", "月", "13"),
    ("2026-11,T01,,-5", "予算", -5),
    ("2026-11,T01,,△500", "予算", -500),
    ("2026-11,T01,,たくさん", "予算", "金額として読めません"),
    ("2026-11,T01,,100000000000", "予算", 10**11),
    ("11月,T01,,100", "月", "月として読めません"),
]


def _bad_file(tmp_path, row: str):
    return csv_file(tmp_path, "bad.csv", ["月,支店,担当者,予算", "2026-10,T01,,100", row])


def _words(words: str | int) -> str:
    return str(amount_error(words)) if isinstance(words, int) else words


@pytest.mark.parametrize(("row", "column", "words"), BAD_ROWS)
def test_bad_rows_name_line_and_column_and_write_nothing(team, tmp_path, row, column, words):
    result = import_file(db.session, "budgets", _bad_file(tmp_path, row))
    assert not result.ok and not result.written
    assert len(result.errors) == 1
    error = result.errors[0]
    assert error.where.line == 3 and error.column == column
    assert _words(words) in str(error.message)
    assert count(SalesBudget) == 0


@pytest.mark.parametrize(("row", "column", "words"), BAD_ROWS)
def test_cli_names_line_and_column_of_each_bad_row(team, tmp_path, runner, row, column, words):
    db.session.commit()
    out = runner.invoke(args=["import", "budgets", str(_bad_file(tmp_path, row))])
    assert out.exit_code == 1
    assert f"3行目 [{column}]" in out.output and _words(words) in out.output
    db.session.rollback()
    assert count(SalesBudget) == 0


@pytest.mark.parametrize(("row", "column", "words"), BAD_ROWS)
def test_import_page_names_line_and_column_of_each_bad_row(
    team, app, client, auth, tmp_path, row, column, words
):
    """The web import checks the whole file first: the report lists the row's line and column,
    no confirm button is offered, and nothing is written."""
    import io

    from markupsafe import escape

    app.config["FIELDLOG_IMPORT_DIR"] = str(tmp_path / "imports")
    app.config["FIELDLOG_IMPORT_INLINE"] = True
    db.session.commit()
    auth.login(team["owner"])
    token = csrf_from(client.get("/import").get_data(as_text=True))
    content = _bad_file(tmp_path, row).read_bytes()
    answer = client.post(
        "/import",
        data={"csrf_token": token, "kind": "budgets", "file": (io.BytesIO(content), "b.csv")},
        content_type="multipart/form-data",
    )
    assert answer.status_code == 302
    page = client.get(answer.headers["Location"]).get_data(as_text=True)
    assert f"<td>{column}</td>" in page and str(escape(_words(words))) in page
    assert "3行目" in page or "line 3" in page
    assert "/confirm" not in page
    db.session.rollback()
    assert count(SalesBudget) == 0


def test_same_key_twice_in_a_file(team, tmp_path):
    lines = ["month,branch,rep,amount", "2026-11,T01,,1", "2026/11,T01,,2"]
    result = import_file(db.session, "budgets", csv_file(tmp_path, "dup.csv", lines))
    assert [(e.where.line, e.column) for e in result.errors] == [(3, "month")]
    assert "2 行目" in str(result.errors[0].message)


def test_dry_run_writes_nothing(team, tmp_path):
    path = csv_file(tmp_path, "b.csv", JAPANESE)
    result = import_file(db.session, "budgets", path, dry_run=True)
    assert result.ok and result.created == 3 and not result.written
    assert count(SalesBudget) == 0


def test_cli_import(team, tmp_path, runner):
    db.session.commit()
    path = csv_file(tmp_path, "b.csv", JAPANESE)
    out = runner.invoke(args=["import", "budgets", str(path)])
    assert out.exit_code == 0, out.output
    assert "created 3" in out.output
    bad = csv_file(tmp_path, "c.csv", ["月,支店,予算", "2026-13,T01,5"])
    out = runner.invoke(args=["import", "budgets", str(bad)])
    assert out.exit_code == 1
    assert "2行目 [月]" in out.output


def test_set_budget_validates_and_updates(team):
    owner, t = team["owner"], team["tokyo"]
    set_budget(db.session, owner, date(2026, 11, 15), t.id, None, "1,000")
    set_budget(db.session, owner, date(2026, 11, 1), t.id, None, 2000)
    assert amounts() == {("2026-11", t.id, None): 2000}
    with pytest.raises(Invalid) as caught:
        set_budget(db.session, owner, date(2026, 11, 1), t.id, team["other"].id, -1)
    assert set(caught.value.errors) == {"rep", "amount"}


# ---- reading a budget for a scope and a period --------------------------------------------


def _budgets(team, rows):
    for month, branch, rep, amount in rows:
        set_budget(db.session, None, month, team[branch].id, team[rep].id if rep else None, amount)


NOV, DEC = date(2026, 11, 1), date(2026, 12, 1)


@pytest.mark.parametrize(
    ("rows", "scope", "period", "expected"),
    [
        # A branch's own row wins over its reps' sum.
        ([(NOV, "tokyo", None, 900), (NOV, "tokyo", "rep", 300)], "tokyo", "2026-11", 900),
        # Without one, the reps' rows add up.
        ([(NOV, "tokyo", "rep", 300), (NOV, "tokyo", "rep2", 200)], "tokyo", "2026-11", 500),
        # The company: each branch read that way.
        (
            [(NOV, "tokyo", None, 900), (NOV, "tokyo", "rep", 300), (NOV, "osaka", "other", 50)],
            "company",
            "2026-11",
            950,
        ),
        ([(NOV, "tokyo", "rep", 300)], "rep", "2026-11", 300),
        ([(NOV, "tokyo", "rep", 300)], "rep2", "2026-11", None),
        ([(NOV, "tokyo", None, 900)], "tokyo", "2026-12", None),
        # An ISO week inside November: 7/30 of the month.
        ([(NOV, "tokyo", None, 30_000)], "tokyo", "2026-W47", 7_000),
        # 2026-W49 is Nov 30 – Dec 6: 1/30 of November and 6/31 of December.
        (
            [(NOV, "tokyo", None, 30_000), (DEC, "tokyo", None, 31_000)],
            "tokyo",
            "2026-W49",
            1_000 + 6_000,
        ),
        # A month of the week without a budget: no budget for the week.
        ([(NOV, "tokyo", None, 30_000)], "tokyo", "2026-W49", None),
    ],
)
def test_budget_for_scope_and_period(team, rows, scope, period, expected):
    _budgets(team, rows)
    if scope == "company":
        target = Scope.company()
    elif scope in ("tokyo", "osaka"):
        target = Scope.branch(team[scope].id)
    else:
        target = Scope.rep(team[scope].id)
    assert budget_for(db.session, target, Period.parse(period)) == expected


def test_budgets_for_many_periods_at_once(team):
    _budgets(team, [(NOV, "tokyo", None, 30_000), (DEC, "tokyo", None, 31_000)])
    periods = [Period.parse(p) for p in ("2026-11", "2026-12", "2027-01")]
    assert budgets_for(db.session, Scope.branch(team["tokyo"].id), periods) == [
        30_000,
        31_000,
        None,
    ]


# ---- the targets page ---------------------------------------------------------------------


def test_owner_sets_a_budget_on_the_targets_page(team, client, auth):
    auth.login(team["owner"])
    page = client.get("/settings/targets")
    assert page.status_code == 200
    token = csrf_from(page.get_data(as_text=True))
    answer = client.post(
        "/settings/budgets",
        data={
            "csrf_token": token,
            "month": "2026-12",
            "branch": "T01",
            "rep": "yamada@example.jp",
            "amount": "4,500,000",
        },
    )
    assert answer.status_code == 302
    assert amounts() == {("2026-12", team["tokyo"].id, team["rep"].id): 4_500_000}
    html = client.get("/settings/targets").get_data(as_text=True)
    assert "4,500,000" in html
    bad = client.post(
        "/settings/budgets",
        data={"csrf_token": token, "month": "2026-13", "branch": "T01", "amount": "-1"},
    )
    assert bad.status_code == 422
    text = bad.get_data(as_text=True)
    assert 'id="budget-err-month"' in text
    assert count(SalesBudget) == 1


def test_a_rep_of_another_branch_is_refused_on_the_form(team, client, auth):
    auth.login(team["owner"])
    token = csrf_from(client.get("/settings/targets").get_data(as_text=True))
    answer = client.post(
        "/settings/budgets",
        data={
            "csrf_token": token,
            "month": "2026-12",
            "branch": "T01",
            "rep": "suzuki@example.jp",
            "amount": "1",
        },
    )
    assert answer.status_code == 422
    assert 'id="budget-err-rep"' in answer.get_data(as_text=True)


def test_managers_see_but_do_not_set_budgets(team, make, client, auth):
    manager = make.user("manager", team["tokyo"], email="boss-t@example.jp")
    set_budget(db.session, None, NOV, team["osaka"].id, None, 777_777)
    set_budget(db.session, None, NOV, team["tokyo"].id, None, 123_456)
    auth.login(manager)
    page = client.get("/settings/targets")
    html = page.get_data(as_text=True)
    assert "123,456" in html and "777,777" not in html
    assert 'action="/settings/budgets"' not in html
    token = csrf_from(html)
    answer = client.post(
        "/settings/budgets",
        data={"csrf_token": token, "month": "2026-12", "branch": "T01", "amount": "1"},
    )
    assert answer.status_code == 403
