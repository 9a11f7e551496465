"""KPI roll-up benchmark: the engine against one hand-written SQL query, same data, same run.

Generates N visits (default 1,000,000) with proposals, follow-ups and sales lines in proportion,
for 20 branches and 200 reps over 5 years, on SQLite and/or PostgreSQL, then times:

- all KPIs for one branch-week, and for the company-week (``kpi.rollup``);
- a 13-week company trend per branch (``kpi.trend_by``);

each beside a single hand-written SQL statement computing the same figures (which are also
checked to be equal). Usage:

    .venv/bin/python benchmarks/kpi_rollup.py --visits 50000 --db sqlite
    .venv/bin/python benchmarks/kpi_rollup.py --db sqlite --db postgresql   # 1M, the real size
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from datasets import PG_ADMIN, bench_app, database

from fieldlog.app.extensions import db
from fieldlog.kpi import KPI_KEYS, Scope, deepening, dormancy, rollup, trend_by
from fieldlog.kpi.rollup_engine import _SOURCES
from fieldlog.rules.periods import Period
from fieldlog.services.defaults import company_settings, ensure_defaults

TZ = ZoneInfo("Asia/Tokyo")
WEEK = Period.parse("2026-W47")
TODAY = date(2026, 11, 23)
FIRST_DAY = WEEK.end - timedelta(days=5 * 365 - 1)
BRANCHES, REPS, CUSTOMERS_PER_REP, CATEGORIES = 20, 200, 50, 12
PG_NAME = "fieldlog_bench_kpi"


# ---- data --------------------------------------------------------------------------------


def generate(n_visits: int, seed: int = 47) -> dict[str, list[tuple]]:
    """All rows as tuples in column order (see COLUMNS); deterministic for a seed."""
    rnd = random.Random(seed)
    now = datetime(2026, 11, 23, 1, 0)
    branches = [(b, f"B{b:02d}", f"支店{b}", now) for b in range(1, BRANCHES + 1)]
    users = [
        (u, f"rep{u}@example.jp", f"担当{u}", "rep", (u - 1) % BRANCHES + 1, "", True, now)
        for u in range(1, REPS + 1)
    ]
    customers = []
    for c in range(1, REPS * CUSTOMERS_PER_REP + 1):
        rep = (c - 1) % REPS + 1
        active = rnd.random() > 0.05
        customers.append(
            (
                c,
                f"C{c:06d}",
                f"顧客{c}",
                "",
                users[rep - 1][4],
                rep,
                "ABC"[c % 3],
                active,
                "",
                now,
                now,
            )
        )
    categories = [(k, f"CAT{k}", f"カテゴリ{k}", k, True, now) for k in range(1, CATEGORIES + 1)]
    span = (WEEK.end - FIRST_DAY).days + 1
    origin = datetime.combine(FIRST_DAY, datetime.min.time()) - timedelta(hours=9)
    times = sorted(rnd.random() * span * 86400 for _ in range(n_visits))
    visits, proposals, follow_ups = [], [], []
    purposes = [(1, True), (2, True), (3, True), (4, True), (5, False), (6, False)]
    for vid, seconds in enumerate(times, start=1):
        rep = rnd.randrange(1, REPS + 1)
        branch = users[rep - 1][4]
        customer = rep + REPS * rnd.randrange(CUSTOMERS_PER_REP)
        at = origin + timedelta(seconds=seconds)
        purpose, purposeful = purposes[rnd.randrange(6)]
        visits.append(
            (
                vid,
                uuid.UUID(int=rnd.getrandbits(128)).hex,
                "",
                rep,
                branch,
                customer,
                at,
                purpose,
                purposeful,
                "",
                rnd.random() < 0.4,
                "",
                "",
                at,
                at,
            )
        )
        day = (at + timedelta(hours=9)).date()
        if rnd.random() < 0.2:
            kind = rnd.choice(("upsell", "cross_sell", "cross_sell", "other"))
            closed = rnd.random() < 0.8
            closed_on = day + timedelta(days=rnd.randrange(60)) if closed else None
            status = rnd.choice(("won", "lost")) if closed else "open"
            amount = rnd.randrange(10, 500) * 1000 if rnd.random() < 0.9 else None
            proposals.append(
                (
                    len(proposals) + 1,
                    vid,
                    rep,
                    branch,
                    customer,
                    rnd.randrange(1, CATEGORIES + 1),
                    kind,
                    amount,
                    "",
                    day,
                    status,
                    closed_on,
                    at,
                    at,
                )
            )
        if rnd.random() < 0.4:
            due = day + timedelta(days=rnd.randrange(1, 15))
            roll = rnd.random()
            done = due + timedelta(days=rnd.randrange(-3, 4)) if roll < 0.7 else None
            follow_ups.append(
                (
                    len(follow_ups) + 1,
                    vid,
                    rep,
                    branch,
                    customer,
                    "フォロー",
                    due,
                    done,
                    None,
                    roll > 0.95,
                    at,
                    at,
                )
            )
    sales = []
    for sid in range(1, n_visits // 2 + 1):
        customer = rnd.randrange(1, len(customers) + 1)
        amount = rnd.randrange(1, 300) * 1000 * (-1 if rnd.random() < 0.03 else 1)
        gp = int(amount * rnd.uniform(0.1, 0.4)) if rnd.random() < 0.85 else None
        sales.append(
            (
                sid,
                None,
                customer,
                FIRST_DAY + timedelta(days=rnd.randrange(span)),
                rnd.randrange(1, CATEGORIES + 1),
                amount,
                gp,
                None,
            )
        )
    return {
        "branch": branches,
        "user": users,
        "customer": customers,
        "category": categories,
        "visit": visits,
        "proposal": proposals,
        "follow_up": follow_ups,
        "sales_line": sales,
    }


COLUMNS = {
    "branch": "id, code, name, created_at",
    "user": "id, email, name, role, branch_id, password_hash, active, created_at",
    "customer": "id, code, name, name_kana, branch_id, rep_id, rank, active, search_text, "
    "created_at, updated_at",
    "category": "id, code, name, sort, active, updated_at",
    "visit": "id, client_id, payload_hash, rep_id, branch_id, customer_id, visited_at, "
    "purpose_id, purposeful, purpose_note, hearing_done, hearing_note, note, created_at, "
    "updated_at",
    "proposal": "id, visit_id, rep_id, branch_id, customer_id, category_id, kind, amount, note, "
    "proposed_on, status, closed_on, created_at, updated_at",
    "follow_up": "id, visit_id, rep_id, branch_id, customer_id, action, due_on, done_on, "
    "done_visit_id, cancelled, created_at, updated_at",
    "sales_line": "id, ref, customer_id, sold_on, category_id, amount, gross_profit, import_id",
}


def _sqlite_value(value):
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S.%f")
    if isinstance(value, date):
        return value.isoformat()
    return value


def load(engine: sa.Engine, rows: dict[str, list[tuple]]) -> None:
    """Bulk insert: executemany on SQLite, COPY on PostgreSQL."""
    raw = engine.raw_connection()
    try:
        cur = raw.cursor()
        if engine.dialect.name == "sqlite":
            # The app hands transaction control to us (isolation_level None): one transaction.
            cur.execute("PRAGMA journal_mode = WAL")
            cur.execute("BEGIN")
        for table, data in rows.items():
            cols = COLUMNS[table]
            if engine.dialect.name == "sqlite":
                marks = ", ".join("?" * len(cols.split(",")))
                cur.executemany(
                    f'INSERT INTO "{table}" ({cols}) VALUES ({marks})',
                    ([_sqlite_value(v) for v in row] for row in data),
                )
            else:
                with cur.copy(f'COPY "{table}" ({cols}) FROM STDIN') as copy:
                    for row in data:
                        copy.write_row(row)
        raw.commit()
        if engine.dialect.name == "postgresql":
            for table in rows:
                cur.execute(
                    f"SELECT setval(pg_get_serial_sequence('\"{table}\"', 'id'), "
                    f'(SELECT MAX(id) FROM "{table}"))'
                )
            raw.commit()
            raw.driver_connection.autocommit = True
            raw.driver_connection.execute("VACUUM ANALYZE")
            raw.driver_connection.autocommit = False
        else:
            cur.execute("ANALYZE")
            raw.commit()
    finally:
        raw.close()


# ---- the hand-written baseline -----------------------------------------------------------


def baseline_sql(dialect: str, periods: list[Period], branch_id: int | None, by_branch: bool):
    """One SQL statement computing every figure's numerator and denominator."""
    pg = dialect == "postgresql"

    def d(day: date) -> str:
        return f"DATE '{day}'" if pg else f"'{day}'"

    def ts(day: date) -> str:
        instant = datetime.combine(day, datetime.min.time(), tzinfo=TZ).astimezone(UTC)
        text = instant.strftime("%Y-%m-%d %H:%M:%S.%f")
        return f"TIMESTAMP '{text}'" if pg else f"'{text}'"

    yes, no = ("true", "false") if pg else ("1", "0")
    rows = ", ".join(
        f"({i}, {d(p.start)}, {d(p.end)}, {ts(p.start)}, {ts(p.end + timedelta(days=1))}, "
        f"{ts(p.end - timedelta(days=59))}, {d(p.end - timedelta(days=89))}, "
        f"{d(p.end - timedelta(days=364))}, {d(p.end - timedelta(days=729))})"
        for i, p in enumerate(periods)
    )

    def g(alias: str) -> str:
        return f"{alias}.branch_id" if by_branch else "0"

    def gb(alias: str) -> str:
        return f", {alias}.branch_id" if by_branch else ""

    def f(alias: str) -> str:
        return f"{alias}.branch_id = {branch_id}" if branch_id is not None else "1 = 1"

    match = "AND r.branch_id = v.branch_id" if by_branch or branch_id is not None else ""
    return f"""
WITH periods (idx, d_start, d_end, u_start, u_end, dv_from, ds_from, w_start, pw_start) AS
  (VALUES {rows}),
vis AS (
  SELECT p.idx, {g("v")} AS g, COUNT(*) AS visits,
    SUM(CASE WHEN v.purposeful THEN 1 ELSE 0 END) AS purposeful,
    SUM(CASE WHEN v.hearing_done THEN 1 ELSE 0 END) AS hearing,
    SUM(CASE WHEN EXISTS (SELECT 1 FROM follow_up x WHERE x.visit_id = v.id)
        THEN 1 ELSE 0 END) AS next_action,
    COUNT(DISTINCT v.customer_id) AS cust,
    COUNT(DISTINCT CASE WHEN EXISTS (SELECT 1 FROM proposal r WHERE r.customer_id = v.customer_id
        AND r.kind IN ('upsell', 'cross_sell') AND r.proposed_on >= p.d_start
        AND r.proposed_on <= p.d_end {match}) THEN v.customer_id END) AS cust_prop
  FROM periods p JOIN visit v ON v.visited_at >= p.u_start AND v.visited_at < p.u_end
  WHERE {f("v")} GROUP BY p.idx{gb("v")}),
prop AS (
  SELECT p.idx, {g("r")} AS g, COUNT(*) AS n FROM periods p
  JOIN proposal r ON r.proposed_on >= p.d_start AND r.proposed_on <= p.d_end
  WHERE {f("r")} GROUP BY p.idx{gb("r")}),
xs AS (
  SELECT p.idx, {g("r")} AS g, SUM(CASE WHEN r.status = 'won' THEN 1 ELSE 0 END) AS won,
    COUNT(*) AS closed FROM periods p
  JOIN proposal r ON r.closed_on >= p.d_start AND r.closed_on <= p.d_end
  WHERE r.kind = 'cross_sell' AND r.status IN ('won', 'lost') AND {f("r")}
  GROUP BY p.idx{gb("r")}),
fu AS (
  SELECT p.idx, {g("x")} AS g,
    SUM(CASE WHEN x.done_on IS NOT NULL AND x.done_on <= x.due_on THEN 1 ELSE 0 END) AS done,
    SUM(CASE WHEN x.due_on <= {d(TODAY)} THEN 1 ELSE 0 END) AS due
  FROM periods p JOIN follow_up x ON x.due_on >= p.d_start AND x.due_on <= p.d_end
  WHERE x.cancelled = {no} AND {f("x")} GROUP BY p.idx{gb("x")}),
pipe AS (
  SELECT p.idx, {g("r")} AS g, COUNT(*) AS n, SUM(COALESCE(r.amount, 0)) AS amount
  FROM periods p JOIN proposal r ON r.proposed_on <= p.d_end
    AND (r.closed_on IS NULL OR r.closed_on > p.d_end)
  WHERE {f("r")} GROUP BY p.idx{gb("r")}),
sales AS (
  SELECT p.idx, {g("c")} AS g, SUM(s.amount) AS amount,
    SUM(CASE WHEN s.gross_profit IS NOT NULL THEN s.gross_profit ELSE 0 END) AS gp,
    SUM(CASE WHEN s.gross_profit IS NOT NULL THEN s.amount ELSE 0 END) AS gp_amount
  FROM periods p JOIN sales_line s ON s.sold_on >= p.d_start AND s.sold_on <= p.d_end
  JOIN customer c ON c.id = s.customer_id WHERE {f("c")} GROUP BY p.idx{gb("c")}),
deep_c AS (
  SELECT p.idx, {g("c")} AS g, s.customer_id,
    COUNT(DISTINCT CASE WHEN s.sold_on >= p.w_start THEN s.category_id END) AS cats_w,
    COUNT(DISTINCT CASE WHEN s.sold_on < p.w_start THEN s.category_id END) AS cats_prev,
    SUM(CASE WHEN s.sold_on < p.w_start THEN 1 ELSE 0 END) AS lines_prev
  FROM periods p JOIN sales_line s ON s.sold_on >= p.pw_start AND s.sold_on <= p.d_end
  JOIN customer c ON c.id = s.customer_id WHERE {f("c")}
  GROUP BY p.idx{gb("c")}, s.customer_id),
deep AS (
  SELECT idx, g, SUM(CASE WHEN lines_prev > 0 AND cats_w > cats_prev THEN 1 ELSE 0 END) AS num,
    SUM(CASE WHEN lines_prev > 0 THEN 1 ELSE 0 END) AS den FROM deep_c GROUP BY idx, g),
dorm AS (
  SELECT p.idx, {g("c")} AS g, COUNT(*) AS den,
    SUM(CASE WHEN NOT EXISTS (SELECT 1 FROM visit v WHERE v.customer_id = c.id
          AND v.visited_at >= p.dv_from AND v.visited_at < p.u_end)
      OR (EXISTS (SELECT 1 FROM sales_line s WHERE s.customer_id = c.id AND s.sold_on <= p.d_end)
          AND NOT EXISTS (SELECT 1 FROM sales_line s WHERE s.customer_id = c.id
          AND s.sold_on >= p.ds_from AND s.sold_on <= p.d_end)) THEN 1 ELSE 0 END) AS num
  FROM periods p CROSS JOIN customer c WHERE c.active = {yes} AND {f("c")}
  GROUP BY p.idx{gb("c")}),
keys AS (
  SELECT idx, g FROM vis UNION SELECT idx, g FROM prop UNION SELECT idx, g FROM xs
  UNION SELECT idx, g FROM fu UNION SELECT idx, g FROM pipe UNION SELECT idx, g FROM sales
  UNION SELECT idx, g FROM deep UNION SELECT idx, g FROM dorm)
SELECT k.idx, k.g, vis.visits, vis.purposeful, vis.hearing, vis.next_action, prop.n,
  vis.cust_prop, vis.cust, xs.won, xs.closed, fu.done, fu.due, deep.num, deep.den, dorm.num,
  dorm.den, pipe.n, pipe.amount, sales.amount, sales.gp, sales.gp_amount
FROM keys k
LEFT JOIN vis ON vis.idx = k.idx AND vis.g = k.g
LEFT JOIN prop ON prop.idx = k.idx AND prop.g = k.g
LEFT JOIN xs ON xs.idx = k.idx AND xs.g = k.g
LEFT JOIN fu ON fu.idx = k.idx AND fu.g = k.g
LEFT JOIN pipe ON pipe.idx = k.idx AND pipe.g = k.g
LEFT JOIN sales ON sales.idx = k.idx AND sales.g = k.g
LEFT JOIN deep ON deep.idx = k.idx AND deep.g = k.g
LEFT JOIN dorm ON dorm.idx = k.idx AND dorm.g = k.g
"""


