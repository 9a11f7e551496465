"""Login, logout and the language switch."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import (
    Blueprint,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required, login_user, logout_user
from flask_wtf import FlaskForm
from wtforms import BooleanField, EmailField, PasswordField
from wtforms.validators import DataRequired, Length

from ..app.database import write_intent
from ..app.extensions import db
from ..services import accounts
from .common import now
from .locale import LOCALE_COOKIE
from .security import reads_first
from .transaction import discard, unit_of_work

bp = Blueprint("auth", __name__)


class LoginForm(FlaskForm):
    email = EmailField(_l("Email"), validators=[DataRequired(), Length(max=254)])
    password = PasswordField(_l("Password"), validators=[DataRequired(), Length(max=200)])
    remember = BooleanField(_l("Stay logged in on this device"), default=True)


def _safe_next(target: str | None) -> str | None:
    """Only same-site relative paths: never redirect off the app after login."""
    if not target:
        return None
    if "\\" in target or not target.isprintable() or " " in target:
        return None  # /\evil.example is //evil.example to browsers; CR/LF would split the header
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return None
    return target


@bp.route("/login", methods=["GET", "POST"])
@reads_first
def login():
    if current_user.is_authenticated:
        return redirect(url_for("field.today"))
    form = LoginForm()
    error = None
    status = 200
    if form.validate_on_submit():
        ip = request.remote_addr or ""
        config = current_app.config
        if accounts.is_throttled(
            db.session,
            form.email.data,
            ip,
            now=now(),
            window=config["FIELDLOG_LOGIN_WINDOW"],
            max_failures=config["FIELDLOG_LOGIN_MAX_FAILURES"],
        ):
            error = _l("Too many failed attempts. Please wait 15 minutes and try again.")
            status = 429
        else:
            user = accounts.authenticate(db.session, form.email.data, form.password.data)
            user_id = user.id if user is not None else None
            # The password check (scrypt) ran in a read transaction; the writes take the lock
            # only now, so a burst of logins does not queue behind each other's hashing.
            discard()
            with write_intent(), unit_of_work():
                accounts.record_attempt(db.session, form.email.data, ip, succeeded=user is not None)
                if user_id is not None:
                    user = accounts.user_by_id(db.session, user_id)
                    # A fresh session on every login: nothing planted before login survives it.
                    session.clear()
                    accounts.start_session(db.session, user, request.user_agent.string or "")
            if user_id is None:
                error = _l("The email or password is not correct.")
            else:
                login_user(user, remember=bool(form.remember.data))
                session.permanent = True
                return redirect(_safe_next(request.args.get("next")) or url_for("field.today"))
    elif request.method == "POST":
        error = _l("Enter your email and password.")
    return render_template("login.html", form=form, error=error), status


@bp.post("/logout")
@login_required
def logout():
    with unit_of_work():
        accounts.revoke_session(db.session, current_user.login_session)
    logout_user()
    session.clear()
    flash(_l("You have logged out."), "info")
    return redirect(url_for("auth.login"))


@bp.post("/locale")
def set_locale():
    lang = request.form.get("lang", "")
    if lang not in current_app.config["FIELDLOG_LOCALES"]:
        lang = current_app.config["BABEL_DEFAULT_LOCALE"]
    if current_user.is_authenticated:
        with unit_of_work():
            accounts.set_locale(current_user, lang)
    target = _safe_next(request.form.get("next")) or url_for("field.today")
    response = redirect(target)
    response.set_cookie(LOCALE_COOKIE, lang, max_age=3600 * 24 * 365, samesite="Lax", httponly=True)
    return response
