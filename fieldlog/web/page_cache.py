"""The rep's Today page and plan, kept per process while the data behind them is unchanged.

Building the plan and rendering Today costs 15-35 ms; a rep opens Today many times a day and
a whole team reloads it at once. The answer depends on the user, their language, the day and
the query string, and on the data, whose state ``services.data_stamp`` reads in one cheap
statement: the page is kept under the first and served again while the stamp is equal. The
write path is left alone: nothing has to remember to forget a page.

Not kept: a page with flash messages (they are shown once), and a page built under a stamp
whose newest change is younger than FIELDLOG_PAGE_CACHE_SETTLE seconds (a write stamped
before it may still be committing; see ``data_stamp``). The CSRF token is per login session,
so a kept page holds a mark in its place and each answer gets its own. A kept page is built
again after ``MAX_AGE`` whatever the stamp says, which bounds what the stamp cannot see (a
colleague renamed, whose name shows beside a branch plan's customers).
"""

from __future__ import annotations

import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from datetime import timedelta
from typing import Any

from flask import current_app, request, session
from flask_babel import get_locale, get_timezone
from flask_login import current_user
from flask_wtf.csrf import generate_csrf

from ..app.extensions import db
from ..models import utcnow
from ..services import data_stamp

KEPT_BYTES = 32 << 20  # per process: Today is ~15-30 KB, a 300-customer plan's JSON ~180 KB
MAX_AGE = 600.0  # seconds
_CSRF_MARK = f"\x00csrf-{secrets.token_hex(8)}\x00"


class PageCache:
    """Kept answers (text or bytes) by key, each with the data stamp it was built under; the
    least recently used go first once they hold more than ``size`` characters or bytes."""

    def __init__(self, size: int = KEPT_BYTES) -> None:
        self.size = size
        self.held = 0
        self._entries: OrderedDict[Hashable, tuple[tuple[Any, ...], float, str | bytes]] = (
            OrderedDict()
        )
        self._lock = threading.Lock()

    def get(self, key: Hashable, stamp: tuple[Any, ...]) -> str | bytes | None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            kept_stamp, at, value = entry
            if kept_stamp != stamp or time.monotonic() - at > MAX_AGE:
                self._drop(key)
                return None
            self._entries.move_to_end(key)
            return value

    def put(self, key: Hashable, stamp: tuple[Any, ...], value: str | bytes) -> None:
        with self._lock:
            self._drop(key)
            self._entries[key] = (stamp, time.monotonic(), value)
            self.held += len(value)
            while self.held > self.size and self._entries:
                self._drop(next(iter(self._entries)))

    def _drop(self, key: Hashable) -> None:
        entry = self._entries.pop(key, None)
        if entry is not None:
            self.held -= len(entry[2])


def _cache() -> PageCache:
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    cache = app.extensions.get("fieldlog_page_cache")
    if cache is None:
        cache = app.extensions.setdefault("fieldlog_page_cache", PageCache())
    return cache


def _key(kind: str) -> tuple[Any, ...]:
    """Who asks, in which language and zone, for which path: what the page says besides data."""
    user = current_user
    return (
        kind,
        user.id,
        user.email,
        user.name,
        user.role,
        user.branch_id,
        str(get_locale()),
        str(get_timezone()),
        request.full_path,
    )


def kept(kind: str, day: Any, build: Callable[[], str | bytes]) -> str | bytes:
    """``build()``'s answer for the current user, request and day, kept while the data holds.

    The stamp is read before building, so a page is never kept under a newer stamp than the
    data it shows.
    """
    config = current_app.config
    if not config["FIELDLOG_PAGE_CACHE"] or session.get("_flashes"):
        return build()
    stamp = data_stamp.stamp(db.session, current_user.branch_id)
    key = (*_key(kind), day)
    cache = _cache()
    value = cache.get(key, stamp)
    if value is not None:
        return value
    value = build()
    settle = timedelta(seconds=config["FIELDLOG_PAGE_CACHE_SETTLE"])
    if not session.get("_flashes") and data_stamp.settled(stamp, utcnow(), settle):
        cache.put(key, stamp, value)
    return value


def kept_page(kind: str, day: Any, render: Callable[[], str]) -> str:
    """``kept`` for a rendered HTML page: its CSRF token is the asking session's own."""

    def build() -> str:
        html = render()
        token = generate_csrf()
        return html.replace(token, _CSRF_MARK) if token else html

    html = str(kept(kind, day, build))
    return html.replace(_CSRF_MARK, generate_csrf()) if _CSRF_MARK in html else html
