"""Export of visits, proposals, follow-ups, customers and sales lines to CSV or XLSX.

Rows come through the access scopes, so a user exports only what they may see (the CLI passes
EVERYTHING, as the owner); an optional range of days narrows them further, by each kind's own
date (DATED, docs/contract.md), and never widens them. CSV is UTF-8 with a BOM (Excel opens
it) or cp932 with characters outside it replaced by 〓; XLSX cells are typed. Text that a
spreadsheet would run as a formula is neutralised with a leading apostrophe in CSV, and kept
exact as a typed string cell in XLSX (which Excel never runs); real numbers stay numbers. Text
is cleaned of control characters on the way out too (limits.clean_text), so rows stored before
the rule still export.
"""

from __future__ import annotations

import codecs
import csv
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Select, select
from sqlalchemy.orm import Session, aliased

from ..models import Branch, Category, Customer, FollowUp, Proposal, Purpose, SalesLine, User, Visit
from ..rules.entry import days_later, entry_time
from ..rules.limits import clean_text
from ..rules.periods import DayRange, RangeError
from ..services import access
from . import headers

KINDS = ("visits", "proposals", "follow-ups", "kpis", "customers", "sales")
# The kinds a range of days narrows, each by the date named here (docs/contract.md): a visit by
# its day in the company's time zone, a KPI row by its ISO week lying wholly in the range.
# Customers have no such date: a range given for them is refused, never ignored.
DATED = {
    "visits": "visited_on",
    "proposals": "proposed_on",
    "follow-ups": "due_on",
    "sales": "sold_on",
    "kpis": "week",
}
ALL_DAYS = DayRange()
EVERYTHING = None
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
REPLACEMENT = "〓"
_replaced = [0]


def _geta(error: UnicodeError) -> tuple[str, int]:
    assert isinstance(error, UnicodeEncodeError)
    _replaced[0] += error.end - error.start
    return REPLACEMENT * (error.end - error.start), error.end


codecs.register_error("fieldlog-geta", _geta)


def zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def _no_percent(row: list[Any]) -> tuple[int, ...]:
    return ()


@dataclass
class Table:
    """An export: column keys (the files' contract), the rows, and how a reader sees them."""

    kind: str
    columns: list[str]
    rows: Iterator[list[Any]]
    # The cells of a row that hold a rate (0–1): XLSX formats them as percentages.
    percent: Callable[[list[Any]], tuple[int, ...]] = _no_percent
    # Header labels in the reader's language (headers.label); None writes the keys.
    headers: list[str] | None = None

    def header_row(self) -> list[str]:
        return self.headers or self.columns


