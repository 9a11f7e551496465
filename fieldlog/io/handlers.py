"""What each kind of import file means: how a row is read, checked across rows and written."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, insert, select, update
from sqlalchemy.orm import Session

from ..kpi import budgets as kpi_budgets
from ..kpi import deepening
from ..models import (
    Branch,
    Category,
    Customer,
    ImportBatch,
    SalesBudget,
    SalesLine,
    User,
    utcnow,
)
from ..present import limit_messages
from ..present.limit_messages import amount_error
from ..rules import limits
from ..rules.text import search_key
from ..services import accounts
from .normalize import (
    CellError,
    kana,
    parse_amount,
    parse_date,
    parse_int,
    parse_month,
    parse_rank,
    parse_role,
    text,
)
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


class BranchHandler(Handler):
    model = Branch

    def parse(self, row: Row) -> dict[str, Any]:
        return {"code": row.get("code", required=True), "name": row.get("name", required=True)}


class CategoryHandler(BranchHandler):
    model = Category


def _branch_ids(session: Session) -> dict[str, int]:
    return dict(session.execute(select(Branch.code, Branch.id)).all())


class UserHandler(Handler):
    model = User
    key = "email"

    def prepare(self) -> None:
        self.branches = _branch_ids(self.session)
        self.existing = {e.lower() for e in self.session.scalars(select(User.email))}
        # email → {branch of a customer they are the rep of: how many such customers}
        self.customers_kept: dict[str, dict[int, int]] = {}
        for email, branch_id, n in self.session.execute(
            select(User.email, Customer.branch_id, func.count(Customer.id))
            .join(Customer, Customer.rep_id == User.id)
            .group_by(User.email, Customer.branch_id)
        ):
            self.customers_kept.setdefault(email.lower(), {})[branch_id] = n

    def parse(self, row: Row) -> dict[str, Any]:
        email = accounts.normalize_email(row.get("email", required=True) or "")
        if email and "@" not in email:
            row.fail("email", _l("Enter a valid email address."))
        record: dict[str, Any] = {
            "email": email,
            "name": row.get("name", required=True),
            "role": row.get("role", parse_role),
        }
        branch = row.get("branch")
        if record["role"] == "owner":
            if branch:
                row.fail("branch", _l("Owners do not belong to a branch."))
            record["branch_id"] = None
        elif record["role"] is not None:
            if not branch:
                row.fail("branch", _l("Reps and managers need a branch."))
            elif branch not in self.branches:
                row.fail("branch", _l("Unknown branch code %(code)s.", code=branch))
            record["branch_id"] = self.branches.get(branch or "")
        self._check_customers_kept(row, record)
        raw = row.raw("password")
        password = "" if raw is None else str(raw).strip()
        hints = (str(row.raw("email") or ""), str(row.raw("name") or ""))
        if password and (message := accounts.password_problem(password, hints=hints)):
            row.fail("password", message)
        elif not password and email and email not in self.existing:
            row.fail("password", _l("A new user needs a password."))
        record["password"] = password
        return record

    def _check_customers_kept(self, row: Row, record: dict[str, Any]) -> None:
        """A customer's rep belongs to its branch: moving a rep away leaves no customer behind."""
        if record["role"] is None or (record["role"] != "owner" and not record["branch_id"]):
            return
        by_branch = self.customers_kept.get(record["email"], {})
        kept = sum(n for branch_id, n in by_branch.items() if branch_id != record["branch_id"])
        if kept:
            row.fail("branch", _l("Reassign this user's %(n)s customers first.", n=kept))

    def _existing_ids(self, keys: list[str]) -> dict[str, int]:
        stmt = select(func.lower(User.email), User.id).where(func.lower(User.email).in_(keys))
        return dict(self.session.execute(stmt).all())

    def write(self, records: list[dict[str, Any]], batch: ImportBatch) -> None:
        # Passwords are hashed one by one; users are few, so plain per-kind batches suffice.
        ids = self._existing_ids([r["email"] for r in records])
        for record in records:
            values = {k: v for k, v in record.items() if k != "password"}
            if record["password"]:
                values["password_hash"] = accounts.generate_password_hash(
                    record["password"], method=accounts.PASSWORD_METHOD
                )
            if record["email"] in ids:
                values.pop("email")
                self.session.execute(update(User), [{"id": ids[record["email"]], **values}])
            else:
                self.session.execute(insert(User), [values])


# The length of Customer.address.


