"""`import visits`: a team's visit log kept in Excel (日報), with proposals and next actions.

Each row is one visit, written with its optional proposal and follow-up
(docs/import-visits.md). A row with a known ``ref`` updates the visit, its proposal and its
follow-up, never duplicates them; rows without one are inserted. Imported visits are marked
``source = "import"``, take ``purposeful`` from their purpose as it is at import time, and keep
the dormancy summary in step exactly as ``record_visit`` does (``dormancy.customers_changed``
for the customers touched).
"""

from __future__ import annotations

import uuid
from datetime import date, datetime, timedelta
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import insert, select, update

from ..kpi import dormancy, lead_cache
from ..models import (
    Category,
    Customer,
    ImportBatch,
    Purpose,
    User,
    Visit,
    utcnow,
)
from ..present import limit_messages
from ..rules.periods import local_date
from ..services import accounts
from . import visit_rows
from .handlers import IN_CHUNK, Handler, Row
from .normalize import (
    fold_word,
    parse_amount,
    parse_date,
    parse_datetime,
    parse_proposal_kind,
    parse_proposal_status,
    parse_yes_no,
)

# Client ids of imported visits: uuid5 of the sheet's ref (or of the batch and row), so the
# same row always maps to the same id and never meets a phone's random uuid4.
CLIENT_ID_NAMESPACE = uuid.UUID("6f1c3d2e-5b7a-4e0f-9a41-2c8d7e6b5f10")
PROPOSAL_FIELDS = ("proposal_category", "proposal_kind", "proposal_amount", "proposal_status")
FUTURE_SLACK = timedelta(hours=24)  # as the visit API: at most 24 h ahead of the server's clock


def client_id_for(ref: str | None, batch_id: int, line: int, sheet: str | None) -> str:
    """The deterministic client_id of an imported row."""
    name = f"ref:{ref}" if ref else f"batch:{batch_id}:{sheet or ''}:{line}"
    return str(uuid.uuid5(CLIENT_ID_NAMESPACE, name))


