"""Import: every encoding and format, all or nothing, line numbers, idempotency, sales refs."""

from __future__ import annotations

import tracemalloc
from datetime import date, datetime

import pytest
from sqlalchemy import func, select

from fieldlog.app.extensions import db
from fieldlog.io import import_file
from fieldlog.models import Branch, Category, Customer, ImportBatch, SalesLine, User
from tests.conftest import PASSWORD
from tests.io_files import csv_file, excel_csv, xlsx_file


def count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def customer(code: str) -> Customer:
    return db.session.scalars(select(Customer).where(Customer.code == code)).one()


@pytest.fixture
def team(make):
    tokyo = make.branch("T01", "東京")
    osaka = make.branch("O01", "大阪")
    rep = make.user("rep", tokyo, email="yamada@example.jp")
    other = make.user("rep", osaka, email="suzuki@example.jp")
    make.category("FOOD", "食品")
    return {"tokyo": tokyo, "osaka": osaka, "rep": rep, "other": other}


CUSTOMER_LINES = [
    "顧客コード,顧客名,フリガナ,支店,担当者,ランク,訪問サイクル",
    "1001,㈱山田商店①,ﾔﾏﾀﾞｼｮｳﾃﾝ,T01,yamada@example.jp,A,14",
    "1002,ＡＢＣ食品,えーびーしー,T01,,,",
]


@pytest.mark.parametrize(
    ("name", "encoding", "newline"),
    [
        ("utf8.csv", "utf-8", "\n"),
        ("bom.csv", "utf-8-sig", "\r\n"),
        ("sjis.csv", "cp932", "\r\n"),
        ("sjis_lf.csv", "shift_jis_2004", "\n"),
    ],
)
def test_customers_in_each_encoding(team, tmp_path, name, encoding, newline):
    lines = [
        line.replace("①", "") if encoding == "shift_jis_2004" else line for line in CUSTOMER_LINES
    ]
    path = csv_file(tmp_path, name, lines, encoding=encoding, newline=newline)
    result = import_file(db.session, "customers", path)
    assert result.ok, [str(e) for e in result.errors]
    assert (result.created, result.updated) == (2, 0)
    first = customer("1001")
    assert first.name.startswith("㈱山田商店")
    assert first.name_kana == "ヤマダショウテン"
    assert (first.rank, first.visit_cycle_days, first.rep_id) == ("A", 14, team["rep"].id)
    second = customer("1002")
    assert (second.name, second.name_kana, second.rank, second.rep_id) == (
        "ABC食品",
        "エービーシー",
        "B",
        None,
    )


def test_excel_cp932_keeps_circled_digits_and_kabu(team, tmp_path):
    path = excel_csv(tmp_path, "excel.csv", CUSTOMER_LINES)
    assert b"\r\n" in path.read_bytes()
    result = import_file(db.session, "customers", path)
    assert result.ok
    assert customer("1001").name == "㈱山田商店①"


def test_tsv_and_english_headers(team, tmp_path):
    path = csv_file(
        tmp_path,
        "c.tsv",
        [
            "code\tname\tname_kana\tbranch\trep\textra",
            "2001\t佐藤工業\tサトウ\tT01\tYAMADA@example.jp\tignored",
        ],
    )
    result = import_file(db.session, "customers", path)
    assert result.ok
    assert customer("2001").rep_id == team["rep"].id


def test_xlsx_with_date_cells_and_numbers(team, tmp_path):
    import_file(db.session, "customers", csv_file(tmp_path, "c.csv", CUSTOMER_LINES))
    path = xlsx_file(
        tmp_path,
        "sales.xlsx",
        [
            ["売上日", "得意先コード", "商品カテゴリ", "売上金額", "粗利額", "伝票番号"],
            [datetime(2024, 4, 1), 1001, "FOOD", 12000, 3000, "S-1"],
            [45384, "1002", None, "△1,500", None, "S-2"],
            ["R6.4.3", "1002", "", "¥2,000", "", None],
        ],
    )
    result = import_file(db.session, "sales", path)
    assert result.ok, [str(e) for e in result.errors]
    lines = db.session.scalars(select(SalesLine).order_by(SalesLine.sold_on)).all()
    assert [(s.sold_on, s.amount, s.gross_profit, s.ref) for s in lines] == [
        (date(2024, 4, 1), 12000, 3000, "S-1"),
        (date(2024, 4, 2), -1500, None, "S-2"),
        (date(2024, 4, 3), 2000, None, None),
    ]
    assert lines[0].category.code == "FOOD"


