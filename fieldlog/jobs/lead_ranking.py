"""The KPI ranking's background job: a thread per process, like the import jobs.

The settings page calls ``start_ranking`` when no ranking is kept for last week; the thread
claims the job's row (one per week, window and KGI, so two processes never both compute),
reads the data, records its progress for the page to poll, and keeps the results
(``kpi.ranking`` into ``kpi.lead_cache``). The thread owns its transactions: it commits the
claim, each progress step and the results, and rolls back on failure. See docs/verification.md.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from zoneinfo import ZoneInfo

from flask import Flask
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ..app.database import discard, end_reads, unit_of_work, write_intent
from ..app.extensions import db
from ..kpi import ranking
from ..kpi.lead import LEAD_WEEKS
from ..rules.periods import Period

log = logging.getLogger(__name__)

# Ranking threads started by this process and maybe still running: tests join them.
_threads: list[threading.Thread] = []
_lock = threading.Lock()
PROGRESS_EVERY = 0.5  # seconds between two progress commits


def start_ranking(app: Flask, until: Period, *, weeks: int, kgi: str, tz: ZoneInfo) -> None:
    """Compute the ranking for ``until`` in the background (inline when the app says so)."""
    if app.config.get("FIELDLOG_LEAD_INLINE"):
        run_ranking(app, until, weeks=weeks, kgi=kgi, tz=tz)
        return
    thread = threading.Thread(
        target=run_ranking,
        args=(app, until),
        kwargs={"weeks": weeks, "kgi": kgi, "tz": tz},
        name="fieldlog-lead-ranking",
        daemon=True,
    )
    with _lock:
        _threads[:] = [t for t in _threads if t.is_alive()]
        _threads.append(thread)
    thread.start()


def ranking_for_page(
    app: Flask,
    session: Session,
    until: Period,
    *,
    tz: ZoneInfo,
    weeks: int = ranking.RANKING_WEEKS,
    kgi: str = ranking.RANKING_KGI,
) -> ranking.RankingView:
    """The kept ranking, or its job's progress; a missing one is started in the background."""
    view = ranking.ranking_view(session, until, weeks=weeks, kgi=kgi)
    if view.state != "missing":
        return view
    end_reads(session)  # the job's rows become visible to this session's next read
    start_ranking(app, until, weeks=weeks, kgi=kgi, tz=tz)
    view = ranking.ranking_view(session, until, weeks=weeks, kgi=kgi)
    if view.state == "missing":  # the thread has not claimed it yet: it is about to
        return ranking.RankingView("running", 0, 0, until, weeks, kgi, {})
    return view


def for_pages(app: Flask, *, tz: ZoneInfo) -> Callable[[Period], ranking.RankingView] | None:
    """The ``kept_leads`` callback of ``reports.data.branch_report`` for a page that must not
    wait: the ranking's view for a week, its job started in the background when missing (the
    ranking keeps every lead analysis a branch page asks about: each candidate KPI against
    sales over ``lead.LEAD_WEEKS``, for the company and every branch). None (compute in the
    request) when the pages do not use background jobs (``warm.in_background``)."""
    from .warm import in_background

    if not in_background(app):
        return None

    def kept(until: Period) -> ranking.RankingView:
        return ranking_for_page(app, db.session, until, tz=tz, weeks=LEAD_WEEKS)

    return kept


def join_all(timeout: float | None = None) -> list[threading.Thread]:
    """Wait for this process's ranking threads (tests, before the database goes); the ones
    still running after ``timeout`` each."""
    with _lock:
        running = list(_threads)
    for thread in running:
        thread.join(timeout)
    return [t for t in running if t.is_alive()]


def run_ranking(app: Flask, until: Period, *, weeks: int, kgi: str, tz: ZoneInfo) -> bool:
    """Claim, compute and keep the ranking; True when this call kept one."""
    with app.app_context():
        session = db.session
        try:
            try:
                with write_intent(), unit_of_work(session):
                    job_id = ranking.claim(session, until, weeks=weeks, kgi=kgi, tz=tz)
            except IntegrityError:  # another process claimed it a moment ago (rolled back)
                return False
            if job_id is None:
                return False
            last = [0.0]

            def progress(done: int, total: int) -> None:
                if 0 < done < total and time.monotonic() - last[0] < PROGRESS_EVERY:
                    return
                last[0] = time.monotonic()
                with write_intent(), db.engine.begin() as conn:
                    ranking.set_progress(conn, job_id, done, total)

            try:
                results = ranking.compute_ranking(
                    session, kgi, weeks, until, tz=tz, progress=progress
                )
                end_reads(session)
                with write_intent(), unit_of_work(session):
                    kept = ranking.finish(session, job_id, results)
                return kept
            except Exception:
                discard(session)
                log.exception("KPI ranking for %s failed", until.label)
                try:
                    with write_intent(), unit_of_work(session):
                        ranking.fail(session, job_id)
                except Exception:  # e.g. the database still locked: the job is then taken
                    # for dead once it stops reporting progress (ranking.STALE_AFTER), and redone
                    log.exception("KPI ranking for %s: could not mark it failed", until.label)
                return False
        finally:
            db.session.remove()
