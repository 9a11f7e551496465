"""Export: scopes, typed XLSX, CSV encodings, formula injection, round trip, snapshot with FTS."""

from __future__ import annotations

import csv
import io
from datetime import date, datetime

import pytest
import sqlite_utils
from openpyxl import load_workbook
from sqlalchemy import delete, func, select

from fieldlog.app.extensions import db
from fieldlog.io import export, import_file
from fieldlog.io.snapshot import write_snapshot
from fieldlog.models import SalesLine
from tests.conftest import TZ


@pytest.fixture
def world(make):
    branch = make.branch("T01", "東京")
    rep = make.user("rep", branch, email="rep@example.jp", name="山田")
    other = make.user("rep", branch, email="other@example.jp")
    manager = make.user("manager", branch, email="boss@example.jp")
    food = make.category("FOOD", "食品")
    shop = make.customer(
        branch, rep, code="1001", name='=HYPERLINK("http://x")', name_kana="ヤマダ"
    )
    make.customer(branch, other, code="1002", name="髙橋商店①")
    make.visit(
        rep,
        shop,
        note="-2+3 在庫切れの相談",
        hearing_note="@SUM(A1) 配送頻度の課題",
        proposal={"category": "FOOD", "amount": 50000},
        next_action={"action": "見積を送る", "due_on": "2026-11-30"},
    )
    make.visit(other, shop, note="同行", purpose="routine")
    make.sale(shop, date(2026, 11, 2), amount=-1200, category=food, gross_profit=-300, ref="R1")
    make.sale(shop, date(2026, 11, 3), amount=54000, category=food, gross_profit=9000)
    return {"rep": rep, "other": other, "manager": manager}


def rows_of(kind: str, user=export.EVERYTHING):
    table = export.table(db.session, kind, user, tz=TZ, today=date(2026, 11, 23), weeks=1)
    return table.columns, list(table.rows)


def test_visits_are_joined_and_in_local_time(world):
    columns, rows = rows_of("visits")
    assert len(rows) == 2
    row = dict(zip(columns, rows[0], strict=True))
    assert row["customer_code"] == "1001" and row["rep_email"] == "rep@example.jp"
    assert row["branch"] == "T01" and row["purpose_label"] == "課題ヒアリング"
    assert row["visited_at"] == datetime(2026, 11, 23, 9, 0)
    assert row["visited_on"] == date(2026, 11, 23)


@pytest.mark.parametrize(
    ("who", "visits", "proposals"), [("rep", 1, 1), ("other", 1, 0), ("manager", 2, 1)]
)
def test_export_is_limited_to_what_the_user_may_see(world, who, visits, proposals):
    assert len(rows_of("visits", world[who])[1]) == visits
    assert len(rows_of("proposals", world[who])[1]) == proposals
    assert len(rows_of("follow-ups", world[who])[1]) == proposals


def test_csv_has_bom_and_neutralises_formulas(world, tmp_path):
    path = tmp_path / "visits.csv"
    count, replaced = export.write(export.table(db.session, "visits", None, tz=TZ), path)
    assert (count, replaced) == (2, 0)
    data = path.read_bytes()
    assert data.startswith(b"\xef\xbb\xbf") and b"\r\n" in data
    rows = list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"))))
    assert rows[0]["customer_name"].startswith("'=HYPERLINK")
    assert rows[0]["note"] == "'-2+3 在庫切れの相談"
    assert rows[0]["hearing_note"].startswith("'@SUM")
    sales = tmp_path / "sales.csv"
    export.write(export.table(db.session, "sales", None, tz=TZ), sales)
    first = next(csv.DictReader(io.StringIO(sales.read_text("utf-8-sig"))))
    assert first["amount"] == "-1200"  # a real number stays a number


