"""Cell parsing: era and serial dates, yen amounts, readings, roles, ranks (table-driven)."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from fieldlog.io.normalize import (
    CellError,
    kana,
    parse_amount,
    parse_date,
    parse_int,
    parse_rank,
    parse_role,
    text,
)


@pytest.mark.parametrize(
    ("cell", "expected"),
    [
        ("令和6年4月1日", date(2024, 4, 1)),
        ("R6.4.1", date(2024, 4, 1)),
        ("R06/04/01", date(2024, 4, 1)),
        ("r6-4-1", date(2024, 4, 1)),
        ("令和元年5月1日", date(2019, 5, 1)),
        ("㋿6年4月1日", date(2024, 4, 1)),
        ("H31.4.30", date(2019, 4, 30)),
        ("平成31年4月30日", date(2019, 4, 30)),
        ("平成元年1月8日", date(1989, 1, 8)),
        ("S64.1.7", date(1989, 1, 7)),
        ("昭和50年10月1日", date(1975, 10, 1)),
        ("2024-04-01", date(2024, 4, 1)),
        ("2024/4/1", date(2024, 4, 1)),
        ("2024年4月1日", date(2024, 4, 1)),
        ("２０２４／４／１", date(2024, 4, 1)),
        ("20240401", date(2024, 4, 1)),
        ("2024-04-01 00:00:00", date(2024, 4, 1)),
        ("45383", date(2024, 4, 1)),
        (45383, date(2024, 4, 1)),
        (45383.0, date(2024, 4, 1)),
        (datetime(2024, 4, 1, 9, 30), date(2024, 4, 1)),
        (date(2024, 4, 1), date(2024, 4, 1)),
    ],
)
def test_parse_date(cell, expected):
    assert parse_date(cell) == expected


@pytest.mark.parametrize(
    "cell", ["", "令和1年4月30日", "H31.2.30", "2024/13/1", "yesterday", "12", 12, "R6.4"]
)
def test_parse_date_rejects(cell):
    with pytest.raises(CellError):
        parse_date(cell)


@pytest.mark.parametrize(
    ("cell", "expected"),
    [
        ("1,000", 1000),
        ("¥1,000", 1000),
        ("￥1,000", 1000),
        ("1000円", 1000),
        ("１，２３４円", 1234),
        ("△500", -500),
        ("▲500", -500),
        ("-500", -500),
        ("−500", -500),
        ("(300)", -300),
        ("+42", 42),
        (1200, 1200),
        (1200.0, 1200),
        ("1200.00", 1200),
    ],
)
def test_parse_amount(cell, expected):
    assert parse_amount(cell) == expected


@pytest.mark.parametrize(
    "cell", ["", "12.5", 12.5, "abc", "1,000ドル", "1²", "²", "①", "1½", "１²円"]
)
def test_parse_amount_rejects(cell):
    """Compatibility characters other than width forms are refused, not read as another
    number (NFKC would read "1²" as 12 and "①" as 1)."""
    with pytest.raises(CellError):
        parse_amount(cell)


def test_optional_amount_may_be_empty():
    assert parse_amount("", required=False) is None


@pytest.mark.parametrize(
    ("cell", "expected"),
    [("ﾔﾏﾀﾞｼｮｳﾃﾝ", "ヤマダショウテン"), ("やまだ", "ヤマダ"), ("ヤマダ", "ヤマダ"), ("ｶﾞｽ", "ガス")],
)
def test_kana_is_full_width_katakana(cell, expected):
    assert kana(cell) == expected


def test_text_folds_width_but_keeps_cp932_symbols():
    assert text("㈱山田①　ＡＢＣ１２") == "㈱山田① ABC12"
    assert text(1001.0) == "1001"
    assert text("'=SUM(A1)") == "=SUM(A1)"  # our export's formula guard comes off on import
    assert text("'quoted'") == "'quoted'"


@pytest.mark.parametrize(
    ("cell", "expected"),
    [
        ("rep", "rep"),
        ("営業", "rep"),
        ("支店長", "manager"),
        ("Manager", "manager"),
        ("経営者", "owner"),
    ],
)
def test_parse_role(cell, expected):
    assert parse_role(cell) == expected


@pytest.mark.parametrize(("cell", "expected"), [("", "B"), ("a", "A"), ("Ｃ", "C")])
def test_parse_rank(cell, expected):
    assert parse_rank(cell) == expected


def test_bad_role_and_rank():
    with pytest.raises(CellError):
        parse_role("boss")
    with pytest.raises(CellError):
        parse_rank("S")


@pytest.mark.parametrize(("cell", "expected"), [("３日", 3), ("14", 14), ("１４日", 14)])
def test_cycle_days_fold_full_width_digits(cell, expected):
    assert parse_int(cell) == expected


@pytest.mark.parametrize("cell", ["1²", "②日", "½"])
def test_cycle_days_refuse_other_compatibility_digits(cell):
    with pytest.raises(CellError):
        parse_int(cell)
