"""Lead analysis speed at 1,000,000 visits: one ``kpi lead``, the ranking, the cached ranking.

On ``kpi_rollup.py``'s data set (20 branches, 200 reps, 5 years), in one process and minute:

- baseline: one SQL query fetching proposals and sales per rep and week of branch B01 over 104
  weeks (the series ``kpi lead`` needs, without the roll-up's definitions);
- ``lead_analysis`` for ``proposal_count`` → ``sales_amount``, branch B01, 104 weeks;
- the company's ranking of all 12 candidate KPIs over 104 weeks: the old way (12 separate
  analyses, ``--old``), and the batched one (``kpi.series``: every KPI of every branch in one
  pass, then 12 estimates), beside a baseline query fetching the company panel's series;
- the settings page's whole ranking job (company and every branch, 52 weeks, 252 analyses),
  and reading it back from the cache (``ranking.ranking_view``), the page's cost.

    .venv/bin/python benchmarks/lead_speed.py --reuse [--db postgresql] [--old]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

TZ = ZoneInfo("Asia/Tokyo")
UNTIL = "2026-W47"


def baseline_sql(dialect: str, start, end, by: str) -> str:
    """Proposals and sales per unit (rep of one branch, or branch) and week, in one statement."""
    if dialect == "sqlite":
        week = "CAST((julianday({col}) - julianday('{start}')) / 7 AS INTEGER)"
    else:
        week = "(({col}) - DATE '{start}') / 7"
    wp = week.format(col="p.proposed_on", start=start)
    ws = week.format(col="s.sold_on", start=start)
    p_unit, c_unit = ("p.rep_id", "c.rep_id") if by == "rep" else ("p.branch_id", "c.branch_id")
    p_where = "p.branch_id = :branch AND " if by == "rep" else ""
    c_where = "c.branch_id = :branch AND " if by == "rep" else ""
    return f"""
        SELECT 'kpi', {p_unit}, {wp} AS w, COUNT(*) FROM proposal p
        WHERE {p_where}p.proposed_on BETWEEN '{start}' AND '{end}'
        GROUP BY {p_unit}, w
        UNION ALL
        SELECT 'kgi', {c_unit}, {ws} AS w, SUM(s.amount) FROM sales_line s
        JOIN customer c ON c.id = s.customer_id
        WHERE {c_where}s.sold_on BETWEEN '{start}' AND '{end}'
        GROUP BY {c_unit}, w
    """


CPU: dict[str, float] = {}  # CPU seconds of the last timed step, by label (SQLite: in-process)


def timed(fn: Callable[[], object], repeat: int, label: str = "") -> float:
    """Median wall time; the median CPU time goes to CPU[label] (robust to a loaded machine)."""
    times, cpu = [], []
    for _ in range(repeat):
        started, cpu_started = time.perf_counter(), time.process_time()
        fn()
        times.append(time.perf_counter() - started)
        cpu.append(time.process_time() - cpu_started)
    CPU[label] = statistics.median(cpu)
    return statistics.median(times)


def run(url: str, kind: str, repeat: int, old: bool) -> None:
    import sqlalchemy as sa

    from fieldlog import create_app
    from fieldlog.app.extensions import db
    from fieldlog.jobs import lead_ranking as lead_jobs
    from fieldlog.kpi import Scope, lead_cache, ranking
    from fieldlog.kpi.lead import KPI_CHOICES, lead_analysis
    from fieldlog.models import LeadCache, LeadRanking
    from fieldlog.rules.periods import Period

    until = Period.parse(UNTIL)
    periods = until.trailing(104)
    app = create_app(
        {"SQLALCHEMY_DATABASE_URI": url, "FIELDLOG_SCHEDULER": False, "SECRET_KEY": "b" * 32}
    )
    with app.app_context():
        dialect = db.engine.dialect.name
        start, end = periods[0].start, until.end
        by_rep = sa.text(baseline_sql(dialect, start, end, "rep"))
        by_branch = sa.text(baseline_sql(dialect, start, end, "branch"))
        session = db.session

        def one():
            return lead_analysis(
                session, "proposal_count", "sales_amount", Scope.branch(1), 104, until, tz=TZ
            )

        def company_batched():
            return ranking.compute_ranking(
                session, "sales_amount", 104, until, tz=TZ, branches=False
            )

        def company_old():
            return [
                lead_analysis(session, k, "sales_amount", Scope.company(), 104, until, tz=TZ)
                for k in KPI_CHOICES
            ]

        base_rep = timed(lambda: session.execute(by_rep, {"branch": 1}).all(), repeat, "base_rep")
        t_one = timed(one, repeat, "one")
        base_branch = timed(lambda: session.execute(by_branch).all(), repeat, "base_branch")
        t_company = timed(company_batched, max(1, repeat // 2), "company")
        t_old = timed(company_old, 1, "old") if old else None
        verdict = one().verdict
        session.commit()

        # The page's job: company and every branch over the app's window, then the cached read.
        for model in (LeadCache, LeadRanking):
            session.execute(sa.delete(model))
        session.commit()
        weeks = ranking.RANKING_WEEKS
        t_job = timed(
            lambda: lead_jobs.run_ranking(app, until, weeks=weeks, kgi="sales_amount", tz=TZ),
            1,
            "job",
        )
        kept = ranking.ranking_view(session, until, weeks=weeks).state == "done"
        session.commit()
        t_read = timed(lambda: ranking.ranking_view(session, until, weeks=weeks), repeat, "read")
        view = ranking.ranking_view(session, until, weeks=weeks)
        t_cached_one = timed(
            lambda: lead_cache.cached_lead(
                session, "proposal_count", "sales_amount", Scope.branch(1), weeks, until, tz=TZ
            ),
            repeat,
            "cached_one",
        )
        session.commit()

    def line(label: str, wall: float, key: str, base: float | None = None) -> None:
        ratio = f"{wall / base:6.1f}x" if base else " " * 7
        print(f"  {label:<62} {wall * 1000:9.1f} ms {ratio}  CPU {CPU[key] * 1000:9.1f} ms")

    print(f"{kind}, branch B01 / company, {UNTIL}, median of {repeat} (wall, × baseline, CPU):")
    line("baseline: one SQL, proposals+sales per rep-week (B01, 104 w)", base_rep, "base_rep")
    line(f"kpi lead, one KPI, one branch, 104 weeks ({verdict})", t_one, "one", base_rep)
    line("baseline: one SQL, proposals+sales per branch-week (104 w)", base_branch, "base_branch")
    line("ranking, 12 KPIs, company, 104 w, batched, uncached", t_company, "company", base_branch)
    if t_old is not None:
        line("ranking, 12 KPIs, company, 104 weeks, one analysis each", t_old, "old", base_branch)
    rows = sum(len(r) for r in view.rows.values())
    branches = len(view.rows) - 1
    line(f"settings job: company + {branches} branches, {weeks} w, {rows} analyses", t_job, "job")
    print(f"  (job kept its results: {kept})")
    line("the ranking read from the cache (the settings page)", t_read, "read")
    line("one kept analysis (weekly PDF, design question, kpi lead)", t_cached_one, "cached_one")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--visits", type=int, default=1_000_000)
    parser.add_argument("--db", action="append", choices=["sqlite", "postgresql"])
    parser.add_argument("--reuse", action="store_true", help="reuse the data set if present")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--old", action="store_true", help="also time 12 separate analyses")
    args = parser.parse_args()
    from kpi_rollup import generate, prepare

    cache: dict[str, object] = {}

    def rows():
        if "rows" not in cache:
            cache["rows"] = generate(args.visits)
        return cache["rows"]

    for kind in args.db or ["sqlite"]:
        url = prepare(
            kind, rows, fresh=not args.reuse, visits=args.visits, pg_name="fieldlog_bench_lead"
        )
        run(url, kind, args.repeat, args.old)


if __name__ == "__main__":
    main()
