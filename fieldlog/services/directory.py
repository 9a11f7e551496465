"""The owner's directory: branches, users, customers, purposes and categories.

Plain functions that validate, write and flush; each raises ``errors.Invalid`` with field
errors (nothing written) when a rule is broken. The caller commits.
"""

from __future__ import annotations

import re
from typing import Any, TypeVar

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from ..kpi import lead_cache
from ..models import RANKS, ROLES, Branch, Category, Customer, Purpose, User
from ..rules import limits
from ..rules.text import clean, reading, search_key
from . import access, accounts, audit
from .errors import Invalid, NotFound

CODE = re.compile(r"^\S+$")
PAGE_SIZE = 50

Errors = dict[str, list[Any]]
Entry = TypeVar("Entry", Branch, Category, Customer, Purpose, User)


def _text(errors: Errors, field: str, value: str | None, *, max_len: int, required=True) -> str:
    value = clean(value)  # as an import would store it (fieldlog.rules.text)
    if required and not value:
        errors.setdefault(field, []).append(_l("This field is required."))
    elif len(value) > max_len:
        errors.setdefault(field, []).append(_l("At most %(n)s characters.", n=max_len))
    return value


def _code(
    session: Session, errors: Errors, model: type, value: str | None, obj: Any, max_len: int
) -> str:
    code = _text(errors, "code", value, max_len=max_len)
    if code and not CODE.match(code):
        errors.setdefault("code", []).append(_l("A code cannot contain spaces."))
    elif code:
        clash = session.scalar(select(model.id).where(model.code == code))
        if clash is not None and (obj is None or clash != obj.id):
            errors.setdefault("code", []).append(_l("This code is already in use."))
    return code


def _check(errors: Errors) -> None:
    if errors:
        raise Invalid(errors=errors)


def save_branch(session: Session, branch: Branch | None, *, code: str, name: str) -> Branch:
    """Create a branch (branch=None) or update one."""
    errors: Errors = {}
    code = _code(session, errors, Branch, code, branch, 32)
    name = _text(errors, "name", name, max_len=limits.MAX_NAME)
    _check(errors)
    branch = branch or Branch()
    branch.code, branch.name = code, name
    session.add(branch)
    lead_cache.rows_changed(session, [branch])
    session.flush()
    return branch


def save_category(
    session: Session, category: Category | None, *, code: str, name: str, sort: int, active: bool
) -> Category:
    """Create or update a product category."""
    errors: Errors = {}
    code = _code(session, errors, Category, code, category, 32)
    name = _text(errors, "name", name, max_len=limits.MAX_NAME)
    _check(errors)
    category = category or Category()
    category.code, category.name, category.sort, category.active = code, name, sort, active
    session.add(category)
    session.flush()
    return category


def save_purpose(
    session: Session,
    purpose: Purpose | None,
    *,
    code: str,
    label_ja: str,
    label_en: str,
    purposeful: bool,
    sort: int,
    active: bool,
    user: User | None = None,
) -> Purpose:
    """Create or update a visit purpose.

    The code of an existing purpose never changes (queued offline visits send it), and a new
    ``purposeful`` flag applies to visits recorded from now on: past visits keep their own flag.
    A change of the flag is kept in the settings history (fieldlog.services.audit) with the acting
    user.
    """
    errors: Errors = {}
    if purpose is None:
        code = _code(session, errors, Purpose, code, None, 32)
    label_ja = _text(errors, "label_ja", label_ja, max_len=limits.MAX_LABEL)
    label_en = _text(errors, "label_en", label_en, max_len=limits.MAX_LABEL)
    _check(errors)
    old_flag = purpose.purposeful if purpose is not None else None
    purpose = purpose or Purpose(code=code)
    audit.record_change(session, user, "purpose", purpose.code, old_flag, purposeful)
    purpose.label_ja, purpose.label_en = label_ja, label_en
    purpose.purposeful, purpose.sort, purpose.active = purposeful, sort, active
    session.add(purpose)
    session.flush()
    return purpose


