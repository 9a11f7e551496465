"""Hostile input at every edge (docs/limits.md): a 4xx naming the field, never a 500, and every
page, PDF and export still renders afterwards."""

from __future__ import annotations

import io
import json
import re
from datetime import date

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select

from fieldlog.app.extensions import db
from fieldlog.io.normalize import CellError, parse_amount, parse_int
from fieldlog.models import FollowUp, Proposal, Visit
from fieldlog.rules import limits

from .conftest import csrf_from, visit_payload

NUL_NOTE = "在庫\x00切れ\x07の相談\ud800\r\nです\x1b[31m"
HUGE = 10**20


@pytest.fixture
def world(make):
    branch = make.branch("札幌", "札幌支店")
    rep = make.user("rep", branch, email="rep@example.jp")
    colleague = make.user("rep", branch, email="colleague@example.jp")
    manager = make.user("manager", branch, email="manager@example.jp")
    owner = make.user("owner", email="owner@example.jp")
    customer = make.customer(branch, rep, code="C-1")
    make.category("OIL", "潤滑油")
    db.session.commit()
    return locals()


def post(client, path, body, token):
    return client.post(path, json=body, headers={"X-CSRFToken": token})


# ---- the rules themselves ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "multiline", "clean"),
    [
        ("a\x00b", True, "ab"),
        ("a\r\nb\rc", True, "a\nb\nc"),
        ("a\tb\nc", True, "a\tb\nc"),
        ("a\tb\r\nc", False, "a b c"),
        ("x\ud800y\udfffz", True, "xyz"),
        ("\x1b[31m赤\x7f\x85", True, "[31m赤"),
        ("㈱山田①", False, "㈱山田①"),
    ],
)
def test_clean_text(raw, multiline, clean):
    assert limits.clean_text(raw, multiline=multiline) == clean


def test_json_depth_and_items_are_bounded():
    deep: list = []
    node = deep
    for _ in range(limits.MAX_JSON_DEPTH + 2):
        node.append([])
        node = node[0]
    with pytest.raises(limits.JsonTooDeep):
        limits.check_json(deep)
    with pytest.raises(limits.JsonTooDeep):
        limits.check_json({"a": list(range(limits.MAX_JSON_ITEMS + 1))})
    assert limits.check_json({"n\x00": ["a\x00", {"b": "c\ud800"}]}) == {"n": ["a", {"b": "c"}]}


@pytest.mark.parametrize(
    ("cell", "message"),
    [
        ("1" * 5000, "at most"),
        ("100,000,000,000", "at most"),
        ("1e400", "at most"),
        ("sNaN", "Not an amount"),
        ("NaN", "Not an amount"),
        ("Infinity", "at most"),
        (1e300, "at most"),
    ],
)
def test_import_amounts_out_of_range(cell, message):
    with pytest.raises(CellError) as caught:
        parse_amount(cell)
    assert message.lower() in str(caught.value.message).lower()


def test_import_amounts_in_range():
    assert parse_amount("99,999,999,999") == limits.MAX_AMOUNT
    assert parse_amount("△99,999,999,999") == -limits.MAX_AMOUNT
    with pytest.raises(CellError):
        parse_int("99999999999")


# ---- the API -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"proposal": {"amount": HUGE}}, "proposal.amount"),
        ({"proposal": {"amount": limits.MAX_AMOUNT + 1}}, "proposal.amount"),
        ({"proposal": {"amount": -1}}, "proposal.amount"),
        ({"proposal": {"amount": 1e308}}, "proposal.amount"),
        ({"visited_at": "1999-12-31T23:00:00+09:00"}, "visited_at"),
        ({"visited_at": "0001-01-01T00:00:00+00:00"}, "visited_at"),
        ({"visited_at": "2026-11-25T12:00:00+09:00"}, "visited_at"),
        ({"next_action": {"action": "電話", "due_on": "2099-01-01"}}, "next_action.due_on"),
        ({"next_action": {"action": "電話", "due_on": "9999-12-31"}}, "next_action.due_on"),
        ({"completes_follow_ups": [2**40]}, "completes_follow_ups"),
        ({"completes_follow_ups": [-5]}, "completes_follow_ups"),
        ({"completes_follow_ups": list(range(1, 60))}, "completes_follow_ups"),
        ({"note": "x" * (limits.MAX_TEXT + 1)}, "note"),
    ],
)
def test_api_refuses_out_of_range_values(client, auth, world, overrides, field):
    auth.login(world["rep"])
    response = post(client, "/api/v1/visits", visit_payload("C-1", **overrides), auth.csrf())
    assert response.status_code == 422, response.get_data(as_text=True)
    assert field in response.get_json()["errors"]


