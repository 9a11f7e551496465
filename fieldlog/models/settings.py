"""The company's settings: thresholds and cycles, KPI targets, and the history of changes."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, CheckConstraint, Date, Float, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..app.extensions import db
from .base import UTCDateTime, _in, utcnow
from .people import Branch, User


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
