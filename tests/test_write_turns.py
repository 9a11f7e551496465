"""SQLite's writers take the write lock in turns across processes (app/database._ProcessLock)."""

from __future__ import annotations

import fcntl
import multiprocessing
import os
import time

from fieldlog.app.database import _ProcessLock


def _held_by_another(path: str) -> bool:
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)  # closing drops a lock taken here
    return False


def _other_process(database: str, log: str) -> None:
    lock = _ProcessLock(database)
    assert lock.acquire(time.monotonic() + 20)
    with open(log, "a") as out:
        out.write("other\n")
    time.sleep(0.2)  # hold it while this process's writer asks again
    lock.release()
    lock.close()


def test_the_process_that_releases_the_write_lock_queues_behind_a_waiting_one(tmp_path):
    """A process that gives the lock up and asks again at once (its next thread, already
    running) waits behind the process that was waiting: without the turnstile it took the
    lock again and again, its threads on one core while the other process's waited."""
    database, log = str(tmp_path / "turns.db"), tmp_path / "turns.log"
    log.touch()
    mine = _ProcessLock(database)
    assert mine.acquire(time.monotonic() + 20)
    other = multiprocessing.get_context("fork").Process(
        target=_other_process, args=(database, str(log))
    )
    other.start()
    try:
        deadline = time.monotonic() + 20
        # The other process is queued once it holds the turnstile (it then waits for the lock).
        while not _held_by_another(database + ".writer.turn"):
            assert time.monotonic() < deadline and other.is_alive()
            time.sleep(0.01)
        mine.release()
        assert mine.acquire(time.monotonic() + 20)
        with log.open("a") as out:
            out.write("mine\n")
        mine.release()
    finally:
        other.join(60)
        mine.close()
    assert other.exitcode == 0
    assert log.read_text().split() == ["other", "mine"]


def test_the_lock_is_taken_at_once_when_nobody_waits(tmp_path):
    lock = _ProcessLock(str(tmp_path / "alone.db"))
    for _ in range(3):
        assert lock.acquire(time.monotonic())  # a deadline already passed: no wait needed
        lock.release()
    lock.close()
    assert not _held_by_another(str(tmp_path / "alone.db.writer"))


def test_the_write_lock_is_held_until_sqlites_commit_is_done(tmp_path):
    """The next writer gets the lock once the COMMIT has been written, not before: a writer let
    in during the COMMIT met SQLITE_BUSY and slept in SQLite's busy handler."""
    import sqlite3

    from sqlalchemy import create_engine

    from fieldlog.app.database import configure_engine, write_intent

    database = str(tmp_path / "commit.db")
    held_at_commit: list[bool] = []

    class Watched(sqlite3.Connection):
        def commit(self) -> None:
            if self.in_transaction:
                held_at_commit.append(_held_by_another(database + ".writer"))
            super().commit()

    engine = create_engine(f"sqlite:///{database}", connect_args={"factory": Watched})
    configure_engine(engine)
    for statement in ("CREATE TABLE t (x INTEGER)", "INSERT INTO t VALUES (1)"):
        with engine.connect() as conn:
            with write_intent():
                conn.exec_driver_sql(statement)
            conn.commit()
            # Let go right after the COMMIT, while the connection is still out of the pool
            # (a request's goes back when its session ends, after the answer is built).
            assert not _held_by_another(database + ".writer")
    assert held_at_commit == [True, True]
    engine.dispose()
