"""Shared fixtures: an app per test on SQLite (a copy of a template file) or PostgreSQL.

Set FIELDLOG_TEST_DATABASE_URL to a PostgreSQL URL to run the same suite there; each run
creates its own database and drops it at the end, so parallel runs do not collide.
"""

from __future__ import annotations

import atexit
import os
import re
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from flask import Flask, g, request
from flask.testing import FlaskClient

from fieldlog import create_app
from fieldlog.app.database import end_reads
from fieldlog.app.extensions import db
from fieldlog.kpi import deepening, lead_cache
from fieldlog.models import Branch, Category, Customer, SalesLine, User
from fieldlog.services.defaults import ensure_defaults
from fieldlog.services.visits import record_visit

TZ = ZoneInfo("Asia/Tokyo")
PG_URL = os.environ.get("FIELDLOG_TEST_DATABASE_URL", "")
PASSWORD = "correct-horse-1"
# Upload jobs of the import pages go to a scratch folder, never into the checkout.
IMPORT_DIR = tempfile.mkdtemp(prefix="fieldlog-test-imports-")
atexit.register(shutil.rmtree, IMPORT_DIR, ignore_errors=True)  # one per process, not left behind
# A fixed clock for the app under test: Monday 2026-11-23 10:00 JST.
NOW = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)


def _config(url: str) -> dict[str, Any]:
    return {
        "TESTING": True,
        "SECRET_KEY": "test-secret",
        "SQLALCHEMY_DATABASE_URI": url,
        "FIELDLOG_TIMEZONE": "Asia/Tokyo",
        "FIELDLOG_NOW": NOW,
        "FIELDLOG_SCHEDULER": False,
        "FIELDLOG_SMTP_URL": "",
        "FIELDLOG_IMPORT_DIR": IMPORT_DIR,
        "FIELDLOG_WRITE_CHECKS": True,  # a writer that forgets a summary step fails its test
    }


def _pg_admin_url(url: str) -> str:
    return sa.make_url(url).set(drivername="postgresql+psycopg").render_as_string(False)


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A database with the schema and defaults: a SQLite template file, or a fresh PG database."""
    if PG_URL:
        admin = sa.create_engine(_pg_admin_url(PG_URL), isolation_level="AUTOCOMMIT")
        name = f"fieldlog_test_{uuid.uuid4().hex[:10]}"
        with admin.connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
        url = sa.make_url(_pg_admin_url(PG_URL)).set(database=name).render_as_string(False)
    else:
        url = "sqlite:///" + str(tmp_path_factory.mktemp("template") / "template.db")
    app = create_app(_config(url))
    with app.app_context():
        db.create_all()
        ensure_defaults(db.session)
        db.session.commit()
        if not PG_URL:
            # As `flask db upgrade` does: the file is in WAL mode, readers never block writers.
            with db.engine.connect() as conn:
                conn.connection.driver_connection.execute("PRAGMA journal_mode=WAL")
        db.engine.dispose()
    yield url
    if PG_URL:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


def _fresh_g() -> None:
    for key in list(g):
        g.pop(key)
    # Production gives every request a fresh session, so a write request's transaction begins
    # as a write (BEGIN IMMEDIATE on SQLite). Here the requests share the test's session: end
    # a read it left open, or its old snapshot meets a background job's commit (the KPI
    # ranking) and the write is refused as busy.
    if request.method not in ("GET", "HEAD", "OPTIONS"):
        session = db.session()
        if session.in_transaction() and not (session.new or session.dirty or session.deleted):
            end_reads(session)


@pytest.fixture
def app(database_url: str, tmp_path) -> Iterator[Flask]:
    if PG_URL:
        url = database_url
    else:
        path = tmp_path / "fieldlog.db"
        shutil.copyfile(database_url.removeprefix("sqlite:///"), path)
        url = f"sqlite:///{path}"
    app = create_app(_config(url))
    # The test holds one app context for its factories and assertions; requests reuse it, so
    # give each request a fresh ``g`` as production does (cached user, CSRF token).
    app.before_request_funcs.setdefault(None, []).insert(0, _fresh_g)
    with app.app_context():
        yield app
        from fieldlog.jobs import imports as import_jobs
        from fieldlog.jobs import lead_ranking, warm

        # Background jobs (imports; the KPI ranking that the settings page and a cold branch
        # dashboard start; the forecasts of cold pages) finish before the database goes away:
        # a job still holding a pooled connection at engine.dispose() leaks it, and on
        # PostgreSQL one still writing would deadlock with the next test's TRUNCATE.
        db.session.remove()  # the test's own transaction ends first: the jobs may need to write
        for thread in list(import_jobs._threads.values()):
            thread.join(120)
            assert not thread.is_alive(), "an import job outlived its test"
        assert not lead_ranking.join_all(120), "a KPI ranking job outlived its test"
        assert warm.join_all(120), "a forecast job outlived its test"
        if PG_URL:
            empty_pg_database()
        db.engine.dispose()


def empty_pg_database() -> None:
    """Back to the session's starting point: no rows but the defaults (PostgreSQL is shared)."""
    tables = ", ".join(f'"{t.name}"' for t in db.metadata.sorted_tables)
    with db.engine.begin() as conn:
        conn.exec_driver_sql(f"TRUNCATE {tables} RESTART IDENTITY CASCADE")
    with db.engine.begin() as conn:
        ensure_defaults(sa.orm.Session(bind=conn))


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def runner(app: Flask):
    return app.test_cli_runner()


