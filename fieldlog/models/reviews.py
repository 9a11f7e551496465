"""Hypotheses (with their status history) and the weekly reviews."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    CheckConstraint,
    Date,
    ForeignKey,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..app.extensions import db
from .base import UTCDateTime, _in, utcnow
from .people import Branch, User

HYPOTHESIS_STATUSES = ("testing", "supported", "rejected", "revised")
# What a hypothesis says will rise: its KGI ("more proposals raise sales") or its linked KPIs
# themselves ("purposeful visits raise hearing and next actions"); docs/verification.md.
HYPOTHESIS_TARGETS = ("kgi", "kpis")
REVIEW_CAUSES = ("quantity", "quality", "design")


class Hypothesis(db.Model):
    __table_args__ = (
        CheckConstraint(_in("status", HYPOTHESIS_STATUSES), name="status"),
        CheckConstraint(_in("target", HYPOTHESIS_TARGETS), name="target"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    statement: Mapped[str] = mapped_column(Text)
    kpis: Mapped[list[str]] = mapped_column(JSON, default=list)
    kgi: Mapped[str] = mapped_column(String(40), default="sales_amount")
    target: Mapped[str] = mapped_column(String(8), default="kgi", server_default="kgi")
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
