"""The weekly send through RQ on the real Redis: one job per report, each person mailed once.

Needs Redis (FIELDLOG_TEST_REDIS_URL, default redis://127.0.0.1:6379/5). Each test uses its own
queue name and deletes every key carrying it afterwards, so runs in parallel do not collide.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import uuid
from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest
from aiosmtpd.controller import Controller
from redis import Redis
from redis.exceptions import RedisError
from rq import Queue, Retry, SimpleWorker
from sqlalchemy import select

from fieldlog.app.extensions import db
from fieldlog.jobs import fanout, schedule
from fieldlog.models import ReportDelivery
from fieldlog.reports import mailer
from fieldlog.rules.periods import Period
from tests.test_reports_delivery import Inbox, free_port, inbox  # noqa: F401 — fixture

REDIS_URL = os.environ.get("FIELDLOG_TEST_REDIS_URL", "redis://127.0.0.1:6379/5")
WEEK = Period.parse("2026-W47")
TODAY = date(2026, 11, 23)
NOW_MONDAY = datetime(2026, 11, 23, 7, 1, tzinfo=ZoneInfo("Asia/Tokyo"))
EXPECTED = ["m1@example.jp", "m2@example.jp", "m3@example.jp", "owner@example.jp"]
AT_ONCE = Retry(max=2, interval=0)  # retries straight back on the queue, within one burst


@pytest.fixture(scope="session")
def redis_connection():
    connection = Redis.from_url(REDIS_URL, socket_connect_timeout=3)
    try:
        connection.ping()
    except RedisError as exc:
        pytest.fail(
            f"Redis at {REDIS_URL} is not reachable ({exc}). The report queue tests need a real "
            "Redis: start one (`redis-server --daemonize yes --bind 127.0.0.1 --save ''`) or "
            "point FIELDLOG_TEST_REDIS_URL at one.",
            pytrace=False,
        )
    yield connection
    connection.close()


@pytest.fixture
def queue(app, redis_connection):
    name = f"fieldlog-test-{uuid.uuid4().hex[:12]}"
    app.config.update(FIELDLOG_REDIS_URL=REDIS_URL, FIELDLOG_REPORT_QUEUE=name)
    yield Queue(name, connection=redis_connection)
    keys = list(redis_connection.scan_iter(match=f"*{name}*", count=1000))
    if keys:
        redis_connection.delete(*keys)
    for registry in ("rq:queues", "rq:workers"):
        ours = [m for m in redis_connection.smembers(registry) if name.encode() in m]
        if ours:
            redis_connection.srem(registry, *ours)
    assert not list(redis_connection.scan_iter(match=f"*{name}*"))


@pytest.fixture
def company(make, app, inbox):  # noqa: F811 — fixture
    tokyo = make.branch("TKY", "東京支店")
    osaka = make.branch("OSK", "大阪支店")
    make.branch("NGY", "名古屋支店")  # no manager
    make.user("manager", tokyo, email="m1@example.jp")
    make.user("manager", tokyo, email="m2@example.jp")
    make.user("manager", osaka, email="m3@example.jp")
    make.user("rep", tokyo, email="rep@example.jp")
    make.user("owner", email="owner@example.jp", name="社長")
    db.session.commit()
    app.config.update(FIELDLOG_SMTP_URL=inbox.url, FIELDLOG_MAIL_FROM="fieldlog@example.jp")


def enqueue(queue, retry=AT_ONCE, lines=None):
    echo = lines.append if lines is not None else lambda line: None
    return fanout.enqueue_week(db.session, queue, WEEK, TODAY, retry=retry, echo=echo)


def work(queue) -> None:
    """An in-process RQ worker in burst mode (restoring the signal handlers it installs)."""
    saved = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        worker = SimpleWorker([queue], connection=queue.connection, name=f"{queue.name}-worker")
        worker.work(burst=True)
    finally:
        for sig, handler in saved.items():
            signal.signal(sig, handler)


def rows() -> dict[tuple[str, str], ReportDelivery]:
    db.session.rollback()
    found = db.session.scalars(select(ReportDelivery).where(ReportDelivery.week == WEEK.label))
    return {(r.report, r.recipient): r for r in found}


def test_one_job_per_report_and_each_person_mailed_once(app, company, queue, inbox):  # noqa: F811 — fixture
    lines: list[str] = []
    jobs = enqueue(queue, lines=lines)
    assert len(jobs) == 3 and queue.count == 3  # company (the longest) first, OSK, TKY
    assert [queue.fetch_job(j).args[1] for j in jobs] == ["company", "branch:OSK", "branch:TKY"]
    assert rows()[("branch:NGY", "")].status == mailer.NO_RECIPIENTS
    assert any("branch:NGY" in line and "NO RECIPIENTS" in line for line in lines)
    assert inbox.messages == []  # nothing is built or sent by the enqueuing process

    work(queue)
    assert inbox.to() == EXPECTED
    by_to = {rcpts[0]: msg for rcpts, msg in inbox.messages}
    assert by_to["m3@example.jp"]["Subject"] == "週次KPIレポート 大阪支店 2026-W47"
    pdf = next(by_to["m1@example.jp"].iter_attachments()).get_content()
    assert pdf.startswith(b"%PDF")  # a real report, rendered by the worker
    assert {r.status for r in rows().values()} == {"sent", mailer.NO_RECIPIENTS}
    assert queue.finished_job_registry.count == 3
    assert queue.fetch_job(jobs[2]).return_value() == {"sent": 2}

    assert enqueue(queue) == []  # the week is done: nothing outstanding
    assert mailer.outstanding(db.session, WEEK) == []


def test_enqueuing_twice_does_not_double_send(app, company, queue, inbox):  # noqa: F811 — fixture
    first = enqueue(queue)
    assert enqueue(queue) == []  # each report's job is still waiting: not enqueued again
    # Copies with other ids (another host, an operator) still cannot send twice: claims.
    for job_id in first:
        copy = queue.fetch_job(job_id)
        queue.enqueue(fanout.run_report_job, *copy.args, job_id=f"{job_id}-copy")
    assert queue.count == 6

    work(queue)
    assert inbox.to() == EXPECTED
    copy = queue.fetch_job(f"{first[2]}-copy")
    assert copy.return_value() == {"skipped": 2}


class FlakyInbox(Inbox):
    """An SMTP server that answers 451 (try again later) to the first few messages."""

    def __init__(self, refuse: int) -> None:
        super().__init__()
        self.refuse = refuse

    async def handle_DATA(self, server, session, envelope):
        with self.lock:
            if self.refuse > 0:
                self.refuse -= 1
                return "451 4.3.0 try again later"
        return await super().handle_DATA(server, session, envelope)


@pytest.fixture
def flaky_inbox(app):
    box = FlakyInbox(refuse=2)
    controller = Controller(box, hostname="127.0.0.1", port=free_port())
    controller.start()
    app.config["FIELDLOG_SMTP_URL"] = f"smtp://127.0.0.1:{controller.port}"
    yield box
    controller.stop()


def test_failing_smtp_is_retried_and_sends_once(app, company, queue, flaky_inbox, caplog):
    caplog.set_level(logging.WARNING, logger="fieldlog.jobs.fanout")
    enqueue(queue)
    work(queue)
    assert flaky_inbox.to() == EXPECTED
    sent = [r for r in rows().values() if r.recipient]
    assert {r.status for r in sent} == {"sent"}
    assert sorted(r.attempts for r in sent) == [1, 1, 2, 2]  # two refused, then retried once
    assert queue.finished_job_registry.count == 3 and queue.failed_job_registry.count == 0
    assert sum("451" in r.message for r in caplog.records) == 2


def test_a_job_that_keeps_failing_is_visible_and_enqueued_again(app, company, queue, caplog):
    caplog.set_level(logging.WARNING, logger="fieldlog.jobs.fanout")
    app.config["FIELDLOG_SMTP_URL"] = f"smtp://127.0.0.1:{free_port()}?timeout=2"  # down
    jobs = enqueue(queue, retry=Retry(max=1, interval=0))
    work(queue)
    failed = rows()[("company", "owner@example.jp")]
    assert failed.status == "failed" and failed.attempts == 2  # first run + one retry
    assert "ConnectionRefusedError" in failed.error
    assert sorted(queue.failed_job_registry.get_job_ids()) == sorted(jobs)
    assert any("owner@example.jp failed" in r.message for r in caplog.records)
    # The next scheduler run enqueues the failed reports again.
    assert sorted(enqueue(queue)) == sorted(jobs)


def test_schedulers_on_two_hosts_enqueue_the_week_once(app, company, queue, inbox):  # noqa: F811 — fixture
    host_a, host_b = schedule.Scheduler(app), schedule.Scheduler(app)
    assert host_a.run_once(NOW_MONDAY) is False  # enqueued, not delivered yet
    assert queue.count == 3
    assert host_b.run_once(NOW_MONDAY) is False  # the lock is held: nothing enqueued
    assert queue.count == 3
    assert inbox.messages == []

    work(queue)
    assert host_a.run_once(NOW_MONDAY) is True and host_b.run_once(NOW_MONDAY) is True
    assert host_a.last_done == WEEK == host_b.last_done
    assert inbox.to() == EXPECTED


@pytest.mark.parametrize("mode", [[], ["--fork"]], ids=["in-worker", "fork"])
def test_flask_report_worker_command(app, company, queue, inbox, mode):  # noqa: F811 — fixture
    """The documented command, as a real process (jobs in it, or each in a forked horse)."""
    jobs = enqueue(queue)
    env = {
        **os.environ,
        "FIELDLOG_DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"],
        "FIELDLOG_SECRET_KEY": "test-secret",
        "FIELDLOG_REDIS_URL": REDIS_URL,
        "FIELDLOG_SMTP_URL": inbox.url,
        "FIELDLOG_LOG_FORMAT": "text",
    }
    db.session.remove()
    done = subprocess.run(
        [sys.executable, "-m", "flask", "--app", "fieldlog", "report", "worker", "--burst",
         "--queue", queue.name, "--name", f"{queue.name}-cli", *mode],
        env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert inbox.to() == EXPECTED
    assert sorted(queue.finished_job_registry.get_job_ids()) == sorted(jobs)


def test_send_command_enqueues_when_redis_is_configured(app, company, queue, runner, inbox):  # noqa: F811 — fixture
    result = runner.invoke(args=["report", "send", "--week", "2026-W47"])
    assert result.exit_code == 0, result.output
    assert f"3 jobs enqueued on {queue.name}" in result.output
    assert queue.count == 3 and inbox.messages == []

    local = runner.invoke(args=["report", "send", "--week", "2026-W47", "--in-process"])
    assert local.exit_code == 0, local.output
    assert inbox.to() == EXPECTED
    work(queue)  # the queued jobs find everything sent: nobody is mailed twice
    assert inbox.to() == EXPECTED


def test_the_week_lock_is_released_when_enqueueing_fails(app, company, queue, monkeypatch):
    def broken(session, period):
        raise RuntimeError("database went away")

    monkeypatch.setattr(mailer, "outstanding", broken)
    with pytest.raises(RuntimeError):
        fanout.enqueue_once(db.session, queue, WEEK, TODAY)
    monkeypatch.undo()
    assert len(fanout.enqueue_once(db.session, queue, WEEK, TODAY)) == 3
    assert fanout.enqueue_once(db.session, queue, WEEK, TODAY) is None  # held now
