"""The tables of docs/domain.md: typed, singular and boring."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from flask_login import UserMixin
from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    event,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .app.extensions import db
from .rules.limits import MAX_AMOUNT
from .rules.text import search_key

ROLES = ("rep", "manager", "owner")
RANKS = ("A", "B", "C")
PROPOSAL_KINDS = ("upsell", "cross_sell", "other")
PROPOSAL_STATUSES = ("open", "won", "lost")
HYPOTHESIS_STATUSES = ("testing", "supported", "rejected", "revised")
REVIEW_CAUSES = ("quantity", "quality", "design")
VISIT_SOURCES = ("app", "import")


def utcnow() -> datetime:
    """The current instant, timezone-aware in UTC."""
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator):
    """Stores instants as naive UTC on every database and returns them aware."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None or value.tzinfo is None:
            return value
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC)


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class Branch(db.Model):
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    def __repr__(self) -> str:
        return f"<Branch {self.code}>"


class User(UserMixin, db.Model):
    __table_args__ = (
        CheckConstraint(_in("role", ROLES), name="role"),
        CheckConstraint(
            "(role = 'owner' AND branch_id IS NULL) OR (role <> 'owner' AND branch_id IS NOT NULL)",
            name="branch_by_role",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(16))
    branch_id: Mapped[int | None] = mapped_column(ForeignKey("branch.id"), index=True)
    password_hash: Mapped[str] = mapped_column(String(255), default="")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    locale: Mapped[str | None] = mapped_column(String(8))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    branch: Mapped[Branch | None] = relationship()

    # Set by the user loader: the server-side session this request authenticated with.
    login_session = None  # LoginSession | None, not a column

    @property
    def is_active(self) -> bool:  # Flask-Login refuses inactive accounts
        return bool(self.active)

    def get_id(self) -> str:
        if self.login_session is None:
            raise RuntimeError("log users in through fieldlog.services.accounts.start_session")
        return self.login_session.token

    def __repr__(self) -> str:
        return f"<User {self.email} {self.role}>"


class LoginSession(db.Model):
    """One logged-in device; revoking it logs that device out (remember cookie included)."""

    id: Mapped[int] = mapped_column(primary_key=True)
    token: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    user_agent: Mapped[str] = mapped_column(String(300), default="")

    user: Mapped[User] = relationship()

    def __repr__(self) -> str:
        return f"<LoginSession {self.id} user={self.user_id}>"


class LoginAttempt(db.Model):
    """Failed and successful logins, for throttling."""

    __table_args__ = (
        Index("ix_login_attempt_email_at", "email", "attempted_at"),
        Index("ix_login_attempt_ip_at", "ip", "attempted_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254))
    ip: Mapped[str] = mapped_column(String(64), default="")
    succeeded: Mapped[bool] = mapped_column(Boolean, default=False)
    attempted_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    def __repr__(self) -> str:
        return f"<LoginAttempt {self.email} ok={self.succeeded}>"


class Customer(db.Model):
    __table_args__ = (
        CheckConstraint(_in("rank", RANKS), name="rank"),
        CheckConstraint("visit_cycle_days IS NULL OR visit_cycle_days > 0", name="cycle"),
        Index("ix_customer_branch_rep", "branch_id", "rep_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    name_kana: Mapped[str] = mapped_column(String(200), default="")
    branch_id: Mapped[int] = mapped_column(ForeignKey("branch.id"))
    rep_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"), index=True)
    rank: Mapped[str] = mapped_column(String(1), default="B")
    # None means the rank's default cycle from the company settings.
    visit_cycle_days: Mapped[int | None] = mapped_column(Integer)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # Optional postal address (住所): the customer page links it to the phone's map app.
    address: Mapped[str] = mapped_column(String(500), default="", server_default="")
    search_text: Mapped[str] = mapped_column(String(700), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    branch: Mapped[Branch] = relationship()
    rep: Mapped[User | None] = relationship()

    def __repr__(self) -> str:
        return f"<Customer {self.code}>"


@event.listens_for(Customer, "before_insert")
@event.listens_for(Customer, "before_update")
def _customer_search_text(mapper: Any, connection: Any, customer: Customer) -> None:
    """Keep the picker's search key in step with code, name and reading."""
    customer.search_text = search_key(customer.code, customer.name, customer.name_kana)


class Category(db.Model):
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    sort: Mapped[int] = mapped_column(Integer, default=0)
    active: Mapped[bool] = mapped_column(Boolean, default=True)

    def __repr__(self) -> str:
        return f"<Category {self.code}>"


class Purpose(db.Model):
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    label_ja: Mapped[str] = mapped_column(String(100))
    label_en: Mapped[str] = mapped_column(String(100))
    purposeful: Mapped[bool] = mapped_column(Boolean, default=True)
    sort: Mapped[int] = mapped_column(Integer, default=0)
    active: Mapped[bool] = mapped_column(Boolean, default=True)

    def label(self, locale: str) -> str:
        """The label in the given locale, Japanese by default."""
        return self.label_en if locale == "en" else self.label_ja

    def __repr__(self) -> str:
        return f"<Purpose {self.code} purposeful={self.purposeful}>"


class Visit(db.Model):
    __table_args__ = (
        UniqueConstraint("rep_id", "client_id"),
        Index("ix_visit_branch_at", "branch_id", "visited_at"),
        Index("ix_visit_rep_at", "rep_id", "visited_at"),
        Index("ix_visit_customer_at", "customer_id", "visited_at"),
        # Company-wide KPI roll-ups select a week of visits without a branch or rep.
        Index("ix_visit_at", "visited_at"),
        CheckConstraint(_in("source", VISIT_SOURCES), name="source"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[str] = mapped_column(String(36))
    # Digest of the parsed request, so a replay can be told from a reused client_id.
    payload_hash: Mapped[str] = mapped_column(String(64), default="")
    rep_id: Mapped[int] = mapped_column(ForeignKey("user.id"))
    branch_id: Mapped[int] = mapped_column(ForeignKey("branch.id"))
    customer_id: Mapped[int] = mapped_column(ForeignKey("customer.id"))
    visited_at: Mapped[datetime] = mapped_column(UTCDateTime)
    purpose_id: Mapped[int] = mapped_column(ForeignKey("purpose.id"))
    # Whether the purpose counted as purposeful when the visit was recorded.
    purposeful: Mapped[bool] = mapped_column(Boolean)
    purpose_note: Mapped[str] = mapped_column(Text, default="")
    hearing_done: Mapped[bool] = mapped_column(Boolean)
    hearing_note: Mapped[str] = mapped_column(Text, default="")
    note: Mapped[str] = mapped_column(Text, default="")
    # When the server first stored the visit: the entry time of the honest-number signals.
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    # How the visit came in: "app" (form or sync API) or "import" (history from a 日報 sheet,
    # never called a late entry).
    source: Mapped[str] = mapped_column(String(16), default="app", server_default="app")
    # The phone's own save time as sent (kept as given when valid; trusted only between the
    # visit and created_at), and the rep's optional reason for a late entry.
    saved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    late_reason: Mapped[str] = mapped_column(Text, default="", server_default="")
    # The row id of the imported sheet (`import visits`): a known ref updates, never duplicates.
    ref: Mapped[str | None] = mapped_column(String(64), unique=True)

    rep: Mapped[User] = relationship()
    branch: Mapped[Branch] = relationship()
    customer: Mapped[Customer] = relationship()
    purpose: Mapped[Purpose] = relationship()
    proposals: Mapped[list[Proposal]] = relationship(back_populates="visit", order_by="Proposal.id")
    follow_ups: Mapped[list[FollowUp]] = relationship(
        back_populates="visit", foreign_keys="FollowUp.visit_id", order_by="FollowUp.id"
    )
    completed_follow_ups: Mapped[list[FollowUp]] = relationship(
        foreign_keys="FollowUp.done_visit_id", order_by="FollowUp.id", viewonly=True
    )
    revisions: Mapped[list[VisitRevision]] = relationship(
        back_populates="visit", order_by="VisitRevision.id"
    )

    def __repr__(self) -> str:
        return f"<Visit {self.id} {self.client_id}>"


class VisitRevision(db.Model):
    """One correction of a visit: who, when, and each field's old and new value."""

    id: Mapped[int] = mapped_column(primary_key=True)
    visit_id: Mapped[int] = mapped_column(ForeignKey("visit.id"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id"))
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    changes: Mapped[dict[str, Any]] = mapped_column(JSON)

    visit: Mapped[Visit] = relationship(back_populates="revisions")
    user: Mapped[User] = relationship()

    def __repr__(self) -> str:
        return f"<VisitRevision {self.id} visit={self.visit_id}>"


class Proposal(db.Model):
    __table_args__ = (
        CheckConstraint(_in("kind", PROPOSAL_KINDS), name="kind"),
        CheckConstraint(_in("status", PROPOSAL_STATUSES), name="status"),
        CheckConstraint("amount IS NULL OR amount >= 0", name="amount"),
        Index("ix_proposal_branch_on", "branch_id", "proposed_on"),
        Index("ix_proposal_rep_on", "rep_id", "proposed_on"),
        # additional_proposal_rate looks up a visited customer's proposals within a period.
        Index("ix_proposal_customer_on", "customer_id", "proposed_on"),
        # The plan's open proposals per customer, read from the index alone (not every proposal
        # the customer ever had: 6,000 rows → 1,200 for a rep with 300 customers at 1M visits).
        Index(
            "ix_proposal_customer_status_on",
            "customer_id",
            "status",
            "proposed_on",
            "category_id",
            "amount",
        ),
        # cross_sell_rate selects by closed_on; the pipeline needs proposals open at a date.
        Index("ix_proposal_closed_on", "closed_on"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    visit_id: Mapped[int | None] = mapped_column(ForeignKey("visit.id"), index=True)
    rep_id: Mapped[int] = mapped_column(ForeignKey("user.id"))
    branch_id: Mapped[int] = mapped_column(ForeignKey("branch.id"))
    customer_id: Mapped[int] = mapped_column(ForeignKey("customer.id"))
    category_id: Mapped[int | None] = mapped_column(ForeignKey("category.id"))
    kind: Mapped[str] = mapped_column(String(16))
    amount: Mapped[int | None] = mapped_column(BigInteger)
    note: Mapped[str] = mapped_column(Text, default="")
    proposed_on: Mapped[date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(8), default="open")
    closed_on: Mapped[date | None] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    visit: Mapped[Visit | None] = relationship(back_populates="proposals")
    rep: Mapped[User] = relationship()
    branch: Mapped[Branch] = relationship()
    customer: Mapped[Customer] = relationship()
    category: Mapped[Category | None] = relationship()
    revisions: Mapped[list[ProposalRevision]] = relationship(
        back_populates="proposal", order_by="ProposalRevision.changed_at.desc()"
    )

    def __repr__(self) -> str:
        return f"<Proposal {self.id} {self.kind} {self.status}>"


class ProposalRevision(db.Model):
    """One correction of a proposal (amount, category, status): who, when, old and new."""

    id: Mapped[int] = mapped_column(primary_key=True)
    proposal_id: Mapped[int] = mapped_column(ForeignKey("proposal.id"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id"))
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    changes: Mapped[dict[str, Any]] = mapped_column(JSON)

    proposal: Mapped[Proposal] = relationship(back_populates="revisions")
    user: Mapped[User] = relationship()

    def __repr__(self) -> str:
        return f"<ProposalRevision {self.id} proposal={self.proposal_id}>"


class FollowUp(db.Model):
    __table_args__ = (
        Index("ix_follow_up_branch_due", "branch_id", "due_on"),
        Index("ix_follow_up_rep_due", "rep_id", "due_on"),
        # The customer's open follow-ups due from a day on (customers at risk, Today).
        Index("ix_follow_up_customer_due", "customer_id", "due_on"),
        # follow_up_rate for the company: follow-ups due in a period.
        Index("ix_follow_up_due", "due_on"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    visit_id: Mapped[int | None] = mapped_column(ForeignKey("visit.id"), index=True)
    rep_id: Mapped[int] = mapped_column(ForeignKey("user.id"))
    branch_id: Mapped[int] = mapped_column(ForeignKey("branch.id"))
    customer_id: Mapped[int] = mapped_column(ForeignKey("customer.id"))
    action: Mapped[str] = mapped_column(Text)
    due_on: Mapped[date] = mapped_column(Date)
    done_on: Mapped[date | None] = mapped_column(Date)
    # The visit whose entry ticked this follow-up off, if any.
    done_visit_id: Mapped[int | None] = mapped_column(ForeignKey("visit.id"))
    cancelled: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    visit: Mapped[Visit | None] = relationship(back_populates="follow_ups", foreign_keys=[visit_id])
    rep: Mapped[User] = relationship()
    branch: Mapped[Branch] = relationship()
    customer: Mapped[Customer] = relationship()

    def __repr__(self) -> str:
        return f"<FollowUp {self.id} due={self.due_on} done={self.done_on}>"


class PlannedVisit(db.Model):
    """A visit a rep plans for a day, with the purpose decided before going (the plan)."""

    __table_args__ = (UniqueConstraint("rep_id", "planned_on", "customer_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    rep_id: Mapped[int] = mapped_column(ForeignKey("user.id"))
    customer_id: Mapped[int] = mapped_column(ForeignKey("customer.id"), index=True)
    planned_on: Mapped[date] = mapped_column(Date)
    purpose_id: Mapped[int | None] = mapped_column(ForeignKey("purpose.id"))
    note: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    rep: Mapped[User] = relationship()
    customer: Mapped[Customer] = relationship()
    purpose: Mapped[Purpose | None] = relationship()

    def __repr__(self) -> str:
        return f"<PlannedVisit {self.planned_on} customer={self.customer_id}>"


class ImportBatch(db.Model):
    """One imported file; a sales file identical to an earlier one is refused by its digest."""

    __table_args__ = (Index("ix_import_batch_kind_sha", "kind", "sha256"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    sha256: Mapped[str] = mapped_column(String(64))
    filename: Mapped[str] = mapped_column(String(300), default="")
    row_count: Mapped[int] = mapped_column(Integer, default=0)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    def __repr__(self) -> str:
        return f"<ImportBatch {self.kind} {self.filename}>"


class SalesLine(db.Model):
    __table_args__ = (
        # Covering for sales_amount / gross_margin_rate per customer in scope (SQLite reads the
        # customers, then each one's lines of the periods from this index alone), and for what
        # each customer bought by category (the plan, the customer page).
        Index(
            "ix_sales_line_customer_on_category_amounts",
            "customer_id",
            "sold_on",
            "category_id",
            "amount",
            "gross_profit",
        ),
        # Covering for the KPI windows (sales_amount, gross_margin_rate, dormant_rate from the
        # events, deepening's rebuild): a range of sold_on read without touching the table.
        Index(
            "ix_sales_line_on_customer_amounts",
            "sold_on",
            "customer_id",
            "category_id",
            "amount",
            "gross_profit",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    ref: Mapped[str | None] = mapped_column(String(64), unique=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customer.id"))
    sold_on: Mapped[date] = mapped_column(Date)
    category_id: Mapped[int | None] = mapped_column(ForeignKey("category.id"))
    amount: Mapped[int] = mapped_column(BigInteger)
    gross_profit: Mapped[int | None] = mapped_column(BigInteger)
    import_id: Mapped[int | None] = mapped_column(ForeignKey("import_batch.id"))

    customer: Mapped[Customer] = relationship()
    category: Mapped[Category | None] = relationship()

    def __repr__(self) -> str:
        return f"<SalesLine {self.id} {self.sold_on} {self.amount}>"


class DeepeningRun(db.Model):
    """Days on which a customer counts in ``deepening_rate`` (a summary derived from sales lines).

    For every day E in ``starts_on``..``ends_on`` (inclusive) the customer had sales in the 365
    days before the 365-day window ending at E (the denominator), and ``grew`` says whether it
    bought more distinct categories in that window than in those previous 365 days (the
    numerator). Never edited: ``fieldlog.kpi.deepening`` keeps it in step and rebuilds it.
    """

    __table_args__ = (
        # Runs overlapping the period ends of a roll-up, read from the index alone.
        Index("ix_deepening_run_ends_starts", "ends_on", "starts_on", "customer_id", "grew"),
    )

    customer_id: Mapped[int] = mapped_column(ForeignKey("customer.id"), primary_key=True)
    starts_on: Mapped[date] = mapped_column(Date, primary_key=True)
    ends_on: Mapped[date] = mapped_column(Date)
    grew: Mapped[bool] = mapped_column(Boolean)

    def __repr__(self) -> str:
        return f"<DeepeningRun {self.customer_id} {self.starts_on}..{self.ends_on} {self.grew}>"


class CategoryBuyerRun(db.Model):
    """Days on which a customer counts as a buyer of a category (derived from sales lines).

    For every day E in ``starts_on``..``ends_on`` (inclusive) the customer has a sales line of
    the category in the 365 days before E (E − 365 … E − 1, the window of the plan's cross-sell
    candidates). The plan counts a branch's buyers per rank and category on a day from these
    runs instead of reading the branch's year of sales lines (docs/kpi.md).
    ``fieldlog.kpi.buyers`` keeps it in step with the other summaries and rebuilds it.
    """

    __table_args__ = (
        # A customer's runs that reach a day, read from the index alone.
        Index(
            "ix_category_buyer_run_customer_ends",
            "customer_id",
            "ends_on",
            "starts_on",
            "category_id",
        ),
    )

    customer_id: Mapped[int] = mapped_column(ForeignKey("customer.id"), primary_key=True)
    category_id: Mapped[int] = mapped_column(ForeignKey("category.id"), primary_key=True)
    starts_on: Mapped[date] = mapped_column(Date, primary_key=True)
    ends_on: Mapped[date] = mapped_column(Date)

    def __repr__(self) -> str:
        return (
            f"<CategoryBuyerRun {self.customer_id} {self.category_id} "
            f"{self.starts_on}..{self.ends_on}>"
        )


class DormancyRun(db.Model):
    """Days on which a customer is *not* dormant (a summary derived from visits and sales lines).

    For every day E in ``starts_on``..``ends_on`` (inclusive) the customer had a visit (by
    anyone) in the ``dormant_visit_days`` ending at E, and either no sales on or before E or
    some in the ``dormant_sales_days`` ending at E. The thresholds and the timezone it was built
    with are in ``SummaryState`` ("dormancy"). ``fieldlog.kpi.dormancy`` keeps it in step.
    """

    __table_args__ = (
        # Runs overlapping the period ends of a roll-up, read from the index alone.
        Index("ix_dormancy_run_ends_starts", "ends_on", "starts_on", "customer_id"),
    )

    customer_id: Mapped[int] = mapped_column(ForeignKey("customer.id"), primary_key=True)
    starts_on: Mapped[date] = mapped_column(Date, primary_key=True)
    ends_on: Mapped[date] = mapped_column(Date)

    def __repr__(self) -> str:
        return f"<DormancyRun {self.customer_id} {self.starts_on}..{self.ends_on}>"


class SummaryState(db.Model):
    """What a derived summary was built with (its settings), so a reader can tell it is current."""

    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    params: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    built_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    def __repr__(self) -> str:
        return f"<SummaryState {self.name} {self.params}>"


class CompanySettings(db.Model):
    """The single row of company-wide settings (id 1)."""

    id: Mapped[int] = mapped_column(primary_key=True)
    company_name: Mapped[str] = mapped_column(String(200), default="")
    active_kpis: Mapped[list[str]] = mapped_column(JSON, default=list)
    dormant_visit_days: Mapped[int] = mapped_column(Integer, default=60)
    dormant_sales_days: Mapped[int] = mapped_column(Integer, default=90)
    cycle_days_a: Mapped[int] = mapped_column(Integer, default=14)
    cycle_days_b: Mapped[int] = mapped_column(Integer, default=30)
    cycle_days_c: Mapped[int] = mapped_column(Integer, default=60)
    # Company-specific "why" texts that override the catalogue's, by KPI key.
    kpi_why: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    # Honest-number signals (docs/honest-numbers.md): a visit entered more than this many days
    # after it happened is a late entry (accepted, marked, its reason asked for) …
    late_entry_days: Mapped[int] = mapped_column(Integer, default=3, server_default="3")
    # … and this many late entries by one rep on one day are a late bulk entry;
    bulk_entry_visits: Mapped[int] = mapped_column(Integer, default=5, server_default="5")
    # more visits than this in a day, or two visits at different customers closer than this
    # many minutes, is more than a route allows;
    max_visits_per_day: Mapped[int] = mapped_column(Integer, default=15, server_default="15")
    min_visit_gap_minutes: Mapped[int] = mapped_column(Integer, default=5, server_default="5")
    # a rep with at least this many visits in a period, every one purposeful, is flagged;
    all_purposeful_visits: Mapped[int] = mapped_column(Integer, default=10, server_default="10")
    # and this many "problems heard" without a word of note.
    hearing_no_note_visits: Mapped[int] = mapped_column(Integer, default=5, server_default="5")
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    def cycle_days(self, rank: str) -> int:
        """The default visit cycle for a customer rank."""
        return {"A": self.cycle_days_a, "C": self.cycle_days_c}.get(rank, self.cycle_days_b)

    def __repr__(self) -> str:
        return f"<CompanySettings {self.active_kpis}>"


class KpiTarget(db.Model):
    """A target for one KPI in one scope, in force from a date until a newer one replaces it."""

    __table_args__ = (
        CheckConstraint(_in("scope_kind", ("company", "branch", "rep")), name="scope_kind"),
        CheckConstraint(_in("period_kind", ("week", "month")), name="period_kind"),
        Index("ix_kpi_target_lookup", "kpi", "scope_kind", "period_kind", "effective_from"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kpi: Mapped[str] = mapped_column(String(40))
    scope_kind: Mapped[str] = mapped_column(String(8))
    branch_id: Mapped[int | None] = mapped_column(ForeignKey("branch.id"))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    period_kind: Mapped[str] = mapped_column(String(8))
    value: Mapped[float] = mapped_column(Float)
    effective_from: Mapped[date] = mapped_column(Date)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    branch: Mapped[Branch | None] = relationship()
    user: Mapped[User | None] = relationship(foreign_keys=[user_id])

    def __repr__(self) -> str:
        return f"<KpiTarget {self.kpi} {self.scope_kind} {self.value} from {self.effective_from}>"


class Hypothesis(db.Model):
    __table_args__ = (CheckConstraint(_in("status", HYPOTHESIS_STATUSES), name="status"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    statement: Mapped[str] = mapped_column(Text)
    kpis: Mapped[list[str]] = mapped_column(JSON, default=list)
    kgi: Mapped[str] = mapped_column(String(40), default="sales_amount")
    started_on: Mapped[date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(16), default="testing")
    # None: a company-wide hypothesis.
    branch_id: Mapped[int | None] = mapped_column(ForeignKey("branch.id"))
    author_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    note: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    branch: Mapped[Branch | None] = relationship()
    author: Mapped[User | None] = relationship()

    def __repr__(self) -> str:
        return f"<Hypothesis {self.id} {self.status}>"


class HypothesisStatusChange(db.Model):
    """A person's change of a hypothesis's status, with the evidence shown at that moment.

    ``evidence`` is the lead analysis per branch and KPI as the page showed it (``kpi lead``'s
    JSON plus the branch and the suggested verdict), so the record says what was known.
    """

    id: Mapped[int] = mapped_column(primary_key=True)
    hypothesis_id: Mapped[int] = mapped_column(
        ForeignKey("hypothesis.id", ondelete="CASCADE"), index=True
    )
    old_status: Mapped[str] = mapped_column(String(16))
    new_status: Mapped[str] = mapped_column(String(16))
    evidence: Mapped[Any] = mapped_column(JSON, default=list)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    user: Mapped[User | None] = relationship()

    def __repr__(self) -> str:
        return (
            f"<HypothesisStatusChange {self.hypothesis_id} {self.old_status} → {self.new_status}>"
        )


class Review(db.Model):
    """A manager's answer to the three weekly questions for one KPI of one branch-week."""

    __table_args__ = (
        CheckConstraint("cause IS NULL OR " + _in("cause", REVIEW_CAUSES), name="cause"),
        UniqueConstraint("branch_id", "week", "kpi"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    branch_id: Mapped[int] = mapped_column(ForeignKey("branch.id"))
    week: Mapped[str] = mapped_column(String(8))
    kpi: Mapped[str | None] = mapped_column(String(40))
    why: Mapped[str] = mapped_column(Text, default="")
    cause: Mapped[str | None] = mapped_column(String(16))
    next_change: Mapped[str] = mapped_column(Text, default="")
    hypothesis_id: Mapped[int | None] = mapped_column(ForeignKey("hypothesis.id"))
    author_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    branch: Mapped[Branch] = relationship()
    author: Mapped[User | None] = relationship()
    hypothesis: Mapped[Hypothesis | None] = relationship()

    def __repr__(self) -> str:
        return f"<Review {self.week} {self.kpi}>"


class ReportSnapshot(db.Model):
    """The KPI values of one week's report as it first went out, to compare with a fresh roll-up.

    Written once per (week, report) by the send path when the first mail succeeds; never
    edited. ``kpis`` maps a KPI key to {"value", "numerator", "denominator"}.
    """

    __table_args__ = (UniqueConstraint("week", "report"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    week: Mapped[str] = mapped_column(String(8))
    # "branch:CODE" or "company", as ReportDelivery.report.
    report: Mapped[str] = mapped_column(String(80))
    sent_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    kpis: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)

    def __repr__(self) -> str:
        return f"<ReportSnapshot {self.week} {self.report}>"


class ReportDelivery(db.Model):
    """One report for one recipient and week; the unique key makes every send happen once."""

    __table_args__ = (UniqueConstraint("week", "report", "recipient"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    week: Mapped[str] = mapped_column(String(8))
    # "branch:CODE" or "company".
    report: Mapped[str] = mapped_column(String(80))
    recipient: Mapped[str] = mapped_column(String(254))
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    def __repr__(self) -> str:
        return f"<ReportDelivery {self.week} {self.report} {self.recipient} {self.status}>"


class SalesBudget(db.Model):
    """A month's sales budget (予算) for a branch (rep_id None) or for one rep of that branch.

    One row per (month, branch, rep): the import and the targets page update it in place and
    keep the change in the history (docs/kgi.md).
    """

    __table_args__ = (
        CheckConstraint(f"amount >= 0 AND amount <= {MAX_AMOUNT}", name="amount"),
        Index("ix_sales_budget_month_branch_rep", "month", "branch_id", "rep_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # The first day of the month.
    month: Mapped[date] = mapped_column(Date)
    branch_id: Mapped[int] = mapped_column(ForeignKey("branch.id"))
    rep_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    amount: Mapped[int] = mapped_column(BigInteger)
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    branch: Mapped[Branch] = relationship()
    rep: Mapped[User | None] = relationship(foreign_keys=[rep_id])

    def __repr__(self) -> str:
        return f"<SalesBudget {self.month:%Y-%m} branch={self.branch_id} rep={self.rep_id}>"


SETTING_CHANGE_KINDS = ("target", "active_kpis", "threshold", "budget", "purpose")


class SettingChange(db.Model):
    """One change of a setting that moves the numbers (who, when, old → new): /settings/history.

    ``kind`` says what changed and ``key`` which one (a KPI key, a threshold's name, a month, a
    purpose code); ``branch_id`` is the branch it applies to, None for the whole company.
    """

    __table_args__ = (
        CheckConstraint(_in("kind", SETTING_CHANGE_KINDS), name="kind"),
        Index("ix_setting_change_at", "changed_at"),
        Index("ix_setting_change_branch_at", "branch_id", "changed_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    key: Mapped[str] = mapped_column(String(64))
    branch_id: Mapped[int | None] = mapped_column(ForeignKey("branch.id"))
    old: Mapped[Any] = mapped_column(JSON, nullable=True)
    new: Mapped[Any] = mapped_column(JSON, nullable=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    branch: Mapped[Branch | None] = relationship()
    user: Mapped[User | None] = relationship()

    def __repr__(self) -> str:
        return f"<SettingChange {self.kind} {self.key} {self.old!r} → {self.new!r}>"


LEAD_RANKING_STATES = ("running", "done", "failed")


class LeadRanking(db.Model):
    """The ranking of the candidate KPIs by how they led the KGI (docs/verification.md).

    One row per last week analysed (``until``, an ISO week label), window and KGI: the
    background job's progress while ``running``, then ``done`` with its results in
    ``LeadCache``. New data dated on or before ``window_end`` delete it (``kpi.lead_cache``).
    """

    __table_args__ = (
        CheckConstraint(_in("state", LEAD_RANKING_STATES), name="state"),
        UniqueConstraint("until", "weeks", "kgi", name="uq_lead_ranking_until_weeks_kgi"),
        Index("ix_lead_ranking_window_end", "window_end"),
        Index("ix_lead_ranking_window_until", "window_until"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    until: Mapped[str] = mapped_column(String(10))
    weeks: Mapped[int] = mapped_column(Integer)
    kgi: Mapped[str] = mapped_column(String(40))
    window_end: Mapped[date] = mapped_column(Date)
    # The instant the window ends (local midnight after window_end), for visits' times.
    window_until: Mapped[datetime] = mapped_column(UTCDateTime)
    state: Mapped[str] = mapped_column(String(12), default="running")
    done: Mapped[int] = mapped_column(Integer, default=0)
    total: Mapped[int] = mapped_column(Integer, default=0)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    def __repr__(self) -> str:
        return f"<LeadRanking {self.until} {self.weeks}w {self.kgi} {self.state}>"


class LeadCache(db.Model):
    """One lead analysis kept for reuse: ``kpi lead``'s JSON for a KPI, KGI, scope and window.

    ``scope`` is ``company`` or ``branch:<id>``. Deleted with the weeks it covers: any new or
    changed data dated on or before ``window_end`` (``kpi.lead_cache``).
    """

    __table_args__ = (
        UniqueConstraint("until", "weeks", "kgi", "scope", "kpi", name="uq_lead_cache_key"),
        Index("ix_lead_cache_window_end", "window_end"),
        Index("ix_lead_cache_window_until", "window_until"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    until: Mapped[str] = mapped_column(String(10))
    weeks: Mapped[int] = mapped_column(Integer)
    kgi: Mapped[str] = mapped_column(String(40))
    scope: Mapped[str] = mapped_column(String(40))
    kpi: Mapped[str] = mapped_column(String(40))
    window_end: Mapped[date] = mapped_column(Date)
    window_until: Mapped[datetime] = mapped_column(UTCDateTime)
    result: Mapped[dict[str, Any]] = mapped_column(JSON)
    units: Mapped[int] = mapped_column(Integer, default=0)
    computed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    def __repr__(self) -> str:
        return f"<LeadCache {self.until} {self.scope} {self.kpi}→{self.kgi}>"
