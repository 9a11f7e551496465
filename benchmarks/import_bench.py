"""Import benchmark: 100,000 customers and 1,000,000 sales lines from CSV, time and peak memory.

Each step runs in its own Python process, which reports its wall time and peak RSS
(resource.getrusage), so one step's memory does not hide another's. The baseline is
sqlite-utils' own CSV insert (rows_from_file + insert_all, what `sqlite-utils insert --csv`
does) of the same sales CSV into a bare table, run in the same session.

    .venv/bin/python benchmarks/import_bench.py --scale 0.01   # quick
    .venv/bin/python benchmarks/import_bench.py                # full size
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import resource
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BRANCHES = ["T01", "O01", "N01", "F01", "S01"]


def generate(folder: Path, customers: int, sales: int) -> dict[str, Path]:
    """CSV files the way an ERP hands them over (Japanese headers for sales, UTF-8 BOM)."""
    rng = random.Random(7)
    paths = {
        name: folder / f"{name}.csv"
        for name in ("branches", "categories", "users", "customers", "sales")
    }
    with paths["branches"].open("w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows([["code", "name"], *[[c, f"支店{c}"] for c in BRANCHES]])
    with paths["categories"].open("w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows(
            [["code", "name"], *[[f"K{n:02d}", f"カテゴリ{n}"] for n in range(20)]]
        )
    with paths["users"].open("w", newline="", encoding="utf-8") as f:
        rows = [
            [f"rep{n}@example.jp", f"担当{n}", "rep", BRANCHES[n % 5], "bench-password"]
            for n in range(10)
        ]
        csv.writer(f).writerows([["email", "name", "role", "branch", "password"], *rows])
    with paths["customers"].open("w", newline="", encoding="utf-8-sig") as f:
        writer = csv.writer(f)
        writer.writerow(["顧客コード", "顧客名", "フリガナ", "支店", "担当者", "ランク"])
        for n in range(customers):
            writer.writerow(
                [
                    f"C{n:07d}",
                    f"㈱テスト商店{n}",
                    f"ﾃｽﾄｼｮｳﾃﾝ{n}",
                    BRANCHES[n % 10 % 5],
                    f"rep{n % 10}@example.jp",
                    "ABC"[n % 3],
                ]
            )
    start = date(2024, 4, 1)
    with paths["sales"].open("w", newline="", encoding="utf-8-sig") as f:
        writer = csv.writer(f)
        writer.writerow(["売上日", "顧客コード", "カテゴリ", "金額", "粗利", "伝票番号"])
        for n in range(sales):
            amount = rng.randint(-2000, 90000)
            writer.writerow(
                [
                    (start + timedelta(days=n % 600)).isoformat(),
                    f"C{rng.randrange(customers):07d}",
                    f"K{n % 20:02d}",
                    f"{amount:,}",
                    amount // 5,
                    f"S{n:08d}",
                ]
            )
    return paths


def child(argv: list[str]) -> dict[str, float]:
    """Run one step in this process and return its figures."""
    step, db_path, *files = argv
    started = time.perf_counter()
    if step == "baseline":
        import sqlite_utils
        from sqlite_utils.utils import rows_from_file

        with open(files[0], "rb") as handle:
            rows, _format = rows_from_file(handle, encoding="utf-8-sig")
            sqlite_utils.Database(db_path)["sales"].insert_all(rows, batch_size=1000)
        count = None
    else:
        from fieldlog import create_app
        from fieldlog.app.database import write_intent
        from fieldlog.app.extensions import db
        from fieldlog.io import import_file
        from fieldlog.services.defaults import ensure_defaults

        app = create_app(
            {"SQLALCHEMY_DATABASE_URI": f"sqlite:///{db_path}", "FIELDLOG_SCHEDULER": False}
        )
        with app.app_context(), write_intent():
            if step == "setup":
                db.create_all()
                ensure_defaults(db.session)
                kinds = ["branches", "categories", "users"]
            else:
                kinds = [step]
            count = 0
            for kind, path in zip(kinds, files, strict=True):
                result = import_file(db.session, kind, path)
                if not result.ok:
                    raise SystemExit(f"{kind}: {[str(e) for e in result.errors[:5]]}")
                count += result.rows
            db.session.commit()
    seconds = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"seconds": round(seconds, 2), "peak_rss_mb": round(peak, 1), "rows": count}


def run(step: str, db_path: Path, *files: Path) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, __file__, "--child", step, str(db_path), *map(str, files)],
        check=True,
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--scale", type=float, default=1.0, help="1.0 = 100k customers, 1M sales lines"
    )
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child)))
        return
    customers, sales = int(100_000 * args.scale), int(1_000_000 * args.scale)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        started = time.perf_counter()
        paths = generate(folder, customers, sales)
        took = time.perf_counter() - started
        size = paths["sales"].stat().st_size / 1e6
        print(f"generated {customers:,} customers, {sales:,} sales in {took:.1f} s ({size:.0f} MB)")
        db_path = folder / "fieldlog.db"
        run("setup", db_path, paths["branches"], paths["categories"], paths["users"])
        figures = {
            "customers": run("customers", db_path, paths["customers"]),
            "sales": run("sales", db_path, paths["sales"]),
            "baseline": run("baseline", folder / "bare.db", paths["sales"]),
        }
    baseline = figures["baseline"]
    for name, fig in figures.items():
        rows = customers if name == "customers" else sales
        rate = rows / fig["seconds"]
        print(
            f"{name:10s} {rows:>9,} rows  {fig['seconds']:8.2f} s  {rate:>9,.0f} rows/s"
            f"  peak RSS {fig['peak_rss_mb']:7.1f} MB"
        )
    ratio_time = figures["sales"]["seconds"] / baseline["seconds"]
    ratio_memory = figures["sales"]["peak_rss_mb"] / baseline["peak_rss_mb"]
    print(
        f"sales import / sqlite-utils insert: time ×{ratio_time:.2f}, peak RSS ×{ratio_memory:.2f}"
    )


if __name__ == "__main__":
    main()
