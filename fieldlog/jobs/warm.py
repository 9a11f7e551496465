"""Forecasts computed in the background, so a page never waits for a fit (docs/kgi.md).

A page whose forecast is not computed yet for the current data asks ``request`` for it and
shows a placeholder that polls ``status``; one worker thread per process takes the jobs one
at a time. A job reads the forecast kept in the database (``kpi.forecast_cache``) if another
process has fitted it; else it claims it, fits it and keeps it there, each step in its own
unit of work. While another process's claim stands, the job goes back to the end of the queue
(polling every ``WAIT_POLL`` when nothing else is queued) and reads the other's result when it
is kept. ``warm_all`` queues the forecasts the pages open on (company and each branch, as of
the end of the last complete week) at start-up and after an import.
"""

from __future__ import annotations

import logging
import os
import secrets
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import wait as wait_for
from dataclasses import dataclass
from datetime import date
from typing import Any
from zoneinfo import ZoneInfo

from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session, scoped_session

from ..app.database import discard, write_unit
from ..app.extensions import db
from ..kpi import Scope, forecast_cache, kgi
from ..models import Branch
from ..rules.periods import last_complete_week

log = logging.getLogger("fieldlog")

# The forecast horizon the pages show (weeks after the week of as_of).
PAGE_WEEKS = 8
# Jobs remembered for status polls (the oldest finished ones are forgotten first).
JOBS_KEPT = 256
# Seconds between two looks at another process's claim when no other job is queued.
WAIT_POLL = 0.25
# Seconds a failed forecast answers "failed" before a page asking for it starts it again (the
# database was busy, a deploy was under way): not a retry loop, not a failure kept for good.
RETRY_AFTER = 60.0


@dataclass
class Job:
    progress: float = 0.0
    done: bool = False
    failed: bool = False
    failed_at: float = 0.0  # time.monotonic() of the failure


_lock = threading.Lock()
_jobs: dict[str, Job] = {}
_by_key: dict[tuple[Any, ...], str] = {}
_executor: ThreadPoolExecutor | None = None
_pid = 0
_futures: set[Future[None]] = set()


def _pool() -> ThreadPoolExecutor:
    """This process's worker (a forked process makes its own: threads do not survive a fork)."""
    global _executor, _pid
    if _executor is None or _pid != os.getpid():
        _executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="fieldlog-forecast")
        _pid = os.getpid()
    return _executor


