"""The rep's lists: visits, proposals and customers, searched, filtered and paged.

The views parse ``?q=``, ``?mine=`` and ``?page=`` and ask here; every list starts from an
``access`` scope, so a search never reaches past what the user may see.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from math import ceil
from typing import Any, Generic, TypeVar
from zoneinfo import ZoneInfo

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session, joinedload, lazyload

from ..models import CompanySettings, Customer, Proposal, User, Visit
from . import access
from . import proposals as corrections
from .errors import NotFound
from .today import CustomerStatus, customer_statuses

T = TypeVar("T")


@dataclass
class Page(Generic[T]):
    """One page of a list, with what a pager needs (the names Flask-SQLAlchemy's use)."""

    items: list[T]
    page: int
    per_page: int
    total: int

    @property
    def pages(self) -> int:
        return ceil(self.total / self.per_page) if self.total else 0

    @property
    def has_prev(self) -> bool:
        return self.page > 1

    @property
    def prev_num(self) -> int | None:
        return self.page - 1 if self.has_prev else None

    @property
    def has_next(self) -> bool:
        return self.page < self.pages

    @property
    def next_num(self) -> int | None:
        return self.page + 1 if self.has_next else None

    def __iter__(self) -> Iterator[T]:
        return iter(self.items)


def paged(session: Session, stmt: Select[Any], page: int, per_page: int) -> Page[Any]:
    """Page ``page`` (from 1) of a statement's rows; a page past the last one is not found."""
    rows = session.execute(stmt.limit(per_page).offset((page - 1) * per_page))
    items = list(rows.unique().scalars())
    if not items and page != 1:
        raise NotFound()
    counted = stmt.options(lazyload("*")).order_by(None).subquery()
    total = session.scalar(select(func.count()).select_from(counted)) or 0
    return Page(items, page, per_page, total)


@dataclass(frozen=True)
class ListFilter:
    """A list's search: a folded search key (``rules.text.search_key``) and "only mine"."""

    key: str = ""
    mine: bool = False


def _where(user: User, model: type[Visit] | type[Proposal], chosen: ListFilter) -> list[Any]:
    """Conditions: the customer's code, name or reading contains the key; the user's own."""
    where: list[Any] = []
    if chosen.key:
        matching = access.customers(user).where(
            Customer.search_text.contains(chosen.key, autoescape=True)
        )
        where.append(model.customer_id.in_(matching.with_only_columns(Customer.id).order_by(None)))
    if chosen.mine:
        where.append(model.rep_id == user.id)
    return where


def visits_page(
    session: Session, user: User, chosen: ListFilter, *, page: int, per_page: int
) -> Page[Visit]:
    """The visits the user may see matching the filter, newest first."""
    stmt = (
        access.visits(user)
        .where(*_where(user, Visit, chosen))
        .options(joinedload(Visit.customer), joinedload(Visit.purpose), joinedload(Visit.rep))
        .order_by(Visit.visited_at.desc(), Visit.id.desc())
    )
    return paged(session, stmt, page, per_page)


def proposals(
    session: Session, user: User, chosen: ListFilter, *, page: int, per_page: int
) -> tuple[Page[Proposal], list[Proposal]]:
    """One page of the open proposals matching the filter (latest proposed first) and, on the
    first page, the latest ``per_page`` closed ones (latest closed first)."""
    where = _where(user, Proposal, chosen)
    open_ = paged(session, corrections.open_proposals(user, where), page, per_page)
    closed = corrections.recently_closed(session, user, where, limit=per_page) if page == 1 else []
    return open_, closed


def customers_page(
    session: Session, user: User, key: str, *, page: int, per_page: int
) -> Page[Customer]:
    """The customers the user may see whose code, name or reading contains ``key``."""
    stmt = access.customers(user).options(joinedload(Customer.rep))
    if key:
        stmt = stmt.where(Customer.search_text.contains(key, autoescape=True))
    return paged(session, stmt, page, per_page)


def customer_status(
    session: Session,
    user: User,
    customer_id: int,
    *,
    today: date,
    tz: ZoneInfo,
    settings: CompanySettings,
) -> CustomerStatus | None:
    """One customer's visit status, if the user may see it (None: not found or not theirs)."""
    scope = access.customers(user).where(Customer.id == customer_id)
    found = customer_statuses(session, scope, today=today, tz=tz, settings=settings)
    return found[0] if found else None