def _numbers(figures) -> list[int]:
    """The engine's figures in the baseline's column order (numerators, denominators)."""
    out = []
    for key in KPI_KEYS:
        value = figures[key]
        out.append(int(value.numerator))
        if value.denominator is not None:
            out.append(int(value.denominator))
    return out


def _baseline_numbers(row) -> list[int]:
    visits = int(row[2] or 0)
    rest = [int(x or 0) for x in row[3:]]
    # visit_count, then purposeful/visits, hearing/visits, next_action/visits, proposals, ...
    return [visits, rest[0], visits, rest[1], visits, rest[2], visits, *rest[3:]]


# ---- timing ------------------------------------------------------------------------------


CPU: dict[str, float] = {}  # the last timed() call's median CPU time of this process, ms


def timed(fn, repeat: int) -> tuple[float, object]:
    """Median wall time in ms (and, in CPU["ms"], this process's median CPU time) and the result.

    On SQLite the queries run in this process, so its CPU time is the work done whatever
    the machine's load; on PostgreSQL it leaves out the server's share.
    """
    fn()  # warm-up (statement caches, page cache)
    runs, cpu, result = [], [], None
    for _ in range(repeat):
        start, start_cpu = time.perf_counter(), time.process_time()
        result = fn()
        runs.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    CPU["ms"] = statistics.median(cpu) * 1000
    return statistics.median(runs) * 1000, result