@pytest.mark.parametrize(
    "body",
    [
        "[" * 100_000 + "]" * 100_000,
        '{"a": ' + "[" * 20 + "1" + "]" * 20 + "}",
        json.dumps({"completes_follow_ups": list(range(100_000))}),
    ],
)
def test_api_bounds_json_depth_and_length(client, auth, world, body):
    auth.login(world["rep"])
    response = client.post(
        "/api/v1/visits",
        data=body,
        content_type="application/json",
        headers={"X-CSRFToken": auth.csrf()},
    )
    assert response.status_code in (400, 422)
    assert response.get_json()["error"] in ("invalid", "http_error")


def test_api_stores_text_without_control_characters(client, auth, world):
    auth.login(world["rep"])
    payload = visit_payload("C-1", note=NUL_NOTE, proposal={"note": "\x00提案"})
    response = post(client, "/api/v1/visits", payload, auth.csrf())
    assert response.status_code == 201, response.get_data(as_text=True)
    visit = db.session.scalars(select(Visit)).one()
    assert visit.note == "在庫切れの相談\nです[31m"
    assert visit.proposals[0].note == "提案"
    # The same payload replays: cleaning is part of parsing, not a second digest.
    assert post(client, "/api/v1/visits", payload, auth.csrf()).status_code == 200


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/follow-ups/99999999999999999999/done",
        "/api/v1/proposals/9223372036854775808/close",
        "/api/v1/follow-ups/2147483648/done",
    ],
)
def test_ids_beyond_the_column_are_404(client, auth, world, path):
    auth.login(world["rep"])
    response = post(client, path, {"done_on": "2026-11-23"}, auth.csrf())
    assert response.status_code == 404
    assert response.get_json()["error"] == "not_found"


# ---- pages, query strings, forms -----------------------------------------------------------


@pytest.mark.parametrize(
    ("role", "path", "status"),
    [
        ("rep", "/visits/99999999999999999999", 404),
        ("rep", "/customers/2147483648", 404),
        ("rep", "/visits?page=99999999999999999999", 404),
        ("rep", "/visits?page=-3", 200),
        ("rep", "/customers?page=abc&q=%00%25_", 200),
        ("rep", "/proposals?page=9223372036854775808", 404),  # past the last page, as /visits
        ("owner", "/admin/customers?page=99999999999999999999&branch=99999999999999", 200),
        ("owner", "/admin/customers?q=%25", 200),
        ("owner", "/admin/users/99999999999999999999", 404),
        ("manager", "/hypotheses/99999999999", 404),
    ],
)
def test_query_strings_and_ids(client, auth, world, role, path, status):
    auth.login(world[role])
    assert client.get(path).status_code == status


def test_admin_search_escapes_like_wildcards(client, auth, world, make):
    make.customer(world["branch"], code="PCT", name="百%商事")
    db.session.commit()
    auth.login(world["owner"])
    html = client.get("/admin/customers?q=%25").get_data(as_text=True)
    assert "百%商事" in html and "C-1" not in html


def _visit_form(client, **fields):
    html = client.get("/visits/new").get_data(as_text=True)
    data = {
        "csrf_token": csrf_from(html),
        "client_id": re.search(r'name="client_id" value="([^"]+)"', html).group(1),
        "customer_code": "C-1",
        "visited_at": "2026-11-23T09:30",
        "purpose": "called",
        "hearing_done": "yes",
        **fields,
    }
    return client.post("/visits/new", data=data)


@pytest.mark.parametrize(
    ("field", "value", "error_field"),
    [
        ("proposal_amount", "100,000,000,000", "proposal_amount"),
        ("proposal_amount", "9" * 30, "proposal_amount"),
        ("visited_at", "1999-01-01T09:00", "visited_at"),
        ("next_action_due_on", "2099-01-01", "next_action_due_on"),
    ],
)
def test_visit_form_names_the_field(client, auth, world, field, value, error_field):
    auth.login(world["rep"])
    data = {"purpose": "proposal", "proposal_made": "1", "proposal_category": "OIL"}
    data |= {"next_action": "電話", field: value}
    if field != "next_action_due_on":
        data["due_preset"] = "1w"
    response = _visit_form(client, **data)
    assert response.status_code == 422
    assert f'id="{error_field}-error"' in response.get_data(as_text=True)


