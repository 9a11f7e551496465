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
from fieldlog.rules.periods import DayRange, RangeError
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


# ---- a date range narrows each dated export by its own date -----------------------------------


@pytest.fixture
def dated(make):
    """Visits either side of midnight in Tokyo (the same UTC day), each with a proposal and a
    next action, and sales lines on the days around them."""
    branch = make.branch("T01", "東京")
    rep = make.user("rep", branch, email="rep@example.jp")
    other = make.user("rep", branch, email="other@example.jp")
    manager = make.user("manager", branch, email="boss@example.jp")
    make.category("FOOD", "食品")
    shop = make.customer(branch, rep, code="1001")
    make.customer(branch, other, code="1002")
    for who, at, due in (
        (rep, "2026-11-20T23:30:00+09:00", "2026-11-27"),  # 14:30 UTC on the 20th
        (rep, "2026-11-21T00:30:00+09:00", "2026-11-28"),  # 15:30 UTC, still the 20th in UTC
        (other, "2026-11-21T10:00:00+09:00", "2026-11-28"),
    ):
        make.visit(
            who,
            shop,
            visited_at=at,
            purpose="proposal",
            proposal={"category": "FOOD", "amount": 1000},
            next_action={"action": "電話", "due_on": due},
        )
    for day in (19, 20, 21, 22):
        make.sale(shop, date(2026, 11, day), amount=day * 100)
    return {"rep": rep, "other": other, "manager": manager}


def ranged(kind: str, start=None, end=None, user=export.EVERYTHING, **options):
    days = DayRange(start, end)
    table = export.table(
        db.session, kind, user, tz=TZ, today=date(2026, 11, 23), days=days, **options
    )
    return [dict(zip(table.columns, row, strict=True)) for row in table.rows]


def test_a_visit_belongs_to_its_day_in_the_company_time_zone(dated):
    """23:30 and 00:30 in Tokyo are one UTC day (the 20th) but two local days."""
    on_20 = ranged("visits", date(2026, 11, 20), date(2026, 11, 20))
    assert [r["visited_at"] for r in on_20] == [datetime(2026, 11, 20, 23, 30)]
    on_21 = ranged("visits", date(2026, 11, 21), date(2026, 11, 21))
    assert [r["visited_at"] for r in on_21] == [
        datetime(2026, 11, 21, 0, 30),
        datetime(2026, 11, 21, 10, 0),
    ]
    assert len(ranged("visits", None, date(2026, 11, 20))) == 1  # an open start
    assert len(ranged("visits", date(2026, 11, 21), None)) == 2  # an open end
    assert len(ranged("visits")) == 3  # no range: everything, as before


@pytest.mark.parametrize(
    ("kind", "column", "start", "end", "expected"),
    [
        # Both ends are included.
        ("proposals", "proposed_on", date(2026, 11, 20), date(2026, 11, 20), [date(2026, 11, 20)]),
        ("proposals", "proposed_on", date(2026, 11, 21), None, [date(2026, 11, 21)] * 2),
        ("follow-ups", "due_on", date(2026, 11, 27), date(2026, 11, 27), [date(2026, 11, 27)]),
        ("follow-ups", "due_on", None, date(2026, 11, 27), [date(2026, 11, 27)]),
        ("follow-ups", "due_on", date(2026, 11, 28), None, [date(2026, 11, 28)] * 2),
        (
            "sales",
            "sold_on",
            date(2026, 11, 20),
            date(2026, 11, 21),
            [date(2026, 11, d) for d in (20, 21)],
        ),
        ("sales", "sold_on", date(2026, 11, 22), None, [date(2026, 11, 22)]),
        ("sales", "sold_on", None, date(2026, 11, 19), [date(2026, 11, 19)]),
        ("sales", "sold_on", date(2026, 11, 23), date(2026, 11, 30), []),
    ],
)
def test_each_kind_is_narrowed_by_its_own_date(dated, kind, column, start, end, expected):
    assert [r[column] for r in ranged(kind, start, end)] == expected


@pytest.mark.parametrize(
    ("who", "visits", "proposals"), [("rep", 1, 1), ("other", 1, 1), ("manager", 2, 2)]
)
def test_a_range_narrows_what_the_role_sees_and_never_widens_it(dated, who, visits, proposals):
    """On the 21st: one visit and proposal each for rep and other; the manager sees both."""
    user = dated[who]
    mine = {user.email} if who != "manager" else {"rep@example.jp", "other@example.jp"}
    found = ranged("visits", date(2026, 11, 21), date(2026, 11, 21), user=user)
    assert len(found) == visits and {r["rep_email"] for r in found} == mine
    assert {r["id"] for r in found} <= {r["id"] for r in ranged("visits", user=user)}
    found = ranged("proposals", date(2026, 11, 21), None, user=user)
    assert len(found) == proposals and {r["rep_email"] for r in found} == mine


