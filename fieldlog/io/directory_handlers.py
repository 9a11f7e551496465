"""Import kinds of the directory: branches, categories, users and customers."""

from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, insert, select, update

from ..kpi import lead_cache
from ..models import Branch, Category, Customer, ImportBatch, User, utcnow
from ..rules import limits
from ..rules.text import search_key
from ..services import accounts
from .handlers import Handler, Row, branch_ids, users_by_email
from .normalize import kana, parse_int, parse_rank, parse_role


class HistoryHandler(Handler):
    """Branches, people and customers: rows that move whole histories when written."""

    def finish(self) -> None:
        lead_cache.histories_moved(self.session)  # the write step of these rows


class BranchHandler(HistoryHandler):
    model = Branch

    def parse(self, row: Row) -> dict[str, Any]:
        return {"code": row.get("code", required=True), "name": row.get("name", required=True)}


class CategoryHandler(Handler):
    model = Category
    parse = BranchHandler.parse


class UserHandler(HistoryHandler):
    model = User
    key = "email"

    def prepare(self) -> None:
        self.branches = branch_ids(self.session)
        self.existing = {e.lower() for e in self.session.scalars(select(User.email))}
        self.owners = {
            e.lower() for e in self.session.scalars(select(User.email).where(User.role == "owner"))
        }
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
        if email in self.owners and record["role"] not in (None, "owner"):
            # As on the admin page, where an owner cannot change their own role: a file must
            # not leave the company with no owner (every owner page would answer 403).
            row.fail("role", _l("An owner's role is changed on the admin page, not by import."))
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


class CustomerHandler(HistoryHandler):
    model = Customer

    def prepare(self) -> None:
        self.branches = branch_ids(self.session)
        self.users = users_by_email(self.session)
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
