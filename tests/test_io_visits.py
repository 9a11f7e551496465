"""Visit history import (日報): formats, line/column errors, refs, and KPIs equal to logged ones."""

from __future__ import annotations

import json
from datetime import date, datetime

import pytest
from flask_babel import force_locale
from sqlalchemy import func, select

from fieldlog.app.extensions import db
from fieldlog.io import import_file
from fieldlog.kpi import dormancy
from fieldlog.models import Customer, DormancyRun, FollowUp, ImportBatch, Proposal, Visit
from fieldlog.services.follow_ups import complete_follow_up
from fieldlog.services.proposals import close_proposal
from fieldlog.services.visits import record_visit
from tests.conftest import NOW, TZ, visit_payload
from tests.io_files import csv_file, excel_csv, xlsx_file


def count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def visits_import(path, **kwargs):
    return import_file(db.session, "visits", path, tz=TZ, now=NOW, **kwargs)


def by_ref(ref: str) -> Visit:
    return db.session.scalars(select(Visit).where(Visit.ref == ref)).one()


def local(visit: Visit) -> datetime:
    return visit.visited_at.astimezone(TZ).replace(tzinfo=None)


@pytest.fixture
def team(make):
    tokyo = make.branch("T01", "東京")
    osaka = make.branch("O01", "大阪")
    rep = make.user("rep", tokyo, email="yamada@example.jp")
    colleague = make.user("rep", tokyo, email="sato@example.jp")
    other = make.user("rep", osaka, email="suzuki@example.jp")
    owner = make.user("owner", email="boss@example.jp")
    food = make.category("FOOD", "食品")
    make.category("DRINK", "飲料")
    c1 = make.customer(tokyo, rep, code="1001")
    make.customer(tokyo, rep, code="1002")
    make.customer(osaka, other, code="2001")
    make.customer(tokyo, None, code="1009")  # no rep yet
    make.sale(c1, date(2026, 6, 1), category=food)
    return {"tokyo": tokyo, "osaka": osaka, "rep": rep, "colleague": colleague, "owner": owner}


ENGLISH = [
    "visited_at,rep,customer,purpose,hearing_done,hearing_note,note,proposal_category,"
    "proposal_amount,proposal_status,proposal_closed_on,next_action,next_action_due_on,ref",
    "2026-11-16 10:30,yamada@example.jp,1001,hearing,yes,課題あり,,FOOD,50000,,,見積提出,"
    "2026-11-20,R1",
    "2026-11-17,,1002,routine,no,,定期,,,,,,,R2",
    "2026/11/18 15:00,sato@example.jp,1001,proposal,1,,,DRINK,120000,won,2026-11-19,,,R3",
]


def test_rows_become_visits_with_their_proposals_and_next_actions(team, tmp_path):
    result = visits_import(csv_file(tmp_path, "v.csv", ENGLISH))
    assert result.ok, [str(e) for e in result.errors]
    assert (result.rows, result.created, result.updated) == (3, 3, 0)

    first = by_ref("R1")
    assert local(first) == datetime(2026, 11, 16, 10, 30)
    assert (first.rep.email, first.branch.code, first.customer.code) == (
        "yamada@example.jp",
        "T01",
        "1001",
    )
    assert (first.source, first.purposeful, first.hearing_done) == ("import", True, True)
    assert first.hearing_note == "課題あり"
    # Stored at the import's clock (FIELDLOG_NOW / now=), not the machine's.
    assert (first.created_at, first.updated_at) == (NOW, NOW)
    [proposal] = first.proposals
    # FOOD was bought on 2026-06-01, within the 365 days before the visit: upsell.
    assert (proposal.kind, proposal.amount, proposal.status, proposal.proposed_on) == (
        "upsell",
        50000,
        "open",
        date(2026, 11, 16),
    )
    [follow_up] = first.follow_ups
    assert (follow_up.action, follow_up.due_on, follow_up.done_on) == (
        "見積提出",
        date(2026, 11, 20),
        None,
    )
    assert (follow_up.rep_id, follow_up.branch_id) == (first.rep_id, first.branch_id)
    assert (proposal.created_at, follow_up.created_at) == (NOW, NOW)

    second = by_ref("R2")  # a bare date is 12:00 company time; an empty rep is the customer's
    assert local(second) == datetime(2026, 11, 17, 12, 0)
    assert (second.rep.email, second.purposeful, second.hearing_done) == (
        "yamada@example.jp",
        False,
        False,
    )
    assert (second.proposals, second.follow_ups, second.note) == ([], [], "定期")

    third = by_ref("R3")  # a colleague covering: the visit is theirs
    assert third.rep.email == "sato@example.jp"
    [won] = third.proposals
    assert (won.kind, won.status, won.closed_on) == ("cross_sell", "won", date(2026, 11, 19))
    assert len({v.client_id for v in (first, second, third)}) == 3
    assert dormancy.differences(db.session) == 0


