"""Engine settings: SQLite pragmas and write transactions that take the lock up front."""

from __future__ import annotations

import fcntl
import logging
import os
import re
import threading
import time
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from sqlalchemy import (
    LABEL_STYLE_TABLENAME_PLUS_COL,
    BigInteger,
    Engine,
    event,
    inspect,
    select,
    text,
)
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session, configure_mappers, make_transient_to_detached, scoped_session
from sqlalchemy.orm.attributes import instance_dict
from sqlalchemy.sql.functions import GenericFunction

SQLITE_BUSY_TIMEOUT_MS = 15000

# Set for requests and commands that will write. On SQLite their transaction starts with
# BEGIN IMMEDIATE: a read-then-write transaction that started deferred fails with
# "database is locked" under concurrent writers whatever the busy timeout (docs/decisions.md).
_write_intent: ContextVar[bool] = ContextVar("fieldlog_write_intent", default=False)
# Set for requests that read before they write (``web.security.reads_first``): on SQLite their
# transaction reads without a BEGIN (each statement sees the last commit and holds no lock)
# until ``begin_writes`` takes the write lock, so reads and writes share one connection, one
# transaction of the session and one commit.
_reads_then_writes: ContextVar[bool] = ContextVar("fieldlog_reads_then_writes", default=False)


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


def set_reads_then_writes(value: bool) -> object:
    """Mark the current context as one that reads before it writes (``begin_writes``)."""
    return _reads_then_writes.set(value)


def reset_reads_then_writes(token: Any) -> None:
    """Undo set_reads_then_writes."""
    _reads_then_writes.reset(token)


def begin_writes(session: Session | scoped_session) -> None:
    """From here on the session's transaction writes: on SQLite, take the write lock now.

    In a reads-then-writes context the reads so far ran without a BEGIN, so this emits BEGIN
    IMMEDIATE on the same connection: the writes that follow (and only they) hold the lock,
    in one short write transaction ended by the caller's commit. A transaction that began
    otherwise (a deferred BEGIN that read: it could not take the lock safely) is ended first
    and a write transaction begun, as ``end_reads`` then ``write_intent`` would. On PostgreSQL
    nothing changes: its writers do not wait for each other's reads.
    """
    if isinstance(session, scoped_session):
        session = session()
    conn = session.connection()
    take = _WRITE_LOCKS.get(conn.engine)
    if take is None or _HOLDS_WRITER in conn.info:
        return
    if conn.connection.dbapi_connection.in_transaction:  # type: ignore[union-attr]
        end_reads(session)
        with write_intent():
            session.connection()  # begins with BEGIN IMMEDIATE
        return
    take(conn)


def end_reads(session: Session | scoped_session) -> None:
    """End a transaction that only read, keeping what it loaded (nothing it wrote can be stale).

    So the next transaction can begin as a write (BEGIN IMMEDIATE on SQLite) and hold the lock
    only for the writes, while the objects already read stay usable without a query each.
    """
    _commit(session, expire=False)


def _commit(session: Session | scoped_session, *, expire: bool = True) -> None:
    """Commit; ``expire=False`` keeps the loaded objects' values instead of expiring them."""
    if isinstance(session, scoped_session):
        session = session()
    if expire:
        session.commit()
        return
    keep = session.expire_on_commit
    session.expire_on_commit = False
    try:
        session.commit()
    finally:
        session.expire_on_commit = keep


# session.info key: how many unit_of_work blocks are open on the session (the test suite's
# write checks look only at what units of work write, not at a test's own set-up rows).
IN_UNIT_OF_WORK = "fieldlog.unit_of_work"


class Work:
    """What a unit of work's block may say: keep its writes (the default) or discard them."""

    def __init__(self) -> None:
        self.kept = True

    def discard(self) -> None:
        """Roll back at the end of the block instead of committing (a dry run, a refused file)."""
        self.kept = False


