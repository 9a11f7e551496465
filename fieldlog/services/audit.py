"""The settings history: every change of a target, the active KPIs, a threshold, a budget or a
purpose's purposeful flag, kept with who made it and when (docs/contract.md, /settings/history).

These are the settings that decide whether a week shows 達成; keeping them makes a lowered target
or a rewritten purpose visible. Services flush; the caller commits.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from ..models import SETTING_CHANGE_KINDS, Branch, SettingChange, User, utcnow
from . import access

PER_PAGE = 50


def record_change(
    session: Session,
    user: User | None,
    kind: str,
    key: str,
    old: Any,
    new: Any,
    branch: Branch | int | None = None,
    *,
    at: datetime | None = None,
) -> SettingChange | None:
    """Keep one change (JSON-able old and new values); nothing is kept when they are equal.

    ``branch`` is the branch the setting applies to (None: the whole company), which decides
    which managers see the change.
    """
    if kind not in SETTING_CHANGE_KINDS:
        raise ValueError(f"unknown setting kind {kind!r}")
    if old == new:
        return None
    change = SettingChange(
        kind=kind,
        key=key[:64],
        branch_id=branch.id if isinstance(branch, Branch) else branch,
        old=old,
        new=new,
        user_id=user.id if user is not None else None,
        changed_at=at or utcnow(),
    )
    session.add(change)
    session.flush()
    return change


@dataclass(frozen=True)
class HistoryPage:
    """One page of the settings history, newest first."""

    changes: list[SettingChange]
    page: int
    pages: int
    total: int
    names: dict[str, str]  # the people the page's rep targets and budgets name, by email


def history(session: Session, user: User, page: int = 1, per_page: int = PER_PAGE) -> HistoryPage:
    """The changes this user may see (access.setting_changes), newest first, one page of them."""
    scoped = access.setting_changes(user)
    total = session.scalar(select(func.count()).select_from(scoped.subquery())) or 0
    pages = max(1, -(-total // per_page))
    page = min(max(page, 1), pages)
    changes = session.scalars(
        scoped.options(selectinload(SettingChange.user), selectinload(SettingChange.branch))
        .order_by(SettingChange.changed_at.desc(), SettingChange.id.desc())
        .limit(per_page)
        .offset((page - 1) * per_page)
    ).all()
    return HistoryPage(list(changes), page, pages, total, named_people(session, changes))


def named_people(session: Session, changes: list[SettingChange]) -> dict[str, str]:
    """People read by name, not by the email their change is keyed with."""
    emails = set()
    for c in changes:
        if c.kind == "budget" and " " in c.key:
            emails.add(c.key.split(" ", 1)[1])
        elif c.kind == "target":
            scope = (c.new or c.old or {}).get("scope", "")
            if scope.startswith("rep:"):
                emails.add(scope[4:])
    if not emails:
        return {}
    return dict(session.execute(select(User.email, User.name).where(User.email.in_(emails))).all())
