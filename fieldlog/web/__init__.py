"""Blueprints and request plumbing: login, headers, errors, locale."""

from __future__ import annotations

from importlib import import_module

from flask import Flask, g, redirect, request, url_for
from flask_babel import LazyString
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import DBAPIError
from werkzeug.exceptions import HTTPException

from ..app.database import storage_problem
from ..app.extensions import db, login_manager
from ..services import accounts
from ..services.errors import ServiceError
from . import compress, edge, filters, security
from .common import STORAGE_MESSAGES, json_error, too_large_message
from .transaction import discard


def _wants_json() -> bool:
    return request.path.startswith("/api/")


def _register_login(app: Flask) -> None:
    login_manager.login_view = "auth.login"
    login_manager.login_message = _l("Please log in to continue.")
    login_manager.login_message_category = "info"
    login_manager.session_protection = "basic"

    @login_manager.user_loader
    def load_user(token: str):
        return accounts.load_session(db.session, token)

    @login_manager.unauthorized_handler
    def unauthorized():
        if _wants_json():
            return json_error("unauthorized", 401, _l("Log in first."))
        return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))


# What an error says for its status, in the user's language: the error page's heading, and a
# JSON error's message when the code gave none (Werkzeug's own descriptions, "The requested URL
# was not found on the server…", are English only: docs/contract.md, JSON API).
_HEADINGS = {
    400: _l("The request could not be processed."),
    403: _l("You do not have access to this page."),
    404: _l("This page does not exist."),
    413: _l("The file is too large."),
    503: _l("FieldLog cannot save anything just now."),
}


def error_heading(code: int) -> LazyString:
    """The words for an error status (templates/error.html and the JSON fallback)."""
    if code in _HEADINGS:
        return _HEADINGS[code]
    if code >= 500:
        return _l("Something went wrong on our side.")
    return _l("The request could not be processed.")


def _register_errors(app: Flask) -> None:
    from flask import render_template

    app.add_template_global(error_heading)

    @app.errorhandler(CSRFError)
    def csrf_failed(error: CSRFError):
        discard()
        if _wants_json():
            # In the user's language (the outbox shows it as it is), with what to do about it.
            message = _l(
                "The security token is missing or expired: fetch a new one from "
                "/api/v1/session and send again."
            )
            return json_error("csrf_failed", 400, message)
        message = _l("The form expired or was sent twice. Please try again.")
        return render_template("error.html", code=400, message=message), 400

    @app.errorhandler(ServiceError)
    def service_error(error: ServiceError):
        discard()
        if _wants_json():
            return json_error(error.code, error.status, error.message, error.errors)
        return render_template("error.html", code=error.status, message=error.message), error.status

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException):
        discard()
        codes = {401: "unauthorized", 403: "forbidden", 404: "not_found", 413: "too_large"}
        code = error.code or 500
        message = too_large_message() if code == 413 else None
        if _wants_json():
            if message is None and error.description != type(error).description:
                message = error.description  # one the code gave in the user's words
            return json_error(codes.get(code, "http_error"), code, message or error_heading(code))
        return render_template("error.html", code=code, message=message), code

    @app.errorhandler(DBAPIError)
    def database_error(error: DBAPIError):
        # A full or read-only disk, or a database that is down: a 503 the client retries later
        # (the phones' outboxes keep the entry), never a traceback. Anything else is a bug.
        problem = storage_problem(error)
        if problem is None:
            return server_error(error)
        try:
            discard()
        except DBAPIError:
            db.session.invalidate()
        app.logger.error(
            "database refused the request (%s) on %s %s: %s",
            problem,
            request.method,
            request.path,
            error.orig,
            extra={"storage_problem": problem},
        )
        try:  # the answer's language comes from the user, who may not be loaded yet
            current_user._get_current_object()
        except DBAPIError:  # the database cannot even be read: answer as to a visitor
            discard()
            g._login_user = login_manager.anonymous_user()
        message = STORAGE_MESSAGES[problem]
        if _wants_json():
            response = json_error(f"storage_{problem}", 503, message)[0]
        else:
            response = app.make_response(render_template("error.html", code=503, message=message))
        response.status_code = 503
        response.headers["Retry-After"] = "60"
        return response

    @app.errorhandler(Exception)
    def server_error(error: Exception):
        discard()
        if app.testing:
            raise error
        app.logger.exception("unhandled error on %s %s", request.method, request.path)
        if _wants_json():
            return json_error("server_error", 500, _l("Something went wrong on our side."))
        return render_template("error.html", code=500, message=None), 500


# One line per blueprint module (each exposes `bp`), so parallel features do not collide here.
BLUEPRINTS = (
    "admin",
    "api",
    "auth",
    "field",
    "health",
    "io",
    "manage",
    "pwa",
    "settings",
    "reports",
)


def init_app(app: Flask) -> None:
    edge.init_app(app)  # before the blueprints: their <int:…> rules use its converter
    _register_login(app)
    _register_errors(app)
    compress.init_app(app)  # registered first, so it runs after every other after_request
    security.init_app(app)
    filters.init_app(app)
    for name in BLUEPRINTS:
        app.register_blueprint(import_module(f"{__name__}.{name}").bp)
