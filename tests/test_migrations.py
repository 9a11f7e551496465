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
            admin.dispose()