def test_an_explicit_rep_of_another_branch_is_taken_and_gives_the_branch(team, tmp_path):
    lines = [
        "visited_at,rep,customer,purpose,hearing_done",
        "2026-11-16,suzuki@example.jp,1001,hearing,no",
    ]
    assert visits_import(csv_file(tmp_path, "v.csv", lines)).ok
    visit = db.session.scalars(select(Visit)).one()
    assert (visit.rep.email, visit.branch.code, visit.customer.branch.code) == (
        "suzuki@example.jp",
        "O01",
        "T01",
    )


JAPANESE = [
    "訪問日時,担当者,顧客コード,目的,ヒアリング,ヒアリング内容,備考,提案カテゴリ,提案種別,提案金額,"
    "提案状況,成約日,次回アクション,期限,完了日,行番号",
    "令和8年11月16日 9時05分,yamada@example.jp,1001,課題ヒアリング,○,在庫の悩み,,FOOD,,"
    "￥30000,受注,2026/11/18,再訪,2026/11/25,2026/11/24,J1",
    "2026/11/17,,1002,定期巡回・御用聞き,×,,,DRINK,クロスセル,１０００,失注,2026/11/17,,,,J2",
    "2026/11/18 14:00,,1002,前回アクションのフォロー,いいえ,,,,,,,,,,,J3",
]


@pytest.mark.parametrize("writer", ["excel_csv", "utf8_bom", "tsv", "xlsx"])
def test_japanese_headers_in_every_format(team, tmp_path, writer):
    if writer == "excel_csv":
        path = excel_csv(tmp_path, "日報.csv", JAPANESE)
    elif writer == "utf8_bom":
        path = csv_file(tmp_path, "日報.csv", JAPANESE, encoding="utf-8-sig")
    elif writer == "tsv":
        lines = [line.replace(",", "\t") for line in JAPANESE]
        path = csv_file(tmp_path, "日報.tsv", lines)
    else:
        rows = [line.split(",") for line in JAPANESE]
        rows[1][0] = datetime(2026, 11, 16, 9, 5)  # a date-time cell
        rows[2][0] = datetime(2026, 11, 17)  # a date cell: Excel keeps it as midnight
        rows[2][9] = 1000
        path = xlsx_file(tmp_path, "日報.xlsx", rows)
    result = visits_import(path)
    assert result.ok, [str(e) for e in result.errors]
    assert result.created == 3
    first, second, third = by_ref("J1"), by_ref("J2"), by_ref("J3")
    assert local(first) == datetime(2026, 11, 16, 9, 5)
    assert (first.purpose.code, first.hearing_done, first.hearing_note) == (
        "hearing",
        True,
        "在庫の悩み",
    )
    assert [(p.kind, p.amount, p.status, p.closed_on) for p in first.proposals] == [
        ("upsell", 30000, "won", date(2026, 11, 18))
    ]
    assert [(f.action, f.due_on, f.done_on) for f in first.follow_ups] == [
        ("再訪", date(2026, 11, 25), date(2026, 11, 24))
    ]
    assert local(second) == datetime(2026, 11, 17, 12, 0)
    assert (first.time_known, second.time_known) == (True, False)  # a date cell: no time
    assert (second.purpose.code, second.purposeful, second.hearing_done) == (
        "routine",
        False,
        False,
    )
    assert [(p.kind, p.amount, p.status) for p in second.proposals] == [
        ("cross_sell", 1000, "lost")
    ]
    assert (third.purpose.code, third.proposals, third.follow_ups) == ("follow_up", [], [])


