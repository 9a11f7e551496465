"""Data health (docs/honest-numbers.md): the signal rules, table-driven; the hand-counted
``kpi health`` on a small data set; the closed-week delta after a real report send."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, date, datetime, timedelta

import pytest
from flask_babel import force_locale
from sqlalchemy import select

from fieldlog.app.extensions import db
from fieldlog.kpi import Scope
from fieldlog.kpi.closed_weeks import week_moves
from fieldlog.kpi.health import health
from fieldlog.models import ReportSnapshot, Visit
from fieldlog.present.report_text import describe_flag
from fieldlog.reports import mailer
from fieldlog.rules.periods import Period
from fieldlog.services.visits import record_visit

from .conftest import TZ
from .test_reports_delivery import inbox  # noqa: F401 (a fixture: aiosmtpd on loopback)

W47 = Period.parse("2026-W47")  # 2026-11-16 … 2026-11-22
DEC6 = datetime(2026, 12, 6, 1, 0, tzinfo=UTC)  # 2026-12-06 10:00 JST


def jst(text: str) -> datetime:
    return datetime.fromisoformat(text + "+09:00")


@pytest.fixture
def world(make):
    branch = make.branch("TKY", "東京支店")
    rep = make.user("rep", branch, email="rep@example.jp")
    other = make.user("rep", branch, email="other@example.jp")
    customers = [make.customer(branch, rep, code=f"C{i:02d}") for i in range(40)]
    db.session.commit()
    return {"branch": branch, "rep": rep, "other": other, "customers": customers}


def log(
    rep,
    customer,
    visited: datetime,
    entered: datetime,
    *,
    saved_at: datetime | None = None,
    source: str = "app",
    purpose: str = "routine",
    hearing: bool = False,
    hearing_note: str = "",
) -> Visit:
    """A visit through the real write path, received by the server at ``entered``."""
    payload = {
        "client_id": str(uuid.uuid4()),
        "customer_code": customer.code,
        "visited_at": visited.isoformat(),
        "purpose": purpose,
        "hearing_done": hearing,
        "hearing_note": hearing_note,
    }
    if saved_at is not None:
        payload["saved_at"] = saved_at.isoformat()
    visit = record_visit(db.session, rep, payload, tz=TZ, now=entered).visit
    visit.source = source
    return visit


def flags_of(found, kind: str) -> list:
    return [f for f in found.flags if f.kind == kind]


def run(world, scope: Scope | None = None, period: Period = W47):
    db.session.flush()
    return health(db.session, scope or Scope.company(), period, tz=TZ, scope_label="company")


# ---- the rules, one table per signal -------------------------------------------------------


@pytest.mark.parametrize(
    ("visited", "entered", "saved_at", "same_day", "late"),
    [
        # Entered at once.
        ("2026-11-18T10:00", "2026-11-18T10:05", None, 1, 0),
        # Across midnight in Asia/Tokyo: 23:50 → 00:10 the next day is not the same day …
        ("2026-11-18T23:50", "2026-11-19T00:10", None, 0, 0),
        # … and 00:10 → 23:50 the same local day is (the UTC dates differ).
        ("2026-11-18T00:10", "2026-11-18T23:50", None, 1, 0),
        # Three days later is not late yet (default 3), four is.
        ("2026-11-18T10:00", "2026-11-21T23:00", None, 0, 0),
        ("2026-11-18T10:00", "2026-11-22T00:30", None, 0, 1),
        # Saved offline the same evening, synced 18 days later: the phone's time is trusted.
        ("2026-11-18T10:00", "2026-12-06T10:00", "2026-11-18T18:00", 1, 0),
        # The phone clock set back (before the visit): not trusted, the receipt counts.
        ("2026-11-18T10:00", "2026-12-06T10:00", "2026-11-17T09:00", 0, 1),
        # A phone time after the receipt is not trusted either.
        ("2026-11-18T10:00", "2026-12-06T10:00", "2026-12-07T09:00", 0, 1),
    ],
)
def test_same_day_and_late_entries(world, visited, entered, saved_at, same_day, late):
    log(
        world["rep"],
        world["customers"][0],
        jst(visited),
        jst(entered),
        saved_at=jst(saved_at) if saved_at else None,
    )
    found = run(world)
    assert found.same_day_entry_rate.as_dict() == {
        "value": float(same_day),
        "numerator": same_day,
        "denominator": 1,
    }
    assert found.late_entries == late


@pytest.mark.parametrize(
    ("count", "entered_days", "source", "flagged"),
    [
        (5, 1, "app", True),  # five late visits entered on one day: the default threshold
        (4, 1, "app", False),
        (6, 2, "app", False),  # six late visits over two days: three per sitting
        (25, 1, "import", False),  # imported history is never a late entry
    ],
)
def test_late_bulk_entry(world, count, entered_days, source, flagged):
    for i in range(count):
        visited = jst(f"2026-11-{16 + i % 5}T10:00") + timedelta(minutes=30 * i)
        entered = DEC6 + timedelta(days=i % entered_days, minutes=i)
        log(world["rep"], world["customers"][i % 40], visited, entered, source=source)
    found = run(world)
    bulk = flags_of(found, "late_bulk_entry")
    assert bool(bulk) is flagged
    if flagged:
        (flag,) = bulk
        assert (flag.rep, flag.count) == ("rep@example.jp", count)
        assert flag.facts == {
            "on": date(2026, 12, 6),
            "first": date(2026, 11, 16),
            "last": date(2026, 11, 20),
        }
    if source == "import":
        assert found.late_entries == 0 and found.same_day_entry_rate.denominator == 0
        assert found.same_day_entry_rate.value is None and found.imported == count


@pytest.mark.parametrize(
    ("purposeful", "routine", "flagged"), [(10, 0, True), (9, 0, False), (20, 1, False)]
)
def test_all_purposeful(world, purposeful, routine, flagged):
    for i in range(purposeful + routine):
        purpose = "hearing" if i < purposeful else "routine"
        at = jst("2026-11-16T08:00") + timedelta(hours=5 * i)
        log(
            world["rep"], world["customers"][i % 40], at, at + timedelta(minutes=5), purpose=purpose
        )
    assert bool(flags_of(run(world), "all_purposeful")) is flagged


@pytest.mark.parametrize(
    ("silent", "noted", "flagged"), [(5, 0, True), (4, 10, False), (6, 2, True)]
)
def test_hearing_without_note(world, silent, noted, flagged):
    for i in range(silent + noted):
        note = "" if i < silent else "在庫の置き場に困っている"
        at = jst("2026-11-16T08:00") + timedelta(hours=5 * i)
        log(world["rep"], world["customers"][i % 40], at, at, hearing=True, hearing_note=note)
    flags = flags_of(run(world), "hearing_without_note")
    assert bool(flags) is flagged
    if flagged:
        assert (flags[0].count, flags[0].facts["heard"]) == (silent, silent + noted)


@pytest.mark.parametrize(
    ("visits", "minutes_apart", "same_customer", "flagged"),
    [
        (16, 30, False, True),  # more than 15 visits in a day
        (15, 30, False, False),
        (2, 3, False, True),  # two customers 3 minutes apart
        (2, 3, True, False),  # the same customer twice (a second call) is no route
        (2, 5, False, False),  # 5 minutes is the shortest allowed gap, not under it
    ],
)
def test_implausible_day(world, visits, minutes_apart, same_customer, flagged):
    start = jst("2026-11-18T08:00")
    for i in range(visits):
        customer = world["customers"][0 if same_customer else i]
        at = start + timedelta(minutes=minutes_apart * i)
        log(world["rep"], customer, at, at + timedelta(hours=12))
    flags = flags_of(run(world), "implausible_day")
    assert bool(flags) is flagged
    if flagged:
        assert flags[0].count == 1 and flags[0].facts["days"][0]["day"] == date(2026, 11, 18)


def test_a_scope_without_visits_is_zeros_and_nulls(world):
    found = run(world, Scope.rep(world["other"].id), Period.parse("2026-11"))
    assert found.as_dict(describe_flag) == {
        "period": "2026-11",
        "scope": "company",
        "same_day_entry_rate": {"value": None, "numerator": 0, "denominator": 0},
        "late_entries": 0,
        "changed_after_report": 0,
        "flags": [],
    }


# ---- kpi health against a hand count ---------------------------------------------------------


def test_cli_matches_a_hand_count(world, runner):
    rep, other, c = world["rep"], world["other"], world["customers"]
    # rep: 3 visits entered the same day, 1 entered 2 days later, 5 entered on 12/06 (late,
    # a bulk entry), every one with problems heard and no note; 1 imported visit.
    for i in range(3):
        at = jst(f"2026-11-16T1{i}:00")
        log(rep, c[i], at, at + timedelta(minutes=10), purpose="hearing", hearing=True)
    log(
        rep, c[3], jst("2026-11-17T10:00"), jst("2026-11-19T09:00"), purpose="hearing", hearing=True
    )
    for i in range(5):
        at = jst(f"2026-11-{18 + i % 3}T1{i}:00")
        log(rep, c[4 + i], at, DEC6 + timedelta(minutes=i), purpose="hearing", hearing=True)
    log(rep, c[9], jst("2026-11-20T15:00"), DEC6, source="import", purpose="hearing", hearing=True)
    # other: 2 visits 2 minutes apart at two customers, both entered at once; one in W48.
    log(other, c[10], jst("2026-11-21T09:00"), jst("2026-11-21T09:01"))
    log(other, c[11], jst("2026-11-21T09:02"), jst("2026-11-21T09:03"))
    log(other, c[12], jst("2026-11-23T09:00"), jst("2026-11-23T09:03"))
    db.session.commit()

    outcome = runner.invoke(args=["kpi", "health", "--period", "2026-W47", "--json"])
    assert outcome.exit_code == 0, outcome.output
    body = json.loads(outcome.output)
    assert body["period"] == "2026-W47" and body["scope"] == "company"
    # 12 visits in W47, 1 imported: same day = 3 (rep) + 2 (other) of 11.
    assert body["same_day_entry_rate"] == {"value": 5 / 11, "numerator": 5, "denominator": 11}
    assert body["late_entries"] == 5 and body["changed_after_report"] == 0
    got = [(f["kind"], f["rep"], f["count"]) for f in body["flags"]]
    assert got == [
        ("late_bulk_entry", "rep@example.jp", 5),
        ("all_purposeful", "rep@example.jp", 10),
        ("hearing_without_note", "rep@example.jp", 10),
        ("implausible_day", "other@example.jp", 1),
    ]
    details = {f["kind"]: f["detail"] for f in body["flags"]}
    assert details["late_bulk_entry"] == "11/18–11/20の訪問5件を12/6に入力"
    assert details["implausible_day"] == "11/21: 前の訪問から5分以内の訪問1件"

    english = runner.invoke(
        args=["kpi", "health", "--period", "2026-W47", "--scope", "rep:other@example.jp",
              "--json", "--lang", "en"]
    )  # fmt: skip
    body = json.loads(english.output)
    assert body["scope"] == "rep:other@example.jp"
    assert body["same_day_entry_rate"] == {"value": 1.0, "numerator": 2, "denominator": 2}
    assert body["flags"] == [
        {
            "kind": "implausible_day",
            "rep": "other@example.jp",
            "count": 1,
            "detail": "11/21: 1 visit within 5 minutes of the one before",
        }
    ]
    month = json.loads(
        runner.invoke(args=["kpi", "health", "--period", "2026-11", "--json"]).output
    )
    assert month["same_day_entry_rate"] == {"value": 6 / 12, "numerator": 6, "denominator": 12}
    bad = runner.invoke(args=["kpi", "health", "--period", "2026-W99"])
    assert bad.exit_code == 2 and "--period" in bad.output


# ---- closed weeks: a real send, then the week changes ------------------------------------------


def test_a_week_changed_after_its_report_is_counted_and_its_kpis_moved(
    app,
    world,
    make,
    inbox,  # noqa: F811
    client,
    auth,
    tmp_path,
):
    rep, branch, c = world["rep"], world["branch"], world["customers"]
    boss = make.user("manager", branch, email="boss@example.jp")
    owner = make.user("owner", email="owner@example.jp")
    # W47 as it stood: 20 visits, 3 purposeful (15 %), each entered at once.
    for i in range(20):
        at = jst(f"2026-11-{16 + i % 5}T{9 + i // 5:02d}:00")
        purpose = "hearing" if i < 3 else "routine"
        log(rep, c[i], at, at + timedelta(minutes=5), purpose=purpose)
    db.session.commit()
    today = date(2026, 11, 23)
    result = mailer.send_week(
        db.session, W47, build=mailer.default_builder(db.session, W47, today, TZ),
        smtp_url=inbox.url, mail_from="fieldlog@example.jp",
    )  # fmt: skip
    assert not result.failed and "boss@example.jp" in inbox.to()
    kept = db.session.scalars(
        select(ReportSnapshot).where(ReportSnapshot.report == "branch:TKY")
    ).one()
    assert kept.week == "2026-W47" and kept.kpis["purposeful_visit_rate"]["value"] == 0.15

    # After the report: 25 visits dated 11/16–20, entered in one sitting; one correction.
    later = datetime.now(UTC) + timedelta(minutes=1)
    for i in range(25):
        at = jst(f"2026-11-{16 + i % 5}T{13 + i // 5}:30")
        log(rep, c[20 + i % 20], at, later + timedelta(seconds=i), purpose="hearing", hearing=True)
    db.session.commit()

    scope = Scope.branch(branch.id)
    found = health(db.session, scope, W47, tz=TZ, scope_label="branch:TKY")
    assert found.changed_after_report == 25
    (changed,) = flags_of(found, "changed_after_report")
    assert changed.rep == "rep@example.jp" and changed.count == 25
    assert changed.facts["entered"] == 25
    assert [f.count for f in flags_of(found, "late_bulk_entry")] == [25]

    moves = week_moves(db.session, scope, "branch:TKY", W47, today=date.today(), tz=TZ)
    assert moves is not None
    by_key = {m.key: m for m in moves.moved}
    purposeful = by_key["purposeful_visit_rate"]
    assert purposeful.reported.value == 0.15
    assert (purposeful.now.numerator, purposeful.now.denominator) == (28, 45)
    assert moves.entered_on() == [(later.astimezone(TZ).date(), 25)]
    # Before any report of the week went out, nothing counts as changed after it.
    w46 = health(db.session, scope, W47.previous(), tz=TZ, scope_label="branch:TKY")
    assert w46.changed_after_report == 0
    assert week_moves(db.session, scope, "branch:TKY", W47.previous(), today=today, tz=TZ) is None

    # The branch dashboard, the weekly review and the owner's summary say so, in plain words.
    moved = (
        '目的あり訪問率</strong>: 15.0% <small class="muted">(3/20)</small> （レポート時） → 62.2%'
    )
    entered_on = f"レポート後に入力された訪問：{later.astimezone(TZ):%Y/%m/%d}に25件。"
    auth.login(boss)
    for path in ("/branches/TKY?week=2026-W47", "/branches/TKY/review?week=2026-W47"):
        page = client.get(path).get_data(as_text=True)
        assert "レポート送信後に変わった週" in page and moved in page, path
        assert entered_on in page and "遅れた一括入力" in page, path
        # A manager cannot change the thresholds: told who does, not sent to a 403.
        assert "基準（しきい値）は経営者が設定します。" in page, path
        assert "/settings/thresholds" not in page, path
    assert client.get("/settings/thresholds").status_code == 403
    auth.logout()
    auth.login(owner)
    summary = client.get("/summary?week=2026-W47").get_data(as_text=True)
    assert moved in summary and "データの信頼性" in summary and "レポート後の変更" in summary
    assert '<a href="/settings/thresholds">基準（しきい値）を変える</a>' in summary

    # The next report (W48) shows how far W47 moved since its report went out.
    from fieldlog.present import pdf
    from fieldlog.reports import data

    from .test_reports_pdf import pdftotext

    w48 = data.branch_report(db.session, branch, W47.next(), today=date.today(), tz=TZ)
    text = pdftotext(pdf.render_pdf(w48), tmp_path)
    assert "データの信頼性" in text
    assert "2026-W47（レポート送信" in text
    assert "目的あり訪問率：レポート時 15.0% → 現在 62.2%" in text
    assert "送信後に入力された訪問" in text


@pytest.mark.parametrize("zone", ["Asia/Tokyo", "America/New_York", "Europe/Berlin"])
def test_local_days_by_bisection_equal_the_timezone_conversion(zone):
    from zoneinfo import ZoneInfo

    from fieldlog.kpi.health import _Days
    from fieldlog.rules.periods import local_date

    tz = ZoneInfo(zone)
    days = _Days(tz, date(2026, 3, 1))
    start = datetime(2026, 2, 27, 0, 0, tzinfo=UTC)  # before the first day: the fallback
    for hour in range(0, 24 * 250, 7):  # across both DST changes of 2026
        instant = start + timedelta(hours=hour, minutes=59)
        assert days.of(instant) == local_date(instant, tz), instant


# ---- imported history: bare dates and imports after a report --------------------------------


def _import(runner, tmp_path, rows: list[str]):
    """Rows of `flask import visits` (visited_at, rep, customer, purpose, hearing_done, ref)."""
    path = tmp_path / f"visits{len(list(tmp_path.iterdir()))}.csv"
    path.write_text("\n".join(["visited_at,rep,customer,purpose,hearing_done,ref", *rows]) + "\n")
    outcome = runner.invoke(args=["import", "visits", str(path)])
    assert outcome.exit_code == 0, outcome.output
    db.session.expire_all()


def _health_json(runner, *args: str) -> dict:
    outcome = runner.invoke(args=["kpi", "health", "--period", "2026-W47", "--json", *args])
    assert outcome.exit_code == 0, outcome.output
    return json.loads(outcome.output)


def test_imported_bare_dates_are_never_too_close_together(world, runner, tmp_path):
    db.session.commit()
    # Five visits of one day whose sheet had only the date: stored at 12:00, time unknown.
    _import(
        runner,
        tmp_path,
        [f"2026-11-18,rep@example.jp,C{i:02d},routine,no,B{i}" for i in range(5)],
    )
    stored = db.session.scalars(select(Visit).order_by(Visit.ref)).all()
    assert {(v.visited_at.astimezone(TZ).hour, v.time_known) for v in stored} == {(12, False)}
    assert flags_of(run(world), "implausible_day") == []
    assert _health_json(runner)["flags"] == []

    # Imported rows with real times still count: 2 minutes apart at two customers. A bare
    # date between them does not hide the pair (only visits with a known time are paired).
    _import(
        runner,
        tmp_path,
        [
            "2026-11-19 11:59,rep@example.jp,C10,routine,no,T1",
            "2026-11-19,rep@example.jp,C11,routine,no,T2",
            "2026-11-19 12:01,rep@example.jp,C12,routine,no,T3",
        ],
    )
    (flag,) = flags_of(run(world), "implausible_day")
    assert flag.facts["days"] == [{"day": date(2026, 11, 19), "visits": 3, "close": 1}]
    body = _health_json(runner, "--lang", "en")
    assert [(f["kind"], f["detail"]) for f in body["flags"]] == [
        ("implausible_day", "11/19: 1 visit within 5 minutes of the one before")
    ]


def test_imported_bare_dates_still_count_towards_a_days_visits(world, runner, tmp_path):
    db.session.commit()
    _import(
        runner,
        tmp_path,
        [f"2026-11-18,rep@example.jp,C{i:02d},routine,no,B{i}" for i in range(16)],
    )
    (flag,) = flags_of(run(world), "implausible_day")
    assert flag.facts["days"] == [{"day": date(2026, 11, 18), "visits": 16, "close": 0}]
    details = {f["kind"]: f["detail"] for f in _health_json(runner)["flags"]}
    assert details["implausible_day"] == "11/18: 訪問16件"


def test_a_corrected_time_of_an_imported_bare_date_is_known(world, runner, tmp_path):
    from fieldlog.services.visit_edits import update_visit

    db.session.commit()
    _import(
        runner,
        tmp_path,
        [
            "2026-11-18,rep@example.jp,C00,routine,no,B0",
            "2026-11-18 12:02,rep@example.jp,C01,routine,no,B1",
        ],
    )
    assert flags_of(run(world), "implausible_day") == []
    visit = db.session.scalars(select(Visit).where(Visit.ref == "B0")).one()
    # The rep gives the real time: 11:58, four minutes before the next visit.
    update_visit(
        db.session,
        world["rep"],
        visit,
        {"visited_at": "2026-11-18T11:58:00+09:00"},
        now=visit.created_at + timedelta(minutes=1),
        tz=TZ,
    )
    assert visit.time_known is True
    (flag,) = flags_of(run(world), "implausible_day")
    assert flag.facts["days"][0]["close"] == 1


def flags_in(outcome, kind: str) -> list[dict]:
    assert outcome.exit_code == 0, outcome.output
    return [f for f in json.loads(outcome.output)["flags"] if f["kind"] == kind]


def test_visits_imported_after_the_report_are_said_to_be_imported(world, runner, tmp_path):
    from fieldlog.models import ReportDelivery

    rep, c = world["rep"], world["customers"]
    sent = jst("2026-11-23T08:00")  # W47's report; the test clock is 11/23 10:00
    db.session.add(
        ReportDelivery(
            week=W47.label, report="branch:TKY", recipient="boss@example.jp", status="sent",
            sent_at=sent,
        )
    )  # fmt: skip
    log(rep, c[0], jst("2026-11-17T10:00"), jst("2026-11-17T10:05"))  # before the report
    typed = log(rep, c[1], jst("2026-11-18T10:00"), jst("2026-11-23T09:00"))  # typed after it
    db.session.commit()
    _import(runner, tmp_path, ["2026-11-19,rep@example.jp,C02,routine,no,H1"])
    imported = db.session.scalars(select(Visit).where(Visit.ref == "H1")).one()
    on = imported.created_at.astimezone(TZ).date()

    found = health(db.session, Scope.company(), W47, tz=TZ, scope_label="company")
    assert found.changed_after_report == 2
    (changed,) = flags_of(found, "changed_after_report")
    assert (changed.count, changed.facts["entered"], changed.facts["imported"]) == (2, 1, 1)
    assert changed.facts["entered_on"] == [(typed.created_at.astimezone(TZ).date(), 1)]
    assert changed.facts["imported_on"] == [(on, 1)]
    day = f"{on.month}/{on.day}"

    outcome = runner.invoke(args=["kpi", "health", "--period", "2026-W47", "--json"])
    (flag,) = flags_in(outcome, "changed_after_report")
    assert flag["count"] == 2
    assert flag["detail"] == f"W47のレポート送信後：11/23に訪問1件を入力, {day}に訪問1件を取り込み"
    english = runner.invoke(
        args=["kpi", "health", "--period", "2026-W47", "--json", "--lang", "en"]
    )
    (flag,) = flags_in(english, "changed_after_report")
    assert flag["detail"] == (
        f"after the W47 report went out: 1 visit entered on 11/23, 1 visit imported on {day}"
    )

    # Only the import: nothing says it was entered.
    db.session.delete(typed)
    db.session.commit()
    found = health(db.session, Scope.company(), W47, tz=TZ, scope_label="company")
    (changed,) = flags_of(found, "changed_after_report")
    assert (changed.count, changed.facts["entered"], changed.facts["imported"]) == (1, 0, 1)
    with force_locale("ja"):
        assert describe_flag(changed) == f"W47のレポート送信後：{day}に訪問1件を取り込み"
