"""What the benchmarks share: their databases, made once per size and reused, and the app.

A helper, not a benchmark: the scripts import it (they put benchmarks/ on sys.path).
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from fieldlog import create_app

PG_ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def database(kind: str, sqlite_name: str, pg_name: str, fresh: bool) -> tuple[str, bool]:
    """A benchmark database's URL, and whether it already holds its data set (kept unless
    ``fresh``); otherwise it is empty: the SQLite file removed, the PostgreSQL one recreated."""
    if kind == "sqlite":
        path = Path(tempfile.gettempdir()) / sqlite_name
        reuse = not fresh and path.exists()
        if not reuse:
            path.unlink(missing_ok=True)
        return f"sqlite:///{path}", reuse
    admin = sa.create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        exists = conn.exec_driver_sql(
            "SELECT 1 FROM pg_database WHERE datname = %s", (pg_name,)
        ).first()
        reuse = not fresh and exists is not None
        if not reuse:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{pg_name}" WITH (FORCE)')
            conn.exec_driver_sql(f'CREATE DATABASE "{pg_name}"')
    admin.dispose()
    return sa.make_url(PG_ADMIN).set(database=pg_name).render_as_string(False), reuse


def bench_app(url: str, **config: Any) -> Any:
    """The app over a benchmark database: no scheduler, a fixed secret, and ``config``."""
    return create_app(
        {
            "SQLALCHEMY_DATABASE_URI": url,
            "SECRET_KEY": "bench",
            "FIELDLOG_SCHEDULER": False,
            **config,
        }
    )
