"""Import kinds of sales: sales lines (kept in step with the per-customer runs) and budgets."""

from __future__ import annotations

from datetime import date
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, insert, select, update

from ..kpi import budgets as kpi_budgets
from ..kpi import deepening, lead_cache
from ..models import Category, Customer, ImportBatch, SalesBudget, SalesLine, User
from ..present import limit_messages
from ..services import accounts
from .handlers import IN_CHUNK, Handler, Row, branch_ids, users_by_email
from .normalize import parse_amount, parse_date, parse_month


class SalesHandler(Handler):
    model = SalesLine
    key = "ref"

    def prepare(self) -> None:
        self.customers = dict(self.session.execute(select(Customer.code, Customer.id)).all())
        self.touched: set[int] = set()  # customers whose lines were written (or moved away)
        self.earliest: date | None = None  # the first day a line was written on (or left)
        self.categories = dict(self.session.execute(select(Category.code, Category.id)).all())

    def parse(self, row: Row) -> dict[str, Any]:
        record: dict[str, Any] = {"sold_on": row.get("sold_on", parse_date)}
        code = row.get("customer", required=True)
        record["customer_id"] = self.customers.get(code)
        if code and record["customer_id"] is None:
            row.fail("customer", _l("Unknown customer code %(code)s.", code=code))
        category = row.get("category") if row.has("category") else ""
        record["category_id"] = self.categories.get(category) if category else None
        if category and record["category_id"] is None:
            row.fail("category", _l("Unknown category code %(code)s.", code=category))
        record["amount"] = row.get("amount", parse_amount)
        record["gross_profit"] = row.get("gross_profit", lambda v: parse_amount(v, required=False))
        ref = row.get("ref") if row.has("ref") else ""
        if ref and len(ref) > 64:
            row.fail("ref", _l("At most %(n)s characters.", n=64))
        record["ref"] = ref or None
        return record

    def counts(self, rows: int) -> tuple[int, int]:
        # Refs are checked like other keys (Handler.check); the ones already stored are updates.
        updated = 0
        for chunk in self.seen.chunks(IN_CHUNK):
            updated += (
                self.session.scalar(
                    select(func.count(SalesLine.id)).where(SalesLine.ref.in_(chunk))
                )
                or 0
            )
        return rows - updated, updated

    def write(self, records: list[dict[str, Any]], batch: ImportBatch) -> None:
        refs = [r["ref"] for r in records if r["ref"] is not None]
        ids = self._existing_ids(refs) if refs else {}
        inserts = [{**r, "import_id": batch.id} for r in records if r["ref"] not in ids]
        updates = [
            {"id": ids[r["ref"]], **r, "import_id": batch.id} for r in records if r["ref"] in ids
        ]
        self.touched.update(r["customer_id"] for r in records)
        days = [r["sold_on"] for r in records]
        if updates:  # a corrected line may have moved to another customer or day
            for customer_id, sold_on in self.session.execute(
                select(SalesLine.customer_id, SalesLine.sold_on).where(
                    SalesLine.id.in_(ids.values())
                )
            ):
                self.touched.add(customer_id)
                days.append(sold_on)
        if days:
            self.earliest = min([*days, *([self.earliest] if self.earliest else [])])
        if inserts:  # Core executemany: no ORM bookkeeping for a million plain rows
            self.session.execute(insert(SalesLine.__table__), inserts)
        if updates:
            self.session.execute(update(SalesLine), updates)

    def finish(self) -> None:
        # The write steps of sales lines: the summaries and the kept lead analyses.
        deepening.sales_changed(self.session, self.touched)
        lead_cache.forget_from(self.session, self.earliest)


class BudgetHandler(Handler):
    """Monthly sales budgets: one row per month, branch and rep (empty rep: the branch's own)."""

    model = SalesBudget
    key = "key"

    def prepare(self) -> None:
        self.branches = branch_ids(self.session)
        self.users = users_by_email(self.session)
        self.rows = {
            self._key(b.month, b.branch_id, b.rep_id): b
            for b in self.session.scalars(select(SalesBudget))
        }
        self.existing = set(self.rows)

    @staticmethod
    def _key(month: Any, branch_id: Any, rep_id: Any) -> str:
        if month is None or branch_id is None:
            return ""
        return f"{month.isoformat()}|{branch_id}|{rep_id or ''}"

    def parse(self, row: Row) -> dict[str, Any]:
        month = row.get("month", parse_month, required=True)
        branch = row.get("branch", required=True)
        branch_id = self.branches.get(branch or "")
        if branch and branch_id is None:
            row.fail("branch", _l("Unknown branch code %(code)s.", code=branch))
        rep_id = None
        email = accounts.normalize_email(row.get("rep") or "") if row.has("rep") else ""
        if email:
            rep = self.users.get(email)
            if rep is None:
                row.fail("rep", _l("Unknown user %(email)s.", email=email))
            elif rep[2] == "owner":
                row.fail(
                    "rep",
                    _l(
                        "%(email)s is an owner, who has no branch: leave rep empty for the "
                        "branch's budget.",
                        email=email,
                    ),
                )
            elif branch_id is not None and rep[1] != branch_id:
                row.fail(
                    "rep",
                    _l("%(email)s does not belong to branch %(code)s.", email=email, code=branch),
                )
            else:
                rep_id = rep[0]
        amount = row.get("amount", parse_amount)
        problem = limit_messages.amount_error(amount) if amount is not None else None
        if problem is not None:
            row.fail("amount", problem)
        return {
            "key": self._key(month, branch_id, rep_id) if not row.errors else "",
            "month": month,
            "branch_id": branch_id,
            "rep_id": rep_id,
            "amount": amount,
        }

    def check(self, record: dict[str, Any], row: Row) -> None:
        """One row per month, branch and rep in a file: a second one is named by its line."""
        if record["key"]:
            first = self.seen.add(record["key"], row.where.line)
            if first is not None:
                row.fail(
                    "month",
                    _l("This month, branch and rep appear twice (also line %(line)s).", line=first),
                )

    def write(self, records: list[dict[str, Any]], batch: ImportBatch) -> None:
        user = self.session.get(User, batch.user_id) if batch.user_id else None
        for r in records:
            kpi_budgets.record(
                self.session,
                r["month"],
                r["branch_id"],
                r["rep_id"],
                r["amount"],
                user,
                existing=self.rows.get(r["key"]),
            )
