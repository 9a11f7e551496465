"""The test suite's check that every ORM write of visits or sales lines told its summary step.

Every writer says what it writes (``fieldlog.kpi.dormancy.visit_added``, ``visits_changed``,
``fieldlog.kpi.deepening.sales_lines_changed``, ``sales_changed``), and each of those steps calls
``told``: that is the mechanism, and nothing runs behind a writer's back. ``check_writes``,
installed by the test suite only (``FIELDLOG_WRITE_CHECKS``), finds at commit a flush that wrote
visits or sales lines (inserted, deleted, or moved in time, customer or category) that no step
then claimed, and ``UntoldWriteWarning`` names their customers (the tests turn warnings into
errors): a writer added later that forgot its step fails its tests. In production such a write
would leave the summaries stale until ``flask kpi rebuild-summary``, which ``--check`` reports.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Iterable, Iterator
from typing import Any

from sqlalchemy import event, inspect
from sqlalchemy.orm import Session

from ..models import SalesLine, Visit

log = logging.getLogger(__name__)
_UNTOLD = "fieldlog.kpi.untold"
# The columns that decide the runs: any other change (a note, an amount) leaves them standing.
_DECIDING = {
    Visit: ("visited_at", "customer_id", "customer"),
    SalesLine: ("sold_on", "category_id", "category", "customer_id", "customer"),
}


class UntoldWriteWarning(RuntimeWarning):
    """Visits or sales lines were written without telling the summaries."""


def told(
    session: Session, model: type[Visit] | type[SalesLine], customer_ids: Iterable[int]
) -> None:
    """A write step kept these customers' summaries in step for its rows of ``model``."""
    pending = session.info.get(_UNTOLD)
    if pending:
        pending[model].difference_update(customer_ids)


def _customers_of(row: SalesLine | Visit) -> Iterator[Any]:
    """The customer a line or visit belongs to now and, if it was moved, the one it had."""
    state = inspect(row)
    yield state.dict.get("customer_id")
    yield getattr(state.dict.get("customer"), "id", None)
    yield from state.attrs.customer_id.history.deleted or ()
    for old in state.attrs.customer.history.deleted or ():
        yield getattr(old, "id", None)


def _changed(row: SalesLine | Visit) -> bool:
    attrs = inspect(row).attrs
    return any(attrs[name].history.has_changes() for name in _DECIDING[type(row)])


def _after_flush(session: Session, _context: Any) -> None:
    rows = [r for r in (*session.new, *session.deleted) if type(r) in _DECIDING]
    rows += [r for r in session.dirty if type(r) in _DECIDING and _changed(r)]
    if rows:
        pending = session.info.setdefault(_UNTOLD, {Visit: set(), SalesLine: set()})
        for row in rows:
            pending[type(row)].update(c for c in _customers_of(row) if c is not None)


def _before_commit(session: Session) -> None:
    if session.in_nested_transaction():
        return  # a savepoint's release: the steps come after it, before the real commit
    pending = session.info.pop(_UNTOLD, None)
    if not pending or not (pending[Visit] or pending[SalesLine]):
        return
    message = (
        f"visits of customers {sorted(pending[Visit])} or sales lines of "
        f"{sorted(pending[SalesLine])} were written without telling the KPI summaries "
        "(fieldlog.kpi.untold): their summaries are stale"
    )
    log.warning(message)
    warnings.warn(message, UntoldWriteWarning, stacklevel=2)


def _forget(session: Session, *_args: Any) -> None:
    session.info.pop(_UNTOLD, None)


def check_writes() -> None:
    """Report, at commit, ORM writes of visits or sales lines no step was told of (tests)."""
    hooks = (("after_flush", _after_flush), ("before_commit", _before_commit))
    hooks += (("after_rollback", _forget),)
    for name, fn in hooks:
        if not event.contains(Session, name, fn):
            event.listen(Session, name, fn)
