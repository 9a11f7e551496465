"""The rep's blueprint and what its pages share: page sizes, going back, the list filter."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, request, url_for
from flask_login import current_user

from ...rules.text import search_key
from ...services import access, browse
from ...services.errors import Invalid
from ..auth import _safe_next

bp = Blueprint("field", __name__)

PAGE_SIZE = 20
CUSTOMER_ROWS = 50  # visits, proposals and follow-ups on a customer's page, each
# How many of the plan's customers Today shows before "show all" (the phone's first screen).
PLAN_HANDFUL = 5
SEARCH_LIMIT = 20


def back(default: str = "field.today") -> Any:
    return redirect(_safe_next(request.form.get("next")) or url_for(default))


def list_filter() -> tuple[browse.ListFilter, dict[str, str]]:
    """?q= (a customer's code, name or reading, kana-insensitive) and, for managers, ?mine=1."""
    q = request.args.get("q", "").strip()
    mine = not access.is_rep(current_user) and request.args.get("mine") == "1"
    args = {k: v for k, v in (("q", q), ("mine", "1" if mine else "")) if v}
    return browse.ListFilter(search_key(q), mine), args


def flash_errors(error: Invalid) -> None:
    for messages in error.errors.values():
        for message in messages:
            flash(message, "error")
