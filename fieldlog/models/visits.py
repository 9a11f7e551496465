"""Visits and what they bring: proposals, follow-ups, planned visits, and their revisions."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    String,
    Text,
    UniqueConstraint,
    true,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..app.extensions import db
from .base import UTCDateTime, _in, utcnow
from .customers import Category, Customer, Purpose
from .people import Branch, User

PROPOSAL_KINDS = ("upsell", "cross_sell", "other")
PROPOSAL_STATUSES = ("open", "won", "lost")
VISIT_SOURCES = ("app", "import")


class Visit(db.Model):
    __table_args__ = (
        UniqueConstraint("rep_id", "client_id"),
        Index("ix_visit_branch_at", "branch_id", "visited_at"),
        Index("ix_visit_rep_at", "rep_id", "visited_at"),
        Index("ix_visit_customer_at", "customer_id", "visited_at"),
        # Company-wide KPI roll-ups select a week of visits without a branch or rep.
        Index("ix_visit_at", "visited_at"),
        # The newest change, read by the data stamp of the plan's and Today's cache.
        Index("ix_visit_updated", "updated_at"),
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
    # False when only the date is known (an imported row with a bare date, stored at 12:00
    # company time): the time of day then says nothing (docs/import-visits.md).
    time_known: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
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
        Index("ix_proposal_updated", "updated_at"),  # the data stamp (services.data_stamp)
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
        Index("ix_follow_up_updated", "updated_at"),  # the data stamp (services.data_stamp)
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

    __table_args__ = (
        UniqueConstraint("rep_id", "planned_on", "customer_id"),
        Index("ix_planned_visit_updated", "updated_at"),  # the data stamp (services.data_stamp)
    )

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