@pytest.mark.parametrize(
    ("start", "end", "weeks"),
    [
        # November 2026: the weeks wholly inside it; W44 (from Oct 26) and W49 (to Dec 6) are not.
        (date(2026, 11, 1), date(2026, 11, 30), ["2026-W45", "2026-W46", "2026-W47", "2026-W48"]),
        (date(2026, 11, 2), date(2026, 11, 15), ["2026-W45", "2026-W46"]),  # Monday to Sunday
        (date(2026, 11, 3), date(2026, 11, 15), ["2026-W46"]),
        (date(2026, 11, 3), date(2026, 11, 8), []),  # no whole week
        (date(2026, 11, 9), None, ["2026-W46", "2026-W47", "2026-W48"]),  # up to this week
        (date(2026, 11, 9), date(2027, 3, 1), ["2026-W46", "2026-W47", "2026-W48"]),  # no future
        (None, date(2026, 11, 15), [f"2026-W{n}" for n in range(35, 47)]),  # 12 up to the end
    ],
)
def test_kpi_rows_are_the_weeks_lying_wholly_in_the_range(dated, start, end, weeks):
    found = ranged("kpis", start, end, weeks=12)
    assert sorted({r["week"] for r in found}) == weeks


def test_a_kpi_range_of_more_weeks_than_one_file_holds_is_refused(dated):
    with pytest.raises(RangeError) as caught:
        ranged("kpis", date(1990, 1, 1), None)
    assert (caught.value.field, caught.value.problem) == ("from", "too_long")


def test_customers_have_no_date_so_a_range_for_them_is_refused_not_ignored(dated):
    with pytest.raises(RangeError) as caught:
        ranged("customers", date(2026, 11, 1), None)
    assert (caught.value.field, caught.value.problem) == ("from", "undated")
    assert len(ranged("customers")) == 2


# ---- the range from the command line ----------------------------------------------------------


def test_cli_export_with_a_range(dated, runner, tmp_path):
    db.session.commit()
    out = tmp_path / "v.csv"
    outcome = runner.invoke(
        args=["export", "visits", "--from", "2026-11-21", "--to", "2026-11-21", "-o", str(out)]
    )
    assert outcome.exit_code == 0, outcome.output
    assert "visits: 2 rows" in outcome.output
    rows = list(csv.DictReader(io.StringIO(out.read_text("utf-8-sig"))))
    assert [r["visited_at"] for r in rows] == ["2026-11-21 00:30", "2026-11-21 10:00"]
    outcome = runner.invoke(
        args=["export", "kpis", "--from", "2026-11-02", "--to", "2026-11-15", "-o", str(out)]
    )
    assert outcome.exit_code == 0, outcome.output
    weeks = {r["week"] for r in csv.DictReader(io.StringIO(out.read_text("utf-8-sig")))}
    assert weeks == {"2026-W45", "2026-W46"}


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (["visits", "--from", "soon"], "--from"),
        (["visits", "--to", "2026-02-30"], "--to"),
        (["sales", "--from", "1899-12-31"], "--from"),
        (["proposals", "--to", "3000-01-01"], "--to"),
        (["follow-ups", "--from", "2026-12-01", "--to", "2026-11-30"], "--to"),
        (["kpis", "--from", "1990-01-01"], "--from"),
        (["kpis", "--from", "2026-11-02", "--weeks", "4"], "--weeks"),
        (["customers", "--from", "2026-11-01"], "--from"),  # customers have no date
    ],
)
def test_cli_export_refuses_a_bad_range_in_one_line(dated, runner, tmp_path, args, named):
    out = tmp_path / "out.csv"
    outcome = runner.invoke(args=["export", *args, "-o", str(out)])
    assert outcome.exit_code == 2, outcome.output
    error = [line for line in outcome.output.splitlines() if line.startswith("Error:")]
    assert len(error) == 1 and named in error[0], outcome.output
    assert "Traceback" not in outcome.output and not out.exists()
    assert outcome.exception is None or isinstance(outcome.exception, SystemExit)