def neutralise(value: Any) -> Any:
    """Text a spreadsheet would run as a formula gets a leading apostrophe; numbers are kept."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def _scoped(user: User | None, scope: Any, model: Any) -> Select[Any]:
    return select(model) if user is EVERYTHING else scope(user)


def _stream(session: Session, stmt: Select[Any]) -> Iterator[Any]:
    yield from session.execute(stmt.execution_options(yield_per=2000))


def _on_days(stmt: Select[Any], column: Any, days: DayRange) -> Select[Any]:
    """Only the rows whose date column lies in the range, both ends included."""
    if days.start is not None:
        stmt = stmt.where(column >= days.start)
    if days.end is not None:
        stmt = stmt.where(column <= days.end)
    return stmt


def _visits(
    session: Session, user: User | None, tz: ZoneInfo, locale: str, days: DayRange
) -> Table:
    rep = aliased(User)
    # A visit's day is its local day in the company's time zone: [local midnight of the first
    # day, local midnight after the last) as UTC instants, as every KPI counts it.
    after, before = days.utc_bounds(tz)
    stmt = (
        _scoped(user, access.visits, Visit)
        .join(Customer, Visit.customer_id == Customer.id)
        .join(rep, Visit.rep_id == rep.id)
        .join(Branch, Visit.branch_id == Branch.id)
        .join(Purpose, Visit.purpose_id == Purpose.id)
        .with_only_columns(
            Visit.id,
            Visit.visited_at,
            Customer.code,
            Customer.name,
            rep.email,
            rep.name,
            Branch.code,
            Purpose.code,
            Purpose.label_ja,
            Purpose.label_en,
            Visit.purposeful,
            Visit.hearing_done,
            Visit.purpose_note,
            Visit.hearing_note,
            Visit.note,
            Visit.created_at,
            Visit.saved_at,
            Visit.source,
            Visit.late_reason,
            Visit.time_known,
        )
        .order_by(Visit.visited_at, Visit.id)
    )
    if after is not None:
        stmt = stmt.where(Visit.visited_at >= after)
    if before is not None:
        stmt = stmt.where(Visit.visited_at < before)
    columns = [
        "id",
        "visited_on",
        "visited_at",
        # False for an imported bare date: visited_at then holds the 12:00 it was stored at
        # (docs/import-visits.md); pages show the date alone.
        "time_known",
        "customer_code",
        "customer_name",
        "rep_email",
        "rep_name",
        "branch",
        "purpose",
        "purpose_label",
        "purposeful",
        "hearing_done",
        "purpose_note",
        "hearing_note",
        "note",
        # Entry provenance (docs/honest-numbers.md): the entry time the signals use and how many
        # local days after the visit it was (empty for imported history), when the server stored
        # the visit, the phone's save time as sent, app or import, and the late-entry reason.
        "entered_at",
        "entered_days_later",
        "received_at",
        "saved_at",
        "source",
        "late_reason",
    ]

    def local(instant: datetime | None) -> datetime | None:
        return None if instant is None else instant.astimezone(tz).replace(tzinfo=None)

    def rows() -> Iterator[list[Any]]:
        for r in _stream(session, stmt):
            visited = local(r[1])
            assert visited is not None
            label = r[9] if locale == "en" else r[8]
            created, saved, source, reason = r[15:19]
            entered = entry_time(r[1], saved, created)
            later = None if source == "import" else days_later(r[1], entered, tz)
            entry = [local(entered), later, local(created), local(saved), source, reason]
            yield [r[0], visited.date(), visited, r[19], *r[2:8], label, *r[10:15], *entry]

    return Table("visits", columns, rows())


def _columns(
    session: Session, kind: str, stmt: Select[Any], columns: list[tuple[str, Any]], *order: Any
) -> Table:
    """An export whose rows are exactly the named columns, each header beside its expression."""
    stmt = (
        stmt.with_only_columns(*(expr for _name, expr in columns)).order_by(None).order_by(*order)
    )
    rows = (list(r) for r in _stream(session, stmt))
    return Table(kind, [name for name, _expr in columns], rows)


def _proposals(
    session: Session, user: User | None, tz: ZoneInfo, locale: str, days: DayRange
) -> Table:
    rep = aliased(User)
    stmt = _on_days(_scoped(user, access.proposals, Proposal), Proposal.proposed_on, days)
    stmt = (
        stmt.join(Customer, Proposal.customer_id == Customer.id)
        .join(rep, Proposal.rep_id == rep.id)
        .join(Branch, Proposal.branch_id == Branch.id)
        .outerjoin(Category, Proposal.category_id == Category.id)
    )
    columns = [
        ("id", Proposal.id),
        ("proposed_on", Proposal.proposed_on),
        ("customer_code", Customer.code),
        ("customer_name", Customer.name),
        ("rep_email", rep.email),
        ("rep_name", rep.name),
        ("branch", Branch.code),
        ("category", Category.code),
        ("kind", Proposal.kind),
        ("amount", Proposal.amount),
        ("status", Proposal.status),
        ("closed_on", Proposal.closed_on),
        ("note", Proposal.note),
        ("visit_id", Proposal.visit_id),
    ]
    return _columns(session, "proposals", stmt, columns, Proposal.proposed_on, Proposal.id)


def _follow_ups(
    session: Session, user: User | None, tz: ZoneInfo, locale: str, days: DayRange
) -> Table:
    rep = aliased(User)
    stmt = _on_days(_scoped(user, access.follow_ups, FollowUp), FollowUp.due_on, days)
    stmt = (
        stmt.join(Customer, FollowUp.customer_id == Customer.id)
        .join(rep, FollowUp.rep_id == rep.id)
        .join(Branch, FollowUp.branch_id == Branch.id)
    )
    columns = [
        ("id", FollowUp.id),
        ("due_on", FollowUp.due_on),
        ("done_on", FollowUp.done_on),
        ("cancelled", FollowUp.cancelled),
        ("action", FollowUp.action),
        ("customer_code", Customer.code),
        ("customer_name", Customer.name),
        ("rep_email", rep.email),
        ("rep_name", rep.name),
        ("branch", Branch.code),
        ("visit_id", FollowUp.visit_id),
    ]
    return _columns(session, "follow-ups", stmt, columns, FollowUp.due_on, FollowUp.id)


def _customers(
    session: Session, user: User | None, tz: ZoneInfo, locale: str, days: DayRange
) -> Table:
    rep = aliased(User)
    stmt = (
        _scoped(user, access.customers, Customer)
        .join(Branch, Customer.branch_id == Branch.id)
        .outerjoin(rep, Customer.rep_id == rep.id)
    )
    columns = [
        ("code", Customer.code),
        ("name", Customer.name),
        ("name_kana", Customer.name_kana),
        ("branch", Branch.code),
        ("rep", rep.email),
        ("rank", Customer.rank),
        ("visit_cycle_days", Customer.visit_cycle_days),
        ("address", Customer.address),
    ]
    return _columns(session, "customers", stmt, columns, Customer.code)


def _sales(session: Session, user: User | None, tz: ZoneInfo, locale: str, days: DayRange) -> Table:
    customer = aliased(Customer)
    stmt = _on_days(_scoped(user, access.sales_lines, SalesLine), SalesLine.sold_on, days)
    stmt = stmt.join(customer, SalesLine.customer_id == customer.id).outerjoin(
        Category, SalesLine.category_id == Category.id
    )
    columns = [
        ("sold_on", SalesLine.sold_on),
        ("customer", customer.code),
        ("category", Category.code),
        ("amount", SalesLine.amount),
        ("gross_profit", SalesLine.gross_profit),
        ("ref", SalesLine.ref),
    ]
    return _columns(session, "sales", stmt, columns, SalesLine.sold_on, SalesLine.id)


_BUILDERS = {
    "visits": _visits,
    "proposals": _proposals,
    "follow-ups": _follow_ups,
    "customers": _customers,
    "sales": _sales,
}


def table(
    session: Session,
    kind: str,
    user: User | None,
    *,
    tz: ZoneInfo,
    locale: str = "ja",
    today: date | None = None,
    weeks: int = 12,
    labels: bool = False,
    days: DayRange = ALL_DAYS,
) -> Table:
    """The rows of one export as the user may see them (EVERYTHING for the CLI).

    ``days`` keeps only the rows whose date (DATED) lies in the range; a range for a kind
    without one is a RangeError on "from", as is a KPI range of more weeks than one file holds.
    ``labels`` puts headers in ``locale``'s language (the web downloads); without it the
    headers are the column keys, as the CLI has always written them.
    """
    if days and kind not in DATED:
        raise RangeError("from", "undated", kind)
    if kind == "kpis":
        from .kpis import kpi_table

        today = today or datetime.now(tz).date()
        found = kpi_table(session, user, tz=tz, today=today, weeks=weeks, locale=locale, days=days)
    else:
        found = _BUILDERS[kind](session, user, tz, locale, days)
    if labels:
        found.headers = [headers.label(kind, key, locale) for key in found.columns]
    return found


def _csv_cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, str):
        value = clean_text(value)
    return neutralise(value)


def write_csv(table: Table, target: Any, encoding: str = "utf-8-sig") -> tuple[int, int]:
    """Write to a path or binary stream; returns (rows, characters replaced for cp932)."""
    _replaced[0] = 0
    errors = "fieldlog-geta" if encoding == "cp932" else "strict"
    handle = open(target, "wb") if isinstance(target, str | Path) else target  # noqa: SIM115
    try:
        text = codecs.getwriter(encoding)(handle, errors=errors)
        writer = csv.writer(text, lineterminator="\r\n")
        writer.writerow(table.header_row())
        count = 0
        for row in table.rows:
            writer.writerow([_csv_cell(v) for v in row])
            count += 1
    finally:
        if handle is not target:
            handle.close()
    return count, _replaced[0]


def _typical(key: str) -> str:
    """What a column holds, from its key, for its width: date, datetime or text."""
    if key.endswith("_on") or key in ("start", "end"):
        return "date"
    return "datetime" if key.endswith("_at") else "text"


def write_xlsx(table: Table, target: Any) -> int:
    """A workbook Excel opens ready to use: typed cells (dates as dates, rates as
    percentages, yen with separators), the header row frozen, a filter, sensible widths."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    book = Workbook(write_only=True)
    sheet = book.create_sheet(table.kind)
    header = table.header_row()
    # Before the first row: the sheet's view and columns are written ahead of its data.
    sheet.freeze_panes = "A2"
    for n, (key, title) in enumerate(zip(table.columns, header, strict=True), start=1):
        width = headers.width(key, str(title), _typical(key))
        sheet.column_dimensions[get_column_letter(n)].width = width
    bold = Font(bold=True)
    titles = []
    for title in header:
        cell = WriteOnlyCell(sheet, value=None)
        cell._value, cell.data_type, cell.font = clean_text(str(title)), "s", bold
        titles.append(cell)
    sheet.append(titles)
    count = 0
    for row in table.rows:
        cells = []
        rates = table.percent(row)
        for index, value in enumerate(row):
            if isinstance(value, str):
                # A typed string cell: Excel shows "=1+2" as text, exactly as it was typed.
                cell = WriteOnlyCell(sheet, value=None)
                cell._value, cell.data_type = clean_text(value), "s"
                cells.append(cell)
                continue
            cell = WriteOnlyCell(sheet, value=value)
            if isinstance(value, datetime):
                cell.number_format = "yyyy-mm-dd hh:mm"
            elif isinstance(value, date):
                cell.number_format = "yyyy-mm-dd"
            elif index in rates and isinstance(value, int | float):
                cell.number_format = "0.0%"
            elif isinstance(value, int) and not isinstance(value, bool):
                cell.number_format = "#,##0"
            cells.append(cell)
        sheet.append(cells)
        count += 1
    last = get_column_letter(max(len(header), 1))
    sheet.auto_filter.ref = f"A1:{last}{count + 1}"
    book.save(target)
    return count


def write(
    table: Table, target: Any, *, fmt: str = "csv", encoding: str = "utf-8-sig"
) -> tuple[int, int]:
    """Write a table as CSV or XLSX; returns (rows, characters replaced)."""
    if fmt == "xlsx":
        return write_xlsx(table, target), 0
    return write_csv(table, target, encoding)
