"""Flask extensions, created unbound and bound in the app factory."""

from typing import Any

from flask import current_app, g, request, session
from flask_babel import Babel, LazyString
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf import CSRFProtect
from markupsafe import escape
from sqlalchemy import MetaData
from sqlalchemy.orm import DeclarativeBase

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class _CSRFProtect(CSRFProtect):
    """Flask-WTF's CSRF protection, with the same tokens passing and failing, cheaper:

    - a request that is not a form reads its token from the headers without parsing its body
      as a form (Flask-WTF looks in the form first: for a JSON visit post ~1 % of its CPU);
    - a check that passed is remembered by the process, keyed by the token, the session's
      value and the key, and not computed again (its signature and decoding were ~4 % of a
      visit post's CPU). With no time limit (WTF_CSRF_TIME_LIMIT None, config.py) and no
      referrer check the outcome depends on nothing else; with either, every request is
      checked in full.
    """

    _FORMS = frozenset({"application/x-www-form-urlencoded", "multipart/form-data"})
    PASSED_KEPT = 4096  # checks a process remembers (then it starts again)

    def __init__(self) -> None:
        super().__init__()
        self._passed: set[tuple[Any, ...]] = set()

    def protect(self, apply_exemptions: bool = False) -> None:
        config = current_app.config
        key = None
        if (
            not apply_exemptions
            and request.method in config["WTF_CSRF_METHODS"]
            and config["WTF_CSRF_TIME_LIMIT"] is None
            and not (request.is_secure and config["WTF_CSRF_SSL_STRICT"])
        ):
            secret = config.get("WTF_CSRF_SECRET_KEY") or current_app.secret_key
            field = config["WTF_CSRF_FIELD_NAME"]
            key = (self._get_csrf_token(), session.get(field), secret, field)
            if key in self._passed:
                g.csrf_valid = True
                return
        super().protect(apply_exemptions)  # raises CSRFError when the check fails
        if key is not None and key[0] and key[1]:
            if len(self._passed) >= self.PASSED_KEPT:
                self._passed.clear()
            self._passed.add(key)

    def _get_csrf_token(self) -> Any:
        if request.mimetype in self._FORMS:
            return super()._get_csrf_token()
        for header_name in current_app.config["WTF_CSRF_HEADERS"]:
            token = request.headers.get(header_name)
            if token:
                return token
        return None


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


db = SQLAlchemy(model_class=Base)
migrate = Migrate()
login_manager = LoginManager()
csrf = _CSRFProtect()
babel = Babel()


def _lazy_html(self: LazyString) -> str:
    return str(escape(str(self)))


def escape_lazy_strings() -> None:
    """Render flask_babel's lazy strings escaped, as any other text.

    A LazyString says it is markup (its ``__html__`` gives its text as it is), so Jinja's
    autoescape let a message with a user's input in it (``_l("Unknown branch code %(code)s.",
    code=cell)``, a typed date echoed back) into HTML and PDF pages unescaped. FieldLog's
    messages hold no markup (docs/decisions.md, "Escaping: translated messages are text").
    Idempotent; called by the app factory.
    """
    LazyString.__html__ = _lazy_html  # type: ignore[method-assign]