def test_bad_rows_reported_with_lines_and_nothing_written(team, tmp_path):
    path = excel_csv(
        tmp_path,
        "bad.csv",
        [
            "顧客コード,顧客名,フリガナ,支店,担当者,ランク",
            "3001,良い顧客,ヨイ,T01,yamada@example.jp,A",
            "3002,,ワルイ,T01,,A",
            '3003,"改行を含む',
            '顧客名",カイギョウ,X99,,B',
            "3004,他支店担当,タシテン,T01,suzuki@example.jp,Z",
            "3001,重複,ジュウフク,T01,,B",
        ],
    )
    result = import_file(db.session, "customers", path)
    assert not result.ok and not result.written
    found = [(e.where.line, e.column) for e in result.errors]
    assert found == [(3, "顧客名"), (4, "支店"), (6, "担当者"), (6, "ランク"), (7, "顧客コード")]
    assert "X99" in str(result.errors[1].message)
    assert count(Customer) == 0


def test_xlsx_errors_name_sheet_and_row(team, tmp_path):
    path = xlsx_file(
        tmp_path,
        "c.xlsx",
        [["code", "name", "branch"], ["1", "ok", "T01"], [None, None, None], ["2", "bad", "NOPE"]],
        sheet="顧客",
    )
    result = import_file(db.session, "customers", path)
    assert [(e.where.sheet, e.where.line, e.column) for e in result.errors] == [
        ("顧客", 4, "branch")
    ]
    assert "顧客" in result.errors[0].where.label()
    assert count(Customer) == 0


def test_missing_required_column_is_one_error(team, tmp_path):
    path = csv_file(tmp_path, "c.csv", ["顧客コード,フリガナ", "1,イチ"])
    result = import_file(db.session, "customers", path)
    assert len(result.errors) == 1
    assert "name" in str(result.errors[0].message) and "branch" in str(result.errors[0].message)


def test_dry_run_writes_nothing(team, tmp_path):
    path = csv_file(tmp_path, "c.csv", CUSTOMER_LINES)
    result = import_file(db.session, "customers", path, dry_run=True)
    assert result.ok and not result.written
    assert (result.created, result.updated) == (2, 0)
    assert count(Customer) == 0


def test_reimport_updates_never_duplicates(team, tmp_path):
    path = csv_file(tmp_path, "c.csv", CUSTOMER_LINES)
    import_file(db.session, "customers", path)
    changed = [
        CUSTOMER_LINES[0],
        CUSTOMER_LINES[1].replace("㈱山田商店①", "山田商店本店"),
        CUSTOMER_LINES[2],
    ]
    again = import_file(db.session, "customers", csv_file(tmp_path, "c2.csv", changed))
    assert (again.created, again.updated) == (0, 2)
    assert count(Customer) == 2
    assert customer("1001").name == "山田商店本店"
    assert "やまだしょうてん" in customer("1001").search_text


def test_manager_limited_to_own_branch(team, tmp_path, make):
    make.customer(team["osaka"], code="9001")
    path = csv_file(
        tmp_path,
        "c.csv",
        ["code,name,branch", "1,東京の顧客,T01", "2,大阪の顧客,O01", "9001,乗っ取り,T01"],
    )
    result = import_file(db.session, "customers", path, limit_branch_id=team["tokyo"].id)
    assert [(e.where.line, e.column) for e in result.errors] == [(3, "branch"), (4, "code")]


