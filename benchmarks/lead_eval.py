"""Lead analysis: how often it cries wolf, how often it finds a planted lead, and how fast it is.

Part 1 (``--eval``): several hundred random synthetic panels, each a KPI and a KGI per unit
(reps or branches) with autocorrelation, trends, a season and a company-wide swing in the KPI
that the KGI repeats 3 weeks later (the season or a campaign, not a lead). Nulls: the KGI never
follows the KPI; the false-alarm rate is the share called ``leads``. Planted: the KGI follows
the unit's own KPI k weeks later (k uniform 0–12); detected = ``leads`` at k ± 1.

Part 2 (``--timing``): ``kpi lead`` for one KPI and one branch over 104 weeks, and every
candidate KPI for the company, on the KPI benchmark's data set (``kpi_rollup.py``: 20 branches,
200 reps, 5 years), beside a baseline: one SQL query fetching the same weekly per-rep series.

    .venv/bin/python benchmarks/lead_eval.py --eval --panels 400
    .venv/bin/python benchmarks/lead_eval.py --timing --visits 1000000 --reuse
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from datetime import date
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from fieldlog.kpi.leadlag import estimate
from tests.panels import ar1

TZ = ZoneInfo("Asia/Tokyo")


# ---- part 1: planted leads and planted nulls ---------------------------------------------


def panel(
    rng: np.random.Generator, units: int, weeks: int, effect: float, lag: int, shared: bool = True
) -> tuple[np.ndarray, np.ndarray]:
    """KPI and KGI, units × weeks; the KGI follows the KPI ``lag`` weeks later by ``effect``."""
    span = weeks + 12
    t = np.arange(span)
    season = np.sin(2 * np.pi * (t + rng.integers(0, 52)) / 52)
    phi_x, phi_y = rng.uniform(0.3, 0.8), rng.uniform(0.2, 0.7)
    kpi = 10 + rng.normal(0, 2, (units, 1)) + ar1(rng, (units, span), phi_x)
    kgi = 100 + rng.normal(0, 10, (units, 1)) + ar1(rng, (units, span), phi_y)
    kpi += rng.normal(0, 0.03) * t  # trends, shared by every unit
    kgi += rng.normal(0, 0.08) * t
    if shared:
        common = ar1(rng, (1, span), 0.7)
        kpi += season + common
        kgi += 3 * season + 2 * np.roll(common, 3, axis=1)
    if effect:
        kgi[:, lag:] += effect * kpi[:, : span - lag]
    return kpi[:, 12:], kgi[:, 12:]


SHAPES = {  # name: (units choices, weeks choices, shared season and swing)
    "branch panels (3-10 reps, 52-156 weeks)": ((3, 4, 5, 6, 8, 10), (52, 78, 104, 156), True),
    # One series cannot tell a shared season from a lead: its nulls have none (docs).
    "one rep, no shared season (52-156 weeks)": ((1,), (52, 78, 104, 156), False),
}


def evaluate(panels: int, seed: int) -> None:
    """Print the false-alarm and detection rates, per kind of panel and effect size."""
    rng = np.random.default_rng(seed)
    print(f"{'panels':<44} {'kind':<22} {'n':>5} {'rate':>7}  90% interval")
    for name, (unit_choices, week_choices, shared) in SHAPES.items():
        per = panels if "branch" in name else panels // 2
        cases = [("null", 0.0), ("planted effect 0.3", 0.3), ("planted effect 0.5", 0.5)]
        for label, effect in cases:
            hits = 0
            started = time.perf_counter()
            for _ in range(per):
                units, weeks = int(rng.choice(unit_choices)), int(rng.choice(week_choices))
                lag = int(rng.integers(0, 13))
                kpi, kgi = panel(rng, units, weeks, effect, lag, shared)
                found = estimate(kpi, kgi)
                if effect == 0:
                    hits += found.verdict == "leads"
                else:
                    hits += found.verdict == "leads" and abs(found.lag - lag) <= 1
            lo, hi = _wilson(hits, per)
            kind = "false alarms" if effect == 0 else f"found, lag±1 ({label[8:]})"
            ms = (time.perf_counter() - started) / per * 1000
            print(
                f"{name:<44} {kind:<22} {per:>5} {hits / per:>7.1%}  "
                f"[{lo:.1%}, {hi:.1%}]  {ms:.0f} ms/panel",
                flush=True,
            )


def _wilson(hits: int, n: int, z: float = 1.645) -> tuple[float, float]:
    p = hits / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


# ---- part 2: timing on the KPI benchmark's data set --------------------------------------


def baseline_sql(dialect: str, start: date, end: date) -> str:
    """Proposals and sales per rep and week of one branch, in one statement."""
    if dialect == "sqlite":
        week = "CAST((julianday({col}) - julianday('{start}')) / 7 AS INTEGER)"
    else:
        week = "(({col}) - DATE '{start}') / 7"
    wp = week.format(col="p.proposed_on", start=start)
    ws = week.format(col="s.sold_on", start=start)
    return f"""
        SELECT 'kpi', p.rep_id, {wp} AS w, COUNT(*) FROM proposal p
        WHERE p.branch_id = :branch AND p.proposed_on BETWEEN '{start}' AND '{end}'
        GROUP BY p.rep_id, w
        UNION ALL
        SELECT 'kgi', c.rep_id, {ws} AS w, SUM(s.amount) FROM sales_line s
        JOIN customer c ON c.id = s.customer_id
        WHERE c.branch_id = :branch AND s.sold_on BETWEEN '{start}' AND '{end}'
        GROUP BY c.rep_id, w
    """


def timing(visits: int, reuse: bool, repeat: int, kinds: list[str]) -> None:
    """Build (or reuse) the data set per database and time kpi lead beside the baseline."""
    from kpi_rollup import generate, prepare

    cache: dict[str, object] = {}

    def rows():
        if "rows" not in cache:
            cache["rows"] = generate(visits)
        return cache["rows"]

    for kind in kinds:
        url = prepare(kind, rows, fresh=not reuse, visits=visits, pg_name="fieldlog_bench_lead")
        _time_lead(url, kind, visits, repeat)


def _time_lead(url: str, kind: str, visits: int, repeat: int) -> None:
    import sqlalchemy as sa

    from fieldlog import create_app
    from fieldlog.app.extensions import db
    from fieldlog.kpi import Scope
    from fieldlog.kpi.lead import KPI_CHOICES, lead_analysis
    from fieldlog.rules.periods import Period

    until = Period.parse("2026-W47")
    periods = until.trailing(104)
    app = create_app(
        {"SQLALCHEMY_DATABASE_URI": url, "FIELDLOG_SCHEDULER": False, "SECRET_KEY": "b"}
    )
    with app.app_context():
        branch = Scope.branch(1)
        sql = sa.text(baseline_sql(db.engine.dialect.name, periods[0].start, until.end))

        def one():
            return lead_analysis(
                db.session, "proposal_count", "sales_amount", branch, 104, until, tz=TZ
            )

        def base():
            return db.session.execute(sql, {"branch": 1}).all()

        def ranking():
            return [
                lead_analysis(db.session, k, "sales_amount", Scope.company(), 104, until, tz=TZ)
                for k in KPI_CHOICES
            ]

        one()
        base()
        t_one = _median(one, repeat)
        t_base = _median(base, repeat)
        t_rank = _median(ranking, max(1, repeat // 3))
        result = one()
        print(f"{kind}, {visits:,} visits, branch B01, 104 weeks → {result.verdict}")
        print(f"  kpi lead (one KPI, one branch):   {t_one * 1000:8.0f} ms")
        print(f"  baseline (one SQL, same series):  {t_base * 1000:8.0f} ms")
        print(f"  ratio:                            {t_one / t_base:8.1f}×")
        print(f"  all {len(KPI_CHOICES)} candidate KPIs, company: {t_rank * 1000:8.0f} ms")
        db.session.remove()
        db.engine.dispose()


def _median(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--eval", action="store_true", help="synthetic false alarms and power")
    parser.add_argument("--panels", type=int, default=400, help="panels per case")
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--timing", action="store_true", help="time kpi lead on a big data set")
    parser.add_argument("--visits", type=int, default=1_000_000)
    parser.add_argument("--db", action="append", choices=["sqlite", "postgresql"])
    parser.add_argument("--reuse", action="store_true", help="reuse the data set if present")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    if not (args.eval or args.timing):
        args.eval = True
    if args.eval:
        evaluate(args.panels, args.seed)
    if args.timing:
        timing(args.visits, args.reuse, args.repeat, args.db or ["sqlite"])


if __name__ == "__main__":
    main()
