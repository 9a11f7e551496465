"""Server time per request kind of the load benchmark, in process (no HTTP, no locust).

Builds the load benchmark's database (50 reps, 10 customers each, plus --visits visits already
stored), logs in as one rep through the Flask test client and times each request kind the
locust users send — POST /api/v1/visits, GET /, GET /api/v1/session — plus the pages a rep
also browses (/me, /visits/new) and the static files a page pulls. It prints the median and
p90 per kind, in milliseconds, beside the trivial baseline app's /ping through the same test
client (the ratio is the figure that survives machine noise), and with --profile the top
functions of each kind by cumulative time (cProfile).

    .venv/bin/python benchmarks/load_profile.py [--db sqlite|postgresql] [--n 200] [--profile]
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import logging
import os
import pstats
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from load import PASSWORD, prepare_database, seed  # noqa: E402

JST = timezone(timedelta(hours=9))


def visit_payload(rep: int, n: int) -> dict[str, object]:
    """A visit like the locust users post (fixed shape, fresh client_id)."""
    at = datetime.now(UTC).astimezone(JST) - timedelta(minutes=n % 600)
    payload: dict[str, object] = {
        "client_id": str(uuid.uuid4()),
        "customer_code": f"L{rep:02d}-{n % 10:03d}",
        "visited_at": at.isoformat(),
        "purpose": ("hearing", "proposal", "routine", "follow_up")[n % 4],
        "hearing_done": n % 3 != 0,
        "note": "負荷試験の訪問メモ",
    }
    if n % 3 == 0:
        payload["proposal"] = {"amount": (n % 50 + 1) * 10000}
    if n % 2 == 0:
        due = (at + timedelta(days=7)).date().isoformat()
        payload["next_action"] = {"action": "電話フォロー", "due_on": due}
    return payload


def timed(fn: Callable[[], object], n: int) -> tuple[list[float], list[float]]:
    """Wall and CPU milliseconds of each call (CPU time holds up on a busy shared machine)."""
    wall, cpu = [], []
    for _ in range(n):
        started, started_cpu = time.perf_counter(), time.thread_time()
        fn()
        cpu.append((time.thread_time() - started_cpu) * 1000)
        wall.append((time.perf_counter() - started) * 1000)
    return wall, cpu


def summary(times: list[float]) -> tuple[float, float]:
    ordered = sorted(times)
    return statistics.median(ordered), ordered[int(len(ordered) * 0.9)]


def profile(fn: Callable[[], object], n: int, top: int, sort: str) -> str:
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(n):
        fn()
    profiler.disable()
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out)
    stats.sort_stats(sort).print_stats(top)
    return out.getvalue()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--db", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--n", type=int, default=200, help="requests timed per kind")
    parser.add_argument("--visits", type=int, default=2000, help="visits stored before timing")
    parser.add_argument("--profile", action="store_true", help="print cProfile top functions")
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--sort", default="cumulative", help="cProfile order: cumulative, tottime")
    parser.add_argument("--only", default="", help="profile only the kinds containing this text")
    args = parser.parse_args()

    from baseline_app import app as baseline

    from fieldlog import create_app

    with tempfile.TemporaryDirectory() as tmp:
        url, drop = prepare_database(args.db, Path(tmp))
        try:
            seed(url, 50, 10)
            os.environ["FIELDLOG_SCHEDULER"] = "off"
            app = create_app({"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "bench"})
            # The request log is part of the cost; keep it, but out of the terminal.
            for handler in logging.getLogger("fieldlog").handlers:
                handler.setStream(open(os.devnull, "w"))  # noqa: SIM115
            client = app.test_client()
            page = client.get("/login").text
            token = page.split('name="csrf_token"', 1)[1].split('value="', 1)[1].split('"', 1)[0]
            login_started = time.perf_counter()
            client.post(
                "/login",
                data={"email": "rep01@load.test", "password": PASSWORD, "csrf_token": token},
            )
            login_ms = (time.perf_counter() - login_started) * 1000
            csrf = client.get("/api/v1/session").json["csrf_token"]
            headers = {"Content-Type": "application/json", "X-CSRFToken": csrf}
            counter = iter(range(10**9))

            def post_own_visit() -> None:
                n = next(counter)
                body = json.dumps(visit_payload(1, n))
                response = client.post("/api/v1/visits", data=body, headers=headers)
                assert response.status_code == 201, response.text

            # Fill the database to the state of a run: other reps' visits straight in the db.
            with app.app_context():
                from zoneinfo import ZoneInfo

                from fieldlog.app.extensions import db
                from fieldlog.models import User
                from fieldlog.services.visits import record_visit

                reps = {u.email: u for u in db.session.query(User).all()}
                for n in range(args.visits):
                    rep = n % 50 + 1
                    record_visit(
                        db.session,
                        reps[f"rep{rep:02d}@load.test"],
                        visit_payload(rep, n),
                        tz=ZoneInfo("Asia/Tokyo"),
                    )
                db.session.commit()
                db.engine.dispose()

            css = next(
                (
                    line.split('href="', 1)[1].split('"', 1)[0]
                    for line in client.get("/").text.splitlines()
                    if "stylesheet" in line and 'href="' in line
                ),
                "/static/app.css",
            )
            ping = baseline.test_client()
            kinds: dict[str, Callable[[], object]] = {
                "baseline GET /ping": lambda: ping.get("/ping"),
                "POST /api/v1/visits": post_own_visit,
                "GET / (Today)": lambda: client.get("/"),
                "GET /api/v1/session": lambda: client.get("/api/v1/session"),
                "GET /me (My week)": lambda: client.get("/me"),
                "GET /visits/new": lambda: client.get("/visits/new"),
                f"GET {css}": lambda: client.get(css),
            }
            import sqlalchemy as sa

            with app.app_context():
                engine = db.engine
            statements = [0]

            @sa.event.listens_for(engine, "before_cursor_execute")
            def _count(*_args: object) -> None:
                statements[0] += 1

            for fn in kinds.values():  # warm up: templates compiled, caches filled
                for _ in range(3):
                    fn()
            print(
                f"{args.db}, {args.visits} visits stored before timing, n={args.n}; "
                f"login (scrypt) {login_ms:.0f} ms; load average {os.getloadavg()[0]:.2f}"
            )
            base = None
            print(
                f"{'request':<30}{'CPU p50':>9}{'CPU p90':>9}{'× /ping':>9}"
                f"{'wall p50':>10}{'wall p90':>10}{'SQL':>6}"
            )
            for name, fn in kinds.items():
                statements[0] = 0
                wall, cpu = timed(fn, args.n)
                (p50, p90), (cpu50, cpu90) = summary(wall), summary(cpu)
                base = base or cpu50
                sql = statements[0] / args.n
                print(
                    f"{name:<30}{cpu50:>9.2f}{cpu90:>9.2f}{cpu50 / base:>9.1f}"
                    f"{p50:>10.2f}{p90:>10.2f}{sql:>6.1f}"
                )
            if args.profile:
                for name, fn in kinds.items():
                    if "baseline" in name or args.only not in name:
                        continue
                    print(f"\n===== {name} =====")
                    print(profile(fn, max(20, args.n // 4), args.top, args.sort))
        finally:
            drop()


if __name__ == "__main__":
    main()
