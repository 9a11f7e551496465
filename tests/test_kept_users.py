"""A process keeps the users it loaded only while no process has written users, sessions or
branches since (services/accounts.load_session, app/database.auth_stamp); on PostgreSQL it
reads them on every request."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa
from sqlalchemy import event, update

from fieldlog.app.database import configure_engine, write_intent
from fieldlog.app.extensions import db
from fieldlog.models import User

from .conftest import PASSWORD, PG_URL


def _log_in(auth, make, role: str = "rep") -> User:
    branch = make.branch("TKY", "東京支店")
    user = make.user(role, branch, email=f"{role}@example.jp")
    db.session.commit()
    assert auth.login(user.email, PASSWORD).status_code == 302
    return user


@contextmanager
def _other_process() -> Iterator[sa.Engine]:
    """An engine of its own on the same database, set up as another worker's or a command's."""
    engine = sa.create_engine(db.engine.url)
    configure_engine(engine)
    try:
        yield engine
    finally:
        engine.dispose()


def _me(client) -> tuple[int, dict]:
    # Requests here share the test's session: end its read, as a request's own session would.
    db.session.rollback()
    answer = client.get("/api/v1/session")
    return answer.status_code, answer.get_json()


def test_a_user_deactivated_by_another_process_is_refused_at_the_next_request(auth, make):
    rep = _log_in(auth, make)
    assert _me(auth.client)[0] == 200  # kept by this process now (SQLite)
    with _other_process() as engine, write_intent(), engine.begin() as conn:
        conn.execute(update(User).where(User.id == rep.id).values(active=False))
    assert _me(auth.client)[0] == 401


def test_a_role_changed_by_another_process_in_plain_sql_is_seen_at_the_next_request(auth, make):
    rep = _log_in(auth, make)
    assert _me(auth.client)[1]["user"]["role"] == "rep"
    with _other_process() as engine, write_intent(), engine.begin() as conn:
        conn.exec_driver_sql(f"UPDATE \"user\" SET role = 'manager' WHERE id = {rep.id}")
    assert _me(auth.client)[1]["user"]["role"] == "manager"


def test_a_session_revoked_elsewhere_stops_working_at_once(app, auth, make):
    _log_in(auth, make)
    phone = app.test_client()
    phone.set_cookie("session", auth.client.get_cookie("session").value)
    assert _me(phone)[0] == 200
    assert auth.logout().status_code == 302  # the same session, logged out on the laptop
    assert _me(phone)[0] == 401


def test_the_stamp_file_deleted_meanwhile_is_noticed(auth, make):
    rep = _log_in(auth, make)
    assert _me(auth.client)[0] == 200
    if not PG_URL:
        os.unlink(db.engine.url.database + ".auth")
    with _other_process() as engine, write_intent(), engine.begin() as conn:
        conn.execute(update(User).where(User.id == rep.id).values(active=False))
    assert _me(auth.client)[0] == 401


def test_a_kept_user_is_built_without_reading_the_database(auth, make):
    """SQLite: the second request reads no session, user or branch row; PostgreSQL has no
    stamp every process can see, and reads them every time."""
    _log_in(auth, make)
    assert _me(auth.client)[0] == 200
    reads: list[str] = []

    def seen(_conn, _cursor, statement, *_args) -> None:
        if "login_session" in statement and statement.lstrip().upper().startswith("SELECT"):
            reads.append(statement)

    event.listen(db.engine, "before_cursor_execute", seen)
    try:
        status, me = _me(auth.client)
    finally:
        event.remove(db.engine, "before_cursor_execute", seen)
    assert status == 200 and me["user"]["branch"] == "TKY"
    assert len(reads) == (1 if PG_URL else 0)