def test_offsets_are_kept_and_naive_times_are_company_time(team, tmp_path):
    lines = [
        "visited_at,customer,purpose,hearing_done,ref",
        "2026-11-16T01:00:00+00:00,1001,hearing,true,A",
        "2026-11-16T10:00:00,1001,hearing,false,B",
        "20261116,1001,hearing,0,C",
    ]
    assert visits_import(csv_file(tmp_path, "v.csv", lines)).ok
    assert local(by_ref("A")) == datetime(2026, 11, 16, 10, 0)
    assert local(by_ref("B")) == datetime(2026, 11, 16, 10, 0)
    assert local(by_ref("C")) == datetime(2026, 11, 16, 12, 0)
    # Only a bare date leaves the time of day unknown (docs/honest-numbers.md, implausible_day).
    assert [by_ref(ref).time_known for ref in "ABC"] == [True, True, False]


def test_a_bare_date_keeps_the_time_unknown_and_a_known_ref_updates_it(team, tmp_path):
    lines = [
        "visited_at,customer,purpose,hearing_done,ref",
        "2026-11-16,1001,hearing,no,D",
        "2026-11-16 09:30,1002,hearing,no,T",
    ]
    assert visits_import(csv_file(tmp_path, "v1.csv", lines)).ok
    db.session.commit()
    assert (by_ref("D").time_known, by_ref("T").time_known) == (False, True)
    # The sheet gains D's time and loses T's: the same visits, their times known and unknown.
    lines[1:] = ["2026-11-16 14:00,1001,hearing,no,D", "2026-11-16,1002,hearing,no,T"]
    result = visits_import(csv_file(tmp_path, "v2.csv", lines))
    assert result.ok and (result.created, result.updated) == (0, 2)
    db.session.expire_all()
    assert (local(by_ref("D")), by_ref("D").time_known) == (datetime(2026, 11, 16, 14, 0), True)
    assert (local(by_ref("T")), by_ref("T").time_known) == (datetime(2026, 11, 16, 12, 0), False)


HEADER = (
    "visited_at,rep,customer,purpose,hearing_done,proposal_category,proposal_amount,"
    "proposal_status,proposal_closed_on,next_action,next_action_due_on,next_action_done_on,ref"
)
GOOD = "2026-11-16,,1001,hearing,yes,,,,,,,,"


@pytest.mark.parametrize(
    ("row", "column", "words"),
    [
        ("2026-11-16,nobody@example.jp,1001,hearing,yes,,,,,,,,", "rep", "Unknown user"),
        ("2026-11-16,boss@example.jp,1001,hearing,yes,,,,,,,,", "rep", "Owners"),
        ("2026-11-16,,1009,hearing,yes,,,,,,,,", "rep", "no rep"),
        ("2026-11-16,,9999,hearing,yes,,,,,,,,", "customer", "Unknown customer"),
        ("2026-11-16,,1001,sightseeing,yes,,,,,,,,", "purpose", "Unknown purpose"),
        ("2026-11-16,,1001,hearing,maybe,,,,,,,,", "hearing_done", "yes or no"),
        ("2026-11-16,,1001,hearing,,,,,,,,,", "hearing_done", "required"),
        ("2026-13-40,,1001,hearing,yes,,,,,,,,", "visited_at", "date"),
        ("2026-12-31,,1001,hearing,yes,,,,,,,,", "visited_at", "future"),
        ("2026-11-16 25:00,,1001,hearing,yes,,,,,,,,", "visited_at", "time"),
        ("2026-11-16,,1001,hearing,yes,TOYS,,,,,,,", "proposal_category", "Unknown category"),
        ("2026-11-16,,1001,hearing,yes,FOOD,12.5,,,,,,", "proposal_amount", "whole number"),
        ("2026-11-16,,1001,hearing,yes,FOOD,-100,,,,,,", "proposal_amount", "negative"),
        ("2026-11-16,,1001,hearing,yes,FOOD,,pending,,,,,", "proposal_status", "open, won"),
        ("2026-11-16,,1001,hearing,yes,FOOD,,won,,,,,", "proposal_closed_on", "closing date"),
        (
            "2026-11-16,,1001,hearing,yes,FOOD,,open,2026-11-17,,,,",
            "proposal_status",
            "won or lost",
        ),
        ("2026-11-16,,1001,hearing,yes,FOOD,,won,2026-11-15,,,,", "proposal_closed_on", "before"),
        (
            "2026-11-16,,1001,hearing,yes,,,,2026-11-17,,,,",
            "proposal_closed_on",
            "needs a proposal",
        ),
        ("2026-11-16,,1001,hearing,yes,,,,,電話,2026-11-15,,", "next_action_due_on", "before"),
        ("2026-11-16,,1001,hearing,yes,,,,,電話,,,", "next_action_due_on", "due date"),
        ("2026-11-16,,1001,hearing,yes,,,,,,2026-11-20,,", "next_action", "needs the action"),
        (
            "2026-11-16,,1001,hearing,yes,,,,,電話,2026-11-20,2026-11-15,",
            "next_action_done_on",
            "before",
        ),
        ("2026-11-16,,1001,hearing,yes,,,,,,,,X" + "x" * 64, "ref", "64"),
    ],
)
def test_bad_rows_named_by_line_and_column_and_nothing_written(team, tmp_path, row, column, words):
    path = csv_file(tmp_path, "v.csv", [HEADER, GOOD + "OK1", row, GOOD + "OK2"])
    result = visits_import(path)
    assert not result.ok
    with force_locale("en"):
        messages = [(e.where.line, e.column, str(e.message)) for e in result.errors]
    assert any(line == 3 and col == column and words in msg for line, col, msg in messages), (
        messages
    )
    assert all(line == 3 for line, _c, _m in messages), messages
    assert (count(Visit), count(Proposal), count(FollowUp), count(ImportBatch)) == (0, 0, 0, 0)


