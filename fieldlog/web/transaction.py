"""The web layer's one transaction boundary: services flush, this commits (docs/architecture.md)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from ..app import database
from ..app.extensions import db


@contextmanager
def unit_of_work(*, last: bool = False) -> Iterator[database.Work]:
    """Commit what the block's service calls flushed; roll all of it back if anything raises.

    A view wraps its one service call in this, so a visit, its proposal and its follow-up are
    written together or not at all, and no view commits or rolls back by hand. ``last``: the
    view only reads the block's objects after it (``database.unit_of_work``).
    """
    with database.unit_of_work(db.session, last=last) as work:
        yield work


def discard() -> None:
    """Roll back what this request began: on an error answer, or to end reads before writes."""
    database.discard(db.session)