def test_users_roles_branches_and_passwords(team, tmp_path):
    path = csv_file(
        tmp_path,
        "u.csv",
        [
            "メールアドレス,氏名,役割,支店,パスワード",
            "Sato@Example.jp,佐藤,営業,T01,green-tea-1",
            "boss@example.jp,社長,経営者,,green-tea-2",
            "yamada@example.jp,山田 太郎,支店長,T01,",
        ],
    )
    result = import_file(db.session, "users", path)
    assert result.ok, [str(e) for e in result.errors]
    assert (result.created, result.updated) == (2, 1)
    sato = db.session.scalars(select(User).where(User.email == "sato@example.jp")).one()
    assert (sato.role, sato.branch.code) == ("rep", "T01")
    yamada = db.session.scalars(select(User).where(User.email == "yamada@example.jp")).one()
    assert (yamada.name, yamada.role) == ("山田 太郎", "manager")
    from fieldlog.services.accounts import authenticate

    assert authenticate(db.session, "yamada@example.jp", PASSWORD) is not None
    assert authenticate(db.session, "boss@example.jp", "green-tea-2") is not None
    assert count(User) == 4


@pytest.mark.parametrize(
    ("line", "column"),
    [
        ("new@example.jp,新人,営業,T01,", "パスワード"),
        ("new@example.jp,新人,営業,,green-tea-1", "支店"),
        ("new@example.jp,新人,経営者,T01,green-tea-1", "支店"),
        ("new@example.jp,新人,社員,T01,green-tea-1", "役割"),
        ("new@example.jp,新人,営業,T01,short", "パスワード"),
        ("not-an-email,新人,営業,T01,green-tea-1", "メールアドレス"),
    ],
)
def test_user_row_errors(team, tmp_path, line, column):
    path = csv_file(tmp_path, "u.csv", ["メールアドレス,氏名,役割,支店,パスワード", line])
    result = import_file(db.session, "users", path)
    assert [(e.where.line, e.column) for e in result.errors] == [(2, column)]
    assert count(User) == 2


def test_an_import_never_takes_an_owners_role_away(team, make, tmp_path):
    """The only owner demoted by a file would lock every owner page (403 for everyone)."""
    owner = make.user("owner", email="Owner@example.jp")
    db.session.commit()
    header = "メールアドレス,氏名,役割,支店,パスワード"
    path = csv_file(tmp_path, "u.csv", [header, "owner@example.jp,社長,営業,T01,"])
    result = import_file(db.session, "users", path)
    assert [(e.where.line, e.column) for e in result.errors] == [(2, "役割")]
    assert "管理画面" in str(result.errors[0])
    db.session.refresh(owner)
    assert owner.role == "owner"
    # Naming the role it has, or none, still updates the owner's other columns.
    path = csv_file(tmp_path, "u2.csv", [header, "owner@example.jp,代表取締役,経営者,,"])
    assert import_file(db.session, "users", path).ok
    db.session.refresh(owner)
    assert (owner.role, owner.name) == ("owner", "代表取締役")


def test_branches_and_categories(app, tmp_path):
    import_file(
        db.session,
        "branches",
        csv_file(tmp_path, "b.csv", ["支店コード,支店名", "T01,東京", "O01,大阪"]),
    )
    import_file(db.session, "branches", csv_file(tmp_path, "b2.csv", ["code,name", "T01,東京本店"]))
    assert {b.code: b.name for b in db.session.scalars(select(Branch))} == {
        "T01": "東京本店",
        "O01": "大阪",
    }
    import_file(
        db.session,
        "categories",
        csv_file(tmp_path, "k.csv", ["カテゴリコード,カテゴリ名", "K1,ｿﾌﾄﾄﾞﾘﾝｸ"]),
    )
    assert db.session.scalars(select(Category.name)).one() == "ソフトドリンク"


SALES_HEADER = "売上日,顧客コード,カテゴリ,金額,粗利,伝票番号"


@pytest.fixture
def customers(team, tmp_path):
    import_file(db.session, "customers", csv_file(tmp_path, "customers.csv", CUSTOMER_LINES))


