"""Users, passwords, server-side login sessions and login throttling."""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import bindparam, func, select
from sqlalchemy.orm import Session, scoped_session
from sqlalchemy.orm.attributes import set_committed_value
from werkzeug.security import check_password_hash, generate_password_hash

from ..app import database
from ..kpi import lead_cache
from ..models import ROLES, Branch, LoginAttempt, LoginSession, User, utcnow
from ..rules import limits
from . import access
from .errors import Invalid

MIN_PASSWORD_LENGTH = limits.MIN_PASSWORD
# zxcvbn's score 0–4 (its frequency lists: common passwords, words, names, keyboard runs);
# below this a password falls to an online guessing attack in hours.
MIN_PASSWORD_SCORE = 2
# werkzeug's method string; tests lower the cost, production keeps scrypt.
PASSWORD_METHOD = "scrypt"  # noqa: S105 (a hashing method, not a password)
# A hash to check against when the email is unknown, so both paths cost the same.
_DUMMY_HASH = generate_password_hash("fieldlog-not-a-password")


def normalize_email(email: str) -> str:
    return (email or "").strip().lower()


def password_problem(password: str, *, hints: tuple[str, ...] = ()) -> Any:
    """Why a new password is refused, or None: too short, too long, or easy to guess.

    Easy to guess is zxcvbn's estimate (a maintained port of Dropbox's estimator that ships its
    lists of common passwords, words and names, so it works offline), with the person's email
    and name as hints; it reads the first 72 characters, its own limit.
    """
    if len(password) < MIN_PASSWORD_LENGTH:
        return _l("At least %(n)s characters.", n=MIN_PASSWORD_LENGTH)
    if len(password) > limits.MAX_PASSWORD:
        return _l("At most %(n)s characters.", n=limits.MAX_PASSWORD)
    from zxcvbn import zxcvbn

    inputs = [part for hint in hints if hint for part in (hint, *hint.split("@"))]
    if zxcvbn(password[:72], user_inputs=inputs)["score"] < MIN_PASSWORD_SCORE:
        return _l(
            "This password is too common or too easy to guess. A few unrelated words make a "
            "good one."
        )
    return None


def set_password(user: User, password: str) -> None:
    """Hash and store a password (scrypt, werkzeug's default) once it passes the policy."""
    if message := password_problem(password, hints=(user.email or "", user.name or "")):
        raise Invalid(errors={"password": [message]})
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
    if not access.belongs_to_a_branch(role):
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
    lead_cache.rows_changed(session, [user])
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
    """Whether this login attempt must wait, without letting anyone lock another person out.

    Counted over ``window``: ``max_failures`` failures for this account from this address, or
    4 × that from this address whatever the account, slow that address down. Failures for the
    account from everywhere (10 × that: a spread-out attack) slow down only addresses the
    account has never logged in from in the last 90 days, so its owner still gets in from
    their usual places while the attack goes on.
    """
    since = now - window
    email = normalize_email(email)
    failed = select(func.count(LoginAttempt.id)).where(
        LoginAttempt.succeeded.is_(False), LoginAttempt.attempted_at >= since
    )
    if ip:
        here = session.scalar(failed.where(LoginAttempt.email == email, LoginAttempt.ip == ip))
        if (here or 0) >= max_failures:
            return True
        if (session.scalar(failed.where(LoginAttempt.ip == ip)) or 0) >= max_failures * 4:
            return True
    everywhere = session.scalar(failed.where(LoginAttempt.email == email)) or 0
    if everywhere < max_failures * 10:
        return False
    known = session.scalar(
        select(LoginAttempt.id)
        .where(
            LoginAttempt.email == email,
            LoginAttempt.ip == ip,
            LoginAttempt.succeeded.is_(True),
            LoginAttempt.attempted_at >= now - timedelta(days=90),
        )
        .limit(1)
    )
    return known is None


def record_attempt(session: Session, email: str, ip: str, *, succeeded: bool) -> None:
    session.add(LoginAttempt(email=normalize_email(email)[:254], ip=ip[:64], succeeded=succeeded))
    session.flush()


def set_locale(user: User, locale: str) -> None:
    """The language the user's pages and mails are in (one of FIELDLOG_LOCALES, checked by the
    caller)."""
    user.locale = locale


