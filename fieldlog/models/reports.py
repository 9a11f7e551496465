"""The weekly report: snapshots kept as sent, and each delivery."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ..app.extensions import db
from .base import UTCDateTime, utcnow


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