def bench(url: str, repeat: int, profile: bool = False) -> list[tuple[str, float, float]]:
    app = bench_app(url)
    results = []
    with app.app_context():
        session = db.session
        dialect = db.engine.dialect.name
        branch_id = 1
        weeks = WEEK.trailing(13)

        def run_sql(sql):
            return session.execute(sa.text(sql)).all()

        cases = [
            (
                "branch-week",
                lambda: rollup(session, Scope.branch(branch_id), WEEK, today=TODAY, tz=TZ),
                baseline_sql(dialect, [WEEK], branch_id, False),
            ),
            (
                "company-week",
                lambda: rollup(session, Scope.company(), WEEK, today=TODAY, tz=TZ),
                baseline_sql(dialect, [WEEK], None, False),
            ),
            (
                "13-week trend per branch",
                lambda: trend_by(session, "branch", weeks, today=TODAY, tz=TZ),
                baseline_sql(dialect, weeks, None, True),
            ),
        ]
        for name, engine_fn, sql in cases:
            engine_ms, figures = timed(engine_fn, repeat)
            engine_cpu = CPU["ms"]
            base_ms, rows = timed(lambda sql=sql: run_sql(sql), repeat)
            base_cpu = CPU["ms"]
            if isinstance(figures, dict) and "visit_count" in figures:
                assert _numbers(figures) == _baseline_numbers(rows[0]), name
            else:
                by_key = {(row[0], row[1]): row for row in rows}
                for branch, series in figures.items():
                    for i, week_figures in enumerate(series):
                        row = by_key.get((i, branch))
                        expected = _baseline_numbers(row) if row else None
                        if expected is not None:
                            assert _numbers(week_figures) == expected, (name, branch, i)
            results.append((name, engine_ms, base_ms))
            print(
                f"  {dialect:10} {name:26} engine {engine_ms:8.1f} ms   baseline "
                f"{base_ms:8.1f} ms   ratio {engine_ms / base_ms:5.2f}   (CPU here: engine "
                f"{engine_cpu:7.1f} ms, baseline {base_cpu:7.1f} ms, ratio "
                f"{engine_cpu / max(base_cpu, 0.001):5.2f})",
                flush=True,
            )
        if profile:  # the trend's cost per source query (each run alone)
            for source, keys in _SOURCES.items():
                ms, _ = timed(
                    lambda keys=keys: trend_by(
                        session, "branch", weeks, keys=keys, today=TODAY, tz=TZ
                    ),
                    repeat,
                )
                print(
                    f"  {dialect:10}   13-week trend, {source:10} {ms:8.1f} ms "
                    f"(CPU here {CPU['ms']:7.1f} ms)",
                    flush=True,
                )
        db.engine.dispose()
    return results