@pytest.fixture(autouse=True, scope="session")
def _compiled_translations() -> None:
    """Compile the .po catalogues so every run renders the current translations."""
    from pathlib import Path

    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    root = Path(__file__).resolve().parent.parent / "fieldlog" / "translations"
    for po in root.glob("*/LC_MESSAGES/messages.po"):
        with po.open("rb") as source:
            catalog = read_po(source)
        with po.with_suffix(".mo").open("wb") as target:
            write_mo(target, catalog)


@pytest.fixture(autouse=True, scope="session")
def _cheap_password_hashing() -> Iterator[None]:
    """scrypt costs ~0.1 s a user; the suite checks behaviour, not hash strength."""
    from fieldlog.services import accounts

    accounts.PASSWORD_METHOD = "pbkdf2:sha256:1000"
    yield
    accounts.PASSWORD_METHOD = "scrypt"


@pytest.fixture(autouse=True)
def _no_real_email(monkeypatch: pytest.MonkeyPatch) -> None:
    """No test may reach a real mail server by accident; SMTP tests use aiosmtpd on loopback."""
    import smtplib

    real = smtplib.SMTP.connect

    def guarded(self, host="localhost", port=0, source_address=None):
        if host not in ("127.0.0.1", "localhost", "::1"):
            raise AssertionError(f"tests must not send email to {host}")
        return real(self, host, port, source_address)

    monkeypatch.setattr(smtplib.SMTP, "connect", guarded)


# ---- factories ---------------------------------------------------------------------------