def save_user(
    session: Session,
    actor: User,
    user: User | None,
    *,
    email: str,
    name: str,
    role: str,
    branch_id: int | None,
    active: bool,
    password: str = "",
) -> User:
    """Create or update an account; a new password or deactivation logs the user out everywhere."""
    errors: Errors = {}
    email = accounts.normalize_email(email)
    if "@" not in email or len(email) > 254:
        errors["email"] = [_l("Enter a valid email address.")]
    else:
        clash = session.scalar(select(User.id).where(func.lower(User.email) == email))
        if clash is not None and (user is None or clash != user.id):
            errors["email"] = [_l("A user with this email already exists.")]
    name = _text(errors, "name", name, max_len=limits.MAX_NAME)
    if role not in ROLES:
        errors["role"] = [_l("Role must be rep, manager or owner.")]
    branch = session.get(Branch, branch_id) if branch_id else None
    if not access.belongs_to_a_branch(role) and branch_id:
        errors["branch"] = [_l("Owners do not belong to a branch.")]
    elif role in ROLES and access.belongs_to_a_branch(role) and branch is None:
        errors["branch"] = [_l("Reps and managers need a branch.")]
    if user is None and not password:
        errors["password"] = [_l("This field is required.")]
    if user is not None and user.id == actor.id and (not active or role != user.role):
        errors["active" if not active else "role"] = [
            _l("You cannot deactivate your own account or change your own role.")
        ]
    if user is not None and (not access.belongs_to_a_branch(role) or branch_id != user.branch_id):
        kept = session.scalar(
            select(func.count(Customer.id)).where(
                Customer.rep_id == user.id, Customer.branch_id != (branch_id or -1)
            )
        )
        if kept:
            errors.setdefault("branch", []).append(
                _l("Reassign this user's %(n)s customers first.", n=kept)
            )
    if password and (message := accounts.password_problem(password, hints=(email, name))):
        errors["password"] = [message]
    _check(errors)
    revoke = user is not None and ((user.active and not active) or bool(password))
    user = user or User()
    user.email, user.name, user.role, user.active = email, name, role, active
    user.branch = branch if access.belongs_to_a_branch(role) else None
    if password:
        accounts.set_password(user, password)
    session.add(user)
    lead_cache.rows_changed(session, [user])
    session.flush()
    if revoke:
        accounts.revoke_all_sessions(session, user)
    return user


def save_customer(
    session: Session,
    customer: Customer | None,
    *,
    code: str,
    name: str,
    name_kana: str,
    branch_id: int | None,
    rep_id: int | None,
    rank: str,
    visit_cycle_days: int | None,
    active: bool,
) -> Customer:
    """Create or update a customer; its rep must belong to its branch (blank cycle: rank's)."""
    errors: Errors = {}
    code = _code(session, errors, Customer, code, customer, 64)
    name = _text(errors, "name", name, max_len=limits.MAX_NAME)
    name_kana = _text(
        errors, "name_kana", reading(name_kana), max_len=limits.MAX_NAME, required=False
    )
    branch = session.get(Branch, branch_id) if branch_id else None
    if branch is None:
        errors["branch"] = [_l("Choose a branch.")]
    rep = session.get(User, rep_id) if rep_id else None
    if rep_id and (rep is None or not (access.is_rep(rep) or access.is_manager(rep))):
        errors["rep"] = [_l("Choose a rep or manager.")]
    elif rep is not None and branch is not None and rep.branch_id != branch.id:
        errors["rep"] = [_l("The rep must belong to the customer's branch.")]
    if rank not in RANKS:
        errors["rank"] = [_l("Rank must be A, B or C.")]
    if visit_cycle_days is not None and visit_cycle_days <= 0:
        errors["visit_cycle_days"] = [_l("Enter a number of days greater than 0.")]
    elif visit_cycle_days is not None and visit_cycle_days > limits.MAX_CYCLE_DAYS:
        errors["visit_cycle_days"] = [
            _l("At most %(n)s days.", n=format(limits.MAX_CYCLE_DAYS, ","))
        ]
    _check(errors)
    customer = customer or Customer()
    customer.code, customer.name, customer.name_kana = code, name, name_kana
    customer.branch, customer.rep, customer.rank = branch, rep, rank
    customer.visit_cycle_days, customer.active = visit_cycle_days, active
    session.add(customer)
    lead_cache.rows_changed(session, [customer])
    session.flush()
    return customer


