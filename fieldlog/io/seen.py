"""Keys already seen in one import file, kept on disk so memory does not grow with the rows.

A million distinct slip numbers in a Python set cost ~90 MB; here they live in a private
temporary SQLite database (stdlib sqlite3; the empty filename makes SQLite create an on-disk
file that it deletes when the connection closes). Its page cache is bounded (a few MB), the rest
spills to the temporary file.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator

# Pages of the private database kept in memory (negative: KiB), whatever the number of keys.
CACHE_KIB = 4096


class SeenKeys:
    """Each key with the line it first appeared on; one instance per import, then close()."""

    def __init__(self) -> None:
        self._db: sqlite3.Connection | None = sqlite3.connect("", isolation_level=None)
        for pragma in (
            f"cache_size = -{CACHE_KIB}",
            "journal_mode = OFF",  # a scratch table: nothing to roll back or recover
            "synchronous = OFF",
            "temp_store = FILE",
        ):
            self._db.execute(f"PRAGMA {pragma}")
        self._db.execute("CREATE TABLE seen (key TEXT PRIMARY KEY, line INTEGER) WITHOUT ROWID")
        self._db.execute("BEGIN")  # one transaction, never committed: dropped with the file

    @property
    def db(self) -> sqlite3.Connection:
        if self._db is None:
            raise RuntimeError("SeenKeys used after close()")
        return self._db

    def add(self, key: str, line: int) -> int | None:
        """Record key at line; if it was already seen, the line it first appeared on."""
        if self.db.execute("INSERT OR IGNORE INTO seen VALUES (?, ?)", (key, line)).rowcount:
            return None
        return self.db.execute("SELECT line FROM seen WHERE key = ?", (key,)).fetchone()[0]

    def chunks(self, size: int) -> Iterator[list[str]]:
        """Every key seen, in lists of at most size (for IN (...) lookups)."""
        cursor = self.db.execute("SELECT key FROM seen")
        while rows := cursor.fetchmany(size):
            yield [key for (key,) in rows]

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None