class Factory:
    """Builds rows with sensible defaults; every call flushes so ids exist.

    A writer like any other: each call tells the summary steps what it wrote.
    """

    def __init__(self) -> None:
        self.counter = 0

    def _n(self) -> int:
        self.counter += 1
        return self.counter

    def branch(self, code: str | None = None, name: str | None = None) -> Branch:
        n = self._n()
        branch = Branch(code=code or f"B{n:02d}", name=name or f"支店{n}")
        db.session.add(branch)
        lead_cache.rows_changed(db.session, [branch])
        db.session.flush()
        return branch

    def user(
        self,
        role: str = "rep",
        branch: Branch | None = None,
        email: str | None = None,
        name: str | None = None,
        password: str = PASSWORD,
        active: bool = True,
    ) -> User:
        from fieldlog.services.accounts import set_password

        n = self._n()
        if role != "owner" and branch is None:
            branch = self.branch()
        user = User(
            email=email or f"{role}{n}@example.jp",
            name=name or f"{role} {n}",
            role=role,
            branch=branch if role != "owner" else None,
            active=active,
        )
        set_password(user, password)
        db.session.add(user)
        lead_cache.rows_changed(db.session, [user])
        db.session.flush()
        return user

    def customer(
        self,
        branch: Branch | None = None,
        rep: User | None = None,
        code: str | None = None,
        name: str | None = None,
        name_kana: str = "",
        rank: str = "B",
        visit_cycle_days: int | None = None,
        active: bool = True,
    ) -> Customer:
        n = self._n()
        if branch is None:
            branch = rep.branch if rep is not None else self.branch()
        customer = Customer(
            code=code or f"C{n:04d}",
            name=name or f"顧客{n}",
            name_kana=name_kana,
            branch=branch,
            rep=rep,
            rank=rank,
            visit_cycle_days=visit_cycle_days,
            active=active,
        )
        db.session.add(customer)
        lead_cache.rows_changed(db.session, [customer])
        db.session.flush()
        return customer

    def category(self, code: str | None = None, name: str | None = None) -> Category:
        n = self._n()
        category = Category(code=code or f"CAT{n}", name=name or f"カテゴリ{n}")
        db.session.add(category)
        db.session.flush()
        return category

    def sale(
        self,
        customer: Customer,
        sold_on: date,
        amount: int = 10000,
        category: Category | None = None,
        gross_profit: int | None = None,
        ref: str | None = None,
    ) -> SalesLine:
        line = SalesLine(
            customer=customer,
            sold_on=sold_on,
            amount=amount,
            category=category,
            gross_profit=gross_profit,
            ref=ref,
        )
        db.session.add(line)
        lead_cache.rows_changed(db.session, [line])
        db.session.flush()
        deepening.sales_lines_changed(db.session, {customer.id: [sold_on]})
        return line

    def visit(self, user: User, customer: Customer, **overrides: Any):
        """Record a visit through the real write path; returns the Visit."""
        return record_visit(
            db.session, user, visit_payload(customer, **overrides), tz=TZ, now=NOW
        ).visit


def visit_payload(customer: Customer | str, **overrides: Any) -> dict[str, Any]:
    """A valid API payload for a visit; override any key (None removes it)."""
    payload: dict[str, Any] = {
        "client_id": str(uuid.uuid4()),
        "customer_code": customer if isinstance(customer, str) else customer.code,
        "visited_at": (NOW - timedelta(hours=1)).astimezone(TZ).isoformat(),
        "purpose": "hearing",
        "hearing_done": True,
    }
    for key, value in overrides.items():
        if value is None:
            payload.pop(key, None)
        else:
            payload[key] = value
    return payload


@pytest.fixture
def make(app: Flask) -> Factory:
    return Factory()


# ---- HTTP helpers ------------------------------------------------------------------------

_CSRF_INPUT = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


def csrf_from(html: str) -> str:
    match = _CSRF_INPUT.search(html)
    assert match, "no csrf_token field in the page"
    return match.group(1)


class Auth:
    """Log a test client in and out through the real login form."""

    def __init__(self, client: FlaskClient) -> None:
        self.client = client

    def login(self, user_or_email: User | str, password: str = PASSWORD):
        email = user_or_email if isinstance(user_or_email, str) else user_or_email.email
        db.session.commit()
        token = csrf_from(self.client.get("/login").get_data(as_text=True))
        return self.client.post(
            "/login", data={"email": email, "password": password, "csrf_token": token}
        )

    def csrf(self) -> str:
        """A token for the logged-in session, fetched as the offline client does."""
        return self.client.get("/api/v1/session").get_json()["csrf_token"]

    def logout(self):
        token = self.csrf()
        return self.client.post("/logout", data={"csrf_token": token})


@pytest.fixture
def auth(client: FlaskClient) -> Auth:
    return Auth(client)


@pytest.fixture(autouse=True)
def _no_cached_forecasts() -> Iterator[None]:
    """Each test fits its own forecasts (fieldlog.kpi.kgi keeps fits between page views) and
    starts its own forecast jobs (fieldlog.jobs.warm remembers a failed one per scope and day)."""
    from fieldlog.jobs import warm
    from fieldlog.kpi import kgi

    def forget() -> None:
        kgi._FORECASTS.clear()
        with warm._lock:
            warm._jobs.clear()
            warm._by_key.clear()

    forget()
    yield
    forget()


@pytest.fixture(autouse=True)
def _ranking_jobs_finish() -> Iterator[None]:
    """A page that started the KPI ranking in the background: its thread ends with the test.

    The ``app`` fixture already waits, before its database goes; this covers the tests' other
    apps (the live servers of the browser tests)."""
    yield
    from fieldlog.jobs import lead_ranking as lead_jobs

    lead_jobs.join_all()
