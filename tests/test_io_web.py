"""Upload page: roles, validation report, preview then confirm, progress, 413; export downloads."""

from __future__ import annotations

import csv
import io

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select

from fieldlog.app.extensions import db
from fieldlog.jobs import imports as import_jobs
from fieldlog.models import Customer, User, Visit
from fieldlog.web import io as web_io
from tests.conftest import csrf_from


@pytest.fixture
def site(app, make, tmp_path):
    app.config["FIELDLOG_IMPORT_DIR"] = str(tmp_path / "imports")
    app.config["FIELDLOG_IMPORT_INLINE"] = True
    tokyo = make.branch("T01", "東京")
    osaka = make.branch("O01", "大阪")
    people = {
        "owner": make.user("owner", email="owner@example.jp"),
        "manager": make.user("manager", tokyo, email="manager@example.jp"),
        "rep": make.user("rep", tokyo, email="rep@example.jp"),
        "osaka": osaka,
    }
    db.session.commit()
    return people


def customers() -> int:
    db.session.rollback()
    return db.session.scalar(select(func.count()).select_from(Customer))


def upload(client, kind: str, content: bytes, name: str = "customers.csv"):
    token = csrf_from(client.get("/import").get_data(as_text=True))
    return client.post(
        "/import",
        data={"csrf_token": token, "kind": kind, "file": (io.BytesIO(content), name)},
        content_type="multipart/form-data",
    )


GOOD = "顧客コード,顧客名,支店,担当者\r\n1001,㈱山田①,T01,rep@example.jp\r\n".encode("cp932")


@pytest.mark.parametrize(("role", "status"), [("owner", 200), ("manager", 200), ("rep", 403)])
def test_import_page_roles(site, client, auth, role, status):
    auth.login(site[role])
    assert client.get("/import").status_code == status


def test_anonymous_is_sent_to_login(site, client):
    response = client.get("/import")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_owner_previews_then_confirms(site, client, auth):
    auth.login(site["owner"])
    response = upload(client, "customers", GOOD)
    assert response.status_code == 302
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "1 rows" in page or "1件" in page
    assert customers() == 0
    job_id = response.headers["Location"].rsplit("/", 1)[1]
    assert client.get(f"/import/{job_id}/status").get_json()["state"] == "validated"
    confirmed = client.post(f"/import/{job_id}/confirm", data={"csrf_token": csrf_from(page)})
    assert confirmed.status_code == 302
    assert customers() == 1
    assert (
        client.post(f"/import/{job_id}/confirm", data={"csrf_token": csrf_from(page)}).status_code
        == 409
    )


def test_validation_report_lists_every_bad_row(site, client, auth):
    auth.login(site["owner"])
    bad = b"code,name,branch\n1,,T01\n2,ok,NOPE\n"
    response = upload(client, "customers", bad)
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "NOPE" in page and "2" in page and "3" in page
    assert 'action="/import/' not in page.split("import-errors")[1]  # no confirm button
    assert customers() == 0


def test_manager_limited_to_customers_of_own_branch(site, client, auth):
    auth.login(site["manager"])
    assert upload(client, "users", b"email,name,role\n").status_code == 422
    response = upload(client, "customers", "code,name,branch\n1,大阪の顧客,O01\n".encode())
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "import-errors" in page
    assert customers() == 0


def test_jobs_are_private(site, client, auth):
    auth.login(site["owner"])
    location = upload(client, "customers", GOOD).headers["Location"]
    auth.logout()
    auth.login(site["manager"])
    assert client.get(location).status_code == 404


def test_too_large_upload_is_friendly(site, client, auth, app):
    auth.login(site["owner"])
    app.config["MAX_CONTENT_LENGTH"] = 2048
    response = upload(client, "customers", b"x" * 4096)
    assert response.status_code == 413
    assert "MB" in response.get_data(as_text=True)


def test_background_validation_reports_progress(site, client, auth, app):
    app.config["FIELDLOG_IMPORT_INLINE"] = False
    auth.login(site["owner"])
    rows = "".join(f"{n},顧客{n},T01\n" for n in range(12000))
    location = upload(client, "customers", ("code,name,branch\n" + rows).encode()).headers[
        "Location"
    ]
    job_id = location.rsplit("/", 1)[1]
    running = client.get(location).get_data(as_text=True)
    import_jobs._threads.pop(job_id).join(timeout=60)
    status = client.get(f"/import/{job_id}/status").get_json()
    assert status == {"state": "validated", "progress": 1.0}
    assert "import-progress" in running or "12000" in client.get(location).get_data(as_text=True)


