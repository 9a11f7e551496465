"""Data-health benchmark: ``kpi health`` for the company-week beside the plain roll-up, same run.

Uses the KPI benchmark's data set (``kpi_rollup.py``: 20 branches, 200 reps, N visits over five
years, default 1,000,000) with entry times planted on top: 3 % of visits entered 1–20 days
late, 1 % saved on the phone (a third of those with a clock set back), one rep's late bulk entry
of 25 visits into 2026-W47, and the W47 reports sent on the Monday after, so the closed-week
queries have work to do. Then, median of ``--repeat`` after a warm-up, in one process:

- ``kpi.rollup`` (all 14 KPIs) for the company and 2026-W47 — the baseline;
- ``kpi.health.health`` for the same scope and week;

and prints both and their ratio (aim: health ≤ 1.5× the roll-up). Usage:

    .venv/bin/python benchmarks/health_bench.py --visits 50000            # quick, SQLite
    .venv/bin/python benchmarks/health_bench.py --db sqlite --db postgresql  # the 1M size
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from datasets import PG_ADMIN, bench_app, database
from kpi_rollup import TODAY, TZ, WEEK, generate, load, summarize

from fieldlog.app.extensions import db
from fieldlog.kpi import Scope, rollup
from fieldlog.kpi.health import health
from fieldlog.models import ReportDelivery, Visit
from fieldlog.services.defaults import ensure_defaults

PG_NAME = "fieldlog_bench_health"
VISIT_CREATED_AT = 13  # position of created_at in kpi_rollup's visit tuples


def plant(rows: dict[str, list[tuple]], seed: int = 19) -> dict[str, list[tuple]]:
    """Entry times on the generated visits: late entries, phone save times, one bulk entry."""
    rnd = random.Random(seed)
    u_start, u_end = (t.replace(tzinfo=None) for t in WEEK.utc_bounds(TZ))
    visits, saved = [], {}
    bulk = 0
    for row in rows["visit"]:
        row = list(row)
        at = row[6]
        roll = rnd.random()
        if row[3] == 1 and u_start <= at < u_end and bulk < 25:
            bulk += 1  # rep 1's W47 visits, entered in one sitting on 12/06
            row[VISIT_CREATED_AT] = datetime(2026, 12, 6, 1, 0) + timedelta(seconds=bulk)
        elif roll < 0.03:
            row[VISIT_CREATED_AT] = at + timedelta(days=rnd.randint(1, 20))
        elif roll < 0.04:
            row[VISIT_CREATED_AT] = at + timedelta(days=rnd.randint(1, 10))
            back = rnd.random() < 1 / 3
            saved[row[0]] = at - timedelta(days=1) if back else at + timedelta(minutes=20)
        visits.append(tuple(row))
    rows["visit"] = visits
    rows["saved_at"] = [(vid, at) for vid, at in saved.items()]
    return rows


def prepare(kind: str, visits: int, fresh: bool) -> str:
    """The data set's database URL: generated, planted and loaded, or reused when asked."""
    url, reuse = database(kind, f"fieldlog_health_bench_{visits}.db", PG_NAME, fresh)
    if reuse:
        return url
    app = bench_app(url)
    with app.app_context():
        db.create_all()
        ensure_defaults(db.session)
        db.session.commit()
        start = time.perf_counter()
        rows = plant(generate(visits))
        saved = rows.pop("saved_at")
        print(f"  {kind}: generated in {time.perf_counter() - start:.1f} s", flush=True)
        start = time.perf_counter()
        load(db.engine, rows)
        db.session.execute(sa.update(Visit), [{"id": vid, "saved_at": at} for vid, at in saved])
        sent = datetime.combine(WEEK.end + timedelta(days=1), datetime.min.time()).replace(
            hour=7, tzinfo=TZ
        )
        reports = ["company"] + [f"branch:B{b:02d}" for b in range(1, 21)]
        db.session.add_all(
            ReportDelivery(
                week=WEEK.label,
                report=report,
                recipient=f"m@{report}",
                status="sent",
                sent_at=sent.astimezone(UTC),
            )
            for report in reports
        )
        db.session.commit()
        print(f"  {kind}: loaded in {time.perf_counter() - start:.1f} s", flush=True)
        summarize(db.session, kind)
        db.engine.dispose()
    return url


def timed(call, repeat: int) -> tuple[float, float, object]:
    """Median wall and CPU seconds of ``repeat`` calls after one warm-up, and the last result."""
    result = call()
    walls, cpus = [], []
    for _ in range(repeat):
        wall, cpu = time.perf_counter(), time.process_time()
        result = call()
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    return statistics.median(walls), statistics.median(cpus), result


def bench(url: str, repeat: int) -> None:
    app = bench_app(url)
    with app.app_context():
        scope = Scope.company()
        r_wall, r_cpu, _ = timed(
            lambda: rollup(db.session, scope, WEEK, today=TODAY, tz=TZ), repeat
        )
        h_wall, h_cpu, found = timed(
            lambda: health(db.session, scope, WEEK, tz=TZ, scope_label="company"), repeat
        )
        same = found.same_day_entry_rate  # type: ignore[attr-defined]
        print(f"  {db.engine.dialect.name}, company-week {WEEK.label}:")
        print(f"    roll-up (14 KPIs)  wall {r_wall * 1000:8.1f} ms   CPU {r_cpu * 1000:8.1f} ms")
        print(f"    kpi health         wall {h_wall * 1000:8.1f} ms   CPU {h_cpu * 1000:8.1f} ms")
        print(f"    ratio health / roll-up: wall {h_wall / r_wall:.2f}, CPU {h_cpu / r_cpu:.2f}")
        print(
            f"    found: same-day {same.numerator:,}/{same.denominator:,}, "
            f"late {found.late_entries:,}, changed after report "  # type: ignore[attr-defined]
            f"{found.changed_after_report:,}, flags "  # type: ignore[attr-defined]
            f"{sorted({f.kind for f in found.flags})}",  # type: ignore[attr-defined]
            flush=True,
        )
        db.engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--visits", type=int, default=1_000_000)
    parser.add_argument("--db", action="append", choices=["sqlite", "postgresql"])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--reuse", action="store_true", help="reuse the database if present")
    parser.add_argument("--keep", action="store_true", help="keep the PostgreSQL database")
    args = parser.parse_args()
    for kind in args.db or ["sqlite"]:
        url = prepare(kind, args.visits, fresh=not args.reuse)
        try:
            bench(url, args.repeat)
        finally:
            if kind == "postgresql" and not args.keep:
                admin = sa.create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
                with admin.connect() as conn:
                    conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{PG_NAME}" WITH (FORCE)')
                admin.dispose()


if __name__ == "__main__":
    main()
