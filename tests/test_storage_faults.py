"""Storage faults: a full disk or a read-only database during a visit POST and an import.

The user gets a 503 with a message that says what happened (JSON for the API, a page for the web),
nothing is half written, the database passes its integrity check, and writes work again once the
condition is gone.

On SQLite the database lives on a real 2 MB tmpfs (the test mounts it, so it needs root): "full"
fills the file system with a file until ENOSPC, "read-only" remounts it read-only, as the kernel
does with a failing disk. On PostgreSQL the database is switched to
``default_transaction_read_only``; its disk-full SQLSTATE is covered by the mapping test, as is
every SQLite and PostgreSQL code the app treats as a storage problem.
"""

from __future__ import annotations

import gc
import io
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy import func, select

from fieldlog import create_app
from fieldlog.app.database import storage_problem
from fieldlog.app.extensions import db
from fieldlog.models import Customer, Visit

from .conftest import (
    PG_URL,
    Auth,
    Factory,
    _config,
    _fresh_g,
    _pg_admin_url,
    csrf_from,
    empty_pg_database,
    visit_payload,
)

ROOT = Path(__file__).resolve().parent.parent


def _can_mount(tmp_path: Path) -> bool:
    probe = tmp_path / "probe"
    probe.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(probe)], capture_output=True
    )
    if mounted.returncode != 0:
        return False
    subprocess.run(["umount", str(probe)], check=True)
    return True


class Storage:
    """Breaks and repairs the storage under one app's database."""

    def __init__(self, app, tmp_path: Path) -> None:
        self.app = app
        self.tmp_path = tmp_path
        self.undo: list = []

    def _reconnect(self) -> None:
        db.session.remove()
        db.engine.dispose()

    def break_(self, condition: str) -> None:
        raise NotImplementedError

    def repair(self) -> None:
        self._reconnect()
        while self.undo:
            self.undo.pop()()
        self._reconnect()

    def integrity(self) -> str:
        raise NotImplementedError


class TmpfsStorage(Storage):
    def __init__(self, app, tmp_path: Path, mount: Path) -> None:
        super().__init__(app, tmp_path)
        self.mount = mount

    def break_(self, condition: str) -> None:
        if condition == "full":  # SQLite answers SQLITE_FULL when its write gets ENOSPC
            filler = self.mount / "filler"
            # Unbuffered: a buffered file would raise ENOSPC once more, outside the check,
            # when closing tries to write out what the last write left in its buffer.
            with filler.open("wb", buffering=0) as out, pytest.raises(OSError, match="No space"):
                while True:
                    out.write(b"\0" * 65536)
            self.undo.append(filler.unlink)
        else:  # a WAL database on a read-only file system cannot even be opened (CANTOPEN)
            self._reconnect()  # no open file may stay writable, or the remount is refused
            subprocess.run(["mount", "-o", "remount,ro", str(self.mount)], check=True)
            self.undo.append(
                lambda: subprocess.run(["mount", "-o", "remount,rw", str(self.mount)], check=True)
            )

    def integrity(self) -> str:
        with sqlite3.connect(self.mount / "fieldlog.db") as conn:
            return conn.execute("PRAGMA integrity_check").fetchone()[0]


class PostgresStorage(Storage):
    def break_(self, condition: str) -> None:
        name = db.engine.url.database
        admin = sa.create_engine(_pg_admin_url(PG_URL), isolation_level="AUTOCOMMIT")

        def alter(sql: str) -> None:
            with admin.connect() as conn:
                conn.exec_driver_sql(f'ALTER DATABASE "{name}" {sql}')

        alter("SET default_transaction_read_only = on")

        def undo() -> None:
            alter("RESET default_transaction_read_only")
            admin.dispose()

        self.undo.append(undo)
        self._reconnect()

    def integrity(self) -> str:
        return "ok"  # PostgreSQL has no whole-file check; the row counts below are the test


def _collect_broken_connections() -> None:
    """Collect what the broken storage left in reference cycles (a failed request's traceback
    frames hold its connection): on SQLite its open files would keep the tmpfs busy. PostgreSQL's
    driver warns when such a connection is collected open; here, after a fault made on purpose,
    that is expected, and only that warning is let through quietly."""
    previous = sys.unraisablehook

    def hook(unraisable: sys.UnraisableHookArgs) -> None:
        value = unraisable.exc_value
        if isinstance(value, ResourceWarning) and "psycopg.Connection" in str(value):
            return
        previous(unraisable)

    sys.unraisablehook = hook
    try:
        gc.collect()
    finally:
        sys.unraisablehook = previous


