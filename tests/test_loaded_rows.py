"""database.as_loaded: a row whose values are in hand becomes the object a query would give;
database.unit_of_work(last=True): a commit that keeps the objects' values."""

from __future__ import annotations

from sqlalchemy import event, inspect, select

from fieldlog.app import database
from fieldlog.app.extensions import db
from fieldlog.models import Customer


def _columns(row) -> dict:
    return {a.key: getattr(row, a.key) for a in inspect(row).mapper.column_attrs}


def _statements() -> list[str]:
    seen: list[str] = []
    event.listen(db.engine, "before_cursor_execute", lambda *a: seen.append(a[2]))
    return seen


def test_a_row_in_hand_becomes_a_clean_persistent_object(make):
    branch = make.branch("TKY", "東京支店")
    rep = make.user("rep", branch)
    customer = make.customer(branch, rep, code="C-1")
    db.session.commit()
    values, rep_id = _columns(customer), rep.id
    db.session.expunge_all()

    seen = _statements()
    row = database.as_loaded(db.session, Customer, values)
    state = inspect(row)
    assert state.persistent and not state.modified
    assert row in db.session and not db.session.new and not db.session.dirty
    assert db.session.get(Customer, values["id"]) is row  # the identity map holds it
    assert row.code == "C-1" and row.branch_id == values["branch_id"]
    db.session.flush()
    assert seen == []  # nothing to write, nothing read
    assert row.rep.id == rep_id  # a relationship loads as it would on a loaded row
    assert len(seen) == 1


def test_a_column_not_given_loads_when_read_and_a_held_object_is_returned(make):
    branch = make.branch("TKY", "東京支店")
    customer = make.customer(branch, code="C-1", name="港商事")
    db.session.commit()
    key = customer.id
    db.session.expunge_all()

    row = database.as_loaded(db.session, Customer, {"id": key, "code": "C-1"})
    assert row.name == "港商事"  # read from the database on first use, like an expired column
    again = database.as_loaded(db.session, Customer, {"id": key, "code": "other"})
    assert again is row and row.code == "C-1"  # the session's object wins, as in a query
    row.name = "港商事株式会社"
    db.session.commit()
    assert db.session.scalar(select(Customer.name).where(Customer.id == key)) == "港商事株式会社"


def test_a_last_unit_of_work_keeps_the_values_a_plain_one_expires(make):
    branch = make.branch("TKY", "東京支店")
    customer = make.customer(branch, code="C-1")
    db.session.commit()

    with database.unit_of_work(db.session, last=True):
        customer.name = "新しい名前"
    assert "name" in customer.__dict__ and not inspect(customer).expired_attributes
    with database.unit_of_work(db.session):
        customer.name = "もう一度"
    assert "name" not in customer.__dict__  # expired: read again on next use
    assert customer.name == "もう一度"


def test_rows_of_one_core_statement_become_the_objects_or_none_for_an_outer_miss(make):
    from sqlalchemy import literal

    from fieldlog.models import Purpose

    branch = make.branch("TKY", "東京支店")
    make.customer(branch, code="C-1", name="港商事")
    db.session.commit()
    db.session.expunge_all()
    rows = database.Rows(Customer, Purpose)
    customers, purposes = Customer.__table__, Purpose.__table__

    def read(purpose_code: str):
        stmt = (
            rows.select(literal(7))
            .select_from(customers)
            .outerjoin(purposes, purposes.c.code == purpose_code)
            .where(customers.c.code == "C-1")
        )
        return rows.load(db.session, db.session.connection().execute(stmt).one())

    customer, purpose, extra = read("hearing")
    assert (customer.name, purpose.code, extra) == ("港商事", "hearing", 7)
    assert inspect(customer).persistent and inspect(purpose).persistent
    again, missing, _ = read("no-such-purpose")
    assert again is customer and missing is None


def test_a_row_is_built_even_before_anything_else_used_the_orm_in_the_process(tmp_path):
    """A gunicorn worker's first request may build its kept user before any ORM query has
    configured the mappers (the constructor would have configured them)."""
    import subprocess
    import sys

    script = (
        "import sqlalchemy as sa\n"
        "from sqlalchemy.orm import Session\n"
        "from fieldlog.app import database\n"
        "from fieldlog.app.extensions import Base\n"
        "from fieldlog.models import Branch\n"
        "engine = sa.create_engine('sqlite://')\n"
        "with Session(engine) as session:\n"
        "    row = database.as_loaded(session, Branch, {'id': 1, 'code': 'TKY', 'name': 'x'})\n"
        "    print(row.code, sa.inspect(row).persistent)\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["TKY", "True"]
