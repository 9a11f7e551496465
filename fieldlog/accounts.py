"""Users, passwords, server-side login sessions and login throttling."""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta

from flask_babel import lazy_gettext as _l
from sqlalchemy import bindparam, func, select
from sqlalchemy.orm import Session, joinedload
from werkzeug.security import check_password_hash, generate_password_hash

from .errors import Invalid
from .models import ROLES, Branch, LoginAttempt, LoginSession, User, utcnow

MIN_PASSWORD_LENGTH = 8
# werkzeug's method string; tests lower the cost, production keeps scrypt.
PASSWORD_METHOD = "scrypt"  # noqa: S105 (a hashing method, not a password)
# A hash to check against when the email is unknown, so both paths cost the same.
_DUMMY_HASH = generate_password_hash("fieldlog-not-a-password")


def normalize_email(email: str) -> str:
    return (email or "").strip().lower()


def set_password(user: User, password: str) -> None:
    """Hash and store a password (scrypt, werkzeug's default)."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise Invalid(
            errors={"password": [_l("At least %(n)s characters.", n=MIN_PASSWORD_LENGTH)]}
        )
    user.password_hash = generate_password_hash(password, method=PASSWORD_METHOD)


def create_user(
    session: Session,
    *,
    email: str,
    name: str,
    role: str,
    branch_code: str | None,
    password: str,
) -> User:
    """Create an account; reps and managers need a branch, owners have none."""
    email = normalize_email(email)
    errors: dict[str, list[object]] = {}
    if "@" not in email:
        errors["email"] = [_l("Enter a valid email address.")]
    elif session.scalar(select(User.id).where(func.lower(User.email) == email)):
        errors["email"] = [_l("A user with this email already exists.")]
    if not name.strip():
        errors["name"] = [_l("This field is required.")]
    if role not in ROLES:
        errors["role"] = [_l("Role must be rep, manager or owner.")]
    branch = None
    if role == "owner":
        if branch_code:
            errors["branch"] = [_l("Owners do not belong to a branch.")]
    elif not branch_code:
        errors["branch"] = [_l("Reps and managers need a branch.")]
    else:
        branch = session.scalars(select(Branch).where(Branch.code == branch_code)).first()
        if branch is None:
            errors["branch"] = [_l("Unknown branch.")]
    if errors:
        raise Invalid(errors=errors)
    user = User(email=email, name=name.strip(), role=role, branch=branch)
    set_password(user, password)
    session.add(user)
    session.flush()
    return user


def authenticate(session: Session, email: str, password: str) -> User | None:
    """The active user with this email and password, or None (the same cost either way)."""
    user = session.scalars(select(User).where(User.email == normalize_email(email))).first()
    if user is None:
        check_password_hash(_DUMMY_HASH, password)
        return None
    if not check_password_hash(user.password_hash or _DUMMY_HASH, password) or not user.active:
        return None
    return user


def is_throttled(
    session: Session,
    email: str,
    ip: str,
    *,
    now: datetime,
    window: timedelta,
    max_failures: int,
) -> bool:
    """Too many recent failures for this email, or far too many from this address."""
    since = now - window
    base = select(func.count(LoginAttempt.id)).where(
        LoginAttempt.succeeded.is_(False), LoginAttempt.attempted_at >= since
    )
    by_email = session.scalar(base.where(LoginAttempt.email == normalize_email(email))) or 0
    by_ip = session.scalar(base.where(LoginAttempt.ip == ip)) or 0 if ip else 0
    return by_email >= max_failures or by_ip >= max_failures * 4


def record_attempt(session: Session, email: str, ip: str, *, succeeded: bool) -> None:
    session.add(LoginAttempt(email=normalize_email(email)[:254], ip=ip[:64], succeeded=succeeded))
    session.flush()


def start_session(session: Session, user: User, user_agent: str = "") -> LoginSession:
    """A new server-side session with a fresh token (never reuses one: no fixation)."""
    login = LoginSession(token=secrets.token_urlsafe(32), user=user, user_agent=user_agent[:300])
    session.add(login)
    session.flush()
    user.login_session = login
    return login


# One query for the session, its user and the user's branch: this runs on every request, so
# the statement is built once (building one and its cache key costs ~40 µs each time).
_LIVE_SESSION = (
    select(LoginSession)
    .where(LoginSession.token == bindparam("token"))
    .options(joinedload(LoginSession.user).joinedload(User.branch))
)


def load_session(session: Session, token: str) -> User | None:
    """The user of a live session token; None when revoked, unknown or the account is inactive."""
    login = session.scalars(_LIVE_SESSION, {"token": token}).first()
    if login is None or login.revoked_at is not None or not login.user.active:
        return None
    login.user.login_session = login
    return login.user


def revoke_session(session: Session, login: LoginSession | None) -> None:
    """Log one device out for good: its cookies stop working."""
    if login is not None and login.revoked_at is None:
        login.revoked_at = utcnow()
        session.flush()


def revoke_all_sessions(session: Session, user: User) -> None:
    """Log a user out everywhere (password change, deactivation)."""
    for login in session.scalars(
        select(LoginSession).where(
            LoginSession.user_id == user.id, LoginSession.revoked_at.is_(None)
        )
    ):
        login.revoked_at = utcnow()
    session.flush()
