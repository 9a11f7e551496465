"""Customers (with their search key), product categories and visit purposes."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, CheckConstraint, ForeignKey, Index, Integer, String, event
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..app.extensions import db
from ..rules.text import search_key
from .base import UTCDateTime, _in, utcnow
from .people import Branch, User

RANKS = ("A", "B", "C")


class Customer(db.Model):
    __table_args__ = (
        CheckConstraint(_in("rank", RANKS), name="rank"),
        CheckConstraint("visit_cycle_days IS NULL OR visit_cycle_days > 0", name="cycle"),
        Index("ix_customer_branch_rep", "branch_id", "rep_id"),
        Index("ix_customer_updated", "updated_at"),  # the data stamp (services.data_stamp)
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
    # A renamed or retired category changes the plan's words (services.data_stamp).
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

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
    # A relabelled or retired purpose changes the plan and Today (services.data_stamp).
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    def label(self, locale: str) -> str:
        """The label in the given locale, Japanese by default."""
        return self.label_en if locale == "en" else self.label_ja

    def __repr__(self) -> str:
        return f"<Purpose {self.code} purposeful={self.purposeful}>"
