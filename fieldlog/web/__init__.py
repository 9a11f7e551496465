"""Blueprints and request plumbing: login, headers, errors, locale."""

from __future__ import annotations

from importlib import import_module

from flask import Flask, redirect, request, url_for
from flask_babel import lazy_gettext as _l
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from .. import accounts
from ..errors import ServiceError
from ..extensions import db, login_manager
from . import compress, filters, security
from .common import json_error


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


def _register_errors(app: Flask) -> None:
    from flask import render_template

    @app.errorhandler(CSRFError)
    def csrf_failed(error: CSRFError):
        db.session.rollback()
        if _wants_json():
            return json_error("csrf_failed", 400, error.description)
        message = _l("The form expired or was sent twice. Please try again.")
        return render_template("error.html", code=400, message=message), 400

    @app.errorhandler(ServiceError)
    def service_error(error: ServiceError):
        db.session.rollback()
        if _wants_json():
            return json_error(error.code, error.status, error.message, error.errors)
        return render_template("error.html", code=error.status, message=error.message), error.status

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException):
        db.session.rollback()
        codes = {401: "unauthorized", 403: "forbidden", 404: "not_found", 413: "too_large"}
        code = error.code or 500
        if _wants_json():
            return json_error(codes.get(code, "http_error"), code, error.description)
        return render_template("error.html", code=code, message=None), code

    @app.errorhandler(Exception)
    def server_error(error: Exception):
        db.session.rollback()
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
    _register_login(app)
    _register_errors(app)
    compress.init_app(app)  # registered first, so it runs after every other after_request
    security.init_app(app)
    filters.init_app(app)
    for name in BLUEPRINTS:
        app.register_blueprint(import_module(f"{__name__}.{name}").bp)
