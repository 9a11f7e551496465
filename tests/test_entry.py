"""Entry time: the phone's save time trusted only inside the visit–receipt window, late entries
accepted and marked, and the entry facts carried by the API, the pages, exports and snapshot."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
import sqlite_utils

from fieldlog.app.extensions import db
from fieldlog.io import export
from fieldlog.io.snapshot import write_snapshot
from fieldlog.models import Visit
from fieldlog.rules.entry import days_later, entry_time, is_late
from fieldlog.services import schemas
from fieldlog.services.visits import record_visit

from .conftest import NOW, TZ, visit_payload

VISIT = datetime(2026, 11, 4, 1, 0, tzinfo=UTC)  # 2026-11-04 10:00 JST, 19 days before NOW
H = timedelta(hours=1)


@pytest.mark.parametrize(
    ("saved_at", "expected"),
    [
        (None, NOW),  # no phone time: the server's receipt
        (VISIT + H, VISIT + H),  # saved offline an hour after the visit: trusted
        (VISIT, VISIT),  # the window is closed at both ends
        (NOW, NOW),
        (VISIT - H, NOW),  # before the visit: a clock set back is not trusted
        (VISIT - timedelta(days=400), NOW),
        (NOW + H, NOW),  # after the receipt: a clock set ahead is not trusted either
    ],
)
def test_entry_time_trusts_the_phone_only_between_visit_and_receipt(saved_at, expected):
    assert entry_time(VISIT, saved_at, NOW) == expected


@pytest.mark.parametrize(
    ("visited", "entered", "days"),
    [
        # Across midnight in Asia/Tokyo: 23:50 JST, entered 00:10 JST the next day.
        (datetime(2026, 11, 20, 14, 50, tzinfo=UTC), datetime(2026, 11, 20, 15, 10, tzinfo=UTC), 1),
        # 00:10 JST and 23:50 JST the same day: same day although 15 UTC hours apart... and
        # one UTC date apart.
        (datetime(2026, 11, 19, 15, 10, tzinfo=UTC), datetime(2026, 11, 20, 14, 50, tzinfo=UTC), 0),
        (VISIT, NOW, 19),
    ],
)
def test_days_later_counts_company_dates(visited, entered, days):
    assert days_later(visited, entered, TZ) == days


@pytest.mark.parametrize(("days", "late"), [(0, False), (3, False), (4, True), (19, True)])
def test_late_means_more_than_the_setting(days, late):
    assert is_late(days, 3) is late


@pytest.mark.parametrize(
    ("raw", "kept"),
    [
        ("2026-11-04T11:00:00+09:00", datetime(2026, 11, 4, 2, 0, tzinfo=UTC)),
        ("2026-11-04T02:00:00Z", datetime(2026, 11, 4, 2, 0, tzinfo=UTC)),
        ("2031-01-01T00:00:00+09:00", datetime(2030, 12, 31, 15, 0, tzinfo=UTC)),  # future: kept
        ("2026-11-04T11:00:00", None),  # no offset: not an instant
        ("yesterday", None),
        ("", None),
        (12345, None),
        ("0001-01-01T00:00:00+09:00", None),  # before year 1 in UTC: not representable
    ],
)
def test_saved_at_is_kept_only_when_it_is_an_instant(raw, kept):
    assert schemas.parse_saved_at(raw) == kept


def test_saved_at_is_not_part_of_the_replay_identity_late_reason_is():
    base = visit_payload("C-1")
    digest = schemas.payload_digest(base)
    assert schemas.payload_digest({**base, "saved_at": "2026-11-23T09:00:00+09:00"}) == digest
    # Absent, null and empty reasons: the digest of a payload from before the field existed.
    assert schemas.payload_digest({**base, "late_reason": None}) == digest
    assert schemas.payload_digest({**base, "late_reason": "  "}) == digest
    assert schemas.payload_digest({**base, "late_reason": "電波なし"}) != digest


@pytest.fixture
def world(make):
    branch = make.branch("TKY", "東京支店")
    rep = make.user("rep", branch, email="rep@example.jp", name="山田")
    make.customer(branch, rep, code="C-1", name="山田商店")
    db.session.commit()
    return {"rep": rep}


def post(client, auth, body):
    return client.post("/api/v1/visits", json=body, headers={"X-CSRFToken": auth.csrf()})


@pytest.mark.parametrize(
    ("saved_at", "stored", "entered"),
    [
        ("2026-11-04T18:30:00+09:00", "2026-11-04T18:30:00+09:00", "2026-11-04T18:30:00+09:00"),
        ("2026-11-03T09:00:00+09:00", "2026-11-03T09:00:00+09:00", "2026-11-23T10:00:00+09:00"),
        ("2027-01-01T09:00:00+09:00", "2027-01-01T09:00:00+09:00", "2026-11-23T10:00:00+09:00"),
        ("not a time", None, "2026-11-23T10:00:00+09:00"),
        (None, None, "2026-11-23T10:00:00+09:00"),
    ],
)
def test_api_takes_saved_at_and_never_refuses_a_late_visit(
    client, auth, world, saved_at, stored, entered
):
    auth.login(world["rep"])
    body = visit_payload("C-1", visited_at="2026-11-04T10:00:00+09:00", saved_at=saved_at)
    body["late_reason"] = "紙のメモから入力"
    answer = post(client, auth, body)
    assert answer.status_code == 201, answer.get_json()
    visit = answer.get_json()
    assert visit["saved_at"] == stored
    assert visit["entered_at"] == entered
    assert visit["source"] == "app" and visit["late_reason"] == "紙のメモから入力"
    assert visit["created_at"] == "2026-11-23T10:00:00+09:00"
    # An outbox replay of the same entry, even stamped anew, answers with the stored visit.
    again = post(client, auth, {**body, "saved_at": "2026-11-23T09:59:00+09:00"})
    assert again.status_code == 200 and again.get_json()["saved_at"] == stored
    # A different reason is a different entry under the same client_id.
    reused = post(client, auth, {**body, "late_reason": "別の理由"})
    assert reused.status_code == 422 and reused.get_json()["error"] == "client_id_reused"


def test_an_overlong_late_reason_is_a_field_error(client, auth, world):
    auth.login(world["rep"])
    answer = post(client, auth, visit_payload("C-1", late_reason="x" * 2001))
    assert answer.status_code == 422
    assert list(answer.get_json()["errors"]) == ["late_reason"]


def _late_visit(rep, **overrides) -> Visit:
    payload = visit_payload("C-1", **{"visited_at": "2026-11-04T10:00:00+09:00", **overrides})
    return record_visit(db.session, rep, payload, tz=TZ, now=NOW).visit


@pytest.mark.parametrize(
    ("locale", "late", "same_day", "imported"),
    [
        ("ja", "19日後に入力", "当日に入力", "取込データ"),
        ("en", "entered 19 days later", "entered the same day", "Imported history"),
    ],
)
def test_visit_page_and_list_say_when_it_was_entered(
    client, auth, world, locale, late, same_day, imported
):
    rep = world["rep"]
    rep.locale = locale
    old = _late_visit(rep, late_reason="電波なし")
    fresh = record_visit(db.session, rep, visit_payload("C-1"), tz=TZ, now=NOW).visit
    history = _late_visit(rep)
    history.source = "import"
    db.session.commit()
    auth.login(rep)
    page = client.get(f"/visits/{old.id}").get_data(as_text=True)
    assert late in page and "電波なし" in page
    assert same_day in client.get(f"/visits/{fresh.id}").get_data(as_text=True)
    imported_page = client.get(f"/visits/{history.id}").get_data(as_text=True)
    assert imported in imported_page and late not in imported_page
    listing = client.get("/visits").get_data(as_text=True)
    assert listing.count(late) == 1 and imported in listing


def test_untrusted_phone_time_is_shown_and_not_used(client, auth, world):
    rep = world["rep"]
    rep.locale = "en"
    visit = _late_visit(rep, saved_at="2026-11-01T09:00:00+09:00")  # phone clock set back
    db.session.commit()
    auth.login(rep)
    page = client.get(f"/visits/{visit.id}").get_data(as_text=True)
    assert "entered 19 days later" in page
    assert "lies outside the visit and the server" in page


def test_exports_and_snapshot_carry_the_entry_facts(world, tmp_path):
    rep = world["rep"]
    _late_visit(rep, saved_at="2026-11-05T08:00:00+09:00", late_reason="電波なし")
    history = _late_visit(rep)
    history.source = "import"
    db.session.flush()
    table = export.table(db.session, "visits", None, tz=TZ)
    rows = [dict(zip(table.columns, r, strict=True)) for r in table.rows]
    by_source = {r["source"]: r for r in rows}
    app_row = by_source["app"]
    assert app_row["entered_at"] == datetime(2026, 11, 5, 8, 0)
    assert app_row["entered_days_later"] == 1
    assert app_row["received_at"] == datetime(2026, 11, 23, 10, 0)
    assert app_row["saved_at"] == datetime(2026, 11, 5, 8, 0)
    assert app_row["late_reason"] == "電波なし"
    assert by_source["import"]["entered_days_later"] is None
    assert by_source["import"]["saved_at"] is None

    path = tmp_path / "visits.csv"
    export.write(export.table(db.session, "visits", None, tz=TZ), path)
    text = path.read_text(encoding="utf-8-sig")
    assert "entered_at,entered_days_later,received_at,saved_at,source,late_reason" in text
    assert "2026-11-05 08:00,1,2026-11-23 10:00,2026-11-05 08:00,app,電波なし" in text

    write_snapshot(db.session, tmp_path / "snap.db", tz=TZ, today=date(2026, 11, 23), weeks=1)
    snap = sqlite_utils.Database(tmp_path / "snap.db")
    got = snap.execute(
        "select source, entered_at, entered_days_later, late_reason from visits order by source"
    ).fetchall()
    assert got == [
        ("app", "2026-11-05T08:00:00", 1, "電波なし"),
        ("import", "2026-11-23T10:00:00", None, ""),
    ]


def test_the_late_entry_setting_is_explained_saved_and_asked_by_the_form(client, auth, make, world):
    from fieldlog.services.defaults import company_settings

    from .conftest import csrf_from

    owner = make.user("owner")
    db.session.commit()
    auth.login(owner)
    page = client.get("/settings/thresholds").get_data(as_text=True)
    assert (
        "遅れた入力とみなす日数" in page and 'id="late_entry_days" name="late_entry_days"' in page
    )
    assert "訪問からこの日数を超えて入力された訪問は遅れた入力です" in page
    form = {
        "csrf_token": csrf_from(page),
        "dormant_visit_days": "60",
        "dormant_sales_days": "90",
        "cycle_days_a": "14",
        "cycle_days_b": "30",
        "cycle_days_c": "60",
        "late_entry_days": "0",
    }
    refused = client.post("/settings/thresholds", data=form)
    assert refused.status_code == 422
    assert 'aria-describedby="err-late_entry_days"' in refused.get_data(as_text=True)
    assert (
        client.post("/settings/thresholds", data={**form, "late_entry_days": "20"}).status_code
        == 302
    )
    db.session.expire_all()
    assert company_settings(db.session).late_entry_days == 20
    auth.logout()
    auth.login(world["rep"])
    entry_form = client.get("/visits/new").get_data(as_text=True)
    assert 'data-late-days="20"' in entry_form and 'class="late-reason is-idle"' in entry_form
    # A plain-form post of a 19-day-old visit re-rendered with an error keeps the question open.
    posted = client.post(
        "/visits/new",
        data={
            "csrf_token": csrf_from(entry_form),
            "client_id": "0b3c1b9e-3f7a-4a53-9a4c-5d1e2f3a4b5c",
            "customer_code": "C-1",
            "visited_at": "2026-10-01T10:00",
            "hearing_done": "no",
        },
    )
    assert posted.status_code == 422
    assert 'class="late-reason"' in posted.get_data(as_text=True)


@pytest.mark.parametrize(
    ("locale", "day", "known", "note"),
    [
        ("ja", "2026/11/04", "2026/11/05 9:30", "取り込んだ表に時刻なし"),
        ("en", "11/4/26", "11/5/26, 9:30", "no time of day in the imported sheet"),
    ],
)
def test_a_visit_without_a_known_time_shows_its_date_alone(
    client, auth, world, locale, day, known, note
):
    """An imported bare date is stored at 12:00 (time_known false): pages show the date only."""
    rep = world["rep"]
    rep.locale = locale
    bare = _late_visit(rep, visited_at="2026-11-04T12:00:00+09:00")
    bare.source, bare.time_known = "import", False
    timed = _late_visit(rep, visited_at="2026-11-05T09:30:00+09:00")
    db.session.commit()
    auth.login(rep)
    detail = client.get(f"/visits/{bare.id}").get_data(as_text=True)
    assert "12:00" not in detail and note in detail
    assert "9:30" in client.get(f"/visits/{timed.id}").get_data(as_text=True)
    for path in ("/visits", f"/customers/{bare.customer_id}", "/"):
        page = client.get(path).get_data(as_text=True)
        assert "12:00" not in page and day in page and known in page, path


def test_the_visit_export_says_whether_the_time_is_known(world):
    rep = world["rep"]
    bare = _late_visit(rep, visited_at="2026-11-04T12:00:00+09:00")
    bare.source, bare.time_known = "import", False
    _late_visit(rep, visited_at="2026-11-05T09:30:00+09:00")
    db.session.flush()
    table = export.table(db.session, "visits", None, tz=TZ)
    rows = [dict(zip(table.columns, r, strict=True)) for r in table.rows]
    # visited_at keeps the stored value; time_known says whether its time of day means anything.
    assert [(r["visited_at"], r["time_known"]) for r in rows] == [
        (datetime(2026, 11, 4, 12, 0), False),
        (datetime(2026, 11, 5, 9, 30), True),
    ]