class CustomerHandler(Handler):
    model = Customer

    def prepare(self) -> None:
        self.branches = _branch_ids(self.session)
        self.users = {
            email.lower(): (user_id, branch_id, role)
            for email, user_id, branch_id, role in self.session.execute(
                select(User.email, User.id, User.branch_id, User.role)
            )
        }
        self.existing_branch = dict(
            self.session.execute(select(Customer.code, Customer.branch_id)).all()
        )
        self.existing = set(self.existing_branch)

    def parse(self, row: Row) -> dict[str, Any]:
        record: dict[str, Any] = {
            "code": row.get("code", required=True),
            "name": row.get("name", required=True),
        }
        if row.has("name_kana"):
            record["name_kana"] = row.get("name_kana", kana)
        branch = row.get("branch", required=True)
        branch_id = self.branches.get(branch or "")
        if branch and branch_id is None:
            row.fail("branch", _l("Unknown branch code %(code)s.", code=branch))
        record["branch_id"] = branch_id
        if self.limit_branch_id is not None and branch_id is not None:
            if branch_id != self.limit_branch_id:
                row.fail("branch", _l("You may import customers of your own branch only."))
            elif self.existing_branch.get(record["code"], branch_id) != branch_id:
                row.fail("code", _l("This customer belongs to another branch."))
        if row.has("rep"):
            email = accounts.normalize_email(row.get("rep"))
            record["rep_id"] = None
            if email:
                rep = self.users.get(email)
                if rep is None:
                    row.fail("rep", _l("Unknown user %(email)s.", email=email))
                elif branch_id is not None and rep[1] != branch_id:
                    row.fail(
                        "rep",
                        _l("%(email)s does not belong to this customer's branch.", email=email),
                    )
                else:
                    record["rep_id"] = rep[0]
        if row.has("rank"):
            record["rank"] = row.get("rank", parse_rank)
        if row.has("visit_cycle_days"):
            record["visit_cycle_days"] = row.get("visit_cycle_days", parse_int)
        if row.has("address"):
            record["address"] = row.get("address")
            if len(record["address"]) > limits.MAX_ADDRESS:
                row.fail("address", _l("At most %(n)s characters.", n=limits.MAX_ADDRESS))
        return record

    def write(self, records: list[dict[str, Any]], batch: ImportBatch) -> None:
        codes = [r["code"] for r in records]
        known = {
            code: (customer_id, name_kana)
            for code, customer_id, name_kana in self.session.execute(
                select(Customer.code, Customer.id, Customer.name_kana).where(
                    Customer.code.in_(codes)
                )
            )
        }
        now = utcnow()
        inserts, updates = [], []
        for record in records:
            found = known.get(record["code"])
            reading = record.get("name_kana", found[1] if found else "")
            values = {**record, "search_text": search_key(record["code"], record["name"], reading)}
            if found:
                updates.append({"id": found[0], "updated_at": now, **values})
            else:
                inserts.append(
                    {
                        "name_kana": "",
                        "rank": "B",
                        "address": "",
                        **values,
                        "created_at": now,
                        "updated_at": now,
                    }
                )
        if inserts:
            self.session.execute(insert(Customer), inserts)
        if updates:
            self.session.execute(update(Customer), updates)


class SalesHandler(Handler):
    model = SalesLine
    key = "ref"

    def prepare(self) -> None:
        self.customers = dict(self.session.execute(select(Customer.code, Customer.id)).all())
        self.touched: set[int] = set()  # customers whose lines were written (or moved away)
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
        if updates:  # a corrected line may have moved to another customer
            self.touched.update(
                self.session.scalars(
                    select(SalesLine.customer_id).where(SalesLine.id.in_(ids.values()))
                )
            )
        if inserts:  # Core executemany: no ORM bookkeeping for a million plain rows
            self.session.execute(insert(SalesLine.__table__), inserts)
        if updates:
            self.session.execute(update(SalesLine), updates)

    def finish(self) -> None:
        deepening.sales_changed(self.session, self.touched)


class BudgetHandler(Handler):
    """Monthly sales budgets: one row per month, branch and rep (empty rep: the branch's own)."""

    model = SalesBudget
    key = "key"

    def prepare(self) -> None:
        self.branches = _branch_ids(self.session)
        self.users = {
            email.lower(): (user_id, branch_id, role)
            for email, user_id, branch_id, role in self.session.execute(
                select(User.email, User.id, User.branch_id, User.role)
            )
        }
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
            if rep is None or rep[2] == "owner":
                row.fail("rep", _l("Unknown user %(email)s.", email=email))
            elif branch_id is not None and rep[1] != branch_id:
                row.fail(
                    "rep",
                    _l("%(email)s does not belong to branch %(code)s.", email=email, code=branch),
                )
            else:
                rep_id = rep[0]
        amount = row.get("amount", parse_amount)
        problem = amount_error(amount) if amount is not None else None
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


HANDLERS: dict[str, type[Handler]] = {
    "branches": BranchHandler,
    "categories": CategoryHandler,
    "users": UserHandler,
    "customers": CustomerHandler,
    "sales": SalesHandler,
    "budgets": BudgetHandler,
}