def test_errors_use_the_files_own_column_names(team, tmp_path):
    lines = ["訪問日,顧客コード,目的,ヒアリング", "2026/11/16,1001,見学,はい"]
    result = visits_import(csv_file(tmp_path, "v.csv", lines))
    assert [(e.where.line, e.column) for e in result.errors] == [(2, "目的")]
    assert "見学" in str(result.errors[0].message)  # in the user's language (Japanese here)


def test_missing_required_columns_and_duplicate_refs(team, tmp_path):
    result = visits_import(csv_file(tmp_path, "a.csv", ["visited_at,customer", "2026-11-16,1001"]))
    assert [e.column for e in result.errors] == ["purpose, hearing_done"]
    lines = [HEADER, GOOD + "R1", GOOD + "R1"]
    result = visits_import(csv_file(tmp_path, "b.csv", lines))
    assert [(e.where.line, e.column) for e in result.errors] == [(3, "ref")]
    assert "2行目" in str(result.errors[0].message)


def test_a_known_ref_updates_the_visit_its_proposal_and_next_action(team, tmp_path):
    assert visits_import(csv_file(tmp_path, "v1.csv", ENGLISH)).ok
    db.session.commit()
    first = by_ref("R1")
    ids = (first.id, first.client_id, first.proposals[0].id, first.follow_ups[0].id)
    changed = [
        ENGLISH[0],
        # R1: another purpose and hearing, the proposal won, the next action gone.
        "2026-11-16 11:00,yamada@example.jp,1001,routine,no,,,FOOD,60000,won,2026-11-21,,,R1",
        # R2 gains a proposal and a next action; R3 loses its proposal; N1 is new.
        "2026-11-17,,1002,routine,no,,定期,DRINK,,,,電話,2026-11-30,R2",
        "2026/11/18 15:00,sato@example.jp,1001,proposal,1,,,,,,,,,R3",
        "2026/11/19,,1002,hearing,1,,,,,,,,,N1",
    ]
    result = visits_import(csv_file(tmp_path, "v2.csv", changed))
    assert result.ok, [str(e) for e in result.errors]
    assert (result.created, result.updated) == (1, 3)
    assert count(Visit) == 4
    first = by_ref("R1")
    assert (first.id, first.client_id) == ids[:2]
    assert local(first) == datetime(2026, 11, 16, 11, 0)
    assert (first.purpose.code, first.purposeful, first.hearing_done) == ("routine", False, False)
    assert [(p.id, p.amount, p.status, p.closed_on) for p in first.proposals] == [
        (ids[2], 60000, "won", date(2026, 11, 21))
    ]
    assert first.follow_ups == []
    assert [f.visit.ref for f in db.session.scalars(select(FollowUp))] == ["R2"]
    second = by_ref("R2")
    assert [p.kind for p in second.proposals] == ["cross_sell"]
    assert [(f.action, f.due_on) for f in second.follow_ups] == [("電話", date(2026, 11, 30))]
    assert by_ref("R3").proposals == []
    assert (count(Proposal), count(FollowUp)) == (2, 1)
    assert dormancy.differences(db.session) == 0


