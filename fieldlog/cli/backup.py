"""flask backup FILE"""

from __future__ import annotations

from pathlib import Path

import click
from flask import current_app

from ..services.backup import BackupError, backup


@click.command("backup")
@click.argument("target", type=click.Path(dir_okay=False, path_type=Path))
def command(target: Path) -> None:
    """Write a consistent backup of the database to TARGET (safe while the app runs).

    SQLite: a copy made with SQLite's online backup API; restore by stopping the app, deleting
    the database's -wal and -shm files, and putting the file in place of the database.
    PostgreSQL: pg_dump's custom format; restore with pg_restore --clean --if-exists.
    """
    try:
        written = backup(current_app.config["SQLALCHEMY_DATABASE_URI"], target)
    except BackupError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"backup written to {written} ({written.stat().st_size:,} bytes)")
