"""Server time of the rep's plan (``/api/v1/plan``) and Today, beside the plain customer list query.

On ``kpi_rollup.py``'s data set (``--visits``, default 1,000,000: 20 branches, 10,000 customers,
5 years of visits, follow-ups, proposals and sales lines), one rep of branch B01 is given 300
of its active customers and a few planned visits. Then, median of ``--repeat`` after a warm-up:

- ``plan.build_plan`` called directly (the service alone),
- ``GET /api/v1/plan`` and ``GET /`` (Today) through the Flask test client (routing, queries,
  words, template), built on every request (the page cache off, as the first view after a
  write), then kept (``web/page_cache.py``: the data's stamp and the kept answer),
- the baseline: the plain query listing the rep's 300 active customers (``access.customers``).

SQLite runs in this process, so CPU time is the server's work whatever the machine's load.
Usage:

    .venv/bin/python benchmarks/plan_bench.py --visits 50000 --repeat 5
    .venv/bin/python benchmarks/plan_bench.py                 # the 1M data set
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from datasets import bench_app
from kpi_rollup import generate, prepare
from sqlalchemy import select, update

from fieldlog.app.extensions import db
from fieldlog.models import Branch, Customer, PlannedVisit, User
from fieldlog.services import access, accounts, plan
from fieldlog.services.defaults import company_settings

TZ = ZoneInfo("Asia/Tokyo")
NOW = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)
TODAY = date(2026, 11, 23)
EMAIL, PASSWORD = "bench-plan-rep@example.jp", "bench-password"
CUSTOMERS = 300


def _app(url: str):
    return bench_app(url, FIELDLOG_NOW=NOW, WTF_CSRF_ENABLED=False)


def _rep_with_300_customers(app) -> None:
    """The bench rep, in branch B01, owning 300 of its active customers and 5 planned visits."""
    with app.app_context():
        branch = db.session.scalars(select(Branch).where(Branch.code == "B01")).one()
        rep = db.session.scalars(select(User).where(User.email == EMAIL)).first()
        if rep is None:
            rep = User(email=EMAIL, name="bench rep", role="rep", branch_id=branch.id)
            db.session.add(rep)
        accounts.set_password(rep, PASSWORD)
        db.session.flush()
        ids = db.session.scalars(
            select(Customer.id)
            .where(Customer.branch_id == branch.id, Customer.active.is_(True))
            .order_by(Customer.id)
            .limit(CUSTOMERS)
        ).all()
        assert len(ids) == CUSTOMERS, len(ids)
        db.session.execute(update(Customer).where(Customer.id.in_(ids)).values(rep_id=rep.id))
        if not db.session.scalars(select(PlannedVisit).where(PlannedVisit.rep_id == rep.id)).all():
            for customer_id in ids[:5]:
                db.session.add(PlannedVisit(rep=rep, customer_id=customer_id, planned_on=TODAY))
        db.session.commit()


def _median(fn: Callable[[], object], repeat: int) -> tuple[float, float, object]:
    result = fn()  # warm-up
    wall, cpu = [], []
    for _ in range(repeat):
        start, start_cpu = time.perf_counter(), time.process_time()
        result = fn()
        wall.append((time.perf_counter() - start) * 1000)
        cpu.append((time.process_time() - start_cpu) * 1000)
    return statistics.median(wall), statistics.median(cpu), result


def bench(app, repeat: int) -> list[tuple[str, float, float, str]]:
    _rep_with_300_customers(app)
    rows = []
    with app.app_context():
        rep = db.session.scalars(select(User).where(User.email == EMAIL)).one()
        settings = company_settings(db.session)

        def customer_list():
            return db.session.scalars(
                access.customers(rep).where(Customer.rep_id == rep.id, Customer.active.is_(True))
            ).all()

        def service():
            db.session.expire_all()
            return plan.build_plan(db.session, rep, TODAY, tz=TZ, settings=settings)

        wall, cpu, listed = _median(customer_list, repeat)
        rows.append(("baseline: the rep's customer list query", wall, cpu, f"{len(listed)} rows"))
        wall, cpu, items = _median(service, repeat)
        codes: dict[str, int] = {}
        for item in items:
            for reason in item.reasons:
                codes[reason.code] = codes.get(reason.code, 0) + 1
        rows.append(("plan.build_plan (service)", wall, cpu, f"{len(items)} items {codes}"))
        db.session.remove()
    client = app.test_client()
    client.post("/login", data={"email": EMAIL, "password": PASSWORD})
    # Built on every request (the page cache off: the first view after a write), then kept
    # (the page cache on; no write runs here, so no settle margin is waited for).
    app.config["FIELDLOG_PAGE_CACHE_SETTLE"] = 0.0
    for cache in (False, True):
        app.config["FIELDLOG_PAGE_CACHE"] = cache
        how = "kept" if cache else "built"
        for label, path in (("GET /api/v1/plan", "/api/v1/plan"), ("GET / (Today)", "/")):

            def get(path=path):
                response = client.get(path)
                assert response.status_code == 200, (path, response.status_code)
                return response

            wall, cpu, response = _median(get, repeat)
            rows.append((f"{label}, {how}", wall, cpu, f"{len(response.data):,} bytes"))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--visits", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--reuse", action="store_true", help="reuse the SQLite file if present")
    parser.add_argument("--sqlite", type=Path, help="use this SQLite file (kpi_rollup.py's)")
    args = parser.parse_args()
    own = Path(tempfile.gettempdir()) / "fieldlog_plan_bench"
    own.mkdir(exist_ok=True)
    tempfile.tempdir = str(own)
    if args.sqlite:
        url = f"sqlite:///{args.sqlite}"
    else:
        url = prepare(
            "sqlite", lambda: generate(args.visits), fresh=not args.reuse, visits=args.visits
        )
    rows = bench(_app(url), args.repeat)
    base = rows[0][1]
    print(f"{args.visits:,} visits, a rep with {CUSTOMERS} customers, median of {args.repeat}:")
    for label, wall, cpu, note in rows:
        print(
            f"  {label:42} wall {wall:8.1f} ms  cpu {cpu:8.1f} ms  "
            f"ratio vs list {wall / base:6.1f}   {note}",
            flush=True,
        )


if __name__ == "__main__":
    main()
