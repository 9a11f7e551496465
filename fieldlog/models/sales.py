"""Sales lines, the import batches that bring them, and sales budgets."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import BigInteger, CheckConstraint, Date, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..app.extensions import db
from ..rules.limits import MAX_AMOUNT
from .base import UTCDateTime, utcnow
from .customers import Category, Customer
from .people import Branch, User


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
