"""flask backup: a consistent copy that restores to the same data."""

from __future__ import annotations

import re
import shutil
import subprocess
import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa

from fieldlog.app.extensions import db
from fieldlog.models import Visit

from .conftest import PG_URL, _pg_admin_url


def test_backup_and_restore(app, runner, make, tmp_path):
    rep = make.user("rep")
    customer = make.customer(rep=rep)
    make.visit(rep, customer, note="バックアップ対象")
    db.session.commit()
    target = tmp_path / "nightly" / "backup.db"  # a folder that does not exist yet
    if PG_URL and shutil.which("pg_dump") is None:
        result = runner.invoke(args=["backup", str(target)])
        assert result.exit_code == 1 and "pg_dump" in result.output
        return

    result = runner.invoke(args=["backup", str(target)])
    assert result.exit_code == 0, result.output
    assert target.exists() and target.stat().st_size > 0

    if PG_URL:
        assert restore_pg_as_readme_says(target) == ["バックアップ対象"]
        return

    # Restore: the copy is a complete database holding the visit.
    restored = sa.create_engine(f"sqlite:///{target}")
    with restored.connect() as conn:
        notes = conn.execute(sa.select(Visit.note)).scalars().all()
        assert notes == ["バックアップ対象"]
        assert conn.exec_driver_sql("PRAGMA integrity_check").scalar() == "ok"
    restored.dispose()


def test_backup_to_unwritable_place_fails_clearly(runner, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    result = runner.invoke(args=["backup", str(blocker / "backup.db")])
    assert result.exit_code == 1
    assert "Error" in result.output and "Traceback" not in result.output


def restore_pg_as_readme_says(dump: Path) -> list[str]:
    """Run README's restore line into a new, empty database; the visit notes it then holds."""
    readme = (Path(__file__).parents[1] / "README.md").read_text(encoding="utf-8")
    command = re.search(r"restore with `(pg_restore [^`]*)`", readme).group(1).split()
    admin = sa.create_engine(_pg_admin_url(PG_URL), isolation_level="AUTOCOMMIT")
    name = f"fieldlog_restore_{uuid.uuid4().hex[:10]}"
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    url = sa.make_url(_pg_admin_url(PG_URL)).set(database=name)
    try:
        plain = url.set(drivername="postgresql").render_as_string(False)
        args = [plain if a == "DATABASE" else str(dump) if a == "FILE" else a for a in command]
        done = subprocess.run(args, capture_output=True, text=True)
        assert done.returncode == 0, done.stderr[-2000:]
        restored = sa.create_engine(url.render_as_string(False))
        with restored.connect() as conn:
            notes = conn.execute(sa.select(Visit.note)).scalars().all()
        restored.dispose()
        return notes
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


def test_a_failed_postgresql_dump_leaves_the_previous_backup_alone(tmp_path):
    """pg_dump writes as it goes: a dump that fails must not replace last night's file."""
    from fieldlog.services.backup import BackupError, backup

    target = tmp_path / "fieldlog.dump"
    target.write_bytes(b"last night's good dump")
    unreachable = "postgresql+psycopg://postgres@127.0.0.1:1/fieldlog"
    with pytest.raises(BackupError):
        backup(unreachable, target)
    assert target.read_bytes() == b"last night's good dump"
    assert [p.name for p in tmp_path.iterdir()] == ["fieldlog.dump"]