@contextmanager
def unit_of_work(session: Session | scoped_session, *, last: bool = False) -> Iterator[Work]:
    """The one transaction boundary (docs/architecture.md): services flush, this commits.

    Commits what the block's service calls flushed, or rolls all of it back if the block raises
    or called ``work.discard()``; views (through web/transaction), jobs and commands use it.
    ``last``: the session's objects are only read after the commit, not written (a view that
    builds its answer from them), so the commit does not expire them: ~3 % of a visit post's
    CPU, and the answer is built without a query once the write lock is let go.
    """
    work = Work()
    info = session.info
    depth = info.get(IN_UNIT_OF_WORK, 0)
    info[IN_UNIT_OF_WORK] = depth + 1
    try:
        yield work
        if work.kept:
            _commit(session, expire=not last)
        else:
            session.rollback()
    except BaseException:
        session.rollback()
        raise
    finally:
        info[IN_UNIT_OF_WORK] = depth


@contextmanager
def read_only(session: Session | scoped_session) -> Iterator[None]:
    """A block that only reads, ended with its transaction when the block ends (or raises).

    Rolled back, so nothing it wrote by accident is kept, and the session's next transaction
    begins afresh: a write after it takes its lock when it begins (BEGIN IMMEDIATE on SQLite).
    """
    with unit_of_work(session) as work:
        work.discard()
        yield


@contextmanager
def write_unit(session: Session | scoped_session) -> Iterator[Work]:
    """A unit of work in a transaction of its own that writes: a read the session left open
    ends first (``end_reads``), so on SQLite the write takes its lock when it begins."""
    end_reads(session)
    with write_intent(), unit_of_work(session) as work:
        yield work


def discard(session: Session | scoped_session) -> None:
    """Roll back whatever the session began: after an error, or reads that must not go on."""
    session.rollback()


def as_loaded(session: Session | scoped_session, model: Any, columns: dict[str, Any]) -> Any:
    """The ``model`` row with these column values as a query would give it: the object the
    session holds under its key already, else a clean persistent one added to the session
    (nothing pending, nothing to flush; a column not given loads when first read, as an
    expired one does). For a row whose every value is in hand, without the query or the
    flush (a Core insert's row, a user a process keeps, a Core read's columns).

    The values go into the instance's dict as a load puts them, not through the mapped
    constructor: its events for each attribute cost ~3 µs a column (a visit has 19). Together
    with the attach below, ~5 % of a visit post's CPU (docs/architecture.md).
    """
    mapper = inspect(model)
    if not mapper.configured:  # the constructor would have: the first ORM use of a process
        configure_mappers()
    key = mapper.identity_key_from_primary_key([columns[c.key] for c in mapper.primary_key])
    held = session.identity_map.get(key)
    if held is not None:
        return held
    row = mapper.class_manager.new_instance()
    instance_dict(row).update(columns)
    make_transient_to_detached(row)
    own = session() if isinstance(session, scoped_session) else session
    # Session.add without its save-update cascade: a row built from its columns has nothing
    # related loaded, and walking every relationship to find that was half of add's cost.
    # _update_impl is SQLAlchemy's (2.0, 2.1) step of add for a row with an identity;
    # tests/test_loaded_rows.py checks the object is what add gives. Without it, add.
    attach = getattr(own, "_update_impl", None)
    if attach is None:
        own.add(row)
    else:
        attach(inspect(row))
    return row


