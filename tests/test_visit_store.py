"""The visit row written by one Core statement: the same row, object and answer as the ORM's."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import event, func, select

from fieldlog.app.extensions import db
from fieldlog.kpi import lead_cache
from fieldlog.models import Purpose, Visit
from fieldlog.services import schemas
from fieldlog.services.errors import ClientIdReused
from fieldlog.services.visits import check_visit, record_visit, store_visit

from .conftest import NOW, TZ, visit_payload

FULL = {
    "purpose_note": "新商品の紹介",
    "hearing_note": "在庫が多い",
    "note": "次は月曜",
    "saved_at": (NOW - timedelta(minutes=30)).isoformat(),
    "late_reason": "電波なし",
}


@pytest.fixture
def world(make):
    branch = make.branch("TKY", "東京支店")
    rep = make.user("rep", branch, email="rep@example.jp")
    customer = make.customer(branch, rep, code="C-1")
    make.category("OIL", "潤滑油")
    db.session.commit()
    return locals()


def _row(visit_id: int) -> dict:
    """The stored row as the database gives it back, without its id and client_id."""
    table = Visit.__table__
    row = db.session.execute(select(table).where(table.c.id == visit_id)).mappings().one()
    return {k: v for k, v in row.items() if k not in ("id", "client_id")}


def test_the_core_insert_stores_the_row_the_orm_stored(world):
    """Every column equal to a visit built and flushed by the ORM from the same values."""
    rep, customer = world["rep"], world["customer"]
    payload = visit_payload(customer, **FULL)
    recorded = record_visit(db.session, rep, payload, tz=TZ, now=NOW).visit
    purpose = db.session.scalars(select(Purpose).where(Purpose.code == "hearing")).one()
    by_orm = Visit(
        client_id="orm-path",
        payload_hash=schemas.payload_digest(payload),
        rep=rep,
        branch=rep.branch,
        customer=customer,
        visited_at=datetime.fromisoformat(payload["visited_at"]),
        purpose=purpose,
        purposeful=purpose.purposeful,
        purpose_note=FULL["purpose_note"],
        hearing_done=True,
        hearing_note=FULL["hearing_note"],
        note=FULL["note"],
        created_at=NOW,
        updated_at=NOW,
        source="app",
        saved_at=datetime.fromisoformat(FULL["saved_at"]),
        late_reason=FULL["late_reason"],
    )
    db.session.add(by_orm)
    lead_cache.rows_changed(db.session, [by_orm])
    db.session.commit()
    assert _row(recorded.id) == _row(by_orm.id)
    assert _row(recorded.id)["saved_at"] == datetime(2026, 11, 23, 0, 30, tzinfo=UTC)


def test_the_answer_built_in_hand_equals_the_answer_read_back(world):
    """What the API answers before the commit is what a fresh read of the stored visit says."""
    payload = visit_payload(
        world["customer"],
        proposal={"category": "OIL", "amount": 3000},
        next_action={"action": "電話", "due_on": "2026-11-30"},
        **FULL,
    )
    visit = record_visit(db.session, world["rep"], payload, tz=TZ, now=NOW).visit
    in_hand = schemas.visit_to_dict(visit, TZ)
    db.session.commit()
    db.session.expire_all()
    assert schemas.visit_to_dict(db.session.get(Visit, visit.id), TZ) == in_hand


def test_the_stored_visit_is_clean_and_answers_without_a_query(world):
    visit = record_visit(
        db.session, world["rep"], visit_payload(world["customer"]), tz=TZ, now=NOW
    ).visit
    assert visit in db.session
    assert visit not in db.session.new and visit not in db.session.dirty
    statements = []
    engine = db.session.get_bind()
    listener = lambda *args: statements.append(args[2])  # noqa: E731
    event.listen(engine, "before_cursor_execute", listener)
    try:
        answer = schemas.visit_to_dict(visit, TZ)
        db.session.flush()  # nothing pending: the row is not written twice
    finally:
        event.remove(engine, "before_cursor_execute", listener)
    assert statements == []
    assert answer["customer_code"] == "C-1" and answer["rep"] == "rep@example.jp"
    assert answer["branch"] == "TKY" and answer["purpose"] == "hearing"
    assert answer["proposal"] is None and answer["completed_follow_ups"] == []


def test_a_client_id_stored_between_the_check_and_the_write_replays(world):
    """Another request committed the same client_id after this one's checks: the insert
    writes nothing and the answer is the stored visit (or client_id_reused if it differs)."""
    rep, payload = world["rep"], visit_payload(world["customer"])
    checked = check_visit(db.session, rep, payload, tz=TZ, now=NOW)
    other = check_visit(db.session, rep, {**payload, "hearing_done": False}, tz=TZ, now=NOW)
    first = record_visit(db.session, rep, payload, tz=TZ, now=NOW)
    db.session.commit()
    again = store_visit(db.session, rep, checked, now=NOW)
    assert (again.created, again.visit.id) == (False, first.visit.id)
    with pytest.raises(ClientIdReused):
        store_visit(db.session, rep, other, now=NOW)
    assert db.session.scalar(select(func.count(Visit.id))) == 1