def summarize(session, label: str) -> None:
    """Build the KPI summaries of bulk-loaded rows: what the app's writers keep in step."""
    start = time.perf_counter()
    runs = deepening.rebuild(session)
    kept = dormancy.rebuild(session, company_settings(session), TZ)
    session.commit()
    print(
        f"  {label}: summaries rebuilt in {time.perf_counter() - start:.1f} s "
        f"({runs:,} deepening runs, {kept:,} dormancy runs)",
        flush=True,
    )


def prepare(kind: str, rows, fresh: bool, visits: int, pg_name: str = PG_NAME) -> str:
    """The data set's database URL: generated and loaded, or reused when asked and present."""
    url, reuse = database(kind, f"fieldlog_kpi_rollup_{visits}.db", pg_name, fresh)
    app = bench_app(url)
    with app.app_context():
        db.create_all()  # on a reused database: adds the tables that are newer than it
        if not reuse:
            ensure_defaults(db.session)
            db.session.commit()
            start = time.perf_counter()
            load(db.engine, rows())
            print(f"  {kind}: loaded in {time.perf_counter() - start:.1f} s", flush=True)
        if not reuse or not deepening.count(db.session) or dormancy.built_with(db.session) is None:
            summarize(db.session, kind)
        db.engine.dispose()
    return url


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--visits", type=int, default=1_000_000)
    parser.add_argument("--db", action="append", choices=["sqlite", "postgresql"])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--reuse", action="store_true", help="reuse the database if present")
    parser.add_argument("--keep", action="store_true", help="keep the PostgreSQL database")
    parser.add_argument("--profile", action="store_true", help="also time each source query")
    parser.add_argument("--pg-name", default=PG_NAME, help="the PostgreSQL database's name")
    args = parser.parse_args()
    cache: dict[str, dict] = {}

    def rows():
        if "rows" not in cache:
            start = time.perf_counter()
            cache["rows"] = generate(args.visits)
            counts = {t: len(r) for t, r in cache["rows"].items()}
            print(f"generated in {time.perf_counter() - start:.1f} s: {counts}", flush=True)
        return cache["rows"]

    for kind in args.db or ["sqlite"]:
        url = prepare(kind, rows, fresh=not args.reuse, visits=args.visits, pg_name=args.pg_name)
        try:
            bench(url, args.repeat, args.profile)
        finally:
            if kind == "postgresql" and not args.keep:
                admin = sa.create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
                with admin.connect() as conn:
                    conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{args.pg_name}" WITH (FORCE)')
                admin.dispose()


if __name__ == "__main__":
    main()
