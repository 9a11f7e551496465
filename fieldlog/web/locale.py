"""Locale choice: the user's saved choice, then the lang cookie, then Japanese."""

from __future__ import annotations

from flask import current_app, has_request_context, request
from flask_login import current_user

LOCALE_COOKIE = "fieldlog_lang"


def select_locale() -> str:
    locales = current_app.config["FIELDLOG_LOCALES"]
    if not has_request_context():  # CLI, reports and tests outside a request
        return current_app.config["BABEL_DEFAULT_LOCALE"]
    if current_user and current_user.is_authenticated and current_user.locale in locales:
        return current_user.locale
    cookie = request.cookies.get(LOCALE_COOKIE)
    if cookie in locales:
        return cookie
    return current_app.config["BABEL_DEFAULT_LOCALE"]


def select_timezone() -> str:
    return current_app.config["FIELDLOG_TIMEZONE"]
