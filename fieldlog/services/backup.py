"""Consistent backups while the app runs: SQLite's online backup API, pg_dump for PostgreSQL."""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
from pathlib import Path

from sqlalchemy.engine import URL, make_url


class BackupError(Exception):
    """The backup could not be written; the message says why and what to do."""


def sqlite_path(url: URL) -> Path:
    if not url.database or url.database == ":memory:":
        raise BackupError("an in-memory SQLite database cannot be backed up")
    return Path(url.database)


def backup(database_url: str, target: Path) -> Path:
    """Write a consistent copy of the database to ``target`` and return it."""
    url = make_url(database_url)
    target = Path(target)
    try:
        if url.get_backend_name() == "sqlite":
            return _backup_sqlite(sqlite_path(url), target)
        if url.get_backend_name() == "postgresql":
            return _backup_postgresql(url, target)
    except OSError as exc:
        raise BackupError(f"cannot write {target}: {exc.strerror or exc}") from exc
    raise BackupError(f"no backup method for {url.get_backend_name()}")


def sqlite_files(database: Path) -> set[Path]:
    """A SQLite database's own files: the database, its WAL, shared memory and journal."""
    main = Path(database).resolve()
    return {main.with_name(main.name + suffix) for suffix in ("", "-wal", "-shm", "-journal")}


def _backup_sqlite(source: Path, target: Path) -> Path:
    if not source.exists():
        raise BackupError(f"database file {source} does not exist")
    if target.resolve() in sqlite_files(source):
        raise BackupError(f"{target} is the database itself; write the backup to another file")
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".partial")
    partial.unlink(missing_ok=True)
    src = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
    dst = sqlite3.connect(partial)
    try:
        # Pages are copied in steps so writers are not blocked for the whole copy.
        src.backup(dst, pages=1024)
        dst.execute("PRAGMA journal_mode=DELETE")
        check = dst.execute("PRAGMA integrity_check").fetchone()[0]
    except sqlite3.Error as exc:
        partial.unlink(missing_ok=True)
        raise BackupError(f"backup failed: {exc}") from exc
    finally:
        dst.close()
        src.close()
    if check != "ok":
        partial.unlink(missing_ok=True)
        raise BackupError(f"the copy failed its integrity check: {check}")
    partial.replace(target)
    return target


def _backup_postgresql(url: URL, target: Path) -> Path:
    pg_dump = shutil.which("pg_dump")
    if pg_dump is None:
        raise BackupError(
            "pg_dump is not installed; install postgresql-client and run "
            "`pg_dump --format=custom --file FILE DATABASE_URL`"
        )
    plain = url.set(drivername="postgresql").render_as_string(hide_password=False)
    # As for SQLite: dump beside the target and put it in place only once pg_dump succeeded,
    # so a failed run never replaces the previous backup with a truncated file.
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".partial")
    result = subprocess.run(  # noqa: S603 (fixed program, URL from configuration)
        [pg_dump, "--format=custom", "--file", str(partial), plain],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        partial.unlink(missing_ok=True)
        raise BackupError(f"pg_dump failed: {result.stderr.strip()}")
    partial.replace(target)
    return target