def test_an_identical_file_is_refused_and_rows_without_ref_are_added(team, tmp_path):
    lines = ["visited_at,customer,purpose,hearing_done", "2026-11-16,1001,hearing,yes"]
    path = csv_file(tmp_path, "v.csv", lines)
    assert visits_import(path).ok
    again = visits_import(path)
    assert not again.ok and "取り込み済み" in str(again.errors[0].message)
    more = csv_file(tmp_path, "w.csv", [*lines, "2026-11-16,1001,hearing,yes"])
    result = visits_import(more)
    assert (result.created, result.updated) == (2, 0)
    assert count(Visit) == 3
    assert len(set(db.session.scalars(select(Visit.client_id)))) == 3


def test_a_manager_imports_their_own_branch_only(team, tmp_path, make):
    lines = [
        "visited_at,rep,customer,purpose,hearing_done",
        "2026-11-16,,1001,hearing,yes",
        "2026-11-16,,2001,hearing,yes",
        "2026-11-16,suzuki@example.jp,1001,hearing,yes",
    ]
    result = visits_import(csv_file(tmp_path, "v.csv", lines), limit_branch_id=team["tokyo"].id)
    assert [(e.where.line, e.column) for e in result.errors] == [(3, "customer"), (4, "rep")]
    lines = ["visited_at,customer,purpose,hearing_done", "2026-11-16,1001,hearing,yes"]
    mine = visits_import(csv_file(tmp_path, "w.csv", lines), limit_branch_id=team["tokyo"].id)
    assert mine.ok and count(Visit) == 1


