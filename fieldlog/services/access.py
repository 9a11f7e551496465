"""Who may see what: every query of user-visible records starts from a scope here.

rep: their own visits, proposals and follow-ups, and the customers of their branch (their own
first); manager: everything of their branch; owner: everything.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import Select, case, false, select
from sqlalchemy.orm import Session

from ..models import (
    ROLES,
    Branch,
    Customer,
    FollowUp,
    Hypothesis,
    KpiTarget,
    Proposal,
    Review,
    SalesLine,
    SettingChange,
    User,
    Visit,
)
from ..rules import limits

T = TypeVar("T")


def is_owner(user: User) -> bool:
    """Owners see and run everything, and belong to no branch."""
    return user.role == "owner"


def is_manager(user: User) -> bool:
    """A branch manager (支店長): runs their own branch."""
    return user.role == "manager"


def is_rep(user: User) -> bool:
    """A rep (営業担当): their own visits, proposals and follow-ups."""
    return user.role == "rep"


def has_role(user: User, roles: Collection[str]) -> bool:
    """Whether the user's role is one of ``roles`` (the route guard web.common.roles_required)."""
    return user.role in roles


def belongs_to_a_branch(role: str) -> bool:
    """Reps and managers work in one branch; an owner sees the company and belongs to none."""
    return role != "owner"


def runs_a_branch(user: User) -> bool:
    """Managers and owners: the pages that run a branch (dashboard, review, imports)."""
    return is_owner(user) or is_manager(user)


def is_manager_of(user: User, branch_id: int | None) -> bool:
    """Managers of the branch and owners may run it (dashboard, review, targets)."""
    return is_owner(user) or (is_manager(user) and user.branch_id == branch_id)


def managed_branch(session: Session, user: User, code: str) -> Branch | None:
    """The branch with this code if the user runs it (its manager, or an owner), else None."""
    branch = session.scalar(branches(user).where(Branch.code == code))
    if branch is None or not is_manager_of(user, branch.id):
        return None
    return branch


def can_log_visits(user: User) -> bool:
    """Reps, and managers on joint visits; owners have no branch and log none."""
    return user.role in ("rep", "manager") and user.branch_id is not None


@dataclass(frozen=True)
class Viewer:
    """What a user's pages show and how they word it, as flags: the templates read these (the
    template global ``viewer``, web/filters.py) and never compare a role themselves."""

    member: bool = False  # any role: Today, the visits, proposals and customers lists
    in_the_field: bool = False  # reps and managers: log visits, My week, the outbox
    sees_colleagues: bool = False  # managers and owners: others' records in the lists
    runs_a_branch: bool = False  # managers and owners: the branch pages, imports
    manages_one_branch: bool = False  # managers: "your branch" wording
    runs_the_company: bool = False  # owners: summary, admin, every setting, budgets


def viewer(user: Any) -> Viewer:
    """The page flags of a signed-in user; none for anyone else (or no request)."""
    if not getattr(user, "is_authenticated", False):
        return Viewer()
    return Viewer(
        member=has_role(user, ROLES),
        in_the_field=has_role(user, ("rep", "manager")),
        sees_colleagues=not is_rep(user),
        runs_a_branch=runs_a_branch(user),
        manages_one_branch=is_manager(user),
        runs_the_company=is_owner(user),
    )


def can_visit(user: User, customer: Customer) -> bool:
    """A rep or manager may log visits for the customers of their own branch."""
    return can_log_visits(user) and customer.branch_id == user.branch_id


def _own_or_branch(user: User, model: Any, stmt: Select[Any]) -> Select[Any]:
    if is_owner(user):
        return stmt
    if user.role == "manager":
        return stmt.where(model.branch_id == user.branch_id)
    if user.role == "rep":
        return stmt.where(model.rep_id == user.id)
    return stmt.where(false())


def visits(user: User) -> Select[tuple[Visit]]:
    return _own_or_branch(user, Visit, select(Visit))


def proposals(user: User) -> Select[tuple[Proposal]]:
    return _own_or_branch(user, Proposal, select(Proposal))


def follow_ups(user: User) -> Select[tuple[FollowUp]]:
    return _own_or_branch(user, FollowUp, select(FollowUp))