def test_cp932_replaces_what_it_cannot_encode_visibly(world, tmp_path):
    path = tmp_path / "customers.csv"
    _count, replaced = export.write(
        export.table(db.session, "customers", None, tz=TZ), path, encoding="cp932"
    )
    text = path.read_bytes().decode("cp932")
    assert "髙橋商店①" in text  # both are in cp932 (IBM extensions, NEC specials)
    assert replaced == 0
    path.unlink()
    db.session.execute(delete(SalesLine))
    world["rep"].name = "𠮷田"
    db.session.flush()
    _count, replaced = export.write(
        export.table(db.session, "visits", None, tz=TZ), path, encoding="cp932"
    )
    assert replaced == 1 and "〓田" in path.read_bytes().decode("cp932")


def test_xlsx_cells_are_typed_and_neutralised(world, tmp_path):
    path = tmp_path / "sales.xlsx"
    export.write(export.table(db.session, "sales", None, tz=TZ), path, fmt="xlsx")
    sheet = load_workbook(path).active
    assert [c.value for c in sheet[1]] == [
        "sold_on",
        "customer",
        "category",
        "amount",
        "gross_profit",
        "ref",
    ]
    assert sheet["A2"].is_date and sheet["A2"].value == datetime(2026, 11, 2)
    assert sheet["D2"].value == -1200 and sheet["D2"].data_type == "n"
    path = tmp_path / "visits.xlsx"
    export.write(export.table(db.session, "visits", None, tz=TZ), path, fmt="xlsx")
    sheet = load_workbook(path).active
    header = [c.value for c in sheet[1]]
    name = sheet.cell(row=2, column=header.index("customer_name") + 1)
    assert name.data_type == "s" and name.value == '=HYPERLINK("http://x")'  # exact, as text


def test_round_trip_export_then_import(world, tmp_path):
    for kind, fmt in (("customers", "csv"), ("sales", "xlsx")):
        path = tmp_path / f"{kind}.{fmt}"
        export.write(export.table(db.session, kind, None, tz=TZ), path, fmt=fmt)
        before = rows_of(kind)[1]
        if kind == "sales":
            db.session.execute(delete(SalesLine))
        result = import_file(db.session, kind, path)
        assert result.ok, [str(e) for e in result.errors]
        assert rows_of(kind)[1] == before
    assert db.session.scalar(select(func.count()).select_from(SalesLine)) == 2


def test_cli_export_every_kind(world, runner, tmp_path):
    db.session.commit()
    for kind in export.KINDS:
        out = tmp_path / f"{kind}.xlsx"
        outcome = runner.invoke(args=["export", kind, "-o", str(out)])
        assert outcome.exit_code == 0, outcome.output
        assert load_workbook(out).active.max_row >= 2
    outcome = runner.invoke(
        args=[
            "export",
            "visits",
            "--format",
            "csv",
            "--encoding",
            "cp932",
            "-o",
            str(tmp_path / "v.csv"),
        ]
    )
    assert outcome.exit_code == 0
    assert "在庫切れ" in (tmp_path / "v.csv").read_bytes().decode("cp932")


@pytest.mark.parametrize(
    "args",
    [
        ["export", "follow-ups", "--format", "xlsx", "-o"],
        ["export", "visits", "--format", "csv", "-o"],
        ["export", "snapshot"],
    ],
)
def test_cli_export_into_a_missing_folder_creates_it_as_backup_does(world, runner, tmp_path, args):
    target = tmp_path / "missing" / "out.file"
    outcome = runner.invoke(args=[*args, str(target)])
    assert outcome.exit_code == 0, outcome.output
    assert target.is_file()
    # A folder that cannot be made (a file is in its place) is one line, not a traceback.
    (tmp_path / "blocked").write_text("")
    outcome = runner.invoke(args=[*args, str(tmp_path / "blocked" / "out.file")])
    assert outcome.exit_code == 2
    assert "cannot create the folder" in outcome.output and "Traceback" not in outcome.output


