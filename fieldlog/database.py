"""Engine settings: SQLite pragmas and write transactions that take the lock up front."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from sqlalchemy import Engine, event

SQLITE_BUSY_TIMEOUT_MS = 15000

# Set for requests and commands that will write. On SQLite their transaction starts with
# BEGIN IMMEDIATE: a read-then-write transaction that started deferred fails with
# "database is locked" under concurrent writers whatever the busy timeout (DESIGN §7).
_write_intent: ContextVar[bool] = ContextVar("fieldlog_write_intent", default=False)


def set_write_intent(value: bool) -> object:
    """Mark the current context as one that writes; returns a token for reset_write_intent."""
    return _write_intent.set(value)


def reset_write_intent(token: Any) -> None:
    """Undo set_write_intent."""
    _write_intent.reset(token)


@contextmanager
def write_intent() -> Iterator[None]:
    """Transactions begun inside this block take SQLite's write lock when they begin."""
    token = _write_intent.set(True)
    try:
        yield
    finally:
        _write_intent.reset(token)


def configure_engine(engine: Engine) -> None:
    """Attach per-connection settings; called once per engine by the app factory."""
    if engine.dialect.name != "sqlite":
        return

    @event.listens_for(engine, "connect")
    def _sqlite_connect(dbapi_connection: Any, connection_record: Any) -> None:
        # Take transaction control away from pysqlite so BEGIN is ours to emit.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _sqlite_begin(connection: Any) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE" if _write_intent.get() else "BEGIN")
