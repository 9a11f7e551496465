"""What each kind of import file means: how a row is read, checked across rows and written.

``Handler`` is the shape every kind follows (parse a row, check it against the others, write a
batch); the kinds are in ``directory_handlers`` (branches, categories, users, customers),
``sales_handlers`` (sales lines, budgets) and ``visit_history`` (visits), and the importer's
``HANDLERS`` names them.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from flask_babel import lazy_gettext as _l
from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from ..models import Branch, ImportBatch, User
from ..present import limit_messages
from .normalize import CellError, text
from .readers import Where
from .seen import SeenKeys

# Keys per IN (...) lookup.
IN_CHUNK = 1000


class Row:
    """One data row with its header, collecting every cell error."""

    def __init__(self, values: list[Any], where: Where, header: list[Any], columns: dict[str, int]):
        self.values, self.where, self.header, self.columns = values, where, header, columns
        self.errors: list[tuple[str, Any]] = []

    def has(self, name: str) -> bool:
        return name in self.columns

    def raw(self, name: str) -> Any:
        index = self.columns.get(name)
        return self.values[index] if index is not None and index < len(self.values) else None

    def get(self, name: str, parser: Callable[..., Any] = text, required: bool = False) -> Any:
        try:
            value = parser(self.raw(name))
        except CellError as exc:
            self.fail(name, exc.message)
            return None
        if required and value in ("", None):
            self.fail(name, _l("This field is required."))
        return value

    def fail(self, name: str, message: Any) -> None:
        self.errors.append((name, message))


class Handler:
    """What one kind of file means: how a row is read, checked and written."""

    model: Any
    key = "code"

    def __init__(
        self,
        session: Session,
        limit_branch_id: int | None,
        *,
        tz: ZoneInfo | None = None,
        now: datetime | None = None,
    ) -> None:
        self.session = session
        self.limit_branch_id = limit_branch_id
        self.tz, self.now = tz, now  # only visits have times of day
        # Keys of this file with their first line: on disk, so memory stays flat per row.
        self.seen = SeenKeys()
        self.existing: set[str] = set()

    def prepare(self) -> None:
        column = getattr(self.model, self.key)
        self.existing = set(self.session.scalars(select(column)))

    def close(self) -> None:
        """Drop the per-file state (the temporary keys database)."""
        self.seen.close()

    def parse(self, row: Row) -> dict[str, Any]:
        raise NotImplementedError

    def check_lengths(self, record: dict[str, Any], row: Row) -> None:
        """Text longer than its column holds (String(n)): PostgreSQL would refuse the batch."""
        columns = self.model.__table__.columns
        for name, value in record.items():
            if not isinstance(value, str) or name not in columns:
                continue
            most = getattr(columns[name].type, "length", None)
            if most and (message := limit_messages.text_error(value, limit=most)):
                row.fail(name, message)

    def check(self, record: dict[str, Any], row: Row) -> None:
        """Rules across rows: a key appears once per file."""
        key = record[self.key]
        if not key:
            return
        first = self.seen.add(key, row.where.line)
        if first is not None:
            row.fail(self.key, _l("Appears twice in this file (also line %(line)s).", line=first))

    def is_update(self, record: dict[str, Any]) -> bool:
        return record[self.key] in self.existing

    def counts(self, rows: int) -> tuple[int, int]:
        updated = sum(
            1 for chunk in self.seen.chunks(IN_CHUNK) for key in chunk if key in self.existing
        )
        return rows - updated, updated

    def _existing_ids(self, keys: list[str]) -> dict[str, int]:
        column = getattr(self.model, self.key)
        return dict(
            self.session.execute(select(column, self.model.id).where(column.in_(keys))).all()
        )

    def write(self, records: list[dict[str, Any]], batch: ImportBatch) -> None:
        ids = self._existing_ids([r[self.key] for r in records])
        inserts = [self.for_insert(r, batch) for r in records if r[self.key] not in ids]
        updates = [
            {"id": ids[r[self.key]], **self.for_update(r)} for r in records if r[self.key] in ids
        ]
        if inserts:
            self.session.execute(insert(self.model), inserts)
        if updates:
            self.session.execute(update(self.model), updates)

    def finish(self) -> None:
        """After the last write: bring what is derived from the rows written in step."""

    def for_insert(self, record: dict[str, Any], batch: ImportBatch) -> dict[str, Any]:
        return record

    def for_update(self, record: dict[str, Any]) -> dict[str, Any]:
        return record


def branch_ids(session: Session) -> dict[str, int]:
    """Every branch's id by its code (the kinds that name a branch)."""
    return dict(session.execute(select(Branch.code, Branch.id)).all())


def users_by_email(session: Session) -> dict[str, tuple[int, int | None, str]]:
    """Every user's (id, branch id, role) by lower-cased email (the kinds that name a rep)."""
    return {
        email.lower(): (user_id, branch_id, role)
        for email, user_id, branch_id, role in session.execute(
            select(User.email, User.id, User.branch_id, User.role)
        )
    }