def test_login_next_never_splits_a_header(client, world):
    token = csrf_from(client.get("/login").get_data(as_text=True))
    response = client.post(
        "/login?next=/visits%0d%0aSet-Cookie:%20x=1",
        data={"email": "rep@example.jp", "password": "correct-horse-1", "csrf_token": token},
    )
    assert response.status_code == 302
    assert "Set-Cookie: x" not in response.headers["Location"]
    assert "\n" not in response.headers["Location"]


@pytest.mark.parametrize("name", ["本店\r\nBcc: x@evil.example", "本店\x00"])
def test_admin_names_are_one_line(client, auth, world, name):
    auth.login(world["owner"])
    token = csrf_from(client.get("/admin/branches/new").get_data(as_text=True))
    response = client.post(
        "/admin/branches/new", data={"csrf_token": token, "code": "HQ", "name": name}
    )
    assert response.status_code == 302
    stored = db.session.scalars(select(type(world["branch"])).filter_by(code="HQ")).one()
    assert "\n" not in stored.name and "\x00" not in stored.name


# ---- what was stored still renders everywhere ------------------------------------------------


def _legacy_rows(world, make) -> None:
    """Rows written before the rules (straight to the database): huge sums, NUL, controls."""
    visit = db.session.get(Visit, _visit_id(world))
    # PostgreSQL cannot store NUL at all; SQLite can, and openpyxl refuses it.
    nul = "\x00" if db.engine.dialect.name == "sqlite" else ""
    visit.note = f"壊れた{nul}メモ\x0b\x01"
    customer = world["customer"]
    for n in range(2):
        db.session.add(
            Proposal(
                visit=visit,
                rep=world["rep"],
                branch=world["branch"],
                customer=customer,
                kind="other",
                amount=9 * 10**18,
                note=f"巨額{n}\x02{nul}",
                proposed_on=date(2026, 11, 20),
            )
        )
        make.sale(customer, date(2026, 11, 17), amount=9 * 10**18)
    db.session.commit()


def _visit_id(world) -> int:
    from fieldlog.services.visits import record_visit

    from .conftest import NOW, TZ

    payload = visit_payload(world["customer"], visited_at="2026-11-18T10:00:00+09:00")
    return record_visit(db.session, world["rep"], payload, tz=TZ, now=NOW).visit.id


def test_everything_renders_after_hostile_rows(client, auth, world, make):
    _legacy_rows(world, make)
    auth.login(world["manager"])
    code = "札幌"
    for path in (
        f"/branches/{code}",
        f"/branches/{code}/review",
        "/visits",
        "/proposals",
        "/me",
        "/settings/targets",
    ):
        response = client.get(path)
        assert response.status_code == 200, path
    pdf = client.get(f"/branches/{code}/report.pdf?week=2026-W47")
    assert pdf.status_code == 200 and pdf.data.startswith(b"%PDF")
    disposition = pdf.headers["Content-Disposition"]
    assert "filename*=UTF-8''report-%E6%9C%AD%E5%B9%8C-2026-W47.pdf" in disposition
    assert disposition.isascii()
    for kind in ("visits", "proposals", "follow-ups", "kpis", "sales"):
        xlsx = client.get(f"/export/{kind}.xlsx")
        assert xlsx.status_code == 200, kind
        assert xlsx.headers["Cache-Control"] == "private, no-store"
        load_workbook(io.BytesIO(xlsx.data))
        csv = client.get(f"/export/{kind}.csv?encoding=cp932")
        assert csv.status_code == 200 and b"\x00" not in csv.data
    auth.logout()
    auth.login(world["owner"])
    for path in ("/summary", "/settings/kpis", "/admin/customers", "/hypotheses"):
        assert client.get(path).status_code == 200, path


# ---- settings and imports ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("dormant_visit_days", "9" * 5000),
        ("dormant_sales_days", "1e400"),
        ("cycle_days_a", "\x00"),
        ("cycle_days_c", "-99999999999999999999"),
    ],
)
def test_settings_name_the_field(client, auth, world, field, value):
    auth.login(world["owner"])
    html = client.get("/settings/thresholds").get_data(as_text=True)
    data = {
        "csrf_token": csrf_from(html),
        "dormant_visit_days": "60",
        "dormant_sales_days": "90",
        "cycle_days_a": "14",
        "cycle_days_b": "30",
        "cycle_days_c": "60",
        field: value,
    }
    response = client.post("/settings/thresholds", data=data)
    assert response.status_code == 422
    assert f"err-{field}" in response.get_data(as_text=True)


