"""Monday 07:00 delivery without cron: a small background thread in each app process.

The decision is the pure function ``due_week``; the thread only wakes, asks it and calls
``reports.mailer.send_week``, which claims one row per recipient, so any number of processes or
hosts may run this loop at once and each report still goes out once. With
FIELDLOG_REDIS_URL set it enqueues one job per report instead (``fanout.py``): one process
takes the week's Redis lock and enqueues, the workers deliver through the same claim rows,
and the week counts as done once the database says every report went out. Started from
``wsgi.py`` (never from ``create_app``, so tests, the CLI and migrations stay side-effect
free), and again in each forked child (gunicorn ``--preload``).
"""

from __future__ import annotations

import logging
import os
import threading
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from flask import Flask

from ..rules.periods import Period

SEND_AT = time(7, 0)
WAKE_EVERY = timedelta(minutes=5)
# After a run with failures, wait a little longer before retrying the failed recipients.
RETRY_AFTER = timedelta(minutes=30)

log = logging.getLogger(__name__)


def due_week(now: datetime, tz: ZoneInfo, last_done: Period | None) -> Period | None:
    """The week whose reports should go out now, or None.

    From Monday 07:00 local time the previous ISO week is due until it has been delivered;
    before that, the week before it is still the latest due (so a process that was down at
    07:00 sends as soon as it is back). Older missed weeks are not back-filled.
    """
    local = now.astimezone(tz)
    this_week = Period.week_of(local.date())
    released = datetime.combine(this_week.start, SEND_AT, tzinfo=tz)
    due = this_week.previous() if local >= released else this_week.shift(-2)
    if last_done is not None and last_done >= due:
        return None
    return due


class Scheduler:
    """Wakes every few minutes and sends the due week's reports."""

    def __init__(self, app: Flask, wake_every: timedelta = WAKE_EVERY) -> None:
        self.app = app
        self.wake_every = wake_every
        self.last_done: Period | None = None
        self.stop_event = threading.Event()
        self.thread: threading.Thread | None = None

    def run_once(self, now: datetime | None = None) -> bool:
        """Send what is due; True when everything due has been delivered."""
        from ..app.extensions import db
        from ..reports import mailer

        config = self.app.config
        tz = ZoneInfo(config["FIELDLOG_TIMEZONE"])
        now = now or datetime.now(UTC)
        due = due_week(now, tz, self.last_done)
        if due is None:
            return True
        with self.app.app_context():
            if config.get("FIELDLOG_REDIS_URL"):
                try:
                    return self._fan_out(due, now.astimezone(tz).date())
                finally:
                    db.session.remove()
            try:
                result = mailer.send_week(
                    db.session,
                    due,
                    build=mailer.default_builder(db.session, due, now.astimezone(tz).date(), tz),
                    smtp_url=config["FIELDLOG_SMTP_URL"],
                    mail_from=config["FIELDLOG_MAIL_FROM"],
                    echo=log.info,
                )
            finally:
                db.session.remove()
        if result.failed:
            log.warning("weekly reports %s: %d deliveries failed", due, len(result.failed))
            return False
        self.last_done = due
        return True

    def _fan_out(self, due: Period, today: date) -> bool:
        """Queue mode: enqueue what is outstanding (one process per lock period); True once
        the workers have delivered everything."""
        from ..app.extensions import db
        from ..reports import mailer
        from . import fanout

        if not mailer.outstanding(db.session, due):
            self.last_done = due
            return True
        queue = fanout.report_queue(self.app)
        enqueued = fanout.enqueue_once(db.session, queue, due, today)
        if enqueued is None:
            log.info("weekly reports %s: another process holds the enqueue lock", due)
        else:
            log.info("weekly reports %s: %d jobs enqueued on %s", due, len(enqueued), queue.name)
        return False

    def _loop(self) -> None:
        while not self.stop_event.is_set():
            wait = self.wake_every
            try:
                if not self.run_once():
                    wait = RETRY_AFTER
            except Exception:
                log.exception("weekly report scheduler run failed")
                wait = RETRY_AFTER
            self.stop_event.wait(wait.total_seconds())

    def start(self) -> None:
        self.thread = threading.Thread(target=self._loop, name="fieldlog-reports", daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.stop_event.set()


_running: dict[int, Scheduler] = {}


def start_scheduler(app: Flask) -> Scheduler | None:
    """Start the weekly-report thread in this process if enabled; safe to call repeatedly."""
    if app.testing or not app.config.get("FIELDLOG_SCHEDULER"):
        return None
    if not app.config.get("FIELDLOG_SMTP_URL"):
        log.warning(
            "FIELDLOG_SMTP_URL is not set: weekly reports will NOT be emailed on Monday "
            "(set it, or FIELDLOG_SCHEDULER=off to silence this)"
        )
        return None
    pid = os.getpid()
    if pid not in _running:
        if not _running:
            # A forked worker (gunicorn --preload) inherits no threads: start one there too.
            os.register_at_fork(after_in_child=lambda: start_scheduler(app))
        _running[pid] = Scheduler(app)
        _running[pid].start()
        log.info(
            "weekly report scheduler started (Mondays %s %s)",
            SEND_AT,
            app.config["FIELDLOG_TIMEZONE"],
        )
    return _running[pid]