@pytest.fixture
def storage(database_url, tmp_path) -> Iterator[Storage]:
    imports = tmp_path / "imports"
    config = {"FIELDLOG_IMPORT_DIR": str(imports), "FIELDLOG_IMPORT_INLINE": True}
    mount = tmp_path / "disk"
    mounted = False
    if PG_URL:
        app = create_app({**_config(database_url), **config})
    else:
        mount.mkdir()
        if not _can_mount(tmp_path):
            pytest.skip("needs the right to mount a tmpfs (root); the code mapping is tested below")
        subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mount)], check=True)
        mounted = True
        shutil.copyfile(database_url.removeprefix("sqlite:///"), mount / "fieldlog.db")
        app = create_app({**_config(f"sqlite:///{mount / 'fieldlog.db'}"), **config})
    app.before_request_funcs.setdefault(None, []).insert(0, _fresh_g)  # as conftest's app
    with app.app_context():
        store = TmpfsStorage(app, tmp_path, mount) if mounted else PostgresStorage(app, tmp_path)
        try:
            yield store
        finally:
            store.repair()
            if PG_URL:
                empty_pg_database()
            db.session.remove()
            _collect_broken_connections()
            db.engine.dispose()
            if mounted and subprocess.run(["umount", str(mount)]).returncode != 0:
                # Detach it anyway, or pytest's clean-up of old temp dirs fails in later runs.
                subprocess.run(["umount", "--lazy", str(mount)], check=True)
                pytest.fail("a file on the test's tmpfs was still open after the app closed")


CUSTOMERS_CSV = "code,name,branch,rep\r\nNEW-1,新しい顧客,T01,rep@example.jp\r\n".encode()


def _counts() -> tuple[int, int]:
    db.session.rollback()
    return (
        db.session.scalar(select(func.count()).select_from(Visit)),
        db.session.scalar(select(func.count()).select_from(Customer)),
    )


@pytest.mark.parametrize("condition", ["full", "read_only"])
def test_a_full_or_read_only_disk_refuses_cleanly_and_recovers(storage, condition):
    if PG_URL and condition == "full":
        pytest.skip("PostgreSQL disk full is not simulated here; see the SQLSTATE mapping test")
    app = storage.app
    make = Factory()
    branch = make.branch("T01", "東京")
    owner = make.user("owner", email="owner@example.jp")
    rep = make.user("rep", branch, email="rep@example.jp")
    customer = make.customer(branch, rep, code="C-1")
    make.visit(rep, customer)
    db.session.commit()

    # Before the fault: a rep logged in with a token, an owner with a checked import file.
    rep_client, owner_client = app.test_client(), app.test_client()
    for client in (rep_client, owner_client):
        client.set_cookie("fieldlog_lang", "en")
    rep_auth = Auth(rep_client)
    rep_auth.login(rep)
    token = rep_auth.csrf()
    Auth(owner_client).login(owner)
    upload_token = csrf_from(owner_client.get("/import").get_data(as_text=True))
    job_url = owner_client.post(
        "/import",
        data={
            "csrf_token": upload_token,
            "kind": "customers",
            "file": (io.BytesIO(CUSTOMERS_CSV), "customers.csv"),
        },
        content_type="multipart/form-data",
    ).headers["Location"]
    page = owner_client.get(job_url).get_data(as_text=True)
    assert 'action="/import/' in page  # validated: the "Import now" button
    confirm_token = csrf_from(page)
    before = _counts()

    storage.break_(condition)
    payload = visit_payload("C-1")
    refused = rep_client.post("/api/v1/visits", json=payload, headers={"X-CSRFToken": token})
    assert refused.status_code == 503
    body = refused.get_json()
    assert body["error"].startswith("storage_") and "nothing was saved" in body["message"]
    assert refused.headers["Retry-After"] == "60"

    confirmed = owner_client.post(f"{job_url}/confirm", data={"csrf_token": confirm_token})
    if confirmed.status_code == 302:  # the page could load: the import itself was refused
        job_page = owner_client.get(job_url).get_data(as_text=True)
        assert "nothing was saved" in job_page
        assert 'action="/import/' in job_page  # the checked file can be imported again later
    else:  # the database could not even be read: the confirm page itself says so
        assert confirmed.status_code == 503
        html = confirmed.get_data(as_text=True)
        assert "nothing was saved" in html and "Traceback" not in html

    more = storage.tmp_path / "more.csv"
    more.write_bytes(CUSTOMERS_CSV.replace(b"NEW-1", b"NEW-2"))
    result = app.test_cli_runner().invoke(args=["import", "customers", str(more)])
    assert result.exit_code == 1
    assert "Nothing was imported" in result.output and "Traceback" not in result.output

    storage.repair()
    assert storage.integrity() == "ok"
    assert _counts() == before, "a refused write left something behind"

    # The condition is gone: the same requests go through.
    assert rep_client.post(
        "/api/v1/visits", json=payload, headers={"X-CSRFToken": token}
    ).status_code in (200, 201)
    assert owner_client.post(f"{job_url}/confirm", data={"csrf_token": confirm_token}).status_code
    assert _counts() == (before[0] + 1, before[1] + 1)


def _error(module, name: str, **attributes):
    orig = type(name, (Exception,), {"__module__": module})()
    for key, value in attributes.items():
        setattr(orig, key, value)
    return sa.exc.OperationalError("statement", {}, orig)


