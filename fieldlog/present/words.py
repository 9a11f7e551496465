"""Translated words at list speed: Flask-Babel's lookups, once per request and locale.

Flask-Babel resolves the context, domain and locale again on every ``gettext`` (~20 µs); a
page or a plan of 300 customers says a few hundred strings. These give the same strings from
the translations looked up once per request (keyed on the locale object, so ``force_locale``
blocks still get their own language).
"""

from __future__ import annotations

from typing import Any

from flask import g, has_app_context
from flask_babel import get_locale, get_translations


def translations() -> Any:
    """Flask-Babel's translations for the current locale, looked up once per request and locale."""
    if not has_app_context():
        return get_translations()
    locale = get_locale()
    cached = g.get("_fieldlog_translations")
    if cached is not None and cached[0] is locale:
        return cached[1]
    found = get_translations()
    g._fieldlog_translations = (locale, found)
    return found


def gettext(string: str, **variables: Any) -> str:
    """``flask_babel.gettext`` on the cached translations (the same string)."""
    text = translations().ugettext(string)
    return text % variables if variables else text