def test_snapshot_opens_with_sqlite_utils_and_searches_notes(world, tmp_path, runner):
    path = tmp_path / "snap.db"
    counts = write_snapshot(db.session, path, tz=TZ, today=date(2026, 11, 23), weeks=2)
    assert counts["visits"] == 2 and counts["proposals"] == 1
    snap = sqlite_utils.Database(path)
    hits = list(snap["visits"].search("配送頻度の課題"))
    assert [h["customer_code"] for h in hits] == ["1001"]
    # Japanese has no spaces: a word inside a note must be found, not only the whole note.
    for word in ("配送頻度", "頻度の課"):
        assert [h["customer_code"] for h in snap["visits"].search(word)] == ["1001"]
    assert snap["visits"].detect_fts() == "visits_fts"
    assert {"visits", "proposals", "follow_ups", "customers"} <= set(snap.table_names())
    kpi = snap.execute(
        "select value, numerator, denominator from kpi_weekly"
        " where code = 'rep@example.jp' and week = '2026-W48' and kpi = 'visit_count'"
    ).fetchall()
    assert kpi == [(1, 1, None)]
    db.session.commit()
    outcome = runner.invoke(args=["export", "snapshot", str(tmp_path / "cli.db")])
    assert (
        outcome.exit_code == 0 and sqlite_utils.Database(tmp_path / "cli.db")["visits"].count == 2
    )


@pytest.mark.parametrize(("who", "scopes"), [("rep", {"rep"}), ("manager", {"branch", "rep"})])
def test_kpi_export_per_role(world, who, scopes):
    columns, rows = rows_of("kpis", world[who])
    found = [dict(zip(columns, row, strict=True)) for row in rows]
    assert {r["scope"] for r in found} == scopes
    mine = [r for r in found if r["code"] == world["rep"].email and r["kpi"] == "visit_count"]
    assert [(r["week"], r["value"]) for r in mine] == [("2026-W48", 1)]
    if who == "rep":
        assert {r["code"] for r in found} == {"rep@example.jp"}


def test_kpi_export_for_owner_has_company_rows(world):
    _columns, rows = rows_of("kpis")
    company = [r for r in rows if r[3] == "company" and r[6] == "purposeful_visit_rate"]
    assert [(r[7], r[8], r[9]) for r in company] == [(0.5, 1, 2)]


def test_cli_export_help_names_every_kind(runner):
    from fieldlog.io.export import KINDS

    outcome = runner.invoke(args=["export", "--help"])
    summary = outcome.output.split("Options:")[0]
    assert all(kind in summary for kind in (*KINDS, "snapshot")), summary


@pytest.mark.parametrize("weeks", ["0", "-3"])
def test_cli_export_kpis_refuses_no_weeks_clearly(world, runner, tmp_path, weeks):
    outcome = runner.invoke(
        args=["export", "kpis", "-o", str(tmp_path / "k.csv"), "--weeks", weeks]
    )
    assert outcome.exit_code == 2 and "--weeks" in outcome.output
    assert outcome.exception is None or isinstance(outcome.exception, SystemExit)


@pytest.mark.own_sqlite
def test_cli_never_writes_over_the_sqlite_database(tmp_path):
    """A typo ('export snapshot instance/fieldlog.db') must not delete or truncate the database."""
    from tests.browser import sqlite_app

    path = tmp_path / "live.db"
    app = sqlite_app(path, FIELDLOG_NOW=datetime(2026, 11, 23, 1, 0, tzinfo=TZ))
    with app.app_context():
        db.engine.dispose()
    runner = app.test_cli_runner()
    before = path.read_bytes()
    for args in (
        ["export", "snapshot", str(path)],
        ["export", "visits", "-o", str(path)],
        ["export", "kpis", "-o", f"{path}-wal"],
        ["report", "weekly", "--company", "--week", "2026-W47", "-o", str(path)],
        ["backup", str(path)],
    ):
        with app.app_context():
            outcome = runner.invoke(args=args)
            db.engine.dispose()
        assert outcome.exit_code != 0 and "the database itself" in outcome.output, (args, outcome)
    assert path.read_bytes() == before


# ---- what a Japanese team sees when it opens the web download in Excel ------------------------


def _download(client, auth, user, path):
    auth.login(user)
    response = client.get(path)
    assert response.status_code == 200, path
    assert response.headers["Cache-Control"] == "private, no-store"
    return response