def test_sales_identical_file_refused_and_refs_updated(customers, tmp_path):
    first = csv_file(
        tmp_path,
        "s1.csv",
        [
            SALES_HEADER,
            '2024/4/1,1001,FOOD,"1,000",300,A-1',
            "2024/4/2,1002,,500,,A-2",
            "2024/4/3,1002,,700,,",
        ],
    )
    result = import_file(db.session, "sales", first)
    assert result.ok and result.created == 3
    assert count(ImportBatch) == 2  # the customers file and this one
    again = import_file(db.session, "sales", first)
    assert not again.ok and again.errors[0].where.line == 1
    assert count(SalesLine) == 3
    second = csv_file(
        tmp_path,
        "s2.csv",
        [SALES_HEADER, "2024/4/1,1001,FOOD,1200,400,A-1", "2024/4/4,1001,,900,,A-3"],
    )
    result = import_file(db.session, "sales", second, dry_run=True)
    assert (result.created, result.updated) == (1, 1)
    result = import_file(db.session, "sales", second)
    assert (result.created, result.updated) == (1, 1)
    assert count(SalesLine) == 4
    a1 = db.session.scalars(select(SalesLine).where(SalesLine.ref == "A-1")).one()
    assert (a1.amount, a1.gross_profit) == (1200, 400)


def test_sales_unknown_references_and_duplicate_refs(customers, tmp_path):
    path = csv_file(
        tmp_path,
        "s.csv",
        [
            SALES_HEADER,
            "2024/4/1,9999,FOOD,100,,X-1",
            "2024/4/1,1001,DRINK,100,,X-2",
            "2024/4/1,1001,,abc,,X-3",
            "2024/4/1,1001,,100,,X-1",
            "昨日,1001,,100,,X-5",
        ],
    )
    result = import_file(db.session, "sales", path)
    assert [(e.where.line, e.column) for e in result.errors] == [
        (2, "顧客コード"),
        (3, "カテゴリ"),
        (4, "金額"),
        (5, "伝票番号"),
        (6, "売上日"),
    ]
    assert count(SalesLine) == 0
    assert db.session.scalar(select(func.count()).where(ImportBatch.kind == "sales")) == 0


def test_undecodable_file_is_refused(team, tmp_path):
    path = tmp_path / "broken.csv"
    path.write_bytes(b"code,name,branch\n1," + b"\x81\x20\xff\n")
    result = import_file(db.session, "customers", path)
    assert not result.ok and count(Customer) == 0


def test_cli_import_prints_errors_and_exits_non_zero(team, runner, tmp_path):
    db.session.commit()
    bad = csv_file(tmp_path, "bad.csv", ["code,name,branch", "1,,T01"])
    outcome = runner.invoke(args=["import", "customers", str(bad)])
    assert outcome.exit_code == 1
    assert "2" in outcome.output and "name" in outcome.output
    assert "By kind" not in outcome.output  # one problem: nothing to sum up
    many = csv_file(tmp_path, "many.csv", ["code,name,branch"] + [f"{n},,T01" for n in range(12)])
    outcome = runner.invoke(args=["import", "customers", str(many)])
    assert outcome.exit_code == 1 and "By kind:" in outcome.output
    assert ": 12 row(s) (" in outcome.output and ", …)" in outcome.output
    good = csv_file(tmp_path, "good.csv", ["code,name,branch", "1,一,T01"])
    outcome = runner.invoke(args=["import", "customers", str(good), "--dry-run"])
    assert outcome.exit_code == 0 and count(Customer) == 0
    outcome = runner.invoke(args=["import", "customers", str(good)])
    assert outcome.exit_code == 0, outcome.output
    db.session.rollback()
    assert count(Customer) == 1


def test_empty_and_header_only_files_are_refused(team, tmp_path):
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    result = import_file(db.session, "customers", empty)
    assert not result.ok
    # Said as it is, not as "required columns are missing" (which sends people hunting headers).
    assert [(e.where.line, e.column) for e in result.errors] == [(1, "")]
    assert "空" in str(result.errors[0].message)
    header_only = csv_file(tmp_path, "h.csv", ["code,name,branch"])
    result = import_file(db.session, "customers", header_only)
    assert [e.where.line for e in result.errors] == [1]


