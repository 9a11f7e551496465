"""Summaries kept in step with the events (docs/kpi.md): per-customer runs, the lead
analysis cache, the KPI ranking and the kept sales forecasts (docs/kgi.md)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from ..app.extensions import db
from .base import UTCDateTime, _in, utcnow


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


LEAD_RANKING_STATES = ("running", "done", "failed")


class _AnalysedWeeks:
    """The weeks a lead analysis covers, as the KPI ranking and the kept analyses name them:
    the last week (an ISO week label), how many weeks, the KGI, and where the window ends — a
    date, and the instant after it (local midnight after ``window_end``) for visits' times."""

    until: Mapped[str] = mapped_column(String(10))
    weeks: Mapped[int] = mapped_column(Integer)
    kgi: Mapped[str] = mapped_column(String(40))
    window_end: Mapped[date] = mapped_column(Date)
    window_until: Mapped[datetime] = mapped_column(UTCDateTime)


class LeadRanking(_AnalysedWeeks, db.Model):
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
    state: Mapped[str] = mapped_column(String(12), default="running")
    done: Mapped[int] = mapped_column(Integer, default=0)
    total: Mapped[int] = mapped_column(Integer, default=0)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    def __repr__(self) -> str:
        return f"<LeadRanking {self.until} {self.weeks}w {self.kgi} {self.state}>"


class LeadCache(_AnalysedWeeks, db.Model):
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
    scope: Mapped[str] = mapped_column(String(40))
    kpi: Mapped[str] = mapped_column(String(40))
    result: Mapped[dict[str, Any]] = mapped_column(JSON)
    units: Mapped[int] = mapped_column(Integer, default=0)
    computed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    def __repr__(self) -> str:
        return f"<LeadCache {self.until} {self.scope} {self.kpi}→{self.kgi}>"


FORECAST_CACHE_STATES = ("running", "done")


class ForecastCache(db.Model):
    """One sales forecast the pages show, kept for every process (docs/kgi.md).

    Keyed by ``scope`` (``company`` or ``branch:<id>``, as ``kpi.lead_cache.scope_key`` spells
    it), ``as_of``, ``weeks`` and ``data_version`` (the newest sales line, import and proposal
    change, as ``kpi.kgi`` reads them, in one string). ``running`` is a process's claim while it
    fits (another process waits for it; taken over once older than
    ``kpi.forecast_cache.STALE_AFTER``), ``done`` holds the forecast, or the too-little-history
    answer, as JSON (``kpi.forecast_cache.to_json``). Its branch's rows go with the branch.
    """

    __table_args__ = (
        CheckConstraint(_in("state", FORECAST_CACHE_STATES), name="state"),
        UniqueConstraint("scope", "as_of", "weeks", "data_version", name="uq_forecast_cache_key"),
        Index("ix_forecast_cache_as_of", "as_of"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    scope: Mapped[str] = mapped_column(String(40))
    branch_id: Mapped[int | None] = mapped_column(
        ForeignKey("branch.id", ondelete="CASCADE"), index=True
    )
    as_of: Mapped[date] = mapped_column(Date)
    weeks: Mapped[int] = mapped_column(Integer)
    data_version: Mapped[str] = mapped_column(String(120))
    state: Mapped[str] = mapped_column(String(12), default="running")
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    def __repr__(self) -> str:
        return f"<ForecastCache {self.scope} {self.as_of} {self.weeks}w {self.state}>"