def test_dry_run_writes_nothing_and_cli_imports(team, runner, tmp_path):
    db.session.commit()
    path = csv_file(tmp_path, "v.csv", ENGLISH)
    dry = runner.invoke(args=["import", "visits", str(path), "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert "would create 3" in dry.output
    assert count(Visit) == 0
    done = runner.invoke(args=["import", "visits", str(path)])
    assert done.exit_code == 0, done.output
    assert count(Visit) == 3
    bad = csv_file(tmp_path, "bad.csv", [HEADER, "2026-11-16,,9999,hearing,yes,,,,,,,,"])
    failed = runner.invoke(args=["import", "visits", str(bad)])
    assert failed.exit_code == 1
    assert "2行目 [customer]" in failed.output


# ---- the same visits logged in the app and imported give the same KPIs ----------------------

# (day, hour, purpose, hearing, category, amount, close, due, done, note): one branch's weeks.
DIARY = [
    (
        "2026-11-09",
        9,
        "hearing",
        True,
        "FOOD",
        50000,
        ("won", "2026-11-12"),
        "2026-11-13",
        "2026-11-12",
    ),
    ("2026-11-10", 14, "routine", False, None, None, None, None, None),
    (
        "2026-11-11",
        10,
        "proposal",
        True,
        "DRINK",
        20000,
        ("lost", "2026-11-18"),
        "2026-11-16",
        None,
    ),
    ("2026-11-16", 9, "hearing", False, "DRINK", None, None, "2026-11-20", "2026-11-19"),
    ("2026-11-17", 16, "called", False, None, None, None, "2026-11-19", None),
    ("2026-11-18", 11, "proposal", True, "FOOD", 80000, ("won", "2026-11-20"), None, None),
    ("2026-11-20", 23, "relationship", True, None, None, None, "2026-11-27", None),
]


@pytest.fixture
def twins(make):
    """Two branches alike in every way: one logs its visits in the app, the other imports them."""
    food, drink = make.category("FOOD"), make.category("DRINK")
    out = {}
    for code in ("APP", "IMP"):
        branch = make.branch(code)
        rep = make.user("rep", branch, email=f"{code.lower()}@example.jp")
        customers = [make.customer(branch, rep, code=f"{code}-{n}") for n in range(3)]
        make.sale(customers[0], date(2026, 3, 1), category=food)
        make.sale(customers[1], date(2026, 11, 10), amount=30000, category=drink)
        make.customer(branch, rep, code=f"{code}-idle")  # never visited: dormant
        out[code] = (rep, customers)
    return out


def _log_in_app(rep, customers):
    for n, (day, hour, purpose, hearing, category, amount, close, due, done) in enumerate(DIARY):
        at = datetime.fromisoformat(f"{day}T{hour:02d}:00:00+09:00")
        proposal = None
        if category:
            proposal = {"category": category, **({"amount": amount} if amount else {})}
        payload = visit_payload(
            customers[n % 3],
            visited_at=at.isoformat(),
            purpose=purpose,
            hearing_done=hearing,
            proposal=proposal,
            next_action={"action": "再訪", "due_on": due} if due else None,
        )
        visit = record_visit(db.session, rep, payload, tz=TZ, now=NOW).visit
        today = NOW.astimezone(TZ).date()
        if close:
            [p] = visit.proposals
            close_proposal(db.session, rep, p.id, close[0], close[1], today=today)
        if done:
            [f] = visit.follow_ups
            complete_follow_up(db.session, rep, f.id, done, today=today)


def _import_file(tmp_path, rep, customers):
    lines = [
        "訪問日時,担当者,顧客コード,目的,ヒアリング,提案カテゴリ,提案金額,提案状況,成約日,"
        "次回アクション,期限,完了日"
    ]
    for n, (day, hour, purpose, hearing, category, amount, close, due, done) in enumerate(DIARY):
        status, closed_on = close or ("", "")
        if category and not close:
            status = "open"
        lines.append(
            f"{day} {hour}:00,{rep.email},{customers[n % 3].code},{purpose},"
            f"{'はい' if hearing else 'いいえ'},{category or ''},{amount or ''},"
            f"{status},{closed_on},"
            f"{'再訪' if due else ''},{due or ''},{done or ''}"
        )
    result = visits_import(excel_csv(tmp_path, "日報.csv", lines))
    assert result.ok, [str(e) for e in result.errors]


@pytest.mark.parametrize("period", ["2026-W46", "2026-W47", "2026-11"])
def test_imported_visits_feed_the_kpis_exactly_like_logged_ones(twins, runner, tmp_path, period):
    _log_in_app(*twins["APP"])
    _import_file(tmp_path, *twins["IMP"])
    db.session.commit()
    assert dormancy.differences(db.session) == 0

    def show(scope: str) -> dict:
        result = runner.invoke(args=["kpi", "show", "--period", period, "--scope", scope, "--json"])
        assert result.exit_code == 0, result.output
        return json.loads(result.output)["kpis"]

    logged, imported = show("branch:APP"), show("branch:IMP")
    assert imported == logged
    assert show("rep:imp@example.jp") == show("rep:app@example.jp")
    # The comparison is not empty: most KPIs have something to count in every period.
    assert sum(1 for figure in logged.values() if figure["numerator"]) >= 9
    assert logged["dormant_rate"]["denominator"] == 4


def test_the_dormancy_summary_moves_with_an_imported_visit(twins, tmp_path):
    idle = db.session.scalars(select(Customer).where(Customer.code == "IMP-idle")).one()

    def kept() -> list[tuple[date, date]]:
        runs = select(DormancyRun.starts_on, DormancyRun.ends_on)
        return [
            tuple(r) for r in db.session.execute(runs.where(DormancyRun.customer_id == idle.id))
        ]

    assert kept() == []  # never visited: dormant every day
    lines = ["visited_at,customer,purpose,hearing_done", f"2026-11-20,{idle.code},hearing,yes"]
    assert visits_import(csv_file(tmp_path, "v.csv", lines)).ok
    assert kept() and kept()[0][0] == date(2026, 11, 20)
    assert dormancy.differences(db.session) == 0