@pytest.mark.parametrize(
    ("kind", "content", "column"),
    [
        ("sales", "売上日,顧客コード,金額\n2026-11-02,C-1,100000000000\n", "金額"),
        ("sales", "売上日,顧客コード,金額\n2026-11-02,C-1," + "9" * 5000 + "\n", "金額"),
        ("sales", "売上日,顧客コード,金額\n2026-11-02,C-1,sNaN\n", "金額"),
        (
            "customers",
            "code,name,branch,visit_cycle_days\nX1,名前,札幌,99999999999\n",
            "visit_cycle_days",
        ),
        ("customers", "code,name,branch\nX1," + "長" * 300 + ",札幌\n", "name"),
    ],
)
def test_imports_name_row_and_column(world, tmp_path, kind, content, column):
    from fieldlog.io import import_file

    path = tmp_path / f"{kind}.csv"
    path.write_text(content, encoding="utf-8")
    result = import_file(db.session, kind, path)
    assert not result.ok and not result.written
    assert [(e.where.line, e.column) for e in result.errors] == [(2, column)]


def test_imported_control_characters_are_removed(client, auth, world, tmp_path):
    """(A NUL makes a CSV binary, which the import refuses as a whole: see test_io_import.)"""
    from fieldlog.io import import_file

    path = tmp_path / "customers.csv"
    path.write_text("code,name,branch\nX1,壊れた\x07名前\x1b,札幌\n", encoding="utf-8")
    result = import_file(db.session, "customers", path)
    assert result.ok, [str(e.message) for e in result.errors]
    db.session.commit()
    name = db.session.scalars(select(type(world["customer"])).filter_by(code="X1")).one().name
    assert name == "壊れた名前"
    auth.login(world["manager"])
    assert client.get("/customers").status_code == 200
    assert client.get("/export/customers.xlsx").status_code == 200


# ---- odd integers and far dates: a 4xx naming the field, nothing written ----------------------

MANY_DIGITS = "9" * 5000  # past int()'s 4,300-digit limit
SUPERSCRIPT_TWO = "²"  # str.isdigit() says yes, int() says no


def _written() -> tuple:
    """Everything the requests below could write."""
    from fieldlog.models import FollowUp, PlannedVisit, ProposalRevision, Review

    db.session.expire_all()
    counts = tuple(
        db.session.scalar(select(func.count()).select_from(model))
        for model in (Visit, Proposal, ProposalRevision, FollowUp, Review, PlannedVisit)
    )
    follow_ups = db.session.execute(
        select(FollowUp.id, FollowUp.due_on, FollowUp.cancelled).order_by(FollowUp.id)
    ).all()
    amounts = db.session.scalars(select(Proposal.amount).order_by(Proposal.id)).all()
    return counts, tuple(follow_ups), tuple(amounts)


def _review(client, value):
    html = client.get("/branches/札幌/review?week=2026-W47").get_data(as_text=True)
    keys = re.findall(r'name="why-([a-z_]+)"', html)
    assert keys, "the review form asks about no KPI"
    data = {"csrf_token": csrf_from(html), f"why-{keys[0]}": "理由", f"hypothesis-{keys[0]}": value}
    return client.post("/branches/札幌/review?week=2026-W47", data=data)


def _bulk(client, ids, action="cancel"):
    token = csrf_from(client.get("/").get_data(as_text=True))
    follow_up = db.session.scalars(select(FollowUp.id)).first()
    data = {"csrf_token": token, "ids": [str(follow_up), ids], "action": action}
    if action == "reschedule":
        data["due_on"] = "2026-12-20"
    return client.post("/follow-ups/bulk", data=data)


def _proposal_edit(client, amount):
    proposal = db.session.scalars(select(Proposal.id)).first()
    html = client.get(f"/proposals/{proposal}/edit").get_data(as_text=True)
    return client.post(
        f"/proposals/{proposal}/edit", data={"csrf_token": csrf_from(html), "amount": amount}
    )


def _api(client, auth, path, body):
    return client.post(path, json=body, headers={"X-CSRFToken": auth.csrf()})


