"""Stored runs of days (``DormancyRun``, ``DeepeningRun``): read the few around a window, splice.

A summary stores, per customer, sorted disjoint spans of days ("runs"), merged when adjacent and
equal (the same ``grew`` for deepening). When an event changes a summary only on the days
``lo``..``hi`` (a visit keeps its customer for the next 60 days, a sales line counts for two
years), the runs outside that window stand: ``splice`` reads the runs touching ``lo − 1``..``hi
+ 1`` (an index range on the primary key, whatever the length of the customer's history),
replaces what lies inside the window with the fresh runs and writes back only what changed.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

from sqlalchemy import Connection, Date, bindparam, delete, func, insert, select, update

from ..models import DeepeningRun, DormancyRun

# (first day, last day, value): the value is None for dormancy and ``grew`` for deepening.
Run = tuple[date, date, Any]
Model = type[DormancyRun] | type[DeepeningRun]

_DAY = timedelta(days=1)


def before(day: date) -> date:
    """The day before (date.min stays itself)."""
    return day - _DAY if day > date.min else day


def after(day: date) -> date:
    """The day after (date.max stays itself)."""
    return day + _DAY if day < date.max else day


def clip(runs: list[Run], lo: date, hi: date) -> list[Run]:
    """The parts of ``runs`` on the days ``lo``..``hi``."""
    return [(max(a, lo), min(b, hi), v) for a, b, v in runs if a <= hi and b >= lo]


def merge(runs: list[Run]) -> list[Run]:
    """Sorted runs with overlapping or adjacent ones of equal value joined."""
    out: list[Run] = []
    for a, b, v in sorted(runs, key=lambda r: r[0]):
        if out and out[-1][2] == v and a <= after(out[-1][1]):
            out[-1] = (out[-1][0], max(out[-1][1], b), v)
        else:
            out.append((a, b, v))
    return out


def _value_column(model: Model) -> Any:
    return getattr(model, "grew", None)


def stored_select(model: Model) -> Any:
    """The statement of ``stored``, unordered: for a caller that reads it with others in one
    statement (a UNION ALL member) and gives the rows to ``runs_from``. Binds customer_id,
    lo1 (``before(lo)``) and hi1 (``after(hi)``)."""
    customer_id = bindparam("customer_id")
    lo1, hi1 = bindparam("lo1", type_=Date), bindparam("hi1", type_=Date)
    # Runs are disjoint and sorted: of those starting before lo − 1 only the last can reach it.
    latest_before = (
        select(func.max(model.starts_on))
        .where(model.customer_id == customer_id, model.starts_on < lo1)
        .scalar_subquery()
    )
    value = _value_column(model)
    columns = [model.starts_on, model.ends_on] + ([value] if value is not None else [])
    return select(*columns).where(
        model.customer_id == customer_id,
        model.starts_on <= hi1,
        model.starts_on >= func.coalesce(latest_before, lo1),
    )


_STORED = {model: stored_select(model) for model in (DormancyRun, DeepeningRun)}
# A run's new end (and value), by its key; built once: a visit post runs it.
_UPDATE = {
    model: update(model).where(
        model.customer_id == bindparam("c"), model.starts_on == bindparam("s", type_=Date)
    )
    for model in (DormancyRun, DeepeningRun)
}


def stored(conn: Connection, model: Model, customer_id: int, lo: date, hi: date) -> list[Run]:
    """The customer's stored runs that touch ``lo − 1``..``hi + 1`` (reads only those)."""
    params = {"customer_id": customer_id, "lo1": before(lo), "hi1": after(hi)}
    return runs_from(conn.execute(_STORED[model], params), model, lo)


def runs_from(rows: Any, model: Model, lo: date) -> list[Run]:
    """``stored``'s runs from the rows of ``stored_select`` (first day, last day[, value])."""
    value = _value_column(model)
    runs = [(row[0], row[1], bool(row[2]) if value is not None else None) for row in rows]
    return sorted(run for run in runs if run[1] >= before(lo))


def splice(
    conn: Connection,
    model: Model,
    customer_id: int,
    lo: date,
    hi: date,
    fresh: Callable[[list[Run]], list[Run]],
    *,
    old: list[Run] | None = None,
) -> None:
    """Replace the customer's runs on ``lo``..``hi`` by ``fresh(current runs there)``.

    ``fresh`` must give the exact runs on those days (anything outside them is cut off); the
    runs outside the window are kept and joined to the new ones where they meet. ``old``: the
    ``stored`` runs when the caller read them already, in the same transaction.
    """
    if old is None:
        old = stored(conn, model, customer_id, lo, hi)
    outside = [(a, min(b, before(lo)), v) for a, b, v in old if a < lo]
    outside += [(max(a, after(hi)), b, v) for a, b, v in old if b > hi]
    new = merge(outside + clip(fresh(clip(old, lo, hi)), lo, hi))
    if new == old:
        return
    # Only the rows that changed: a run that grows (a visit extends its customer's run, the
    # usual case) is one UPDATE, where deleting and inserting it back were two statements.
    was = {a: (b, v) for a, b, v in old}
    now = {a: (b, v) for a, b, v in new}
    gone = [a for a in was if a not in now]
    moved = [(a, b, v) for a, (b, v) in now.items() if a in was and was[a] != (b, v)]
    added = [(a, b, v) for a, (b, v) in now.items() if a not in was]
    value = _value_column(model)
    if gone:
        conn.execute(
            delete(model).where(model.customer_id == customer_id, model.starts_on.in_(gone))
        )
    if moved:
        conn.execute(
            _UPDATE[model],
            [
                {"c": customer_id, "s": a, "ends_on": b}
                | ({"grew": v} if value is not None else {})
                for a, b, v in moved
            ],
        )
    if added:
        conn.execute(
            insert(model),
            [
                {"customer_id": customer_id, "starts_on": a, "ends_on": b}
                | ({"grew": v} if value is not None else {})
                for a, b, v in added
            ],
        )