def start_session(session: Session, user: User, user_agent: str = "") -> LoginSession:
    """A new server-side session with a fresh token (never reuses one: no fixation)."""
    login = LoginSession(token=secrets.token_urlsafe(32), user=user, user_agent=user_agent[:300])
    session.add(login)
    session.flush()
    user.login_session = login
    return login


# One Core statement for the live session's user and the user's branch, built into objects by
# database.Rows (the ORM's loading of two entities cost ~0.1 ms more a request). It runs on
# every request (on SQLite, when the user is not kept), so it is built once. The session row
# itself is not loaded: its id is enough to revoke it.
_LIVE_SESSION_ROWS = database.Rows(User, Branch)
_USER, _BRANCH, _LOGIN = User.__table__.c, Branch.__table__.c, LoginSession.__table__.c
_LIVE_SESSION = (
    _LIVE_SESSION_ROWS.select(_LOGIN.id)
    .select_from(User.__table__)
    .join(LoginSession.__table__, _LOGIN.user_id == _USER.id)
    .outerjoin(Branch.__table__, _BRANCH.id == _USER.branch_id)
    .where(_LOGIN.token == bindparam("token"), _LOGIN.revoked_at.is_(None), _USER.active.is_(True))
)


@dataclass(frozen=True)
class SessionRef:
    """The server-side session a request authenticated with (``User.login_session``)."""

    id: int
    token: str


def user_by_id(session: Session, user_id: int) -> User | None:
    """The user with this id (a login, once its password was checked), or None."""
    return session.get(User, user_id)


def load_session(session: Session, token: str) -> User | None:
    """The user of a live session token; None when revoked, unknown or the account is inactive.

    On SQLite a process keeps the users it loaded, under the database's auth stamp: while no
    process has committed a write of users, sessions or branches since, the user is built from
    what was kept (~30 µs) instead of read (~110 µs a request). Any such write (a logout, a
    deactivation, a role or branch change, a login) changes the stamp, and every process
    reads its users afresh (docs/architecture.md). Kept and used only from a session with no
    transaction open (a request's, at its start): one that has written could see its own
    uncommitted rows.
    """
    own = session() if isinstance(session, scoped_session) else session
    stamp = None if own.in_transaction() else database.auth_stamp(session)
    # ^ read before the rows it covers: a write committed in between changes it again
    now = time.monotonic()
    if stamp is not None:
        kept = _KEPT_USERS.get(token)
        if kept is not None and kept[0] == stamp and now - kept[1] < KEPT_SECONDS:
            return _kept_user(session, token, kept)
    row = session.connection().execute(_LIVE_SESSION, {"token": token}).first()
    if row is None:
        return None
    user_columns, branch_columns = _LIVE_SESSION_ROWS.values(row)
    kept = (stamp, now, user_columns, branch_columns, row[-1])
    if stamp is not None:
        if len(_KEPT_USERS) >= _KEPT_USERS_MAX:
            _KEPT_USERS.clear()
        _KEPT_USERS[token] = kept
    return _kept_user(session, token, kept)


# Per process: session token -> (auth stamp, when read, the user's columns, the branch's, the
# session id). Read again after KEPT_SECONDS whatever the stamp says: a stamp that could not be
# changed (app/database._AuthStamp.bump) leaves a user stale no longer than that.
_KEPT_USERS: dict[str, tuple[bytes, float, dict[str, Any], dict[str, Any] | None, int]] = {}
_KEPT_USERS_MAX = 4096
KEPT_SECONDS = 30.0


def _kept_user(session: Session, token: str, kept: tuple[Any, ...]) -> User:
    """The user of these columns (read now or kept) as a clean persistent object of this
    session, with its branch, as if just loaded (the one the session holds already, if it
    does)."""
    _stamp, _read_at, user_columns, branch_columns, login_id = kept
    branch = database.as_loaded(session, Branch, branch_columns) if branch_columns else None
    user = database.as_loaded(session, User, user_columns)
    if "branch" not in user.__dict__:
        set_committed_value(user, "branch", branch)
    user.login_session = SessionRef(login_id, token)
    return user


def revoke_session(session: Session, login: LoginSession | SessionRef | None) -> None:
    """Log one device out for good: its cookies stop working."""
    row = session.get(LoginSession, login.id) if login is not None else None
    if row is not None and row.revoked_at is None:
        row.revoked_at = utcnow()
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
