"""The admin pages' one form: fields, parsing, saving through a service, errors beside fields.

``form_page`` shows the form on GET; on POST it reads the fields, parses the whole numbers,
calls the page's ``save`` inside ``unit_of_work`` and goes back, or shows the field errors.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from flask import flash, redirect, render_template, request
from flask_babel import lazy_gettext as _l

from ..rules import limits
from ..rules.text import numeric
from ..services.errors import Invalid
from .transaction import unit_of_work


@dataclass
class Field:
    """One input of an admin form."""

    name: str
    label: Any
    kind: str = "text"  # text, email, password, number, select, checkbox, readonly
    options: list[tuple[str, Any]] = field(default_factory=list)
    help: Any = ""
    required: bool = False


def whole_number(values: dict[str, str], errors: dict[str, list[Any]], name: str) -> int | None:
    raw = (values.get(name) or "").strip()
    if not raw:
        return None
    number = limits.whole_number(numeric(raw))  # full-width digits are digits
    if number is None or abs(number) > limits.MAX_ID:
        errors.setdefault(name, []).append(_l("Enter a whole number."))
        return None
    return number


def form_page(
    *,
    title: Any,
    fields: list[Field],
    values: dict[str, Any],
    save: Callable[[dict[str, str], dict[str, list[Any]]], Any],
    back: str,
    numbers: tuple[str, ...] = (),
):
    """GET shows the form; POST parses, saves through the service, commits and goes back."""
    errors: dict[str, list[Any]] = {}
    if request.method == "POST":
        posted = {f.name: request.form.get(f.name, "") for f in fields}
        for f in fields:
            if f.kind == "checkbox":
                posted[f.name] = "y" if request.form.get(f.name) else ""
        parsed: dict[str, Any] = dict(posted)
        for name in numbers:
            parsed[name] = whole_number(posted, errors, name)
        try:
            if errors:
                raise Invalid(errors=errors)
            with unit_of_work():
                save(parsed, errors)
        except Invalid as exc:
            errors = {**errors, **exc.errors}
            values = posted
        else:
            flash(_l("Saved."), "info")
            return redirect(back)
    return render_template(
        "admin/form.html", title=title, fields=fields, values=values, errors=errors, back=back
    )


def checked(parsed: dict[str, Any], name: str) -> bool:
    return bool(parsed.get(name))
