"""Response headers and per-request database intent."""

from __future__ import annotations

import copy
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

from flask import Flask, current_app, g, request
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface, SessionMixin
from itsdangerous import BadSignature
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.wrappers import Response

from ..app.database import (
    reset_reads_then_writes,
    reset_write_intent,
    set_reads_then_writes,
    set_write_intent,
)

CSP = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",
        "manifest-src 'self'",
        "worker-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)
SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}
F = TypeVar("F", bound=Callable[..., Any])


def reads_first(view: F) -> F:
    """Mark a POST view that reads (checks, a password hash) before it writes.

    On SQLite its reads run without a BEGIN, so they hold no write lock; the view takes the lock
    for its writes with ``database.begin_writes`` (one transaction, one commit), or ends the
    reads and wraps its writes in ``database.write_intent()``. It must write nothing before
    either: such a write would commit statement by statement.
    """
    view._fieldlog_reads_first = True  # type: ignore[attr-defined]
    return view


def _begin_request() -> None:
    # Requests that change data take SQLite's write lock when their transaction begins.
    view = current_app.view_functions.get(request.endpoint or "")
    if request.method in SAFE_METHODS:
        return
    if getattr(view, "_fieldlog_reads_first", False):
        g.reads_then_writes_token = set_reads_then_writes(True)
    else:
        g.write_intent_token = set_write_intent(True)


def _end_request(exc: BaseException | None) -> None:
    token = g.pop("write_intent_token", None)
    if token is not None:
        reset_write_intent(token)
    token = g.pop("reads_then_writes_token", None)
    if token is not None:
        reset_reads_then_writes(token)


def _headers(response: Response) -> Response:
    headers = response.headers
    headers.setdefault("Content-Security-Policy", CSP)
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("X-Frame-Options", "DENY")
    headers.setdefault("Referrer-Policy", "same-origin")
    headers.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
    headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
    if current_app.config.get("FIELDLOG_HTTPS") or request.is_secure:
        headers.setdefault("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
    if response.mimetype == "text/html":
        headers.setdefault("Cache-Control", "private, no-cache")
    return response


class DailyRefreshSession(SecureCookieSessionInterface):
    """The permanent session cookie re-signed when it changed or once a day, not every request,
    and verified once per process, not on every request.

    Flask re-signs it on every response to slide its expiry (SESSION_REFRESH_EACH_REQUEST):
    serializing and signing on each visit post, page and API call. A day's granularity keeps
    the 180-day sliding lifetime; a changed session is still saved at once.

    Opening it checked its signature and decoded it on every request (~0.15 ms of a visit
    post's ~3 ms). A cookie is the same bytes from one request to the next (it changes only
    when it is saved), so the decoded content of a cookie this process has verified is kept,
    keyed by the cookie and the keys, with the time it was signed: it is still refused once
    older than the session's lifetime. Each request gets its own copy.
    """

    VERIFIED_KEPT = 4096  # cookies a process keeps verified (then it starts again)

    def __init__(self) -> None:
        self._verified: dict[tuple[Any, ...], tuple[dict[str, Any], float]] = {}
        self._lock = threading.Lock()

    def open_session(self, app: Flask, request: Any) -> SecureCookieSession | None:
        value = request.cookies.get(self.get_cookie_name(app))
        if not value or not app.secret_key:
            return super().open_session(app, request)
        lifetime = int(app.permanent_session_lifetime.total_seconds())
        key = (value, app.secret_key, tuple(app.config["SECRET_KEY_FALLBACKS"] or ()))
        kept = self._verified.get(key)
        if kept is None:
            serializer = self.get_signing_serializer(app)
            try:
                data, signed = serializer.loads(  # type: ignore[union-attr]
                    value, max_age=lifetime, return_timestamp=True
                )
            except BadSignature:
                return self.session_class()
            kept = (data, signed.timestamp())
            with self._lock:
                if len(self._verified) >= self.VERIFIED_KEPT:
                    self._verified.clear()
                self._verified[key] = kept
        data, signed_at = kept
        if time.time() - signed_at > lifetime:
            return self.session_class()
        return self.session_class(copy.deepcopy(data))

    def should_set_cookie(self, app: Flask, session: SessionMixin) -> bool:
        refreshing = session.permanent and app.config["SESSION_REFRESH_EACH_REQUEST"]
        today = datetime.now(UTC).date().isoformat()
        if session.modified:
            if refreshing:  # saved now anyway: the next request of the day need not save it
                session["_refreshed_on"] = today
            return True
        if not refreshing or session.get("_refreshed_on") == today:
            return False
        session["_refreshed_on"] = today
        return True


def init_app(app: Flask) -> None:
    app.session_interface = DailyRefreshSession()
    proxies = int(app.config.get("FIELDLOG_PROXY_FIX") or 0)
    if proxies:
        # Behind nginx: the client's address (login throttling, logs), https (HSTS, secure
        # cookies, external URLs) and host come from the X-Forwarded-* headers of that many proxies.
        app.wsgi_app = ProxyFix(  # type: ignore[method-assign]
            app.wsgi_app, x_for=proxies, x_proto=proxies, x_host=proxies
        )
    app.before_request(_begin_request)
    app.teardown_request(_end_request)
    app.after_request(_headers)