class Rows:
    """Several models' rows read by one Core statement, each built by ``as_loaded``.

    ``Rows(A, B).select(*more)`` selects every table column of A, then of B, then ``more``
    (labelled by table, so equal names do not clash); ``rows.load(session, row)`` gives the
    objects (None for a model whose primary key is NULL: an outer join that found nothing),
    then the ``more`` values. The ORM's loading of two or three entities cost ~0.1-0.2 ms more
    a statement than a Core read and ``as_loaded`` (a visit post's customer, every request's
    user).
    """

    def __init__(self, *models: Any) -> None:
        self.models = models
        self.columns = [tuple(m.__table__.c) for m in models]
        self.keys = [
            tuple(inspect(m).get_property_by_column(c).key for c in cols)
            for m, cols in zip(models, self.columns, strict=True)
        ]
        self.ends: list[int] = []
        end = 0
        for cols in self.columns:
            end += len(cols)
            self.ends.append(end)
        self.primary = [
            keys.index(inspect(m).primary_key[0].key)
            for m, keys in zip(models, self.keys, strict=True)
        ]

    def select(self, *more: Any) -> Any:
        return select(*(c for cols in self.columns for c in cols), *more).set_label_style(
            LABEL_STYLE_TABLENAME_PLUS_COL
        )

    def values(self, row: Any) -> list[dict[str, Any] | None]:
        """Each model's column values by attribute key (None where its primary key is NULL)."""
        out: list[dict[str, Any] | None] = []
        start = 0
        for keys, end, primary in zip(self.keys, self.ends, self.primary, strict=True):
            part = row[start:end]
            out.append(None if part[primary] is None else dict(zip(keys, part, strict=True)))
            start = end
        return out

    def load(self, session: Session | scoped_session, row: Any) -> list[Any]:
        objects: list[Any] = [
            None if values is None else as_loaded(session, model, values)
            for model, values in zip(self.models, self.values(row), strict=True)
        ]
        return objects + list(row[self.ends[-1] :])


def ping(session: Session | scoped_session) -> None:
    """Ask the database for nothing; raises when it cannot answer (the health check)."""
    session.execute(text("SELECT 1"))