def test_finished_import_threads_do_not_pile_up(site, client, auth, app):
    """One thread per web import job; finished ones leave the registry (next start, status read)."""
    app.config["FIELDLOG_IMPORT_INLINE"] = False
    auth.login(site["owner"])
    before = set(import_jobs._threads)
    started = []
    for n in range(4):
        location = upload(client, "customers", f"code,name,branch\nC{n},顧客{n},T01\n".encode())
        job_id = location.headers["Location"].rsplit("/", 1)[1]
        started.append(job_id)
        # Earlier jobs have finished: only this one (maybe still running) is kept.
        assert set(import_jobs._threads) - before == {job_id}
        import_jobs._threads[job_id].join(timeout=60)
    status = client.get(f"/import/{started[-1]}/status").get_json()
    assert status["state"] == "validated"
    assert set(import_jobs._threads) - before == set()


@pytest.mark.parametrize("role", ["owner", "manager", "rep"])
def test_export_downloads(site, client, auth, make, role):
    rep = site["rep"]
    make.visit(rep, make.customer(rep.branch, rep, code="C1"), note="=cmd")
    db.session.commit()
    auth.login(site[role])
    assert client.get("/export").status_code == 200
    csv_response = client.get("/export/visits.csv")
    assert csv_response.data.startswith(b"\xef\xbb\xbf") and b"'=cmd" in csv_response.data
    sjis = client.get("/export/visits.csv?encoding=cp932")
    assert "'=cmd" in sjis.data.decode("cp932")
    assert "sjis" in sjis.headers["Content-Disposition"]
    # The label says what the bytes are: a client that honours it must not decode cp932 as UTF-8.
    assert sjis.headers["Content-Type"] == "text/csv; charset=Shift_JIS"
    assert csv_response.headers["Content-Type"] == "text/csv; charset=utf-8"
    book = load_workbook(io.BytesIO(client.get("/export/kpis.xlsx").data))
    assert book.active.max_row > 1
    assert client.get("/export/nothing.csv").status_code == 404


@pytest.mark.parametrize(
    ("role", "page"), [("owner", "/admin/"), ("manager", "/branches/T01"), ("rep", "/visits")]
)
def test_import_and_export_are_linked_where_owners_and_managers_work(
    site, client, auth, role, page
):
    """Nothing linked to /import or /export: only someone who knew the URL could reach them."""
    auth.login(site[role])
    html = client.get(page).get_data(as_text=True)
    assert 'href="/export"' in html
    assert ('href="/import"' in html) is (role != "rep")  # reps export what they see, only


def test_a_systematic_problem_is_summed_up_once(site, client, auth):
    """Thirty rows with the same unknown branch: said once with its count, then listed."""
    auth.login(site["owner"])
    rows = "".join(f"C{n},顧客{n},NOPE\n" for n in range(30))
    bad = ("code,name,branch\n" + rows + "X1,,T01\n").encode()
    response = upload(client, "customers", bad)
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    summary = page.split("import-error-groups")[1].split("</table>")[0]
    cells = [c.split("</td>")[0] for c in summary.split("<td>")[1:]]
    assert cells[2] == "30" and cells[3].startswith("2行目, 3行目") and cells[3].endswith("…")
    assert cells[6] == "1"  # the other kind: one row without a name
    assert page.count("NOPE") >= 30  # every row is still listed below
    assert customers() == 0


VISITS = (
    "訪問日時,顧客コード,目的,ヒアリング,提案カテゴリ,行番号\r\n"
    "2026/11/16 10:00,1001,課題ヒアリング,はい,,A1\r\n"
)


def _visits() -> list[tuple[str, str, str]]:
    db.session.rollback()
    return [
        (v.ref, v.source, v.branch.code)
        for v in db.session.scalars(select(Visit).order_by(Visit.id))
    ]


@pytest.mark.parametrize("role", ["owner", "manager"])
def test_visit_history_previews_then_confirms(site, client, auth, make, role):
    rep = db.session.scalars(select(User).where(User.email == "rep@example.jp")).one()
    make.customer(rep.branch, rep, code="1001")
    db.session.commit()
    auth.login(site[role])
    assert "訪問履歴(日報)" in client.get("/import").get_data(as_text=True)
    response = upload(client, "visits", VISITS.encode("cp932"), "日報.csv")
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert _visits() == []
    confirmed = client.post(
        response.headers["Location"] + "/confirm", data={"csrf_token": csrf_from(page)}
    )
    assert confirmed.status_code == 302
    assert _visits() == [("A1", "import", "T01")]