def test_rows_are_written_in_batches_from_a_second_pass(customers, tmp_path, monkeypatch):
    from fieldlog.io import importer

    monkeypatch.setattr(importer, "BATCH", 2)
    batches: list[int] = []
    write = importer.SalesHandler.write
    monkeypatch.setattr(
        importer.SalesHandler,
        "write",
        lambda self, rows, batch: batches.append(len(rows)) or write(self, rows, batch),
    )
    lines = [SALES_HEADER, *[f"2024/4/{d},1001,,{d}00,,B-{d}" for d in range(1, 6)]]
    result = import_file(db.session, "sales", csv_file(tmp_path, "s.csv", lines))
    assert result.ok and batches == [2, 2, 1]
    assert count(SalesLine) == 5


def test_cli_full_flow_users_then_customers_then_sales(app, runner, tmp_path):
    files = {
        "branches": csv_file(tmp_path, "b.csv", ["支店コード,支店名", "T01,東京"]),
        "categories": csv_file(tmp_path, "k.csv", ["カテゴリコード,カテゴリ名", "K1,飲料"]),
        "users": excel_csv(
            tmp_path,
            "u.csv",
            [
                "メールアドレス,氏名,役割,支店,パスワード",
                "ito@example.jp,伊藤,営業,T01,blue-sky-9",
            ],
        ),
        "customers": xlsx_file(
            tmp_path,
            "c.xlsx",
            [
                ["得意先コード", "得意先名", "支店", "担当者メール"],
                [5001, "㈱伊藤①", "T01", "ito@example.jp"],
            ],
        ),
        "sales": csv_file(
            tmp_path,
            "s.tsv",
            [
                "売上日\t得意先コード\t商品カテゴリ\t売上金額\t粗利額",
                "R6.4.1\t5001\tK1\t¥1,000\t250",
            ],
        ),
    }
    for kind, path in files.items():
        outcome = runner.invoke(args=["import", kind, str(path)])
        assert outcome.exit_code == 0, (kind, outcome.output)
    db.session.rollback()
    line = db.session.scalars(select(SalesLine)).one()
    assert (line.customer.name, line.customer.rep.email, line.amount) == (
        "㈱伊藤①",
        "ito@example.jp",
        1000,
    )


def test_sales_duplicate_ref_reports_both_lines(customers, tmp_path):
    path = csv_file(
        tmp_path,
        "dup.csv",
        [
            SALES_HEADER,
            "2024/4/1,1001,,100,,D-1",
            "2024/4/2,1001,,100,,D-2",
            "2024/4/3,1002,,100,,D-1",
            "2024/4/4,1002,,100,,D-1",
        ],
    )
    result = import_file(db.session, "sales", path)
    assert [(e.where.line, e.column) for e in result.errors] == [(4, "伝票番号"), (5, "伝票番号")]
    # Default locale is Japanese: "…(2行目にもあります)" names the first line.
    assert all("2行目" in str(e.message) for e in result.errors), [str(e) for e in result.errors]
    assert count(SalesLine) == 0


# Python heap (tracemalloc) of the validation pass over many distinct slip numbers. Measured with
# 120,000 rows: a set of every ref seen peaked at 12.5 MiB (21.8 MiB at 200,000); the on-disk
# SeenKeys table keeps it at ~4.3 MiB (4.5 MiB at 200,000), i.e. flat in the number of rows.
MEMORY_ROWS = 120_000
MEMORY_BOUND = 8 * 1024 * 1024


def test_sales_validation_memory_does_not_grow_with_refs(customers, tmp_path):
    path = tmp_path / "many.csv"
    with path.open("w", encoding="utf-8") as f:
        f.write(SALES_HEADER + "\n")
        f.writelines(f"2024-04-01,1001,FOOD,100,,R{n:08d}\n" for n in range(MEMORY_ROWS))
    tracemalloc.start()
    try:
        result = import_file(db.session, "sales", path, dry_run=True)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    print(f"validation peak {peak / 2**20:.1f} MiB")
    assert result.ok and (result.rows, result.created) == (MEMORY_ROWS, MEMORY_ROWS)
    assert peak < MEMORY_BOUND, f"{peak / 2**20:.1f} MiB"