def customers(user: User) -> Select[tuple[Customer]]:
    """The customers a user may see; for reps and managers their branch, own customers first."""
    stmt = select(Customer)
    if is_owner(user):
        return stmt.order_by(Customer.code)
    if user.branch_id is None:
        return stmt.where(false())
    own_first = case((Customer.rep_id == user.id, 0), else_=1)
    return stmt.where(Customer.branch_id == user.branch_id).order_by(own_first, Customer.code)


def sales_lines(user: User) -> Select[tuple[SalesLine]]:
    """Sales follow the customer's current branch; reps see their branch's customers."""
    stmt = select(SalesLine)
    if is_owner(user):
        return stmt
    if user.branch_id is None:
        return stmt.where(false())
    return stmt.join(Customer, SalesLine.customer_id == Customer.id).where(
        Customer.branch_id == user.branch_id
    )


def branches(user: User) -> Select[tuple[Branch]]:
    stmt = select(Branch).order_by(Branch.code)
    if is_owner(user):
        return stmt
    return stmt.where(Branch.id == user.branch_id)


def users(user: User) -> Select[tuple[User]]:
    """Owners see everyone; others see the people of their own branch."""
    stmt = select(User).order_by(User.name)
    if is_owner(user):
        return stmt
    return stmt.where(User.branch_id == user.branch_id)


def reviews(user: User) -> Select[tuple[Review]]:
    stmt = select(Review)
    if is_owner(user):
        return stmt
    return stmt.where(Review.branch_id == user.branch_id)


def hypotheses(user: User) -> Select[tuple[Hypothesis]]:
    """Company-wide hypotheses for everyone, plus those of the user's branch."""
    stmt = select(Hypothesis)
    if is_owner(user):
        return stmt
    return stmt.where((Hypothesis.branch_id.is_(None)) | (Hypothesis.branch_id == user.branch_id))


def kpi_targets(user: User) -> Select[tuple[KpiTarget]]:
    stmt = select(KpiTarget)
    if is_owner(user):
        return stmt
    if user.role == "manager":
        return stmt.where(
            (KpiTarget.scope_kind == "company") | (KpiTarget.branch_id == user.branch_id)
        )
    return stmt.where(
        (KpiTarget.scope_kind == "company")
        | ((KpiTarget.scope_kind == "branch") & (KpiTarget.branch_id == user.branch_id))
        | (KpiTarget.user_id == user.id)
    )


def may_set_target(session: Session, user: User, kind: str, scope_id: int | None) -> bool:
    """Owners set targets anywhere; a manager for their branch and the people in it."""
    if is_owner(user):
        return True
    if kind == "branch":
        return is_manager_of(user, scope_id)
    if kind == "rep" and scope_id is not None:
        person = session.get(User, scope_id)
        return person is not None and is_manager_of(user, person.branch_id)
    return False


def sees_target(session: Session, user: User, target: KpiTarget) -> bool:
    """A manager sees the targets that apply in their branch: the company's, the branch's and
    its people's; the owner sees all."""
    if is_owner(user) or target.scope_kind == "company":
        return True
    if target.scope_kind == "branch":
        return target.branch_id == user.branch_id
    person = session.get(User, target.user_id)
    return person is not None and person.branch_id == user.branch_id


def setting_changes(user: User) -> Select[tuple[SettingChange]]:
    """Owners see every settings change; a manager their branch's and the company-wide ones
    (those decide their branch's targets too); a rep none."""
    stmt = select(SettingChange)
    if is_owner(user):
        return stmt
    if is_manager(user):
        return stmt.where(
            SettingChange.branch_id.is_(None) | (SettingChange.branch_id == user.branch_id)
        )
    return stmt.where(false())


def get(session: Session, stmt: Select[tuple[T]], model: type[T], obj_id: int) -> T | None:
    """One object by id through a scope; None when it does not exist or is out of scope, or
    cannot exist (not an id in ``limits.MAX_ID``: the database would refuse to compare it)."""
    if not limits.id_in_range(obj_id):
        return None
    return session.scalars(stmt.where(model.id == obj_id)).first()  # type: ignore[attr-defined]
