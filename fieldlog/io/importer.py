"""Import of branches, categories, users, customers, sales, budgets and visits: all or nothing.

Two passes over the file. The first reads and validates every row, keeping only small state
(known codes; the keys already seen go to a temporary on-disk table, see seen.py, so memory does
not grow with the rows) and collecting every bad row; nothing is written unless every row is
valid. The second reads the file again and writes in batches. Rows are matched by code
(users by email, case-insensitively; sales lines and visits by ref) and updated, never duplicated.
Services flush; the caller commits.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import closing
from dataclasses import dataclass, field
from datetime import datetime
from itertools import chain, islice
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import Session

from ..models import ImportBatch, User
from . import columns as cols
from .directory_handlers import BranchHandler, CategoryHandler, CustomerHandler, UserHandler
from .handlers import Handler, Row
from .readers import Progress, UnreadableFile, Where, iter_rows, sha256
from .sales_handlers import BudgetHandler, SalesHandler
from .visit_history import VisitHandler

__all__ = ["HANDLERS", "KINDS", "ImportResult", "RowError", "SalesHandler", "import_file"]

KINDS = ("branches", "categories", "users", "customers", "sales", "budgets", "visits")
HANDLERS: dict[str, type[Handler]] = {
    "branches": BranchHandler,
    "categories": CategoryHandler,
    "users": UserHandler,
    "customers": CustomerHandler,
    "sales": SalesHandler,
    "budgets": BudgetHandler,
    "visits": VisitHandler,
}
# Files whose rows without a ref would be counted twice: the same file again is refused.
ONCE_ONLY = {
    "sales": _l("This sales file was already imported; refused so sales are not counted twice."),
    "visits": _l("This visit file was already imported; refused so visits are not counted twice."),
}
BATCH = 1000
# Every bad row is checked; the report lists this many and counts the rest (bounded memory).
MAX_REPORTED = 10_000


@dataclass
class RowError:
    where: Where
    column: str
    message: Any

    def __str__(self) -> str:
        column = f" [{self.column}]" if self.column else ""
        return f"{self.where.label()}{column}: {self.message}"


@dataclass(frozen=True)
class ErrorGroup:
    """One kind of problem in an import report: a column and a message, on how many rows."""

    column: str
    message: str
    count: int
    first: tuple[str, ...]  # where the first few are ("Line 2", "Sheet1, row 5", …)


def group_errors(errors: Iterable[tuple[str, str, str]], shown: int = 5) -> list[ErrorGroup]:
    """The listed problems grouped by (column, message), most frequent first.

    A file wrong in one systematic way (a date format, an unknown branch code) lists the same
    problem on thousands of rows; the groups say it once, with the count and where it starts.
    """
    counts: dict[tuple[str, str], list[str]] = {}
    for where, column, message in errors:
        counts.setdefault((column, message), []).append(where)
    groups = [
        ErrorGroup(column, message, len(wheres), tuple(wheres[:shown]))
        for (column, message), wheres in counts.items()
    ]
    return sorted(groups, key=lambda g: -g.count)


@dataclass
class ImportResult:
    kind: str
    filename: str
    dry_run: bool
    rows: int = 0
    created: int = 0
    updated: int = 0
    errors: list[RowError] = field(default_factory=list)
    error_count: int = 0
    written: bool = False

    @property
    def ok(self) -> bool:
        return self.error_count == 0


# A sheet kept in Excel often has a title or a note above its header row.
HEADER_SEARCH_ROWS = 10


def _rows(
    path: Path, kind: str, progress: Progress | None
) -> tuple[list[Any], dict[str, int], list[str], Iterator[tuple[Where, list[Any]]]]:
    """The header, its mapping, the required columns it lacks, and the rows after it.

    The header is the first of the first non-blank rows that names every required column (the
    rows above it, a title or a note, are skipped); without one, the first row, whose missing
    columns are reported.
    """
    rows = iter_rows(path, progress)
    leading = list(islice(rows, HEADER_SEARCH_ROWS))
    if not leading:
        return [], {}, list(cols.REQUIRED[kind]), rows
    for index, (_where, cells) in enumerate(leading):
        mapping, missing = cols.map_header(kind, cells)
        if not missing:
            return cells, mapping, missing, chain(leading[index + 1 :], rows)
    mapping, missing = cols.map_header(kind, leading[0][1])
    return leading[0][1], mapping, missing, chain(leading[1:], rows)


def _scaled(progress: Progress | None, start: float, span: float) -> Progress | None:
    if progress is None:
        return None
    return lambda fraction: progress(start + span * fraction)


def _batched(items: Iterable[dict[str, Any]], size: int) -> Iterator[list[dict[str, Any]]]:
    chunk: list[dict[str, Any]] = []
    for item in items:
        chunk.append(item)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def import_file(
    session: Session,
    kind: str,
    path: str | Path,
    *,
    filename: str | None = None,
    dry_run: bool = False,
    user: User | None = None,
    limit_branch_id: int | None = None,
    progress: Progress | None = None,
    tz: ZoneInfo | None = None,
    now: datetime | None = None,
) -> ImportResult:
    """Validate a whole file, then (unless dry_run or any row is bad) write it; flushes only.

    limit_branch_id restricts a customers or visits file to one branch (a manager's upload).
    tz (the company's) and now (the clock) are needed for visits: their dates and times.
    """
    if kind not in HANDLERS:
        raise ValueError(f"unknown import kind {kind!r}")
    path = Path(path)
    result = ImportResult(kind=kind, filename=filename or path.name, dry_run=dry_run)
    # closing(): the handler's temporary keys database goes away whatever happens.
    with closing(HANDLERS[kind](session, limit_branch_id, tz=tz, now=now)) as handler:

        def refuse(message: Any, column: str = "", line: int = 1) -> ImportResult:
            result.errors.append(RowError(Where(line), column, message))
            result.error_count += 1
            return result

        digest = sha256(path)
        if kind in ONCE_ONLY and session.scalar(
            select(ImportBatch.id).where(ImportBatch.kind == kind, ImportBatch.sha256 == digest)
        ):
            return refuse(ONCE_ONLY[kind])
        handler.prepare()
        first_span = 1.0 if dry_run else 0.5
        try:
            header, mapping, missing, rows = _rows(path, kind, _scaled(progress, 0, first_span))
            if not header:
                return refuse(_l("The file is empty."))
            if missing:
                return refuse(
                    _l("Required columns are missing: %(columns)s.", columns=", ".join(missing)),
                    ", ".join(missing),
                )
            for where, values in rows:
                result.rows += 1
                row = Row(values, where, header, mapping)
                record = handler.parse(row)
                handler.check_lengths(record, row)
                handler.check(record, row)
                for name, message in row.errors:
                    result.error_count += 1
                    if len(result.errors) < MAX_REPORTED:
                        label = cols.column_label(kind, name, header, mapping)
                        result.errors.append(RowError(where, label, message))
        except UnreadableFile as exc:
            return refuse(exc.message, line=exc.line)
        if result.rows == 0 and not result.errors:
            return refuse(_l("The file has no data rows."))
        if not result.ok:
            return result
        result.created, result.updated = handler.counts(result.rows)
        handler.close()  # the write pass does not need the keys seen
        if dry_run:
            return result
        batch = ImportBatch(
            kind=kind,
            sha256=digest,
            filename=result.filename[:300],
            row_count=result.rows,
            user_id=user.id if user is not None else None,
        )
        session.add(batch)
        session.flush()
        header, mapping, _missing, rows = _rows(path, kind, _scaled(progress, 0.5, 0.5))
        records = (handler.parse(Row(values, where, header, mapping)) for where, values in rows)
        for chunk in _batched(records, BATCH):
            handler.write(chunk, batch)
        session.flush()
        handler.finish()
        # Bulk statements bypass the identity map: drop any stale copies the session holds.
        session.expire_all()
        result.written = True
        return result