def test_kpi_workbook_reads_like_japanese_excel(world, client, auth):
    db.session.commit()
    data = _download(client, auth, world["manager"], "/export/kpis.xlsx").data
    sheet = load_workbook(io.BytesIO(data)).active
    header = [c.value for c in sheet[1]]
    assert header[:4] == ["週", "開始日", "終了日", "範囲"]
    assert header[-2:] == ["KPI", "集計中の週"]
    assert sheet.freeze_panes == "A2"
    assert sheet.auto_filter.ref == f"A1:{sheet.cell(1, len(header)).column_letter}{sheet.max_row}"
    assert sheet.column_dimensions["A"].width >= 8 and sheet.column_dimensions["B"].width >= 11
    assert all(c.font.bold for c in sheet[1])
    rows = [dict(zip(header, (c for c in r), strict=True)) for r in sheet.iter_rows(min_row=2)]
    rate = next(
        r
        for r in rows
        if r["KPIキー"].value == "purposeful_visit_rate" and r["週"].value == "2026-W48"
    )
    assert rate["KPI"].value == "目的あり訪問率"
    assert rate["値"].value == 0.5 and rate["値"].number_format == "0.0%"
    count = next(r for r in rows if r["KPIキー"].value == "visit_count")
    assert count["値"].number_format == "#,##0"
    assert rate["開始日"].is_date and rate["開始日"].number_format == "yyyy-mm-dd"
    # The test clock's week (2026-W48) is the week in progress; weeks=12 by default on the web.
    in_progress = {r["週"].value: r["集計中の週"].value for r in rows}
    assert in_progress["2026-W48"] is True and in_progress["2026-W47"] is False


def test_visit_workbook_keeps_text_exact_and_dates_typed(world, client, auth):
    db.session.commit()
    data = _download(client, auth, world["manager"], "/export/visits.xlsx").data
    sheet = load_workbook(io.BytesIO(data)).active
    header = [c.value for c in sheet[1]]
    assert header[:3] == ["ID", "訪問日", "訪問日時"]
    row = {h: c for h, c in zip(header, sheet[2], strict=True)}
    assert row["顧客名"].value == '=HYPERLINK("http://x")' and row["顧客名"].data_type == "s"
    assert row["メモ"].value == "-2+3 在庫切れの相談"
    assert row["訪問日時"].is_date and row["訪問日時"].number_format == "yyyy-mm-dd hh:mm"
    assert sheet.column_dimensions["O"].width == 40  # メモ: free text gets a wide column


def test_english_reader_gets_english_headers(world, client, auth):
    db.session.commit()
    client.set_cookie("fieldlog_lang", "en")
    data = _download(client, auth, world["manager"], "/export/proposals.xlsx").data
    header = [c.value for c in load_workbook(io.BytesIO(data)).active[1]]
    assert header[:3] == ["ID", "Proposed on", "Customer code"]


def test_cp932_csv_reads_back_with_japanese_headers_and_neutralised_formulas(world, client, auth):
    db.session.commit()
    data = _download(client, auth, world["manager"], "/export/visits.csv?encoding=cp932").data
    rows = list(csv.DictReader(io.StringIO(data.decode("cp932"), newline="")))
    assert rows[0]["顧客コード"] == "1001"
    assert rows[0]["顧客名"].startswith("'=HYPERLINK")
    assert rows[0]["ヒアリング内容"].startswith("'@SUM")
    assert rows[0]["訪問日"] == "2026-11-23"


def test_web_customer_and_sales_downloads_import_back(world, client, auth, tmp_path):
    """The Japanese headers of the web download are ones the import reads."""
    db.session.commit()
    owner = world["manager"]
    for kind, fmt in (("customers", "csv"), ("sales", "xlsx")):
        data = _download(client, auth, owner, f"/export/{kind}.{fmt}").data
        path = tmp_path / f"{kind}.{fmt}"
        path.write_bytes(data)
        result = import_file(db.session, kind, path, dry_run=True)
        assert result.ok, [str(e.message) for e in result.errors]
        auth.logout()