def request(app: Flask, scope: Scope, as_of: date, weeks: int) -> tuple[str, str]:
    """Start computing a forecast unless it is under way; (job id, "computing" | "failed")."""
    key = (scope, as_of, weeks)
    with _lock:
        token = _by_key.get(key)
        job = _jobs.get(token) if token else None
        retry = job is not None and job.failed and time.monotonic() - job.failed_at >= RETRY_AFTER
        if job is not None and (not job.done or job.failed) and not retry:
            return token, "failed" if job.failed else "computing"  # type: ignore[return-value]
        token = secrets.token_urlsafe(12)
        if len(_jobs) >= JOBS_KEPT:
            for old in [t for t, j in _jobs.items() if j.done][: JOBS_KEPT // 2]:
                del _jobs[old]
        _jobs[token] = Job()
        _by_key[key] = token
    _submit(app, _jobs[token], scope, as_of, weeks)
    return token, "computing"


def _submit(app: Flask, job: Job, scope: Scope, as_of: date, weeks: int) -> None:
    future = _pool().submit(_run, app, job, scope, as_of, weeks)
    with _lock:
        _futures.add(future)
    future.add_done_callback(_forget_future)


def _forget_future(future: Future[None]) -> None:
    with _lock:
        _futures.discard(future)


def _queued_others() -> bool:
    """Whether jobs other than the running one are queued in this process."""
    with _lock:
        return sum(not f.done() for f in _futures) > 1


def _run(app: Flask, job: Job, scope: Scope, as_of: date, weeks: int) -> None:
    waiting = False
    with app.app_context():
        try:
            tz = ZoneInfo(app.config["FIELDLOG_TIMEZONE"])

            def progress(share: float) -> None:
                job.progress = share

            waiting = not _warm(db.session, scope, as_of, weeks, tz=tz, progress=progress)
        except Exception:
            job.failed_at = time.monotonic()
            job.failed = True
            log.exception("forecast for %s as of %s failed", scope, as_of)
        finally:
            db.session.remove()
    if waiting:
        _again(app, job, scope, as_of, weeks)
        return
    job.progress = 1.0
    job.done = True


def _warm(
    session: scoped_session[Session],
    scope: Scope,
    as_of: date,
    weeks: int,
    *,
    tz: ZoneInfo,
    progress: Callable[[float], None],
) -> bool:
    """Have the forecast in this process: read the kept one, or claim, fit and keep it. False
    while another process's claim on it stands (nothing done here)."""
    key = kgi.forecast_key(session, scope, as_of, weeks)
    if kgi.kept_forecast(session, key) is not None:
        return True
    with write_unit(session):
        claim = forecast_cache.claim(session, scope, as_of, weeks, key.version)
    if claim is None:
        return kgi.kept_forecast(session, key) is not None  # kept a moment ago, or wait
    try:
        fitted, found = kgi.fit_forecast(session, scope, as_of, weeks, tz=tz, progress=progress)
        with write_unit(session):
            # Data written between the claim and the fit's reads: the claim's version is not
            # what was fitted; the next asker claims the new one.
            if fitted.version == key.version and forecast_cache.keepable(found):
                forecast_cache.keep(session, claim, found)
            else:
                forecast_cache.release(session, claim)
    except Exception:
        discard(session)
        try:
            with write_unit(session):
                forecast_cache.release(session, claim)
        except Exception:  # e.g. the database still locked: the claim goes stale instead
            log.exception("forecast for %s as of %s: could not release its claim", scope, as_of)
        raise
    return True


def _again(app: Flask, job: Job, scope: Scope, as_of: date, weeks: int) -> None:
    """Another process is fitting this forecast: look again after the jobs queued behind it,
    or after ``WAIT_POLL`` when none is. A process shutting down gives the job up."""
    if not _queued_others():
        time.sleep(WAIT_POLL)
    try:
        _submit(app, job, scope, as_of, weeks)
    except RuntimeError:  # the pool no longer takes jobs (interpreter shutdown)
        job.done = True


def join_all(timeout: float | None = None) -> bool:
    """Wait until this process's forecast jobs are done (tests, before the database goes);
    False when some still run after ``timeout``."""
    deadline = None if timeout is None else time.monotonic() + timeout
    while True:
        with _lock:
            pending = [f for f in _futures if not f.done()]
        if not pending:
            return True
        left = None if deadline is None else deadline - time.monotonic()
        if left is not None and left <= 0:
            return False
        wait_for(pending, timeout=left)


def status(token: str) -> dict[str, Any] | None:
    """A job's progress (0–1) and whether it is done; None for an unknown job."""
    job = _jobs.get(token)
    if job is None:
        return None
    return {"progress": round(job.progress, 2), "done": job.done, "failed": job.failed}


def in_background(app: Flask) -> bool:
    """Whether pages leave slow analyses (forecasts, lead analyses) to background jobs:
    FIELDLOG_FORECAST_BACKGROUND, on except under tests."""
    return bool(app.config.get("FIELDLOG_FORECAST_BACKGROUND", not app.testing))


def for_pages(app: Flask):
    """The ``cold`` callback of ``kgi.month_to_date`` for pages: start it, do not wait. None
    (wait) when the pages compute in the request (``in_background``)."""
    if not in_background(app):
        return None

    def cold(scope: Scope, as_of: date, weeks: int) -> tuple[str, str]:
        return request(app, scope, as_of, weeks)

    return cold


def warm_all(app: Flask) -> None:
    """Queue the forecasts the pages open on: company and each branch, as of the end of the
    last complete week (the default week of /summary and the branch dashboard). Nothing
    when the pages wait for their forecasts (FIELDLOG_FORECAST_BACKGROUND off, as under tests)."""
    if for_pages(app) is None:
        return
    with app.app_context():
        tz = ZoneInfo(app.config["FIELDLOG_TIMEZONE"])
        as_of = last_complete_week(tz).end
        try:
            branches = list(db.session.scalars(select(Branch.id).order_by(Branch.code)))
        except Exception:  # no schema yet (before the first migration): nothing to warm
            log.warning("forecasts not warmed: the database is not ready")
            return
        finally:
            db.session.remove()
    for scope in [Scope.company(), *(Scope.branch(b) for b in branches)]:
        request(app, scope, as_of, PAGE_WEEKS)


def warm_at_start(app: Flask) -> None:
    """Warm the pages' forecasts in this process and in every worker forked from it."""
    if not app.config.get("FIELDLOG_WARM_FORECASTS", True):
        return
    os.register_at_fork(after_in_child=lambda: warm_all(app))
    warm_all(app)
