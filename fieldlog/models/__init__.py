"""The tables of docs/domain.md: typed, singular and boring.

One module per aggregate (docs/architecture.md); every name is re-exported here, so
``from fieldlog.models import Customer`` reads as before and importing this package registers
every table with the metadata Alembic compares (``flask db check``).
"""

from __future__ import annotations

from .base import UTCDateTime, utcnow
from .customers import RANKS, Category, Customer, Purpose
from .people import ROLES, Branch, LoginAttempt, LoginSession, User
from .reports import ReportDelivery, ReportSnapshot
from .reviews import (
    HYPOTHESIS_STATUSES,
    HYPOTHESIS_TARGETS,
    REVIEW_CAUSES,
    Hypothesis,
    HypothesisStatusChange,
    Review,
)
from .sales import ImportBatch, SalesBudget, SalesLine
from .settings import SETTING_CHANGE_KINDS, CompanySettings, KpiTarget, SettingChange
from .summaries import (
    FORECAST_CACHE_STATES,
    LEAD_RANKING_STATES,
    CategoryBuyerRun,
    DeepeningRun,
    DormancyRun,
    ForecastCache,
    LeadCache,
    LeadRanking,
    SummaryState,
)
from .visits import (
    PROPOSAL_KINDS,
    PROPOSAL_STATUSES,
    VISIT_SOURCES,
    FollowUp,
    PlannedVisit,
    Proposal,
    ProposalRevision,
    Visit,
    VisitRevision,
)

__all__ = [
    "FORECAST_CACHE_STATES",
    "HYPOTHESIS_STATUSES",
    "HYPOTHESIS_TARGETS",
    "LEAD_RANKING_STATES",
    "PROPOSAL_KINDS",
    "PROPOSAL_STATUSES",
    "RANKS",
    "REVIEW_CAUSES",
    "ROLES",
    "SETTING_CHANGE_KINDS",
    "VISIT_SOURCES",
    "Branch",
    "Category",
    "CategoryBuyerRun",
    "CompanySettings",
    "Customer",
    "DeepeningRun",
    "DormancyRun",
    "FollowUp",
    "ForecastCache",
    "Hypothesis",
    "HypothesisStatusChange",
    "ImportBatch",
    "KpiTarget",
    "LeadCache",
    "LeadRanking",
    "LoginAttempt",
    "LoginSession",
    "PlannedVisit",
    "Proposal",
    "ProposalRevision",
    "Purpose",
    "ReportDelivery",
    "ReportSnapshot",
    "Review",
    "SalesBudget",
    "SalesLine",
    "SettingChange",
    "SummaryState",
    "UTCDateTime",
    "User",
    "Visit",
    "VisitRevision",
    "utcnow",
]
