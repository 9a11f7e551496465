"""Small helpers shared by the blueprints: the company clock, JSON errors, role guards."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from functools import wraps
from typing import Any, TypeVar
from urllib.parse import quote
from zoneinfo import ZoneInfo

from flask import abort, current_app, jsonify, request
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required

from ..models import utcnow
from ..rules import limits
from ..rules.periods import Period, from_query, today
from ..services import access

F = TypeVar("F", bound=Callable[..., Any])


def company_tz() -> ZoneInfo:
    return ZoneInfo(current_app.config["FIELDLOG_TIMEZONE"])


def now() -> datetime:
    """The request's clock; tests may pin it with the FIELDLOG_NOW setting."""
    pinned = current_app.config.get("FIELDLOG_NOW")
    return pinned if pinned is not None else utcnow()


def local_today() -> date:
    return today(company_tz(), now())


def chosen_period(*, current: bool = False, months: str = "accepted") -> Period:
    """?week=2026-W47 or ?month=2026-11 (``periods.from_query``); 400 when unreadable."""
    try:
        return from_query(
            request.args.get("week"),
            request.args.get("month"),
            today=local_today(),
            current=current,
            months=months,  # type: ignore[arg-type]
        )
    except ValueError:
        abort(400)


def json_error(
    code: str, status: int, message: Any = "", errors: dict[str, list[Any]] | None = None
):
    """The one JSON error envelope: {"error": code, "message": ..., "errors": {...}}."""
    body: dict[str, Any] = {"error": code}
    if message:
        body["message"] = str(message)
    if errors:
        body["errors"] = {field: [str(m) for m in msgs] for field, msgs in errors.items()}
    return jsonify(body), status


# What the user is told when the database cannot take a write (database.storage_problem).
STORAGE_MESSAGES = {
    "full": _l(
        "The server's disk is full, so nothing was saved. Please tell your administrator, "
        "then try again."
    ),
    "read_only": _l(
        "The database cannot be written just now (read-only), so nothing was saved. Please "
        "tell your administrator, then try again."
    ),
    "unavailable": _l(
        "The database cannot be reached just now, so nothing was saved. Please try again in a "
        "few minutes."
    ),
    "busy": _l("The database is busy, so nothing was saved. Please try again in a moment."),
}


def too_large_message() -> Any:
    """What a 413 says: the request was larger than its limit (MAX_CONTENT_LENGTH, or
    limits.MAX_BODY_BYTES for a JSON or url-encoded form body), and how large that is."""
    limit = request.max_content_length or 0
    size = f"{limit // (1 << 20)} MB" if limit >= 1 << 20 else f"{max(limit // 1024, 1)} KB"
    return _l("The request is larger than %(size)s, the most the server accepts.", size=size)


def roles_required(*roles: str) -> Callable[[F], F]:
    """Log in first, then refuse (403) any role not listed."""

    def decorator(view: F) -> F:
        @wraps(view)
        @login_required
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if not access.has_role(current_user, roles):
                abort(403)
            return view(*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    return decorator


def attachment(filename: str) -> str:
    """A Content-Disposition value for a download: an ASCII name, and RFC 6266 ``filename*``
    with the UTF-8 name when it is not ASCII (a branch code like 札幌); never a CR or LF."""
    name = limits.clean_text(filename, multiline=False)
    fallback = "".join(
        c if c.isascii() and c.isprintable() and c not in '"\\' else "_" for c in name
    )
    if fallback == name:
        return f'attachment; filename="{name}"'
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(name, safe='')}"
