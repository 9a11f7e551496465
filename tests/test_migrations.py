"""Migrations: one head, and upgrading an empty database yields the models' schema."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory

from fieldlog.app.extensions import db

from .conftest import PG_URL, _pg_admin_url

ROOT = Path(__file__).resolve().parent.parent


def test_single_head():
    config = Config(str(ROOT / "migrations" / "alembic.ini"))
    config.set_main_option("script_location", str(ROOT / "migrations"))
    assert len(ScriptDirectory.from_config(config).get_heads()) == 1


def _scratch_url(tmp_path):
    if not PG_URL:
        return f"sqlite:///{tmp_path / 'upgrade.db'}", None
    name = f"fieldlog_mig_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(_pg_admin_url(PG_URL), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    return sa.make_url(_pg_admin_url(PG_URL)).set(database=name).render_as_string(False), (
        admin,
        name,
    )


def test_upgrade_on_empty_database_gives_the_models_schema(tmp_path):
    url, cleanup = _scratch_url(tmp_path)
    try:
        env = {**os.environ, "FIELDLOG_DATABASE_URL": url, "FIELDLOG_SECRET_KEY": "x"}
        result = subprocess.run(
            [sys.executable, "-m", "flask", "--app", "fieldlog", "db", "upgrade"],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert result.returncode == 0, result.stderr
        engine = sa.create_engine(url)
        with engine.connect() as conn:
            context = MigrationContext.configure(
                conn, opts={"compare_type": True, "render_as_batch": True}
            )
            diff = compare_metadata(context, db.metadata)
            purposes = conn.exec_driver_sql("SELECT code FROM purpose ORDER BY sort").scalars()
            assert list(purposes) == [
                "hearing",
                "proposal",
                "follow_up",
                "relationship",
                "routine",
                "called",
            ]
            if conn.dialect.name == "sqlite":
                mode = conn.exec_driver_sql("PRAGMA journal_mode").scalar()
                assert mode == "wal"
        engine.dispose()
        assert diff == [], diff
    finally:
        if cleanup:
            admin, name = cleanup
            with admin.connect() as conn:
                conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            admin.dispose()  # its pooled connection would be closed by the garbage collector
            admin.dispose()


def _flask_db(url: str, *args: str) -> None:
    env = {**os.environ, "FIELDLOG_DATABASE_URL": url, "FIELDLOG_SECRET_KEY": "x"}
    result = subprocess.run(
        [sys.executable, "-m", "flask", "--app", "fieldlog", "db", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr


def test_budget_changes_move_into_the_settings_history(tmp_path):
    """sales_budget_change rows reach setting_change once (the ones already there are not
    doubled), then the table is gone."""
    url, cleanup = _scratch_url(tmp_path)
    try:
        _flask_db(url, "upgrade", "37b0071cb108")
        engine = sa.create_engine(url)
        with engine.begin() as conn:
            run = conn.exec_driver_sql
            run(
                "INSERT INTO branch (id, code, name, created_at) "
                "VALUES (1, 'T01', 'Tokyo', '2026-01-01 00:00:00')"
            )
            run(
                'INSERT INTO "user" '
                "(id, email, name, role, branch_id, password_hash, active, created_at) "
                "VALUES (7, 'rep@example.jp', 'Rep', 'rep', 1, 'x', true, '2026-01-01 00:00:00')"
            )
            run(
                "INSERT INTO sales_budget (id, month, branch_id, rep_id, amount, updated_at) "
                "VALUES (1, '2026-11-01', 1, NULL, 250, '2026-11-02 10:00:00'), "
                "(2, '2026-12-01', 1, 7, 90, '2026-11-03 10:00:00')"
            )
            run(
                "INSERT INTO sales_budget_change "
                "(budget_id, old_amount, new_amount, source, changed_by_id, changed_at) VALUES "
                "(1, NULL, 100, 'import', NULL, '2026-11-01 09:00:00'), "
                "(1, 100, 250, 'form', 7, '2026-11-02 10:00:00.5'), "
                "(2, NULL, 90, 'form', 7, '2026-11-03 10:00:00')"
            )
            # The form's change was already kept by the settings history.
            run(
                "INSERT INTO setting_change (kind, key, branch_id, old, new, user_id, changed_at) "
                "VALUES ('budget', '2026-11', 1, '100', '250', 7, '2026-11-02 10:00:00')"
            )
        engine.dispose()
        _flask_db(url, "upgrade")
        engine = sa.create_engine(url)
        with engine.connect() as conn:
            rows = conn.execute(
                sa.text(
                    "SELECT kind, key, branch_id, old, new, user_id FROM setting_change "
                    "ORDER BY changed_at"
                )
            ).all()
            tables = sa.inspect(conn).get_table_names()
        engine.dispose()
        decoded = [(k, key, b, _json(o), _json(n), u) for k, key, b, o, n, u in rows]
        assert decoded == [
            ("budget", "2026-11", 1, None, 100, None),
            ("budget", "2026-11", 1, 100, 250, 7),
            ("budget", "2026-12 rep@example.jp", 1, None, 90, 7),
        ]
        assert "sales_budget_change" not in tables
    finally:
        if cleanup:
            admin, name = cleanup
            with admin.connect() as conn:
                conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            admin.dispose()  # its pooled connection would be closed by the garbage collector


def _json(value):
    import json

    return json.loads(value) if isinstance(value, str) else value