def test_visit_history_errors_show_line_and_column(site, client, auth, make):
    make.customer(site["osaka"], None, code="2001")
    db.session.commit()
    auth.login(site["manager"])
    bad = VISITS.replace("1001", "2001").replace("はい", "たぶん")
    response = upload(client, "visits", bad.encode("cp932"), "日報.csv")
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "import-errors" in page
    assert "顧客コード" in page and "ヒアリング" in page and "2行目" in page
    assert _visits() == []


def test_an_xlsx_upload_is_read_although_stored_without_its_extension(site, client, auth):
    from openpyxl import Workbook

    book = Workbook()
    book.active.append(["顧客コード", "顧客名", "支店"])
    book.active.append(["1001", "山田商店", "T01"])
    data = io.BytesIO()
    book.save(data)
    auth.login(site["owner"])
    response = upload(client, "customers", data.getvalue(), "顧客.xlsx")
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert 'data-state="validated"' in page, page


def _xlsx(rows) -> bytes:
    from openpyxl import Workbook

    book = Workbook()
    for row in rows:
        book.active.append(row)
    data = io.BytesIO()
    book.save(data)
    return data.getvalue()


def _with_member(workbook: bytes, name: str, content: bytes) -> bytes:
    """The workbook with one zip member replaced (or added)."""
    import zipfile

    source = zipfile.ZipFile(io.BytesIO(workbook))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for item in source.infolist():
            if item.filename != name:
                target.writestr(item, source.read(item))
        target.writestr(name, content)
    return out.getvalue()


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;">]>
<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><si><t>&lol2;</t></si></sst>
"""


@pytest.mark.parametrize(
    ("make_file", "message"),
    [
        (
            lambda good: _with_member(good, "xl/sharedStrings.xml", BILLION_LAUGHS),
            "XMLエンティティ",
        ),
        (
            lambda good: _with_member(good, "xl/bomb.xml", b"<a>" + b" " * (300 << 20) + b"</a>"),
            "展開すると256MBを超えます",
        ),
        (
            lambda good: _xlsx([["顧客コード", "顧客名", "支店"], ["1001", "山" * 40000, "T01"]]),
            "上限（32,767文字）に達するセル",
        ),
    ],
)
def test_hostile_workbooks_are_refused_with_a_clear_message(site, client, auth, make_file, message):
    good = _xlsx([["顧客コード", "顧客名", "支店"], ["1001", "山田商店", "T01"]])
    auth.login(site["owner"])
    response = upload(client, "customers", make_file(good), "顧客.xlsx")
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert 'data-state="invalid"' in page, page
    assert message in page
    assert customers() == 0


def test_a_name_longer_than_its_column_is_named(site, client, auth):
    auth.login(site["owner"])
    response = upload(client, "customers", f"code,name,branch\n1,{'山' * 201},T01\n".encode())
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert 'data-state="invalid"' in page and "200" in page
    assert customers() == 0


def test_concurrent_imports_per_user_are_bounded(site, client, auth, app):
    from fieldlog.rules import limits

    auth.login(site["owner"])
    store = web_io.jobs()
    for _ in range(limits.MAX_RUNNING_IMPORTS):  # jobs still validating (a slow file, say)
        store.create(
            user_id=site["owner"].id, kind="customers", filename="a.csv", locale="ja", data=b"x"
        )
    response = upload(client, "customers", GOOD)
    assert response.status_code == 429
    assert "実行中の取り込み" in response.get_data(as_text=True)
    # Another user is not held up by them.
    auth.logout()
    auth.login(site["manager"])
    assert upload(client, "customers", GOOD).status_code == 302


# ---- the export page's date range ----------------------------------------------------------


@pytest.fixture
def ranged_site(site, make):
    rep = site["rep"]
    shop = make.customer(rep.branch, rep, code="C1")
    for at in ("2026-11-20T23:30:00+09:00", "2026-11-21T00:30:00+09:00"):
        make.visit(rep, shop, visited_at=at)
    db.session.commit()
    return site


def test_export_page_sends_one_range_to_every_dated_download(ranged_site, client, auth):
    auth.login(ranged_site["manager"])
    html = client.get("/export").get_data(as_text=True)
    form = html[html.index('<form method="get"') : html.index("</form>")]
    assert form.count('type="date" name="from"') == 1 and 'type="date" name="to"' in form
    for kind in ("visits", "proposals", "follow-ups", "kpis", "sales"):
        assert f'formaction="/export/{kind}.xlsx"' in form
        assert f'formaction="/export/{kind}.csv" name="encoding" value="cp932"' in form
    assert "期限日で絞り込みます" in form  # follow-ups go by their due date
    # Customers have no date: outside the form, plain links, and the page says so.
    assert "/export/customers" not in form
    rest = html[html.index("</form>") :]
    assert 'href="/export/customers.xlsx"' in rest and "期間は適用されません" in rest
    # The first button, the one Enter in a date field presses, reloads the page: no download.
    first = form[form.index("<button") : form.index(">", form.index("<button"))]
    assert "formaction" not in first and 'action="/export"' in form
    # The page checks a range sent to it that way, and keeps it in the form.
    kept = client.get("/export?from=2026-11-01&to=2026-11-30").get_data(as_text=True)
    assert 'name="from" value="2026-11-01"' in kept and 'name="to" value="2026-11-30"' in kept
    refused = client.get("/export?from=2026-12-01&to=2026-11-30")
    assert refused.status_code == 400 and "終了日：" in refused.get_data(as_text=True)


def test_download_with_a_range_keeps_the_days_and_names_the_file(ranged_site, client, auth):
    auth.login(ranged_site["manager"])
    response = client.get("/export/visits.csv?from=2026-11-21&to=2026-11-21")
    assert response.status_code == 200
    assert (
        response.headers["Content-Disposition"]
        == 'attachment; filename="fieldlog-visits-2026-11-21_2026-11-21.csv"'
    )
    rows = list(csv.DictReader(io.StringIO(response.data.decode("utf-8-sig"), newline="")))
    assert [r["訪問日時"] for r in rows] == ["2026-11-21 00:30"]  # 15:30 UTC on the 20th
    one_side = client.get("/export/visits.xlsx?from=2026-11-21&to=")
    assert "fieldlog-visits-from-2026-11-21.xlsx" in one_side.headers["Content-Disposition"]
    sjis = client.get("/export/visits.csv?to=2026-11-20&encoding=cp932")
    assert "fieldlog-visits-until-2026-11-20-sjis.csv" in sjis.headers["Content-Disposition"]
    assert sjis.data.decode("cp932").count("2026-11-20 23:30") == 1
    # An empty form (both fields blank) is everything, under today's name as before.
    everything = client.get("/export/visits.csv?from=&to=")
    assert (
        everything.status_code == 200
        and "fieldlog-visits-2026-11-23.csv" in (everything.headers["Content-Disposition"])
    )
    assert everything.data.decode("utf-8-sig").count("\r\n") == 3


@pytest.mark.parametrize(
    ("query", "field", "message"),
    [
        ("visits.csv?from=soon", "開始日", "「soon」は日付として読めません"),
        ("visits.xlsx?from=2026-11-21&to=2026-02-30", "終了日", "日付として読めません"),
        ("sales.csv?from=1899-12-31", "開始日", "年は1900年から2999年"),
        ("proposals.csv?to=3000-01-01", "終了日", "年は1900年から2999年"),
        ("follow-ups.csv?from=2026-12-01&to=2026-11-30", "終了日", "開始日より前の日付"),
        ("kpis.xlsx?from=1990-01-01", "開始日", "260週まで"),
        ("customers.csv?from=2026-11-01", "開始日", "期間で絞り込む日付がありません"),
    ],
)
def test_a_bad_range_is_said_on_the_export_page_naming_the_field(
    ranged_site, client, auth, query, field, message
):
    auth.login(ranged_site["rep"])
    response = client.get(f"/export/{query}")
    assert response.status_code == 400
    assert response.headers["Content-Type"].startswith("text/html")
    html = response.get_data(as_text=True)
    assert 'class="form-error" role="alert"' in html and '<form method="get"' in html
    said = html[html.index('class="field-error"') :]
    said = said[: said.index("</span>")]
    assert f"{field}：" in said and message in said, said
    name = "from" if field == "開始日" else "to"
    assert f'aria-invalid="true" aria-describedby="export-{name}-error"' in html


def test_a_bad_range_in_english_names_the_field_too(ranged_site, client, auth):
    client.set_cookie("fieldlog_lang", "en")
    auth.login(ranged_site["rep"])
    response = client.get("/export/visits.csv?from=2026-12-01&to=2026-11-30")
    assert response.status_code == 400
    assert "To: the end date is before the start date." in response.get_data(as_text=True)
    # The values typed are kept in the form, ready to be corrected.
    assert 'name="from" value="2026-12-01"' in response.get_data(as_text=True)


def test_a_bad_range_is_shown_as_text_never_as_markup(ranged_site, client, auth):
    auth.login(ranged_site["rep"])
    html = client.get("/export/visits.csv?from=<b>x</b>").get_data(as_text=True)
    said = html[html.index('id="export-from-error"') :]
    said = said[: said.index("</span>")]
    assert "「&lt;b&gt;x&lt;/b&gt;」" in said and "<b>" not in said, said