def configure_engine(engine: Engine) -> None:
    """Attach per-connection settings; called once per engine by the app factory."""
    if engine.dialect.name == "postgresql":

        @event.listens_for(engine, "connect")
        def _postgresql_connect(dbapi_connection: Any, connection_record: Any) -> None:
            # No JIT: the roll-up's estimates (a derived table of periods joined to the events)
            # are high enough to trigger it, and compiling costs 200-300 ms a query where the
            # work takes 30-70 ms (13-week trend, 1M visits). Outside a transaction, so a
            # rollback on return to the pool does not undo it.
            autocommit = dbapi_connection.autocommit
            dbapi_connection.autocommit = True
            dbapi_connection.execute("SET jit = off")
            dbapi_connection.autocommit = autocommit

        return
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

    # Writers queue for the write lock here, in order, instead of in SQLite's busy handler,
    # which sleeps and retries (up to 100 ms a try): under a burst of posts the unlucky writer
    # of 16 threads kept losing and waited seconds. Threads of one process wait on a lock;
    # processes (gunicorn's workers) on an flock of a file beside the database, in turns
    # (_ProcessLock): with 2 sync workers posting visits, the busy handler's sleeps let through ~30
    # posts/s where the work allowed several times that (benchmarks/write_load.py).
    writer = threading.Lock()
    between = _ProcessLock(engine.url.database)
    # The pool record's info of each DBAPI connection holding the lock, by id: the lock is let
    # go once SQLite's COMMIT is done (do_commit below), not at SQLAlchemy's "commit" event,
    # which comes before it: the next writer's BEGIN IMMEDIATE then met the COMMIT still
    # writing, got SQLITE_BUSY, and SQLite's busy handler slept a millisecond or more.
    holders: dict[int, dict[Any, Any]] = {}
    stamp = _AuthStamp(engine.url.database)
    if stamp.path is not None:
        _AUTH_STAMPS[engine] = stamp
    # DBAPI connections (by id) whose open transaction wrote users, sessions or branches: their
    # commit changes the stamp (after the COMMIT, so a reader that sees the new stamp reads
    # the new rows).
    wrote_auth: set[int] = set()

    @event.listens_for(engine, "after_cursor_execute")
    def _after_execute(conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if stamp.path is None or not _WRITES_AUTH.match(statement):
            return
        dbapi_connection = conn.connection.dbapi_connection
        if dbapi_connection.in_transaction:
            wrote_auth.add(id(dbapi_connection))
        else:
            stamp.bump()  # a statement outside a transaction is committed already

    def take(connection: Any) -> None:
        """Queue for the write lock (this process's threads, then the other processes), then
        BEGIN IMMEDIATE."""
        deadline = time.monotonic() + SQLITE_BUSY_TIMEOUT_MS / 1000
        if not writer.acquire(timeout=SQLITE_BUSY_TIMEOUT_MS / 1000):
            raise OperationalError("BEGIN IMMEDIATE", None, _busy())
        if not between.acquire(deadline):
            writer.release()
            raise OperationalError("BEGIN IMMEDIATE", None, _busy())
        connection.info[_HOLDS_WRITER] = (writer, between)
        holders[id(connection.connection.dbapi_connection)] = connection.info
        try:
            connection.exec_driver_sql("BEGIN IMMEDIATE")
        except BaseException:
            _release_writer(connection)
            raise

    _WRITE_LOCKS[engine] = take

    @event.listens_for(engine, "begin")
    def _sqlite_begin(connection: Any) -> None:
        if _write_intent.get():
            take(connection)
        elif not _reads_then_writes.get():
            connection.exec_driver_sql("BEGIN")
        # else: reads in autocommit until begin_writes

    commit = engine.dialect.do_commit  # the dialect is this engine's own

    def do_commit(dbapi_connection: Any) -> None:
        # SQLAlchemy hands the pool's proxy of the DBAPI connection: the keys are the raw one's.
        key = id(getattr(dbapi_connection, "dbapi_connection", dbapi_connection))
        try:
            commit(dbapi_connection)
            if key in wrote_auth:
                wrote_auth.discard(key)
                stamp.bump()
        finally:
            info = holders.pop(key, None)
            if info is not None:
                _release_writer_info(info)

    engine.dialect.do_commit = do_commit  # type: ignore[method-assign]

    @event.listens_for(engine, "rollback")
    def _rollback(connection: Any) -> None:
        # Before the ROLLBACK (it writes nothing); the lock's holder is forgotten with it, so a
        # later DBAPI connection that happens to get the same id is never taken for it.
        holders.pop(id(connection.connection.dbapi_connection), None)
        wrote_auth.discard(id(connection.connection.dbapi_connection))
        _release_writer(connection)

    @event.listens_for(engine, "checkin")
    def _checkin(dbapi_connection: Any, connection_record: Any) -> None:
        # A connection handed back to the pool never keeps the lock (belt and braces).
        _release_writer(connection_record)

    @event.listens_for(engine, "engine_disposed")
    def _disposed(_engine: Any) -> None:
        between.close()
        stamp.close()


# A statement that writes the tables a logged-in request is loaded from (its session, user
# and branch): SQLAlchemy's (ORM flushes, Core) and any other, as the database receives it.
_WRITES_AUTH = re.compile(
    r"\s*(?:INSERT(?:\s+OR\s+\w+)?\s+INTO|REPLACE\s+INTO|UPDATE(?:\s+OR\s+\w+)?|DELETE\s+FROM"
    r'|DROP\s+TABLE|ALTER\s+TABLE)\s+(?:IF\s+EXISTS\s+)?"?(?:user|login_session|branch)"?[\s(]',
    re.IGNORECASE,
)
_AUTH_STAMPS: weakref.WeakKeyDictionary[Engine, _AuthStamp] = weakref.WeakKeyDictionary()


def _beside(database: str | None, suffix: str) -> str | None:
    """The path of a file FieldLog keeps beside a SQLite database file (the write lock's, the
    auth stamp; README, "SQLite notes"); None for an in-memory database, which has no file."""
    return f"{database}{suffix}" if database and database != ":memory:" else None


def auth_stamp(session: Session | scoped_session) -> bytes | None:
    """What a process may keep a logged-in user under: it changes whenever any process
    commits a write of users, login sessions or branches to this SQLite database. None where
    there is no such stamp (PostgreSQL, an in-memory database): load the user every time.

    Read it before reading the rows it covers: a write committed in between then changes it
    again, and what was read is never kept under the newer stamp.
    """
    stamp = _AUTH_STAMPS.get(session.get_bind())  # type: ignore[arg-type]
    if stamp is None:
        return None
    try:
        return stamp.read()
    except OSError:
        return None  # cannot be read here (permissions, a full disk): nothing is kept then


class _AuthStamp:
    """16 bytes in ``<database>.auth``, rewritten at random by every committed write of the
    tables a logged-in request is loaded from; each process reads them (~2 µs) to know whether
    a user it keeps is still what the database holds (services/accounts.load_session).

    A deleted file (someone cleaned up) is noticed (no links left) and opened afresh, and a
    write goes through the path: every process ends up on the same file.
    """

    def __init__(self, database: str | None) -> None:
        self.path = _beside(database, ".auth")
        self.fd: int | None = None
        self.pid = 0

    def _open(self) -> int:
        assert self.path is not None
        if self.fd is None or self.pid != os.getpid() or os.fstat(self.fd).st_nlink == 0:
            if self.fd is not None and self.pid == os.getpid():
                os.close(self.fd)
            self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
            self.pid = os.getpid()
        return self.fd

    def read(self) -> bytes:
        return os.pread(self._open(), 16, 0)  # a file never written: b"", a value like any

    def bump(self) -> None:
        """After the commit it marks: a failure is logged, never raised (the write stands);
        what processes keep then goes stale for at most ``KEPT_SECONDS``."""
        assert self.path is not None
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
            try:
                os.pwrite(fd, os.urandom(16), 0)
            finally:
                os.close(fd)
        except OSError:
            logging.getLogger(__name__).exception("could not change the auth stamp %s", self.path)

    def close(self) -> None:
        if self.fd is not None and self.pid == os.getpid():
            os.close(self.fd)
        self.fd = None


class _ProcessLock:
    """An exclusive flock on ``<database>.writer`` shared by every process writing that file,
    taken in turns: a process queues at a turnstile (``<database>.writer.turn``) first and
    lets it go once it holds the lock.

    Without the turnstile a process whose threads queue for the lock one after the other
    took it again at every release (its next thread was running when the other process was
    asleep between two polls), so the other process's threads all ended up waiting: with
    2 gthread workers the writes ran on one core (the GIL) and the other stood idle
    (benchmarks/write_load.py: 1.2 of 2 cores busy under visit posts). Whoever holds the
    turnstile is next: the releasing process's next thread waits behind it.

    Opened per process (a descriptor inherited across fork would share the lock); no-op for
    an in-memory database.
    """

    # Polls while waiting: from 50 µs, doubling to 250 µs. The lock is held ~1-2 ms a visit
    # post; a longer sleep than this left it free and both processes asleep.
    FIRST_POLL, LAST_POLL = 0.00005, 0.00025

    def __init__(self, database: str | None) -> None:
        self.path = _beside(database, ".writer")
        self.fd: int | None = None
        self.turn: int | None = None
        self.pid = 0

    def acquire(self, deadline: float) -> bool:
        if self.path is None:
            return True
        if self.fd is None or self.pid != os.getpid():
            self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
            self.turn = os.open(self.path + ".turn", os.O_RDWR | os.O_CREAT, 0o600)
            self.pid = os.getpid()
        if not self._take(self.turn, deadline):
            return False
        try:
            return self._take(self.fd, deadline)
        finally:
            fcntl.flock(self.turn, fcntl.LOCK_UN)

    def _take(self, fd: int | None, deadline: float) -> bool:
        delay = self.FIRST_POLL
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # type: ignore[arg-type]
                return True
            except BlockingIOError:
                if time.monotonic() > deadline:
                    return False
                time.sleep(delay)
                delay = min(delay * 2, self.LAST_POLL)

    def release(self) -> None:
        if self.path is not None and self.fd is not None:
            fcntl.flock(self.fd, fcntl.LOCK_UN)

    def close(self) -> None:
        if self.fd is not None and self.pid == os.getpid():
            os.close(self.fd)
            if self.turn is not None:
                os.close(self.turn)
        self.fd = self.turn = None


_HOLDS_WRITER = "fieldlog_writer_lock"
# Per SQLite engine: take its write lock and BEGIN IMMEDIATE on a connection (begin_writes).
_WRITE_LOCKS: weakref.WeakKeyDictionary[Engine, Callable[[Any], None]] = weakref.WeakKeyDictionary()


def _busy() -> Exception:
    """The error SQLite itself gives when its busy timeout runs out (SQLITE_BUSY)."""
    import sqlite3

    error = sqlite3.OperationalError("database is locked")
    error.sqlite_errorcode = 5  # type: ignore[attr-defined]
    error.sqlite_errorname = "SQLITE_BUSY"  # type: ignore[attr-defined]
    return error


def _release_writer(connection: Any, *_args: Any) -> None:
    """End of a write transaction (a rollback, a connection back in the pool): let the next
    writer in."""
    _release_writer_info(connection.info)


def _release_writer_info(info: dict[Any, Any]) -> None:
    locks = info.pop(_HOLDS_WRITER, None)
    if locks is not None:
        writer, between = locks
        between.release()
        writer.release()


# SQLite primary result codes (the low byte of the extended code) and PostgreSQL SQLSTATEs that
# mean the storage refused, not that the request was wrong: the user is told to try again later.
_SQLITE_PROBLEMS = {13: "full", 8: "read_only", 14: "unavailable", 10: "unavailable", 5: "busy"}
_PG_PROBLEMS = {"53100": "full", "25006": "read_only"}


def storage_problem(exc: BaseException) -> str | None:
    """'full', 'read_only', 'unavailable' or 'busy' when a database error means the storage
    cannot take writes (or answer) just now; None for any other error (a bug: a 500)."""
    from sqlalchemy.exc import DBAPIError

    if not isinstance(exc, DBAPIError):
        return None
    orig = exc.orig
    code = getattr(orig, "sqlite_errorcode", None)
    if code is not None:
        return _SQLITE_PROBLEMS.get(code & 0xFF)
    sqlstate = getattr(orig, "sqlstate", None)
    if sqlstate in _PG_PROBLEMS:
        return _PG_PROBLEMS[sqlstate]
    if sqlstate and sqlstate[:2] in {"08", "53", "57"}:
        return "unavailable"  # connection lost, out of resources, server shutting down
    unreachable = sqlstate is None and type(orig).__name__ == "OperationalError"
    if exc.connection_invalidated or unreachable:
        return "unavailable"  # the server could not be reached at all
    return None


class money_sum(GenericFunction[int]):
    """SUM of yen that cannot overflow: on SQLite, SUM of integers past 2**63 raises
    "integer overflow" and breaks every page that totals them, so there it is TOTAL (a float,
    exact below 2**53 yen) cast back to an integer; NULL when nothing is summed, as SUM.
    PostgreSQL's SUM of bigint is numeric and never overflows.
    """

    type = BigInteger()
    name = "money_sum"
    inherit_cache = True


@compiles(money_sum)
def _money_sum_default(element: money_sum, compiler: Any, **kw: Any) -> str:
    return f"SUM({compiler.process(element.clauses, **kw)})"


@compiles(money_sum, "sqlite")
def _money_sum_sqlite(element: money_sum, compiler: Any, **kw: Any) -> str:
    inner = compiler.process(element.clauses, **kw)
    return f"CASE WHEN COUNT({inner}) = 0 THEN NULL ELSE CAST(TOTAL({inner}) AS INTEGER) END"