FAR = "9999-12-31T12:00"
ODD_INPUTS = {
    # (role, request, status, the field the answer names or None)
    "form visited_at year 1": (
        "rep",
        lambda c, a: _visit_form(c, visited_at="0001-01-01T00:00"),
        422,
        "visited_at",
    ),
    **{
        f"form visited_at 9999 due_preset {preset}": (
            "rep",
            lambda c, a, preset=preset: _visit_form(
                c, visited_at=FAR, next_action="電話", due_preset=preset
            ),
            422,
            "visited_at",
        )
        for preset in ("1d", "1w", "2w", "1m")
    },
    "form amount of 5,000 digits": (
        "rep",
        lambda c, a: _visit_form(
            c, proposal_made="1", proposal_category="OIL", proposal_amount=MANY_DIGITS
        ),
        422,
        "proposal_amount",
    ),
    "form completes ²": (
        "rep",
        lambda c, a: _visit_form(c, completes_follow_ups=SUPERSCRIPT_TWO),
        422,
        "completes_follow_ups",
    ),
    "form completes 5,000 digits": (
        "rep",
        lambda c, a: _visit_form(c, completes_follow_ups=MANY_DIGITS),
        422,
        "completes_follow_ups",
    ),
    "proposal edit 5,000 digits": ("rep", lambda c, a: _proposal_edit(c, MANY_DIGITS), 422, None),
    "bulk cancel ²": ("rep", lambda c, a: _bulk(c, SUPERSCRIPT_TWO), 404, None),
    "bulk reschedule ²": ("rep", lambda c, a: _bulk(c, SUPERSCRIPT_TWO, "reschedule"), 404, None),
    "bulk cancel 5,000 digits": ("rep", lambda c, a: _bulk(c, MANY_DIGITS), 404, None),
    "bulk cancel 30 digits": ("rep", lambda c, a: _bulk(c, "9" * 30), 404, None),
    "settings history page ²": (
        "manager",
        lambda c, a: c.get(f"/settings/history?page={SUPERSCRIPT_TWO}"),
        400,
        None,
    ),
    "settings history page 5,000 digits": (
        "owner",
        lambda c, a: c.get(f"/settings/history?page={MANY_DIGITS}"),
        400,
        None,
    ),
    "review hypothesis ²": ("manager", lambda c, a: _review(c, SUPERSCRIPT_TWO), 422, None),
    "review hypothesis 5,000 digits": ("manager", lambda c, a: _review(c, MANY_DIGITS), 422, None),
    **{
        f"api visited_at {value}": (
            "rep",
            lambda c, a, value=value: _api(
                c, a, "/api/v1/visits", visit_payload("C-1", visited_at=value)
            ),
            422,
            "visited_at",
        )
        for value in ("0001-01-01T00:00:00+09:00", "9999-12-31T23:59:59-09:00")
    },
    **{
        f"api plan purpose {purpose!r}": (
            "rep",
            lambda c, a, purpose=purpose: _api(
                c,
                a,
                "/api/v1/plan",
                {"date": "2026-11-25", "customer_code": "C-1", "purpose": purpose},
            ),
            422,
            "purpose",
        )
        for purpose in ([], [1], {}, {"a": 1}, 10**30, -(10**30))
    },
}


@pytest.mark.parametrize("case", list(ODD_INPUTS))
def test_odd_numbers_and_far_dates_are_refused_and_write_nothing(client, auth, world, make, case):
    """The fuzz's finds (str.isdigit() + int(), dates near datetime's ends): each is a 4xx
    naming the field, never a 500, and nothing is written."""
    role, send, status, field = ODD_INPUTS[case]
    make.visit(
        world["rep"],
        world["customer"],
        proposal={"category": "OIL", "amount": 1000},
        next_action={"action": "電話", "due_on": "2026-11-30"},
    )
    auth.login(world[role])
    before = _written()
    response = send(client, auth)
    assert response.status_code == status, response.get_data(as_text=True)[:2000]
    if field is not None and response.is_json:
        assert field in response.get_json()["errors"]
    elif field is not None:
        assert f'id="{field}-error"' in response.get_data(as_text=True)
    assert _written() == before


@pytest.mark.parametrize(
    ("raw", "number"),
    [
        ("12", 12),
        (" 7 ", 7),
        ("-3", -3),
        ("0", 0),
        ("9" * limits.MAX_DIGITS, int("9" * limits.MAX_DIGITS)),
        ("9" * (limits.MAX_DIGITS + 1), None),
        (SUPERSCRIPT_TWO, None),
        ("１２", None),  # full-width: NFKC first where typed numbers allow it (amounts)
        ("٣", None),
        ("+3", None),
        ("", None),
        (None, None),
        ("1e3", None),
    ],
)
def test_whole_number_reads_ascii_digits_only(raw, number):
    assert limits.whole_number(raw) == number


@pytest.mark.parametrize(
    ("raw", "found"),
    [("1", 1), (str(limits.MAX_ID), limits.MAX_ID), (str(limits.MAX_ID + 1), None), ("0", None)],
)
def test_row_id_is_in_the_columns_range(raw, found):
    assert limits.row_id(raw) == found
