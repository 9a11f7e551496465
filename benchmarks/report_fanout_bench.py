"""Weekly send for a 200-branch company: in one process vs fanned out on RQ with 2 workers.

Builds a company of N branches (default 200: one manager, two reps, four customers, a few
visits in the report week and the week before, a sales line per customer and week) on
PostgreSQL (or SQLite), then sends week 2026-W47 twice, timing from the start of the send to
the moment the loopback SMTP server (aiosmtpd) holds every mail:

- baseline, in-process: ``mailer.send_week`` in this process, as the built-in scheduler
  does without FIELDLOG_REDIS_URL (WeasyPrint warmed up first, as in a running app);
- RQ: ``fanout.enqueue_week`` here, and W already running ``flask --app fieldlog report
  worker`` processes (default 2, the machine's cores) building and mailing the reports.

Every recipient must get exactly one mail in each run. Usage:

    .venv/bin/python benchmarks/report_fanout_bench.py                   # 200 branches, PG
    .venv/bin/python benchmarks/report_fanout_bench.py --branches 10 --db sqlite
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from aiosmtpd.controller import Controller
from redis import Redis
from rq import Queue, Worker

from fieldlog import create_app
from fieldlog.app.extensions import db
from fieldlog.jobs import fanout
from fieldlog.models import Branch, Customer, ReportDelivery, SalesLine, User
from fieldlog.present import pdf
from fieldlog.reports import mailer
from fieldlog.rules.periods import Period
from fieldlog.services import accounts
from fieldlog.services.defaults import ensure_defaults
from fieldlog.services.visits import record_visit

TZ = ZoneInfo("Asia/Tokyo")
WEEK = Period.parse("2026-W47")
TODAY = date(2026, 11, 23)
NOW = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)
ROOT = Path(__file__).resolve().parent.parent
PG_ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
PG_NAME = "fieldlog_bench_fanout"
REDIS_URL = "redis://127.0.0.1:6379/6"
SMTP_PORT = 5851  # this helper's port range: 5850-5899
PURPOSES = ("hearing", "routine", "relationship", "called")


class Inbox:
    """Counts mails per recipient; `wait_for` blocks until a number has arrived."""

    def __init__(self) -> None:
        self.to: Counter[str] = Counter()
        self.cond = threading.Condition()

    async def handle_DATA(self, server, session, envelope):  # aiosmtpd hook
        with self.cond:
            self.to.update(envelope.rcpt_tos)
            self.cond.notify_all()
        return "250 OK"

    def clear(self) -> None:
        with self.cond:
            self.to.clear()

    def wait_for(self, count: int, timeout: float = 3600) -> None:
        with self.cond:
            if not self.cond.wait_for(lambda: self.to.total() >= count, timeout):
                raise TimeoutError(f"{self.to.total()} of {count} mails after {timeout} s")


# ---- the company ----------------------------------------------------------------------------


def database(kind: str) -> str:
    if kind == "sqlite":
        return "sqlite:///" + str(Path(tempfile.mkdtemp(prefix="fanout-bench-")) / "bench.db")
    admin = sa.create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{PG_NAME}" WITH (FORCE)')
        conn.exec_driver_sql(f'CREATE DATABASE "{PG_NAME}"')
    admin.dispose()
    return sa.make_url(PG_ADMIN).set(database=PG_NAME).render_as_string(False)


def drop(url: str) -> None:
    if url.startswith("sqlite"):
        Path(url.removeprefix("sqlite:///")).unlink(missing_ok=True)
        return
    admin = sa.create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{PG_NAME}" WITH (FORCE)')
    admin.dispose()


def build_company(branches: int) -> int:
    """The company through the real visit write path; the number of mails a send makes."""
    accounts.PASSWORD_METHOD = "pbkdf2:sha256:1000"  # the benchmark is not about login
    session = db.session
    ensure_defaults(session)
    owner = User(email="owner@example.jp", name="社長", role="owner", active=True)
    accounts.set_password(owner, "bench-password-1")
    session.add(owner)
    for b in range(1, branches + 1):
        branch = Branch(code=f"B{b:03d}", name=f"第{b}支店")
        people = [
            User(email=f"{role}{b}-{i}@example.jp", name=f"{role} {b}-{i}", role=role,
                 branch=branch, active=True)
            for role, i in (("manager", 1), ("rep", 1), ("rep", 2))
        ]  # fmt: skip
        for user in people:
            accounts.set_password(user, "bench-password-1")
        session.add_all([branch, *people])
        session.flush()
        for r, rep in enumerate(people[1:]):
            for c in range(2):
                customer = Customer(code=f"C{b:03d}{r}{c}", name=f"顧客{b}-{r}{c}",
                                    branch=branch, rep=rep, rank="AB"[c])  # fmt: skip
                session.add(customer)
                session.flush()
                for week in (WEEK.previous(), WEEK):
                    session.add(SalesLine(customer=customer, sold_on=week.start,
                                          amount=100_000 + 7_000 * b + 1_000 * c))  # fmt: skip
                    for v in range(1 + (b + r + c) % 3):
                        day = week.start + timedelta(days=v * 2 + c)
                        at = datetime(day.year, day.month, day.day, 10 + v, tzinfo=TZ)
                        payload = {
                            "client_id": str(uuid.uuid4()),
                            "customer_code": customer.code,
                            "visited_at": at.isoformat(),
                            "purpose": PURPOSES[(b + v) % len(PURPOSES)],
                            "hearing_done": (b + v + c) % 2 == 0,
                        }
                        record_visit(session, rep, payload, tz=TZ, now=NOW)
        if b % 50 == 0:
            session.commit()
            print(f"  {b} branches", flush=True)
    session.commit()
    return branches + 1  # one manager per branch, one owner


# ---- the two runs ---------------------------------------------------------------------------


def in_process(app, inbox: Inbox, mails: int) -> float:
    with app.app_context():
        started = time.perf_counter()
        result = mailer.send_week(
            db.session, WEEK,
            build=mailer.default_builder(db.session, WEEK, TODAY, TZ),
            smtp_url=app.config["FIELDLOG_SMTP_URL"], mail_from="fieldlog@example.jp",
        )  # fmt: skip
        inbox.wait_for(mails)
        elapsed = time.perf_counter() - started
        db.session.remove()
    assert not result.failed, result.failed
    return elapsed


def with_rq(app, env: dict[str, str], inbox: Inbox, mails: int, workers: int) -> tuple:
    redis = Redis.from_url(REDIS_URL)
    queue = Queue(f"fieldlog-bench-{uuid.uuid4().hex[:8]}", connection=redis)
    command = [sys.executable, "-m", "flask", "--app", "fieldlog", "report", "worker",
               "--queue", queue.name]  # fmt: skip
    procs = [
        subprocess.Popen(
            [*command, "--name", f"{queue.name}-w{i}"],
            env=env,
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for i in range(workers)
    ]
    try:
        deadline = time.monotonic() + 300
        while len(Worker.all(queue=queue)) < workers:  # registered: warmed up and listening
            if time.monotonic() > deadline or any(p.poll() is not None for p in procs):
                raise RuntimeError("the workers did not start")
            time.sleep(0.2)
        with app.app_context():
            started = time.perf_counter()
            jobs = fanout.enqueue_week(db.session, queue, WEEK, TODAY)
            enqueued = time.perf_counter() - started
            inbox.wait_for(mails)
            elapsed = time.perf_counter() - started
            db.session.remove()
        failed = queue.failed_job_registry.count
    finally:
        for p in procs:
            p.send_signal(signal.SIGTERM)  # warm shutdown: finish the current job, exit
        for p in procs:
            p.wait(60)
        keys = list(redis.scan_iter(match=f"*{queue.name}*"))
        if keys:
            redis.delete(*keys)
        for registry in ("rq:queues", "rq:workers"):
            ours = [m for m in redis.smembers(registry) if queue.name.encode() in m]
            if ours:
                redis.srem(registry, *ours)
    assert failed == 0, f"{failed} jobs failed"
    return elapsed, enqueued, len(jobs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--branches", type=int, default=200)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--db", choices=["postgresql", "sqlite"], default="postgresql")
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    args = parser.parse_args()

    inbox = Inbox()
    smtp = Controller(inbox, hostname="127.0.0.1", port=SMTP_PORT)
    smtp.start()
    url = database(args.db)
    config = {
        "SQLALCHEMY_DATABASE_URI": url,
        "SECRET_KEY": "bench",
        "FIELDLOG_SCHEDULER": False,
        "FIELDLOG_SMTP_URL": f"smtp://127.0.0.1:{SMTP_PORT}",
        "FIELDLOG_MAIL_FROM": "fieldlog@example.jp",
        "FIELDLOG_REDIS_URL": REDIS_URL,
    }
    env = {
        **os.environ,
        "FIELDLOG_DATABASE_URL": url,
        "FIELDLOG_SECRET_KEY": "bench",
        "FIELDLOG_SMTP_URL": config["FIELDLOG_SMTP_URL"],
        "FIELDLOG_MAIL_FROM": "fieldlog@example.jp",
        "FIELDLOG_REDIS_URL": REDIS_URL,
        "FIELDLOG_LOG_FORMAT": "text",
    }
    app = create_app(config)
    try:
        with app.app_context():
            db.create_all()
            started = time.perf_counter()
            print(f"building {args.branches} branches on {args.db} …", flush=True)
            mails = build_company(args.branches)
            print(f"  built in {time.perf_counter() - started:.1f} s", flush=True)
            db.session.remove()
        pdf.warm_up()  # as in a running app process (and in each worker before it forks)
        print(f"load before: {os.getloadavg()[0]:.1f}", flush=True)

        base = in_process(app, inbox, mails)
        assert set(inbox.to.values()) == {1} and inbox.to.total() == mails, inbox.to
        print(f"in-process: {mails} mails in {base:.1f} s", flush=True)

        with app.app_context(), db.engine.begin() as conn:
            conn.execute(sa.delete(ReportDelivery))
        inbox.clear()
        fanned, enqueued, jobs = with_rq(app, env, inbox, mails, args.workers)
        assert set(inbox.to.values()) == {1} and inbox.to.total() == mails, inbox.to
        print(f"load after: {os.getloadavg()[0]:.1f}")
    finally:
        smtp.stop()
        with app.app_context():
            db.engine.dispose()
        if not args.keep:
            drop(url)

    print()
    print(f"{args.branches} branches, {mails} mails, {args.db}, week {WEEK.label}")
    print(f"{'run':<34} {'wall time':>10} {'per report':>11} {'× baseline':>11}")
    print(
        f"{'baseline: in-process send_week':<34} {base:>9.1f}s {base / mails:>10.2f}s {1:>10.2f}×"
    )
    print(
        f"{f'RQ, {args.workers} workers ({jobs} jobs)':<34} {fanned:>9.1f}s "
        f"{fanned / mails:>10.2f}s {fanned / base:>10.2f}×"
    )
    print(f"  of which enqueueing: {enqueued:.2f} s; speed-up ×{base / fanned:.2f}")


if __name__ == "__main__":
    main()
