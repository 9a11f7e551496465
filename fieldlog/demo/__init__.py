"""The demo company: a Japanese industrial-supplies distributor with a year of visit history.

Patterns worth showing on the KPI pages are built in on purpose: one rep who visits a lot but
mostly without a purpose (御用聞き型), one branch whose proposals rise while its sales follow a
few weeks later, a handful of dormant customers, and customers overdue for a visit today.
Deterministic for a given seed and date.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass
from datetime import date, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import delete, insert, select
from sqlalchemy.orm import Session

from ..app.extensions import db
from ..kpi import dormancy, lead_cache
from ..models import Branch, Hypothesis, KpiTarget, Review, User
from ..rules.periods import Period
from ..services import accounts
from ..services.defaults import DEFAULT_ACTIVE_KPIS, ensure_defaults
from . import budgets
from . import vocabulary as cat
from .activity import History
from .people import Company, build_company

DEMO_PASSWORD = cat.DEMO_PASSWORD
COMPANY_TARGETS = {
    "purposeful_visit_rate": 0.7,
    "hearing_rate": 0.6,
    "additional_proposal_rate": 0.2,
    "next_action_rate": 0.7,
    "follow_up_rate": 0.85,
}


@dataclass
class Login:
    role: str
    email: str
    name: str
    note: str


@dataclass
class DemoResult:
    counts: dict[str, int]
    logins: list[Login]
    seconds: float
    password: str = DEMO_PASSWORD
    company: str = cat.COMPANY_NAME


def has_data(session: Session) -> bool:
    """True when any branch exists: the database is in use and demo data would not fit in."""
    return session.scalar(select(Branch.id).limit(1)) is not None


def wipe(session: Session) -> None:
    """Delete every row of every table (the schema stays), then restore the defaults."""
    for table in reversed(db.metadata.sorted_tables):
        session.execute(delete(table))
    session.flush()
    ensure_defaults(session)


def build(
    session: Session,
    *,
    today: date,
    tz: ZoneInfo,
    weeks: int = 52,
    seed: int = 1,
    customers: int = 600,
) -> DemoResult:
    """Create the demo company in an empty database; flushes, never commits."""
    started = time.perf_counter()
    if weeks < 1:
        raise ValueError("weeks must be at least 1")
    rng = random.Random(seed)
    # The company's whole history is written here: no kept lead analysis stands (a write step).
    lead_cache.histories_moved(session)
    settings = ensure_defaults(session, tz)  # the purposes every visit needs
    settings.company_name = cat.COMPANY_NAME
    cycles = {rank: settings.cycle_days(rank) for rank in ("A", "B", "C")}
    # One hash for everyone: scrypt costs ~0.1 s per call.
    holder = User()
    accounts.set_password(holder, DEMO_PASSWORD)
    company = build_company(
        session,
        rng,
        password_hash=holder.password_hash,
        customers=customers,
        cycles=cycles,
    )
    history = History(session, rng, company, today=today, weeks=weeks, tz=tz)
    history.plan()
    proposals = history.visits()
    history.sales(proposals)
    history.finish_proposals(proposals)
    _management(session, company, today=today, start=history.start)
    session.flush()
    budgets.build(session, today)  # after the sales: planned from them
    dormancy.rebuild(session, settings, tz)  # the visits were written in bulk, past the ORM
    counts = {
        "branches": len(company.branches),
        "users": len(company.people),
        "reps": len(company.reps()),
        "customers": len(company.clients),
        "categories": len(company.categories),
        **history.counts,
    }
    return DemoResult(counts=counts, logins=_logins(company), seconds=time.perf_counter() - started)


def _management(session: Session, company: Company, *, today: date, start: date) -> None:
    """Company targets, the hypotheses being tested and the last weeks' reviews."""
    owner = company.person("owner")
    session.execute(
        insert(KpiTarget),
        [
            {
                "kpi": kpi,
                "scope_kind": "company",
                "period_kind": "week",
                "value": COMPANY_TARGETS.get(kpi, 0.5),
                "effective_from": start,
                "created_by_id": owner.id,
            }
            for kpi in DEFAULT_ACTIVE_KPIS
        ],
    )
    main = Hypothesis(
        statement="追加提案を増やせば売上が上がる",
        kpis=["additional_proposal_rate", "proposal_count"],
        kgi="sales_amount",
        started_on=today - timedelta(weeks=8),
        status="testing",
        author_id=owner.id,
        note="名古屋支店で購買履歴を見た追加提案を先行実施。売上は数週間遅れて反応するはず。",
    )
    tokyo_manager = company.managers("TKY")[0]
    purposeful = Hypothesis(
        statement="訪問前に目的を決めれば、課題ヒアリングと次回アクションの設定が増える",
        kpis=["purposeful_visit_rate", "hearing_rate", "next_action_rate"],
        kgi="sales_amount",
        target="kpis",
        started_on=today - timedelta(weeks=4),
        status="testing",
        branch_id=company.branches["TKY"],
        author_id=tokyo_manager.id,
    )
    session.add_all([main, purposeful])
    session.flush()
    last_week = Period.week_of(today).previous()
    for branch, (kpi, why, cause, next_change) in cat.REVIEWS.items():
        author = company.managers(branch)[0]
        for week in last_week.trailing(3):
            session.add(
                Review(
                    branch_id=company.branches[branch],
                    week=week.label,
                    kpi=kpi,
                    why=why,
                    cause=cause,
                    next_change=next_change,
                    hypothesis_id=main.id if branch == cat.RISING_BRANCH else None,
                    author_id=author.id,
                )
            )


def _logins(company: Company) -> list[Login]:
    owner = company.person("owner")
    manager = company.managers(cat.RISING_BRANCH)[0]
    order_taker = next(p for p in company.people if p.profile == "order_taker")
    star = next(p for p in company.people if p.profile == "star")
    return [
        Login("owner", owner.email, owner.name, "company summary and administration"),
        Login("manager", manager.email, manager.name, "Nagoya: proposals rising, sales follow"),
        Login("rep", order_taker.email, order_taker.name, "Tokyo: many visits, few purposeful"),
        Login("rep", star.email, star.name, "Osaka: purposeful visits, many proposals"),
    ]