class VisitHandler(Handler):
    model = Visit
    key = "ref"

    def prepare(self) -> None:
        if self.tz is None:
            raise ValueError("importing visits needs the company timezone")
        self.clock = self.now or utcnow()
        self.today = local_date(self.clock, self.tz)
        self.touched: set[int] = set()  # customers whose visits were written or moved away
        self.instants: list[datetime] = []  # the earliest visit time written (or left) per batch
        s = self.session
        self.users = {
            email.lower(): (user_id, branch_id, role)
            for email, user_id, branch_id, role in s.execute(
                select(User.email, User.id, User.branch_id, User.role)
            )
        }
        self.customers = {
            code: (customer_id, branch_id, rep_id)
            for code, customer_id, branch_id, rep_id in s.execute(
                select(Customer.code, Customer.id, Customer.branch_id, Customer.rep_id)
            )
        }
        self.rep_branch = {user_id: branch_id for user_id, branch_id, _role in self.users.values()}
        self.purposes: dict[str, tuple[int, bool]] = {}
        for purpose in s.scalars(select(Purpose).order_by(Purpose.sort, Purpose.id)):
            for word in (purpose.label_en, purpose.label_ja, purpose.code):  # the code wins
                self.purposes[fold_word(word)] = (purpose.id, purpose.purposeful)
        self.categories = dict(s.execute(select(Category.code, Category.id)).all())
        # Refs already stored, with the branch of their visit (a manager updates only theirs).
        self.existing_branch = dict(
            s.execute(select(Visit.ref, Visit.branch_id).where(Visit.ref.is_not(None))).all()
        )
        self.existing = set(self.existing_branch)

    # ---- reading a row -------------------------------------------------------------------

    def parse(self, row: Row) -> dict[str, Any]:
        tz = self.tz
        assert tz is not None
        record: dict[str, Any] = {"line": row.where.line, "sheet": row.where.sheet}
        visited_at, record["time_known"] = row.get(
            "visited_at", lambda v: parse_datetime(v, tz)
        ) or (None, True)
        if visited_at is not None and visited_at > self.clock + FUTURE_SLACK:
            row.fail("visited_at", _l("The visit cannot be in the future."))
        elif visited_at is not None and (
            message := limit_messages.visit_time_error(visited_at, now=self.clock)
        ):
            row.fail("visited_at", message)
        record["visited_at"] = visited_at
        day = local_date(visited_at, tz) if visited_at is not None else None
        record["day"] = day
        customer = self._customer(row, record)
        self._rep(row, record, customer)
        self._purpose(row, record)
        record["hearing_done"] = row.get("hearing_done", parse_yes_no)
        for name in ("hearing_note", "note"):
            record[name] = self._text(row, name)
        record["proposal"] = self._proposal(row, day)
        record["follow_up"] = self._follow_up(row, day)
        ref = row.get("ref") if row.has("ref") else ""
        if ref and len(ref) > 64:
            row.fail("ref", _l("At most %(n)s characters.", n=64))
        record["ref"] = ref or None
        if ref and self.limit_branch_id is not None:
            stored = self.existing_branch.get(ref, self.limit_branch_id)
            if stored != self.limit_branch_id:
                row.fail("ref", _l("This visit belongs to another branch."))
        return record

    def _text(self, row: Row, name: str) -> str:
        value = row.get(name) if row.has(name) else ""
        if message := limit_messages.text_error(value):
            row.fail(name, message)
        return value

    def _customer(self, row: Row, record: dict[str, Any]) -> tuple[int, int, int | None] | None:
        code = row.get("customer", required=True)
        customer = self.customers.get(code)
        if code and customer is None:
            row.fail("customer", _l("Unknown customer code %(code)s.", code=code))
        elif customer is not None and self.limit_branch_id not in (None, customer[1]):
            row.fail("customer", _l("This customer belongs to another branch."))
            customer = None
        record["customer_id"] = customer[0] if customer else None
        return customer

    def _rep(
        self, row: Row, record: dict[str, Any], customer: tuple[int, int, int | None] | None
    ) -> None:
        """An explicit rep is taken as given; an empty cell means the customer's current rep."""
        email = accounts.normalize_email(row.get("rep")) if row.has("rep") else ""
        record["rep_id"] = record["branch_id"] = None
        if email:
            user = self.users.get(email)
            if user is None:
                row.fail("rep", _l("Unknown user %(email)s.", email=email))
                return
            if user[2] == "owner" or user[1] is None:
                row.fail("rep", _l("Owners have no branch and log no visits."))
                return
            rep_id, branch_id = user[0], user[1]
        elif customer is None:
            return
        elif customer[2] is None:
            row.fail("rep", _l("This customer has no rep: name the rep who visited."))
            return
        else:
            rep_id, branch_id = customer[2], self.rep_branch.get(customer[2])
        if self.limit_branch_id is not None and branch_id != self.limit_branch_id:
            row.fail("rep", _l("You may import visits of your own branch only."))
        record["rep_id"], record["branch_id"] = rep_id, branch_id

    def _purpose(self, row: Row, record: dict[str, Any]) -> None:
        word = row.get("purpose", required=True)
        found = self.purposes.get(fold_word(word))
        if word and found is None:
            row.fail("purpose", _l("Unknown purpose %(purpose)s.", purpose=word))
        record["purpose_id"], record["purposeful"] = found or (None, None)

    def _date(self, row: Row, name: str, day: date | None, *, past_only: bool) -> date | None:
        if not row.has(name) or row.get(name) == "":
            return None
        value = row.get(name, parse_date)
        if value is None:
            return None
        if day is not None and value < day:
            row.fail(name, _l("This date is before the visit."))
        elif past_only and value > self.today + timedelta(days=1):
            row.fail(name, _l("The date cannot be in the future."))
        elif message := limit_messages.plan_day_error(value, around=day or self.today):
            row.fail(name, message)
        return value

    def _proposal(self, row: Row, day: date | None) -> dict[str, Any] | None:
        present = any(row.has(name) and row.get(name) != "" for name in PROPOSAL_FIELDS)
        closed_on = self._date(row, "proposal_closed_on", day, past_only=True)
        if not present:
            if closed_on is not None:
                row.fail("proposal_closed_on", _l("A closing date needs a proposal."))
            return None
        category_code = row.get("proposal_category") if row.has("proposal_category") else ""
        category_id = self.categories.get(category_code) if category_code else None
        if category_code and category_id is None:
            row.fail("proposal_category", _l("Unknown category code %(code)s.", code=category_code))
        amount = None
        if row.has("proposal_amount"):
            amount = row.get("proposal_amount", lambda v: parse_amount(v, required=False))
            if amount is not None and amount < 0:
                row.fail("proposal_amount", _l("The amount cannot be negative."))
        status = None
        if row.has("proposal_status"):
            status = row.get("proposal_status", parse_proposal_status)
        status = status or "open"
        if status == "open" and closed_on is not None:
            row.fail("proposal_status", _l("A proposal with a closing date is won or lost."))
        elif status != "open" and closed_on is None:
            row.fail("proposal_closed_on", _l("A won or lost proposal needs its closing date."))
        kind = row.get("proposal_kind", parse_proposal_kind) if row.has("proposal_kind") else None
        return {
            "category_id": category_id,
            "kind": kind,
            "amount": amount,
            "status": status,
            "closed_on": closed_on,
        }

    def _follow_up(self, row: Row, day: date | None) -> dict[str, Any] | None:
        action = self._text(row, "next_action")
        due_on = self._date(row, "next_action_due_on", day, past_only=False)
        done_on = self._date(row, "next_action_done_on", day, past_only=True)
        if not action:
            if due_on is not None or done_on is not None:
                row.fail("next_action", _l("A date of a next action needs the action."))
            return None
        if due_on is None:
            row.fail("next_action_due_on", _l("A next action needs its due date."))
        return {"action": action, "due_on": due_on, "done_on": done_on}

    # ---- counting and writing ------------------------------------------------------------

    def counts(self, rows: int) -> tuple[int, int]:
        updated = sum(
            1 for chunk in self.seen.chunks(IN_CHUNK) for ref in chunk if ref in self.existing
        )
        return rows - updated, updated

    def write(self, records: list[dict[str, Any]], batch: ImportBatch) -> None:
        s = self.session
        refs = [r["ref"] for r in records if r["ref"]]
        stored = (
            {
                ref: (visit_id, customer_id, purpose_id, visited_at)
                for ref, visit_id, customer_id, purpose_id, visited_at in s.execute(
                    select(
                        Visit.ref, Visit.id, Visit.customer_id, Visit.purpose_id, Visit.visited_at
                    ).where(Visit.ref.in_(refs))
                )
            }
            if refs
            else {}
        )
        new = [r for r in records if r["ref"] not in stored]
        old = [r for r in records if r["ref"] in stored]
        now = self.clock  # the import's clock (the app's, FIELDLOG_NOW when pinned), as app entries
        self.touched.update(r["customer_id"] for r in records)
        self.touched.update(customer_id for _id, customer_id, _p, _at in stored.values())
        # Proposals and follow-ups are dated on or after their visit's day: the visits' times
        # bound every kept analysis these rows make stale.
        moments = [r["visited_at"] for r in records]
        moments += [stored[r["ref"]][3] for r in old]
        if moments:
            self.instants.append(min(moments))
        if new:
            values = [
                {
                    **self._visit_values(r),
                    "client_id": client_id_for(r["ref"], batch.id, r["line"], r["sheet"]),
                    "purposeful": r["purposeful"],
                    "ref": r["ref"],
                    "source": "import",
                    "created_at": now,
                    "updated_at": now,
                }
                for r in new
            ]
            ids = s.scalars(
                insert(Visit).returning(Visit.id, sort_by_parameter_order=True), values
            ).all()
            for record, visit_id in zip(new, ids, strict=True):
                record["visit_id"] = visit_id
        if old:
            updates = []
            for r in old:
                visit_id, _customer_id, purpose_id, _at = stored[r["ref"]]
                r["visit_id"] = visit_id
                values = {"id": visit_id, **self._visit_values(r), "updated_at": now}
                if r["purpose_id"] != purpose_id:  # as a correction: only a new purpose re-reads
                    values["purposeful"] = r["purposeful"]
                updates.append(values)
            s.execute(update(Visit), updates)
        visit_rows.write_proposals(s, records, bool(old), now)
        visit_rows.write_follow_ups(s, records, bool(old), now)

    def _visit_values(self, r: dict[str, Any]) -> dict[str, Any]:
        return {
            "rep_id": r["rep_id"],
            "branch_id": r["branch_id"],
            "customer_id": r["customer_id"],
            "visited_at": r["visited_at"],
            "time_known": r["time_known"],
            "purpose_id": r["purpose_id"],
            "hearing_done": r["hearing_done"],
            "hearing_note": r["hearing_note"],
            "note": r["note"],
        }

    def finish(self) -> None:
        # The step record_visit's flush takes for a new or moved visit (docs/kpi.md, dormancy).
        dormancy.customers_changed(self.session, self.touched)
        lead_cache.visits_written(self.session, self.instants)