# docs/contract.md, header for header: English field names, then the Japanese ones it lists.
CONTRACT_FILES = {
    "english": [
        ("branches", ["code,name", "T01,東京"]),
        ("categories", ["code,name", "K1,飲料"]),
        ("users", ["email,name,role,branch,password", "Ito@Example.jp,伊藤,rep,T01,blue-sky-9"]),
        (
            "customers",
            [
                "code,name,name_kana,branch,rep,rank,visit_cycle_days",
                "5001,伊藤商店,イトウ,T01,ito@example.jp,A,10",
            ],
        ),
        ("sales", ["sold_on,customer,category,amount,gross_profit", "2026-11-02,5001,K1,1000,250"]),
    ],
    "japanese": [
        ("branches", ["支店コード,支店名", "T01,東京"]),
        ("categories", ["カテゴリコード,カテゴリ名", "K1,飲料"]),
        (
            "users",
            [
                "メールアドレス,氏名,役割,支店,パスワード",
                "ito@example.jp,伊藤,営業,T01,blue-sky-9",
            ],
        ),
        (
            "customers",
            [
                "顧客コード,顧客名,フリガナ,支店,担当者,ランク",
                "5001,伊藤商店,イトウ,T01,ito@example.jp,A",
            ],
        ),
        ("sales", ["売上日,顧客コード,カテゴリ,金額,粗利", "2026-11-02,5001,K1,1000,250"]),
    ],
}


@pytest.mark.parametrize("language", CONTRACT_FILES)
def test_cli_contract_headers_with_dry_run_first(app, runner, tmp_path, language):
    models = {"branches": Branch, "categories": Category, "users": User, "customers": Customer}
    for kind, lines in CONTRACT_FILES[language]:
        path = excel_csv(tmp_path, f"{kind}.csv", lines)
        model = models.get(kind, SalesLine)
        before = count(model)
        dry = runner.invoke(args=["import", kind, str(path), "--dry-run"])
        assert dry.exit_code == 0, (kind, dry.output)
        db.session.rollback()
        assert count(model) == before, kind
        real = runner.invoke(args=["import", kind, str(path)])
        assert real.exit_code == 0, (kind, real.output)
        db.session.rollback()
        assert count(model) == before + 1, kind
    line = db.session.scalars(select(SalesLine)).one()
    assert (line.customer.code, line.customer.rank, line.customer.rep.email) == (
        "5001",
        "A",
        "ito@example.jp",
    )
    assert (line.sold_on, line.category.code, line.amount, line.gross_profit) == (
        date(2026, 11, 2),
        "K1",
        1000,
        250,
    )


def test_users_are_matched_by_email_whatever_its_case(team, tmp_path):
    header = "email,name,role,branch,password"
    path = csv_file(tmp_path, "u.csv", [header, "YAMADA@Example.JP,山田 次郎,manager,T01,"])
    result = import_file(db.session, "users", path)
    assert result.ok, [str(e) for e in result.errors]
    assert (result.created, result.updated) == (0, 1)
    assert (team["rep"].email, team["rep"].name, team["rep"].role) == (
        "yamada@example.jp",
        "山田 次郎",
        "manager",
    )
    assert count(User) == 2


def test_a_rep_keeps_to_the_branch_of_their_customers(team, tmp_path, make):
    """A customer's rep belongs to its branch: a move or a new role waits for a reassignment."""
    shop = make.customer(team["tokyo"], team["rep"], code="1001")
    header = "email,name,role,branch,password"
    for line in ("yamada@example.jp,山田,rep,O01,", "yamada@example.jp,山田,owner,,"):
        result = import_file(db.session, "users", csv_file(tmp_path, "u.csv", [header, line]))
        assert [(e.where.line, e.column) for e in result.errors] == [(2, "branch")]
        assert team["rep"].branch_id == team["tokyo"].id
    promoted = csv_file(tmp_path, "m.csv", [header, "yamada@example.jp,山田,manager,T01,"])
    assert import_file(db.session, "users", promoted).ok
    shop.rep = None
    db.session.flush()
    moved = import_file(
        db.session,
        "users",
        csv_file(tmp_path, "u.csv", [header, "yamada@example.jp,山田,rep,O01,"]),
    )
    assert moved.ok and moved.updated == 1


