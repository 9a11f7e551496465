"""flask backup: a consistent copy that restores to the same data."""

from __future__ import annotations

import shutil
import subprocess

import sqlalchemy as sa

from fieldlog.extensions import db
from fieldlog.models import Visit

from .conftest import PG_URL


def test_backup_and_restore(app, runner, make, tmp_path):
    rep = make.user("rep")
    customer = make.customer(rep=rep)
    make.visit(rep, customer, note="バックアップ対象")
    db.session.commit()
    target = tmp_path / "backup.db"
    if PG_URL and shutil.which("pg_dump") is None:
        result = runner.invoke(args=["backup", str(target)])
        assert result.exit_code == 1 and "pg_dump" in result.output
        return

    result = runner.invoke(args=["backup", str(target)])
    assert result.exit_code == 0, result.output
    assert target.exists() and target.stat().st_size > 0

    if PG_URL:
        listing = subprocess.run(["pg_restore", "--list", str(target)], capture_output=True)
        assert b"TABLE DATA public visit" in listing.stdout
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
