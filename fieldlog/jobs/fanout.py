"""The weekly send fanned out on an RQ queue when FIELDLOG_REDIS_URL is set.

One job per report (each branch, and the company): a worker (``flask --app fieldlog report
worker``) builds that report's PDF and mails it through ``reports.mailer.send_report``, i.e. through
the same claim rows as the in-process send. So a job that runs twice, is enqueued twice or is
retried after some of its mails went out still mails each person once; a failed mail is
recorded on its row, logged, and the job raises so that RQ retries it with back-off.

Which process enqueues: every app process runs the scheduler (``schedule.py``). The first one
to take a Redis lock for the week (``SET NX`` with an expiry) enqueues what is outstanding; the
others see the lock and wait. Job ids are derived from the week and report, and a report whose
job is still queued, scheduled or running is not enqueued again.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date
from zoneinfo import ZoneInfo

from flask import Flask, current_app, has_app_context
from redis import Redis
from rq import Queue, Retry, SimpleWorker, Worker
from rq.job import JobStatus
from sqlalchemy.orm import Session

from ..app.database import read_only
from ..reports import mailer
from ..rules.periods import Period

QUEUE = "fieldlog-reports"
# RQ retries a failed job after 1, 5 and 30 minutes (then the scheduler's next run re-enqueues).
RETRY = Retry(max=3, interval=[60, 300, 1800])
JOB_TIMEOUT = 15 * 60  # seconds; the company report of a large company is the longest job
# A lock taken by the process that enqueues a week; others skip while it is held.
LOCK_SECONDS = 30 * 60
ACTIVE = {JobStatus.QUEUED, JobStatus.STARTED, JobStatus.SCHEDULED, JobStatus.DEFERRED}

log = logging.getLogger(__name__)


class DeliveryFailed(RuntimeError):
    """Raised by a job when some of its mails failed, so that RQ retries it."""


def connect(url: str) -> Redis:
    """A Redis connection from FIELDLOG_REDIS_URL (redis://host:6379/0, rediss://…)."""
    return Redis.from_url(url)


def report_queue(app: Flask, name: str | None = None) -> Queue:
    """The app's report queue on the Redis of FIELDLOG_REDIS_URL."""
    connection = connect(app.config["FIELDLOG_REDIS_URL"])
    name = name or app.config.get("FIELDLOG_REPORT_QUEUE", QUEUE)
    return Queue(name, connection=connection)


def job_id(queue: Queue, week: str, report: str) -> str:
    """A stable RQ job id per queue, week and report (RQ allows only [A-Za-z0-9_-])."""
    slug = re.sub(r"[^A-Za-z0-9_-]", "_", report)[:40]
    digest = hashlib.sha1(report.encode(), usedforsecurity=False).hexdigest()[:8]
    return f"{queue.name}-{week}-{slug}-{digest}"


def enqueue_week(
    session: Session,
    queue: Queue,
    period: Period,
    today: date,
    *,
    retry: Retry = RETRY,
    echo: Callable[[str], None] = lambda line: None,
) -> list[str]:
    """Enqueue one job per report of the week with someone still to serve; their job ids.

    A report without recipients is recorded here (nothing to build); a report whose job is
    already waiting or running is left to that job.
    """
    enqueued = []
    with read_only(session):
        outstanding = mailer.outstanding(session, period)
    # The company report takes longest (~5× a branch's): first, so it never runs alone at the end.
    for job in sorted(outstanding, key=lambda j: j.branch is not None):
        if not job.recipients:
            mailer.no_recipients(session, period, job, echo=echo)
            continue
        jid = job_id(queue, period.label, job.report)
        existing = queue.fetch_job(jid)
        if existing is not None and existing.get_status(refresh=False) in ACTIVE:
            echo(f"{job.report}: job {jid} already {existing.get_status(refresh=False)}")
            continue
        queue.enqueue(
            run_report_job,
            period.label,
            job.report,
            today.isoformat(),
            job_id=jid,
            retry=retry,
            job_timeout=JOB_TIMEOUT,
            failure_ttl=14 * 24 * 3600,
            description=f"weekly report {job.report} {period.label}",
        )
        echo(f"enqueued: {job.report} ({len(job.recipients)} recipients) as {jid}")
        enqueued.append(jid)
    return enqueued


def enqueue_once(
    session: Session,
    queue: Queue,
    period: Period,
    today: date,
    *,
    lock_seconds: int = LOCK_SECONDS,
) -> list[str] | None:
    """Enqueue the week if this process takes the week's lock; None when another holds it."""
    key = f"{queue.name}:enqueue-lock:{period.label}"
    if not queue.connection.set(key, os.getpid(), nx=True, ex=lock_seconds):
        return None
    try:
        return enqueue_week(session, queue, period, today, echo=log.info)
    except Exception:
        queue.connection.delete(key)  # let the next process (or run) try again at once
        raise


# ---- the worker side ------------------------------------------------------------------------

_app: Flask | None = None


@contextmanager
def _app_context() -> Iterator[Flask]:
    """The current app (flask report worker, tests), or one built from the environment
    (a plain `rq worker`), once per process."""
    global _app
    if has_app_context():
        yield current_app._get_current_object()  # type: ignore[attr-defined]
        return
    if _app is None:
        from .. import create_app

        _app = create_app()
    with _app.app_context():
        yield _app


def run_report_job(week: str, report: str, today: str) -> dict[str, int]:
    """RQ job: build one report and mail it to whoever has not received it; counts by status."""
    from ..app.extensions import db

    with _app_context() as app:
        config = app.config
        period = Period.parse(week)
        tz = ZoneInfo(config["FIELDLOG_TIMEZONE"])
        try:
            job = mailer.plan_report(db.session, report)
            if job is None:
                log.warning("weekly report %s %s: no such branch any more", report, week)
                return {}
            outcomes = mailer.send_report(
                db.session,
                period,
                job,
                build=mailer.default_builder(db.session, period, date.fromisoformat(today), tz),
                smtp=mailer.SmtpSettings.parse(config["FIELDLOG_SMTP_URL"]),
                mail_from=config["FIELDLOG_MAIL_FROM"],
                echo=log.info,
            )
        finally:
            db.session.remove()
    counts: dict[str, int] = {}
    for outcome in outcomes:
        counts[outcome.status] = counts.get(outcome.status, 0) + 1
    failed = [o for o in outcomes if o.status == "failed"]
    if failed:
        for o in failed:
            log.warning("weekly report %s %s to %s failed: %s", report, week, o.recipient, o.error)
        raise DeliveryFailed(f"{report} {week}: {len(failed)} of {len(outcomes)} mails failed")
    return counts


def run_worker(
    app: Flask, queue: Queue, *, burst: bool = False, name: str | None = None, fork: bool = False
) -> bool:
    """Work the report queue in this app's context until stopped (or empty, with burst).

    Jobs run in this process by default (RQ's SimpleWorker): SQLAlchemy's statement cache,
    the templates and WeasyPrint's fonts stay warm from one report to the next, where a
    work horse forked per job (fork=True, RQ's Worker) compiles them again each time —
    about twice as slow per report here — in exchange for isolating each job's memory.
    """
    from ..app.extensions import db
    from ..present.pdf import warm_up

    if fork:
        # A work horse must not reuse the parent's pooled database connections.
        engine = db.engine
        os.register_at_fork(after_in_child=lambda: engine.dispose(close=False))
    warm_up()  # WeasyPrint, templates and the font loaded before the first job
    worker_class = Worker if fork else SimpleWorker
    worker = worker_class([queue], connection=queue.connection, name=name)
    return worker.work(burst=burst, with_scheduler=True, logging_level="INFO")