def test_a_customers_rep_must_belong_to_its_branch(team, tmp_path):
    lines = ["code,name,branch,rep", "1001,山田商店,T01,suzuki@example.jp", "1002,鈴木商店,O01,"]
    result = import_file(db.session, "customers", csv_file(tmp_path, "c.csv", lines))
    assert [(e.where.line, e.column) for e in result.errors] == [(2, "rep")]
    assert count(Customer) == 0


def test_excel_unicode_text_utf16_tsv_imports(team, tmp_path):
    """Excel's 'Unicode Text' (Unicode テキスト) is UTF-16LE with a BOM, tab-separated."""
    lines = [line.replace(",", "\t") for line in CUSTOMER_LINES]
    path = csv_file(tmp_path, "unicode.txt", lines, encoding="utf-16", newline="\r\n")
    assert path.read_bytes()[:2] == b"\xff\xfe"
    result = import_file(db.session, "customers", path)
    assert result.ok, [str(e) for e in result.errors]
    assert (result.created, result.updated) == (2, 0)
    assert customer("1001").name == "㈱山田商店①" and customer("1002").name_kana == "エービーシー"


def test_binary_or_unknown_encoding_is_refused_as_such(team, tmp_path):
    path = tmp_path / "utf32.csv"
    path.write_bytes("code,name,branch\n1,一,T01\n".encode("utf-32"))
    result = import_file(db.session, "customers", path)
    assert [e.where.line for e in result.errors] == [1]
    assert "UTF-8" in str(result.errors[0].message) and count(Customer) == 0


def test_old_excel_xls_is_refused_with_what_to_do(team, tmp_path):
    """Excel 97-2003 workbooks (OLE2) are still common; say what they are and how to convert."""
    path = tmp_path / "顧客一覧.xls"
    path.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 600)
    result = import_file(db.session, "customers", path)
    assert [e.where.line for e in result.errors] == [1]
    assert ".xlsx" in str(result.errors[0].message) and count(Customer) == 0


@pytest.mark.parametrize("tail", ["", "\n", "\r\n"])
def test_an_unclosed_quote_is_reported_not_swallowing_the_rest(team, tmp_path, tail):
    """csv reads everything after an unclosed quote into one cell; the file had 3 branches."""
    path = tmp_path / "unclosed.csv"
    path.write_text(f'code,name\nB1,"東京\nB2,大阪\nB3,名古屋{tail}', encoding="utf-8")
    result = import_file(db.session, "branches", path, dry_run=True)
    assert not result.ok
    assert [e.where.line for e in result.errors if '"' in str(e.message)] == [2]


def test_an_unclosed_quote_in_a_long_file_is_reported_at_its_line(team, tmp_path):
    """Far from the end the swallowed cell outgrows csv's field limit; still the quote's line."""
    lines = ["code,name", *(f"X{i},支店{i}" for i in range(20_000))]
    lines[5] = 'X4,"開いたまま'
    path = csv_file(tmp_path, "long.csv", lines)
    result = import_file(db.session, "branches", path, dry_run=True)
    assert [e.where.line for e in result.errors] == [6]
    assert '"' in str(result.errors[0].message) and "field limit" not in str(result.errors[0])


def test_quotes_that_close_and_stray_inch_marks_still_import(team, tmp_path):
    lines = [
        "code,name,branch",
        '1001,"複数行の\r\n顧客名",T01',
        '1002,5"モニター商会,T01',
        '1003,"ダブル""クオート",T01',
    ]
    path = csv_file(tmp_path, "quotes.csv", lines, newline="\r\n")
    result = import_file(db.session, "customers", path)
    assert result.ok, [str(e) for e in result.errors]
    assert customer("1002").name == '5"モニター商会'
    assert customer("1003").name == 'ダブル"クオート'