def customer_page(
    session: Session, query: str = "", page: int = 1, branch_id: int | None = None
) -> tuple[list[Customer], int]:
    """One page of customers (all branches) matching a search on code, name or reading."""
    stmt = select(Customer)
    key = search_key(query)
    if key:
        stmt = stmt.where(
            or_(
                Customer.search_text.contains(key, autoescape=True),
                Customer.code == query.strip(),
            )
        )
    if branch_id:
        stmt = stmt.where(Customer.branch_id == branch_id)
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    rows = session.scalars(
        stmt.order_by(Customer.code)
        .offset((min(max(page, 1), limits.MAX_ID) - 1) * PAGE_SIZE)
        .limit(PAGE_SIZE)
    ).all()
    return list(rows), total


# ---- who and where a user may pick from (pickers of the settings and manager pages) --------


def visible_branches(session: Session, user: User) -> list[Branch]:
    """The branches the user may see (owners: all; others: their own), by code."""
    return list(session.scalars(access.branches(user)))


def visible_branch(session: Session, user: User, code: str) -> Branch | None:
    """One of the user's visible branches by its code, else None."""
    return session.scalar(access.branches(user).where(Branch.code == code))


def people(session: Session, user: User) -> list[User]:
    """The active reps and managers the user may see, by name."""
    stmt = access.users(user).where(User.role != "owner", User.active.is_(True))
    return list(session.scalars(stmt))


def visible_person(session: Session, user: User, email: str) -> User | None:
    """One of the people the user may see, by email, else None."""
    return session.scalar(access.users(user).where(User.email == email))


# ---- the owner's lists (/admin) ------------------------------------------------------------


def branch_by_code(session: Session, code: str) -> Branch | None:
    """The branch with this code, whoever asks (the command line and jobs)."""
    return session.scalar(select(Branch).where(Branch.code == code))


def branches(session: Session) -> list[Branch]:
    """Every branch, by code."""
    return list(session.scalars(select(Branch).order_by(Branch.code)))


def users(session: Session) -> list[User]:
    """Every user, by role, branch and email."""
    return list(session.scalars(select(User).order_by(User.role, User.branch_id, User.email)))


def purposes(session: Session) -> list[Purpose]:
    """Every visit purpose, in the order the form offers them."""
    return list(session.scalars(select(Purpose).order_by(Purpose.sort, Purpose.code)))


def purpose_labels(session: Session, locale: str) -> dict[str, str]:
    """Every purpose's label in the reader's language, by code."""
    return {p.code: p.label(locale) for p in session.scalars(select(Purpose))}


def categories(session: Session) -> list[Category]:
    """Every product category, in the order the form offers them."""
    return list(session.scalars(select(Category).order_by(Category.sort, Category.code)))


def assignable_reps(session: Session, customer: Customer | None) -> list[User]:
    """Who a customer may be given to: active reps and managers, by branch and name.

    Its current rep stays listed even when inactive, so saving the form never unassigns it.
    """
    current = customer.rep_id if customer else None
    stmt = (
        select(User)
        .where(User.role.in_(("rep", "manager")), User.active.is_(True) | (User.id == current))
        .order_by(User.branch_id, User.name)
    )
    return list(session.scalars(stmt))


def offered_purposes(session: Session) -> list[Purpose]:
    """The purposes a visit may be given: the active ones, in the form's order."""
    stmt = select(Purpose).where(Purpose.active.is_(True)).order_by(Purpose.sort, Purpose.id)
    return list(session.scalars(stmt))


def offered_categories(session: Session) -> list[Category]:
    """The categories a proposal may name: the active ones, in the catalogue's order."""
    stmt = select(Category).where(Category.active.is_(True)).order_by(Category.sort, Category.code)
    return list(session.scalars(stmt))


def entry(session: Session, model: type[Entry], entry_id: int) -> Entry:
    """One branch, user, customer, purpose or category of the directory by id (the owner's
    pages; access is the route's), or ``errors.NotFound``."""
    found = session.get(model, entry_id)
    if found is None:
        raise NotFound()
    return found


def counts(session: Session) -> dict[str, int]:
    """How many branches, users, customers, purposes and categories there are."""
    tables = {
        "branches": Branch,
        "users": User,
        "customers": Customer,
        "purposes": Purpose,
        "categories": Category,
    }
    return {
        name: session.scalar(select(func.count()).select_from(model)) or 0
        for name, model in tables.items()
    }