@pytest.mark.parametrize(
    ("orig", "problem"),
    [
        (dict(module="sqlite3", name="OperationalError", sqlite_errorcode=13), "full"),
        (dict(module="sqlite3", name="OperationalError", sqlite_errorcode=8), "read_only"),
        (dict(module="sqlite3", name="OperationalError", sqlite_errorcode=1032), "read_only"),
        (dict(module="sqlite3", name="OperationalError", sqlite_errorcode=14), "unavailable"),
        (dict(module="sqlite3", name="OperationalError", sqlite_errorcode=1), None),
        (dict(module="psycopg", name="DiskFull", sqlstate="53100"), "full"),
        (dict(module="psycopg", name="ReadOnlySqlTransaction", sqlstate="25006"), "read_only"),
        (dict(module="psycopg", name="AdminShutdown", sqlstate="57P01"), "unavailable"),
        (dict(module="psycopg", name="OperationalError", sqlstate=None), "unavailable"),
        (dict(module="psycopg", name="UndefinedTable", sqlstate="42P01"), None),
    ],
)
def test_storage_problem_codes(orig, problem):
    attributes = {k: v for k, v in orig.items() if k not in ("module", "name")}
    assert storage_problem(_error(orig["module"], orig["name"], **attributes)) == problem
    assert storage_problem(ValueError("not a database error")) is None


# ---- an interrupted migration --------------------------------------------------------------

FAULT_MIGRATION = '''"""A test migration, killed half way when FIELDLOG_TEST_KILL_MIGRATION is set.

Revision ID: ffff00000001
Revises: {head}
"""
import os
import signal

import sqlalchemy as sa
from alembic import op

revision = "ffff00000001"
down_revision = "{head}"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table("fault_probe", sa.Column("id", sa.Integer, primary_key=True))
    with op.batch_alter_table("purpose") as batch_op:
        batch_op.add_column(sa.Column("fault_note", sa.String(20), nullable=True))
    op.execute("UPDATE purpose SET fault_note = 'half way'")
    if os.environ.get("FIELDLOG_TEST_KILL_MIGRATION"):
        os.kill(os.getpid(), signal.SIGKILL)  # the power goes off mid-migration


def downgrade():
    with op.batch_alter_table("purpose") as batch_op:
        batch_op.drop_column("fault_note")
    op.drop_table("fault_probe")
'''


def _upgrade(url: str, directory: Path, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "flask", "--app", "fieldlog", "db", "upgrade", "-d", str(directory)],
        cwd=ROOT,
        env={**os.environ, "FIELDLOG_DATABASE_URL": url, "FIELDLOG_SECRET_KEY": "x", **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_a_migration_killed_half_way_leaves_a_usable_database_and_reruns(tmp_path):
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    from .test_migrations import _scratch_url

    config = Config(str(ROOT / "migrations" / "alembic.ini"))
    config.set_main_option("script_location", str(ROOT / "migrations"))
    head = ScriptDirectory.from_config(config).get_current_head()
    directory = tmp_path / "migrations"
    shutil.copytree(ROOT / "migrations", directory, ignore=shutil.ignore_patterns("__pycache__"))
    (directory / "versions" / "ffff00000001_fault.py").write_text(FAULT_MIGRATION.format(head=head))

    url, cleanup = _scratch_url(tmp_path)
    engine = sa.create_engine(url)
    try:
        # From an empty database: every real migration, then the fault one, killed half way.
        killed = _upgrade(url, directory, FIELDLOG_TEST_KILL_MIGRATION="1")
        assert killed.returncode == -signal.SIGKILL, killed.stderr

        with engine.connect() as conn:
            assert conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalar() == head
            tables = set(sa.inspect(conn).get_table_names())
            columns = {c["name"] for c in sa.inspect(conn).get_columns("purpose")}
            if conn.dialect.name == "sqlite":
                assert conn.exec_driver_sql("PRAGMA integrity_check").scalar() == "ok"
        assert "fault_probe" not in tables and not any(t.startswith("_alembic_tmp") for t in tables)
        assert "fault_note" not in columns  # the half-done migration left nothing
        assert {"visit", "customer", "user", "purpose"} <= tables

        # Usable at the previous revision: the app logs a visit on it.
        app = create_app({**_config(url), "SQLALCHEMY_DATABASE_URI": url})
        with app.app_context():
            make = Factory()
            rep = make.user("rep")
            make.visit(rep, make.customer(rep=rep))
            db.session.commit()
            assert db.session.scalar(select(func.count()).select_from(Visit)) == 1
            db.session.remove()
            db.engine.dispose()

        # Run again: the upgrade carries on from there and completes.
        again = _upgrade(url, directory)
        assert again.returncode == 0, again.stderr
        with engine.connect() as conn:
            version = conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalar()
            notes = set(conn.exec_driver_sql("SELECT fault_note FROM purpose").scalars())
            visits = conn.exec_driver_sql("SELECT COUNT(*) FROM visit").scalar()
        assert version == "ffff00000001" and notes == {"half way"} and visits == 1
    finally:
        engine.dispose()
        if cleanup:
            admin, name = cleanup
            with admin.connect() as conn:
                conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            admin.dispose()
